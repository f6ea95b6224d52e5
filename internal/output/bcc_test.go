package output

import (
	"os"
	"strings"
	"testing"
)

// bccHistCases are the inputs of testdata/bcc_hist.golden, which bcc's own
// _print_log2_hist (table.py, run with python3) printed for the values
// counted with bpf_log2l. The file is a reference: -update leaves it alone.
var bccHistCases = []struct {
	name   string
	label  string
	values []int64
}{
	{"small", "nsecs", []int64{0, 1, 5, 5, 6, 1000, 1000, 1000}},
	{"wide", "usecs", []int64{3, 1 << 40, 1<<40 + 5, 7}},
	{"thirds", "size", []int64{2, 2, 2, 100, 100, 100, 100, 100, 100, 100, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 9}},
}

func TestBCCLog2HistMatchesBCC(t *testing.T) {
	want, err := os.ReadFile("testdata/bcc_hist.golden")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, c := range bccHistCases {
		buckets := make([]uint64, Log2Buckets)
		for _, v := range c.values {
			buckets[Log2Bucket(v)]++
		}
		got.WriteString("=== " + c.name + "\n")
		got.WriteString(BCCLog2Hist(buckets, c.label))
	}
	if got.String() != string(want) {
		t.Errorf("bcc histograms differ from bcc's\n--- got ---\n%s\n--- bcc ---\n%s", got.String(), want)
	}
}

func TestBCCLog2HistEdges(t *testing.T) {
	if s := BCCLog2Hist(make([]uint64, Log2Buckets), "nsecs"); s != "" {
		t.Errorf("empty histogram printed %q", s)
	}
	// Negative values have no bcc bucket.
	b := make([]uint64, Log2Buckets)
	b[Log2Bucket(-5)] = 3
	if s := BCCLog2Hist(b, "x"); s != "" {
		t.Errorf("negative values printed %q", s)
	}
	// The last bucket of our layout, [2^62, 2^63), is bcc's 63.
	b = make([]uint64, Log2Buckets)
	b[Log2Bucket(1<<62)] = 1
	s := BCCLog2Hist(b, "x")
	if !strings.HasSuffix(s, " 4611686018427387904 -> 9223372036854775807  : 1        |********************|\n") {
		t.Errorf("top bucket:\n%s", s)
	}
}

func TestBCCTables(t *testing.T) {
	got := BCCFuncCount([]Count{{"zero", 0}, {"strlen", 3}, {"a_rather_long_function_name_that_overflows_the_column", 12345678}})
	want := "FUNC                                    COUNT\n" +
		"strlen                                      3\n" +
		"a_rather_long_function_name_that_overflows_the_column 12345678\n"
	if got != want {
		t.Errorf("funccount table:\n%q\nwant\n%q", got, want)
	}
	got = BCCArgdistCounts("p:c:malloc(size_t size):size_t:size", []Count{{"size = 16", 2}, {"size = 32", 12345678901}})
	want = "p:c:malloc(size_t size):size_t:size\n\tCOUNT      EVENT\n\t2          size = 16\n\t12345678901 size = 32\n"
	if got != want {
		t.Errorf("argdist table:\n%q\nwant\n%q", got, want)
	}
	got = BCCStack([]string{"leaf", "main"}, "app", 42, 7) + BCCStack([]string{"[unknown]"}, "", 0, 1)
	want = "  leaf\n  main\n    app [42]\n    7\n\n  [unknown]\n    1\n\n"
	if got != want {
		t.Errorf("stackcount stacks:\n%q\nwant\n%q", got, want)
	}
	if got := BCCTracing(3, "c:str*"); got != "Tracing 3 functions for \"c:str*\"... Hit Ctrl-C to end.\n" {
		t.Errorf("tracing line %q", got)
	}
	for _, c := range []struct {
		f      Frame
		offset bool
		want   string
	}{
		{Frame{Sym: "main", Off: 0x1a}, false, "main"},
		{Frame{Sym: "main", Off: 0x1a}, true, "main+0x1a"},
		{Frame{Addr: 0x1234}, true, "[unknown]"},
	} {
		if got := BCCFrame(c.f, c.offset); got != c.want {
			t.Errorf("BCCFrame(%+v, %v) = %q, want %q", c.f, c.offset, got, c.want)
		}
	}
}
