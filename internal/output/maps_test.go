package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// hist returns the log2 buckets of samples.
func hist(samples ...int64) []uint64 {
	b := make([]uint64, Log2Buckets)
	for _, s := range samples {
		b[Log2Bucket(s)]++
	}
	return b
}

// lhist returns the linear buckets of samples.
func lhist(lo, hi, step int64, samples ...int64) []uint64 {
	b := make([]uint64, LinearBuckets(lo, hi, step))
	for _, s := range samples {
		b[LinearBucket(s, lo, hi, step)]++
	}
	return b
}

func str(s string) Value { return StringValue(s, false) }
func i64(v int64) Value  { return IntValue(v, 8) }
func u64(v uint64) Value { return UintValue(v, 8) }

// key returns a map key of ints and strings.
func key(parts ...any) []Value {
	var k []Value
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			k = append(k, i64(int64(p)))
		case string:
			k = append(k, str(p))
		case Value:
			k = append(k, p)
		default:
			panic(fmt.Sprintf("key part %T", p))
		}
	}
	return k
}

// avgEntry returns an avg() or stats() entry of samples.
func avgEntry(k []Value, samples ...int64) Entry {
	e := Entry{Key: k, Count: int64(len(samples))}
	for _, s := range samples {
		e.Sum += s
	}
	return e
}

