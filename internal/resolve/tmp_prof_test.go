package resolve

import (
	"bufio"
	"io"
	"testing"
)

func BenchmarkTmpList(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := New(Options{})
		ts, err := r.Targets("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so")
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(io.Discard)
		var line []byte
		if err := r.List(ts, ListOptions{Pattern: ""}, func(l *Listing) error {
			line = append(l.AppendProbe(line[:0]), '\n')
			w.Write(line)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
