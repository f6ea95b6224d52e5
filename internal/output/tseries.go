package output

import (
	"encoding/binary"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TSeries holds what tseries() was given: the length of an interval, how
// many intervals it keeps, and how values in one interval combine ("" for
// the last one, "avg", "max", "min", "sum").
type TSeries struct {
	Interval  int64 // nanoseconds
	Intervals int
	Func      string
	// Start converts an interval's start (in the clock the BPF side
	// read) to wall-clock time.
	Start func(ns int64) time.Time
}

// The value layout of one interval of a tseries() in its per-CPU map, one
// map entry per key and interval: the key ends with the interval's index
// (epoch % Intervals) as a u64.
//
//	[0] the value (or the total, for avg)
//	[1] meta: the time of the value (last value wins), or the number of values (avg)
//	[2] the epoch: the interval's start / Interval; 0 marks an unused slot
const (
	AggWordTSValue = 0
	AggWordTSMeta  = 8
	AggWordTSEpoch = 16
)

// ReduceTSeries reduces the per-CPU values of one interval slot: the
// values of its latest epoch, combined as the function says. A slot no
// CPU used gives epoch 0 and value 0, as bpftrace reports it.
func ReduceTSeries(fn string, vals [][]byte) (epoch uint64, value int64) {
	le := binary.LittleEndian
	var meta int64
	seen := false
	for _, v := range vals {
		if len(v) < 24 {
			continue
		}
		e := le.Uint64(v[AggWordTSEpoch:])
		if e == 0 {
			continue
		}
		x, m := int64(le.Uint64(v[AggWordTSValue:])), int64(le.Uint64(v[AggWordTSMeta:]))
		if !seen || e > epoch {
			epoch, value, meta, seen = e, x, m, true
			continue
		}
		if e < epoch {
			continue
		}
		switch fn {
		case "":
			if m > meta {
				value, meta = x, m
			}
		case "avg":
			value += x
			meta += m
		case "sum":
			value += x
		case "min":
			value = min(value, x)
		case "max":
			value = max(value, x)
		}
	}
	if fn == "avg" && meta != 0 {
		value /= meta
	}
	return epoch, value
}

// tsRange is the intervals a tseries map prints: the last Intervals
// epochs up to the latest any key has. When the latest is below
// Intervals (only a test clock starts near 0) the range is empty, as in
// bpftrace, whose unsigned arithmetic wraps there.
func (m *Map) tsRange() (first, last uint64) {
	for i := range m.Entries {
		for e := range m.Entries[i].Points {
			last = max(last, e)
		}
	}
	n := uint64(max(m.TSeries.Intervals, 1))
	if last+1 < n {
		return 1, 0
	}
	return last + 1 - n, last
}

// tsEpochs are the epochs an entry prints, from its first in the range.
func (m *Map) tsEpochs(e *Entry, first, last uint64) []uint64 {
	start := last + 1
	for ep := range e.Points {
		if ep >= first && ep < start {
			start = ep
		}
	}
	var out []uint64
	for ep := start; ep <= last; ep++ {
		out = append(out, ep)
	}
	return out
}

func (m *Map) tsTime(epoch uint64) time.Time {
	ns := int64(epoch) * m.TSeries.Interval
	if m.TSeries.Start != nil {
		return m.TSeries.Start(ns)
	}
	return time.Unix(0, ns)
}

// tsSorted orders the entries by key.
func tsSorted(es []Entry) []Entry {
	out := append([]Entry(nil), es...)
	sort.SliceStable(out, func(i, j int) bool { return compareLists(out[i].Key, out[j].Key) < 0 })
	return out
}

const tsWidth = 52 // columns between the first '|' and the last, as bpftrace draws them

// tseriesText draws one entry as bpftrace does: a time per interval and a
// '*' at its value between the least and the greatest, '-' for an interval
// without a value, '.' on the zero line when the values cross it.
func (m *Map) tseriesText(sb *strings.Builder, e *Entry, first, last uint64) {
	epochs := m.tsEpochs(e, first, last)
	lo, hi, any := int64(0), int64(0), false
	for _, ep := range epochs {
		v, ok := e.Points[ep]
		if !ok {
			continue
		}
		if !any || v < lo {
			lo = v
		}
		if !any || v > hi {
			hi = v
		}
		any = true
	}
	if lo == hi {
		// One value: an axis around it, from 0 when it is 0.
		if lo != 0 {
			lo--
		}
		hi++
	}
	pos := func(v int64) int {
		return int(float64(v-lo) / float64(hi-lo) * tsWidth)
	}
	labels := func() string {
		l, h := strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10)
		pad := 13 + tsWidth + 1 - 13 - len(l) - len(h)
		return strings.Repeat(" ", 13) + l + strings.Repeat(" ", max(pad, 1)) + h + "\n"
	}
	sb.WriteString(labels())
	sb.WriteString("hh:mm:ss.ms  |" + strings.Repeat("_", tsWidth-1) + "|\n")
	zero := -1
	if lo < 0 && hi > 0 {
		zero = pos(0)
	}
	for _, ep := range epochs {
		row := make([]byte, tsWidth+1)
		for i := range row {
			row[i] = ' '
		}
		row[0], row[tsWidth] = '|', '|'
		if zero > 0 && zero < tsWidth {
			row[zero] = '.'
		}
		val := "-"
		if v, ok := e.Points[ep]; ok {
			row[pos(v)] = '*'
			val = strconv.FormatInt(v, 10)
		}
		sb.WriteString(m.tsTime(ep).Format("15:04:05.000") + " " + string(row) + " " + val + "\n")
	}
	sb.WriteString(strings.Repeat(" ", 13) + "v" + strings.Repeat("_", tsWidth-1) + "v\n")
	sb.WriteString(labels())
}

// formatTSeries writes a tseries map as text.
func (m *Map) formatTSeries() string {
	es := tsSorted(m.Entries)
	first, last := m.tsRange()
	var sb strings.Builder
	for i := range es {
		sb.WriteString(m.Name + keyText(es[i].Key) + ":\n")
		m.tseriesText(&sb, &es[i], first, last)
		if len(es[i].Key) > 0 {
			sb.WriteByte('\n') // bpftrace ends each keyed series with an empty line
		}
	}
	return sb.String()
}

// tseriesJSON is one entry's intervals: [{"interval_start": "...", "value": N}, ...].
func (m *Map) tseriesJSON(e *Entry, first, last uint64) string {
	var parts []string
	for _, ep := range m.tsEpochs(e, first, last) {
		v, ok := e.Points[ep]
		if !ok {
			continue
		}
		parts = append(parts, `{"interval_start": `+jsonString(m.tsTime(ep).Format("2006-01-02 15:04:05.000000000"))+`, "value": `+strconv.FormatInt(v, 10)+"}")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