func TestLog2Bucket(t *testing.T) {
	tests := []struct {
		v    int64
		want int
	}{
		{math.MinInt64, 0}, {-1, 0}, {0, 1}, {1, 2}, {2, 3}, {3, 3}, {4, 4}, {7, 4}, {8, 5},
		{1023, 11}, {1024, 12}, {1 << 40, 42}, {math.MaxInt64, 64},
	}
	for _, tt := range tests {
		if got := Log2Bucket(tt.v); got != tt.want {
			t.Errorf("Log2Bucket(%d) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

func TestLinearBucket(t *testing.T) {
	tests := []struct {
		v, lo, hi, step int64
		want            int
	}{
		{-5, 0, 100, 10, 0}, {0, 0, 100, 10, 1}, {9, 0, 100, 10, 1}, {10, 0, 100, 10, 2},
		{99, 0, 100, 10, 10}, {100, 0, 100, 10, 11}, {1000, 0, 100, 10, 11},
		{22, 0, 25, 10, 3}, {-100, -100, 100, 50, 1}, {-101, -100, 100, 50, 0},
		{5, 0, 10, 0, 1}, // a zero step has no in-range buckets
	}
	for _, tt := range tests {
		if got := LinearBucket(tt.v, tt.lo, tt.hi, tt.step); got != tt.want {
			t.Errorf("LinearBucket(%d, %d, %d, %d) = %d, want %d", tt.v, tt.lo, tt.hi, tt.step, got, tt.want)
		}
		if n := LinearBuckets(tt.lo, tt.hi, tt.step); tt.want >= n {
			t.Errorf("bucket %d out of %d", tt.want, n)
		}
	}
}

func TestLabels(t *testing.T) {
	for _, tt := range []struct {
		power int
		want  string
	}{{0, "1"}, {9, "512"}, {10, "1K"}, {21, "2M"}, {32, "4G"}, {43, "8T"}, {54, "16P"}, {60, "1E"}, {63, "8E"}} {
		if got := log2Label(tt.power); got != tt.want {
			t.Errorf("log2Label(%d) = %q, want %q", tt.power, got, tt.want)
		}
	}
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {5000, "5000"}, {2048, "2K"}, {-1024, "-1K"}, {3 << 20, "3M"}, {1000000, "1000000"}, {1 << 30, "1024M"}} {
		if got := linearLabel(tt.n); got != tt.want {
			t.Errorf("linearLabel(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// printCase is one print(@m, top, div) for the golden files.
type printCase struct {
	name string
	m    *Map
	opts PrintOptions
}

func printCases() []printCase {
	strs := &Map{Name: "@c", Kind: AggCount, Entries: []Entry{
		{Key: key("b"), Value: u64(2)}, {Key: key("a"), Value: u64(1)}, {Key: key("zz"), Value: u64(7)},
	}}
	ints := &Map{Name: "@m", Kind: AggValue, Entries: []Entry{
		{Key: key(1), Value: i64(100)}, {Key: key(2), Value: i64(250)}, {Key: key(3), Value: i64(55)}, {Key: key(4), Value: i64(1000)},
	}}
	avg := &Map{Name: "@a", Kind: AggAvg, Entries: []Entry{
		avgEntry(key(1), 100), avgEntry(key(2), 20, 20, 20), avgEntry(key(3), -7, 0),
	}}
	stats := &Map{Name: "@s", Kind: AggStats, Entries: []Entry{
		avgEntry(key(1), 100), avgEntry(key(2), 20, 20, 20, 21),
	}}
	hists := &Map{Name: "@h", Kind: AggHist, Entries: []Entry{
		{Key: key(1), Buckets: hist(1, 1, 100)}, {Key: key(2), Buckets: hist(1)}, {Key: key(0), Buckets: hist(8, 8, 9, 15, 0)},
	}}
	return []printCase{
		{"scalar count", &Map{Name: "@", Kind: AggCount, Entries: []Entry{{Value: u64(1)}}}, PrintOptions{}},
		{"string keys", strs, PrintOptions{}},
		{"tuple keys", &Map{Name: "@t", Kind: AggSum, Entries: []Entry{
			{Key: key(2, "b"), Value: i64(-3)}, {Key: key(1, "a"), Value: i64(1)}, {Key: key(10, "a b"), Value: i64(math.MinInt64)},
		}}, PrintOptions{}},
		{"unsigned values", &Map{Name: "@u", Kind: AggCount, Entries: []Entry{
			{Key: key("big"), Value: u64(math.MaxUint64)}, {Key: key("small"), Value: u64(3)},
		}}, PrintOptions{}},
		{"ints", ints, PrintOptions{}},
		{"ints top 2", ints, PrintOptions{Top: 2}},
		{"ints div 10", ints, PrintOptions{Div: 10}},
		{"ints top 3 div 100", ints, PrintOptions{Top: 3, Div: 100}},
		{"negative div", &Map{Name: "@n", Kind: AggSum, Entries: []Entry{{Value: i64(-25)}}}, PrintOptions{Div: 10}},
		{"string values", &Map{Name: "@name", Kind: AggValue, Entries: []Entry{
			{Key: key(2), Value: str("two")}, {Key: key(1), Value: str("one")}, {Key: key(3), Value: StringValue("threeee", true)},
		}}, PrintOptions{}},
		{"tuple value", &Map{Name: "@t", Kind: AggValue, Entries: []Entry{{Value: TupleValue(i64(1), str("x"))}}}, PrintOptions{}},
		{"pointer keys", &Map{Name: "@p", Kind: AggCount, Entries: []Entry{{Key: key(PointerValue(0xdead)), Value: u64(2)}}}, PrintOptions{}},
		{"avg", avg, PrintOptions{}},
		{"avg top 1 div 10", avg, PrintOptions{Top: 1, Div: 10}},
		{"scalar avg", &Map{Name: "@a", Kind: AggAvg, Entries: []Entry{avgEntry(nil, 3)}}, PrintOptions{}},
		{"stats", stats, PrintOptions{}},
		{"stats top 1 div 10 (ignored)", stats, PrintOptions{Top: 1, Div: 10}},
		{"scalar stats", &Map{Name: "@s", Kind: AggStats, Entries: []Entry{avgEntry(nil, 10)}}, PrintOptions{}},
		{"hist", &Map{Name: "@h", Kind: AggHist, Entries: []Entry{{Buckets: hist(5, 1000)}}}, PrintOptions{}},
		{"hist full range", &Map{Name: "@h", Kind: AggHist, Entries: []Entry{
			{Buckets: hist(-5, 0, 1, 2, 3, 4, 4096, 1<<20, 5000000000, 1<<50, 1<<62, math.MaxInt64)},
		}}, PrintOptions{}},
		{"hist bars", &Map{Name: "@h", Kind: AggHist, Entries: []Entry{{Buckets: hist(1, 2, 2, 3, 4, 4, 4)}}}, PrintOptions{}},
		{"keyed hists", hists, PrintOptions{}},
		{"keyed hists top 1", hists, PrintOptions{Top: 1}},
		{"keyed hists div 2", hists, PrintOptions{Div: 2}},
		{"lhist", &Map{Name: "@l", Kind: AggLHist, LHistMin: 0, LHistMax: 100, LHistStep: 10, Entries: []Entry{
			{Buckets: lhist(0, 100, 10, -5, 0, 55, 100, 1000)},
		}}, PrintOptions{}},
		{"lhist K labels", &Map{Name: "@m", Kind: AggLHist, LHistMin: 1024, LHistMax: 4096, LHistStep: 1024, Entries: []Entry{
			{Buckets: lhist(1024, 4096, 1024, 3000, 5000, 5)},
		}}, PrintOptions{}},
		{"lhist wide labels", &Map{Name: "@n", Kind: AggLHist, LHistMin: 0, LHistMax: 3000000, LHistStep: 1000000, Entries: []Entry{
			{Key: key("k"), Buckets: lhist(0, 3000000, 1000000, 1000000)},
		}}, PrintOptions{}},
		{"lhist negative range", &Map{Name: "@neg", Kind: AggLHist, LHistMin: -100, LHistMax: 100, LHistStep: 50, Entries: []Entry{
			{Buckets: lhist(-100, 100, 50, -100, -60, -1, 0, 99)},
		}}, PrintOptions{Div: 5}},
		{"stack keys", &Map{Name: "@x", Kind: AggCount, Entries: []Entry{
			{Key: key(StackValue([]string{"syscall+25", "0x7ffce19acea8"})), Value: u64(1)},
			{Key: key(StackValue([]string{"main+4"}), 5), Value: u64(3)},
		}}, PrintOptions{}},
		{"stack values", &Map{Name: "@st", Kind: AggValue, Entries: []Entry{
			{Key: key(1), Value: StackValue([]string{"f+1", "main+2"})},
			{Key: key(2), Value: StackValue([]string{"g+3"})},
		}}, PrintOptions{}},
		{"empty count", &Map{Name: "@e", Kind: AggCount}, PrintOptions{}},
		{"empty avg", &Map{Name: "@e", Kind: AggAvg}, PrintOptions{}},
		{"empty stats", &Map{Name: "@e", Kind: AggStats}, PrintOptions{}},
		{"empty hist", &Map{Name: "@e", Kind: AggHist}, PrintOptions{}},
		{"zero hist", &Map{Name: "@z", Kind: AggHist, Entries: []Entry{{Key: key(1), Buckets: make([]uint64, Log2Buckets)}}}, PrintOptions{}},
	}
}

func TestPrintMapGolden(t *testing.T) {
	var b bytes.Buffer
	for _, c := range printCases() {
		fmt.Fprintf(&b, "=== %s\n", c.name)
		if err := PrintMap(&b, c.m, c.opts); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "maps_text", b.Bytes())
}

func TestPrintMapJSONGolden(t *testing.T) {
	var b bytes.Buffer
	for _, c := range printCases() {
		var line bytes.Buffer
		if err := PrintMapJSON(&line, c.m, c.opts); err != nil {
			t.Fatal(err)
		}
		checkJSONLines(t, c.name, line.Bytes())
		b.Write(line.Bytes())
	}
	golden(t, "maps_json", b.Bytes())
}

// checkJSONLines fails unless every line of out is one JSON object.
func checkJSONLines(t *testing.T, name string, out []byte) {
	t.Helper()
	if len(out) == 0 {
		return
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		t.Errorf("%s: output does not end in a newline: %q", name, out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("%s: line is not a JSON object: %v\n%s", name, err, line)
			continue
		}
		if _, ok := obj["type"].(string); !ok {
			t.Errorf("%s: no \"type\" in %s", name, line)
		}
		if _, ok := obj["data"]; !ok {
			t.Errorf("%s: no \"data\" in %s", name, line)
		}
	}
}

func TestHistFunctions(t *testing.T) {
	var b bytes.Buffer
	if err := Hist(&b, "@lat", "main", hist(3, 5, 6, 100)); err != nil {
		t.Fatal(err)
	}
	if err := LHist(&b, "@sz", "", 0, 40, 10, lhist(0, 40, 10, 5, 15, 15, 39)); err != nil {
		t.Fatal(err)
	}
	golden(t, "hist_functions", b.Bytes())
}

func TestMapSortTies(t *testing.T) {
	// bpftrace leaves ties in hash order; uscope orders them by key.
	m := &Map{Name: "@c", Kind: AggCount, Entries: []Entry{
		{Key: key("z"), Value: u64(1)}, {Key: key("m"), Value: u64(1)}, {Key: key("a"), Value: u64(1)}, {Key: key("q"), Value: u64(2)},
		{Key: key(-4), Value: u64(1)},
	}}
	want := "@c[-4]: 1\n@c[a]: 1\n@c[m]: 1\n@c[z]: 1\n@c[q]: 2\n"
	if got := FormatMap(m, PrintOptions{}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Signed values sort below unsigned ones of the same bits.
	m = &Map{Name: "@v", Kind: AggValue, Entries: []Entry{
		{Key: key(1), Value: i64(-1)}, {Key: key(2), Value: i64(-100)}, {Key: key(3), Value: i64(5)},
	}}
	want = "@v[2]: -100\n@v[1]: -1\n@v[3]: 5\n"
	if got := FormatMap(m, PrintOptions{}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPrintValue(t *testing.T) {
	tests := []struct {
		v          Value
		text, json string
	}{
		{i64(5), "5\n", `{"type": "value", "data": 5}`},
		{IntValue(-5, 4), "-5\n", `{"type": "value", "data": -5}`},
		{str("str"), "str\n", `{"type": "value", "data": "str"}`},
		{StringValue("a\"b\\", true), "a\"b\\...\n", `{"type": "value", "data": "a\"b\\..."}`},
		{TupleValue(i64(1), str("a")), "(1, a)\n", `{"type": "value", "data": [1,"a"]}`},
		{TupleValue(i64(1), TupleValue(str("x"), u64(2))), "(1, (x, 2))\n", `{"type": "value", "data": [1,["x",2]]}`},
		{PointerValue(0x1234), "0x1234\n", `{"type": "value", "data": 4660}`},
		{BufferValue([]byte{'a', 0}, false), "a\\x00\n", `{"type": "value", "data": "a\\x00"}`},
		{StackValue([]string{"f+1"}), "\n        f+1\n\n", `{"type": "value", "data": "\n        f+1\n"}`},
		{Value{}, "\n", `{"type": "value", "data": null}`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := PrintValue(&b, tt.v); err != nil || b.String() != tt.text {
			t.Errorf("PrintValue(%+v) = %q, %v; want %q", tt.v, b.String(), err, tt.text)
		}
		b.Reset()
		w := NewWriter(&b, JSON)
		if err := w.Value(tt.v); err != nil || b.String() != tt.json+"\n" {
			t.Errorf("JSON Value(%+v) = %q, %v; want %q", tt.v, b.String(), err, tt.json)
		}
		checkJSONLines(t, tt.json, b.Bytes())
	}
}
