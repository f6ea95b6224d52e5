package pbwire_test

import (
	"fmt"

	"github.com/uscope/uscope/internal/pbwire"
)

// A message with a nested message: an OTLP KeyValue, key "service.name"
// and value an AnyValue holding the string "uscope". The AnyValue is
// written in place, between Open and Close.
func Example() {
	var b []byte
	b = pbwire.String(b, 1, "service.name") // KeyValue.key
	at := len(b)
	b = pbwire.Open(b, 2)             // KeyValue.value
	b = pbwire.String(b, 1, "uscope") // AnyValue.string_value
	b = pbwire.Close(b, at)
	fmt.Printf("% x\n", b)

	r := pbwire.NewReader(b)
	for r.Next() {
		fmt.Printf("field %d, %d bytes\n", r.Num, len(r.Data))
	}
	// Output:
	// 0a 0c 73 65 72 76 69 63 65 2e 6e 61 6d 65 12 08 0a 06 75 73 63 6f 70 65
	// field 1, 12 bytes
	// field 2, 8 bytes
}
