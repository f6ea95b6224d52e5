package output

import (
	"strings"
	"testing"
)

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
func TestBenchmarks(t *testing.T) {
	rs := []BenchResult{{Name: "a", Average: 1043, Iters: 95872}, {Name: "long_name", Average: 7, Iters: 1}}
	var text, js strings.Builder
	if err := NewWriter(&text, Text).Benchmarks(rs); err != nil {
		t.Fatal(err)
	}
	want := "Benchmark                                Time(ns)       Iterations\n" +
		"------------------------------------------------------------------\n" +
		"a                                        1043           95872\n" +
		"long_name                                7              1\n"
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	if err := NewWriter(&js, JSON).Benchmarks(rs[:1]); err != nil {
		t.Fatal(err)
	}
	if got := js.String(); got != `{"type": "benchmark_result", "data": {"a": {"average": 1043, "iters": 95872}}}`+"\n" {
		t.Errorf("json: %s", got)
	}
}
