package output

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func tsSlot(value, meta int64, epoch uint64) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint64(b[AggWordTSValue:], uint64(value))
	binary.LittleEndian.PutUint64(b[AggWordTSMeta:], uint64(meta))
	binary.LittleEndian.PutUint64(b[AggWordTSEpoch:], epoch)
	return b
}

// TestReduceTSeries: the latest epoch over the CPUs wins, values of one
// epoch combine by the function, an unused slot is epoch 0 and value 0.
func TestReduceTSeries(t *testing.T) {
	vals := [][]byte{tsSlot(3, 10, 7), tsSlot(5, 20, 7), tsSlot(100, 99, 6), tsSlot(0, 0, 0)}
	for fn, want := range map[string]int64{"": 5, "sum": 8, "min": 3, "max": 5} {
		if e, v := ReduceTSeries(fn, vals); e != 7 || v != want {
			t.Errorf("%q: epoch %d value %d, want 7 %d", fn, e, v, want)
		}
	}
	avg := [][]byte{tsSlot(9, 2, 4), tsSlot(3, 1, 4)}
	if e, v := ReduceTSeries("avg", avg); e != 4 || v != 4 {
		t.Errorf("avg: epoch %d value %d, want 4 4", e, v)
	}
	if e, v := ReduceTSeries("", [][]byte{tsSlot(0, 0, 0)}); e != 0 || v != 0 {
		t.Errorf("unused: %d %d", e, v)
	}
}

// TestTSeriesText draws bpftrace's chart (its runtime test "tseries
// multiple": two keys sharing the latest interval, '-' where a key has no
// value, an axis around a single value).
func TestTSeriesText(t *testing.T) {
	m := &Map{Name: "@a", Kind: AggTSeries, TSeries: TSeries{Interval: int64(100 * time.Millisecond), Intervals: 10,
		Start: func(ns int64) time.Time { return time.Unix(0, ns).UTC() }}}
	one := map[uint64]int64{0: 0, 1: 5, 2: 5, 3: 5, 4: 5}
	two := map[uint64]int64{5: 4, 6: 4, 7: 4, 8: 4, 9: 4}
	m.Entries = []Entry{{Key: []Value{StringValue("two", false)}, Points: two}, {Key: []Value{StringValue("one", false)}, Points: one}}
	got := FormatMap(m, PrintOptions{})
	want := strings.Join([]string{
		"@a[one]:",
		"             0                                                   5",
		"hh:mm:ss.ms  |___________________________________________________|",
		"00:00:00.000 *                                                   | 0",
		"00:00:00.100 |                                                   * 5",
		"00:00:00.200 |                                                   * 5",
		"00:00:00.300 |                                                   * 5",
		"00:00:00.400 |                                                   * 5",
		"00:00:00.500 |                                                   | -",
		"00:00:00.600 |                                                   | -",
		"00:00:00.700 |                                                   | -",
		"00:00:00.800 |                                                   | -",
		"00:00:00.900 |                                                   | -",
		"             v___________________________________________________v",
		"             0                                                   5",
		"",
		"@a[two]:",
		"             3                                                   5",
		"hh:mm:ss.ms  |___________________________________________________|",
		"00:00:00.500 |                         *                         | 4",
		"00:00:00.600 |                         *                         | 4",
		"00:00:00.700 |                         *                         | 4",
		"00:00:00.800 |                         *                         | 4",
		"00:00:00.900 |                         *                         | 4",
		"             v___________________________________________________v",
		"             3                                                   5",
		"", ""}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	js := FormatMapJSON(m, PrintOptions{})
	if !strings.HasPrefix(js, `{"type": "tseries", "data": {"@a": {"one": [{"interval_start": "1970-01-01 00:00:00.000000000", "value": 0}, `) {
		t.Errorf("JSON %s", js)
	}
}
