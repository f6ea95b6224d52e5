package output

import "testing"

func BenchmarkSprintf(b *testing.B) {
	f, err := ParseFormat("%-16s pid=%-7d ret=%#x size=%8lu %p\n")
	if err != nil {
		b.Fatal(err)
	}
	args := []Value{StringValue("some_function", false), IntValue(4242, 4), IntValue(-1, 4), UintValue(123456, 8), PointerValue(0x7ffc12345678)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], args)
	}
}

func BenchmarkFormatMapHist(b *testing.B) {
	m := &Map{Name: "@lat", Kind: AggHist, Entries: []Entry{{Buckets: hist(1, 5, 100, 1000, 10000, 1<<20, 1<<30)}}}
	b.ReportAllocs()
	for b.Loop() {
		FormatMap(m, PrintOptions{})
	}
}
