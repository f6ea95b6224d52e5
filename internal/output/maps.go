package output

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// AggKind is the kind of value a map holds.
type AggKind uint8

// Map kinds. AggValue, AggCount, AggSum, AggMin and AggMax print the same
// way (one value per key); they differ only in how the BPF side fills them.
const (
	// AggValue is a map of assigned values (@x[k] = expr).
	AggValue AggKind = iota
	// AggCount is count().
	AggCount
	// AggSum is sum().
	AggSum
	// AggMin is min().
	AggMin
	// AggMax is max().
	AggMax
	// AggAvg is avg(): Entry.Count and Entry.Sum.
	AggAvg
	// AggStats is stats(): Entry.Count and Entry.Sum.
	AggStats
	// AggHist is hist(): Entry.Buckets in Log2Bucket's layout.
	AggHist
	// AggLHist is lhist(): Entry.Buckets in LinearBucket's layout, with the
	// bounds in Map.LHistMin, LHistMax and LHistStep.
	AggLHist
	// AggTSeries is tseries(): Entry.Points, with the series' parameters
	// in Map.TSeries.
	AggTSeries
)

// String names the kind as the bpftrace function that makes it.
func (k AggKind) String() string {
	switch k {
	case AggValue:
		return "value"
	case AggCount:
		return "count"
	case AggSum:
		return "sum"
	case AggMin:
		return "min"
	case AggMax:
		return "max"
	case AggAvg:
		return "avg"
	case AggStats:
		return "stats"
	case AggHist:
		return "hist"
	case AggLHist:
		return "lhist"
	case AggTSeries:
		return "tseries"
	}
	return "AggKind(" + strconv.Itoa(int(k)) + ")"
}

// Entry is one key of a map and its value, already reduced over CPUs.
type Entry struct {
	// Key holds the key's parts; empty for a map without keys (@x).
	Key []Value
	// Value is the value of AggValue, AggCount, AggSum, AggMin and AggMax.
	Value Value
	// Count is the number of samples of avg() and stats().
	Count int64
	// Sum is the total of the samples of avg() and stats().
	Sum int64
	// Buckets are the counts of hist() and lhist().
	Buckets []uint64
	// Points are a tseries()'s values by epoch (interval start / interval).
	Points map[uint64]int64
}

// average returns Sum/Count truncated toward zero, or 0 without samples.
func (e *Entry) average() int64 {
	if e.Count == 0 {
		return 0
	}
	return e.Sum / e.Count
}

// total returns the sum of a histogram's buckets.
func (e *Entry) total() uint64 {
	var t uint64
	for _, c := range e.Buckets {
		t += c
	}
	return t
}

// Map is a BPF map read for printing.
type Map struct {
	// Name is the map's name with its '@', such as "@bytes" or "@".
	Name string
	// Kind is what the map's values are.
	Kind AggKind
	// LHistMin, LHistMax and LHistStep are lhist()'s bounds.
	LHistMin, LHistMax, LHistStep int64
	// HistBits is hist(n, k)'s k (finehist.go); 0 for hist(n).
	HistBits int
	// TSeries are tseries()'s parameters.
	TSeries TSeries
	// Entries are the map's keys and values in any order.
	Entries []Entry
}

// PrintOptions are print()'s optional arguments: print(@m, top, div).
type PrintOptions struct {
	// Top, when positive, prints only the Top entries with the largest
	// values (still in ascending order).
	Top int
	// Div, when above 1, divides the printed values.
	Div uint64
}

// sorted returns the entries in bpftrace's order, ascending: by value for
// integer maps, by average for avg() and stats(), by total count for
// histograms, and by key for maps of other values. Ties are broken by key
// (bpftrace leaves them in hash order), so the output is deterministic.
// Top is then applied, except to stats() maps, which bpftrace 0.17 always
// prints whole.
func (m *Map) sorted(top int) []Entry {
	es := slices.Clone(m.Entries)
	byKey := func(a, b Entry) int { return compareLists(a.Key, b.Key) }
	var cmp func(a, b Entry) int
	switch m.Kind {
	case AggAvg, AggStats:
		cmp = func(a, b Entry) int {
			x, y := a.average(), b.average()
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case AggHist, AggLHist:
		cmp = func(a, b Entry) int { return cmpUint(a.total(), b.total()) }
	default:
		allInt := true
		for i := range es {
			if es[i].Value.Kind != KindInt {
				allInt = false
				break
			}
		}
		if allInt {
			cmp = func(a, b Entry) int { return compareValues(a.Value, b.Value) }
		}
	}
	slices.SortStableFunc(es, func(a, b Entry) int {
		if cmp != nil {
			if c := cmp(a, b); c != 0 {
				return c
			}
		}
		return byKey(a, b)
	})
	if top > 0 && len(es) > top && m.Kind != AggStats {
		es = es[len(es)-top:]
	}
	return es
}

// divide returns an integer value divided by div, as bpftrace's print(@m,
// top, div) divides: signed values with signed division.
func divide(v Value, div uint64) Value {
	if div <= 1 || v.Kind != KindInt {
		return v
	}
	if v.Signed {
		return IntValue(int64(v.bits())/int64(div), 8)
	}
	return UintValue(v.bits()/div, 8)
}

// FormatMap returns a map in bpftrace main's text format; see PrintMap.
func FormatMap(m *Map, opts PrintOptions) string {
	if m.Kind == AggTSeries {
		if len(m.Entries) == 0 {
			return ""
		}
		return m.formatTSeries()
	}
	div := max(opts.Div, 1)
	es := m.sorted(opts.Top)
	if len(es) == 0 {
		return "" // an empty map prints nothing, as in bpftrace main
	}
	var sb strings.Builder
	for i := range es {
		e := &es[i]
		switch m.Kind {
		case AggHist, AggLHist:
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(m.Name + keyText(e.Key) + ":\n")
			if m.Kind == AggHist {
				sb.WriteString(FineHistText(e.Buckets, div, m.HistBits))
			} else {
				sb.WriteString(LHistText(e.Buckets, m.LHistMin, m.LHistMax, m.LHistStep))
			}
		case AggAvg:
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(m.Name + keyText(e.Key) + ": " + strconv.FormatInt(e.average()/int64(div), 10))
		case AggStats:
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(m.Name + keyText(e.Key) + ": { .count = " + strconv.FormatInt(e.Count, 10) +
				", .average = " + strconv.FormatInt(e.average(), 10) + ", .total = " + strconv.FormatInt(e.Sum, 10) + " }")
		default:
			// Stack values end in a newline, so bpftrace puts no
			// separator after them.
			if i > 0 && es[i-1].Value.Kind != KindStack {
				sb.WriteByte('\n')
			}
			sb.WriteString(m.Name + keyText(e.Key) + ": " + divide(e.Value, div).Text())
		}
	}
	sb.WriteByte('\n')
	return sb.String()
}

// PrintMap writes a map in bpftrace main's text format, as print(@m, top,
// div) and the exit of a program print it:
//
//   - integer maps: one "@name[key]: value" line per entry, sorted by
//     value;
//   - avg(): the same lines with the average;
//   - stats(): "@name[key]: { .count = N, .average = A, .total = T }"
//     lines (top and div do not apply);
//   - hist() and lhist(): "@name[key]:" then the histogram's lines, then
//     an empty line, for each key (div divides hist counts, not lhist's).
//
// bpftrace 0.17 differs: a space after the ':' of a histogram, stats as
// "count N, average A, total T", and an empty line after avg() and
// stats() maps; main is the reference.
//
// Keys print as bpftrace prints them: strings unquoted, several parts as
// "[1, abc]", stacks one frame per line. Unsigned integer keys print
// unsigned (bpftrace 0.17 prints every integer key as signed).
// An empty map prints nothing.
func PrintMap(w io.Writer, m *Map, opts PrintOptions) error {
	_, err := io.WriteString(w, FormatMap(m, opts))
	return err
}

// PrintValue writes a value as print(value) does: its text and a newline.
func PrintValue(w io.Writer, v Value) error {
	_, err := io.WriteString(w, v.Text()+"\n")
	return err
}

// mapJSONType is the "type" of a map's JSON object.
func mapJSONType(k AggKind) string {
	switch k {
	case AggAvg, AggStats:
		return "stats"
	case AggHist, AggLHist:
		return "hist"
	case AggTSeries:
		return "tseries"
	}
	return "map"
}

// FormatMapJSON returns a map as one bpftrace NDJSON line (with its
// newline), or "" for an empty map, which bpftrace does not print.
func FormatMapJSON(m *Map, opts PrintOptions) string {
	if m.Kind == AggTSeries {
		return m.tseriesMapJSON()
	}
	es := m.sorted(opts.Top)
	if len(es) == 0 {
		return ""
	}
	div := max(opts.Div, 1)
	keyed := false
	for i := range es {
		if len(es[i].Key) > 0 {
			keyed = true
			break
		}
	}
	var sb strings.Builder
	sb.WriteString(`{"type": "` + mapJSONType(m.Kind) + `", "data": {` + jsonString(m.Name) + ": ")
	if keyed {
		sb.WriteByte('{')
	}
	for i := range es {
		e := &es[i]
		if i > 0 {
			sb.WriteString(", ")
		}
		if keyed {
			parts := make([]string, len(e.Key))
			for j, k := range e.Key {
				parts[j] = k.text(KeyIndent)
			}
			sb.WriteString(jsonString(strings.Join(parts, ",")) + ": ")
		}
		switch m.Kind {
		case AggHist:
			sb.WriteString(histJSON(e.Buckets, div, m.HistBits))
		case AggLHist:
			sb.WriteString(lhistJSON(e.Buckets, m.LHistMin, m.LHistMax, m.LHistStep))
		case AggAvg:
			sb.WriteString(strconv.FormatInt(e.average()/int64(div), 10))
		case AggStats:
			sb.WriteString(`{"count": ` + strconv.FormatInt(e.Count, 10) +
				`, "average": ` + strconv.FormatInt(e.average(), 10) +
				`, "total": ` + strconv.FormatInt(e.Sum, 10) + "}")
		default:
			sb.WriteString(divide(e.Value, div).JSON())
		}
	}
	if keyed {
		sb.WriteByte('}')
	}
	sb.WriteString("}}\n")
	return sb.String()
}

// tseriesMapJSON is a tseries map's JSON line, empty intervals left out;
// a map without keys, or an empty one, is the array itself.
func (m *Map) tseriesMapJSON() string {
	es := tsSorted(m.Entries)
	first, last := m.tsRange()
	var sb strings.Builder
	sb.WriteString(`{"type": "tseries", "data": {` + jsonString(m.Name) + ": ")
	switch {
	case len(es) == 0:
		sb.WriteString("[]")
	case len(es) == 1 && len(es[0].Key) == 0:
		sb.WriteString(m.tseriesJSON(&es[0], first, last))
	default:
		sb.WriteByte('{')
		for i := range es {
			if i > 0 {
				sb.WriteString(", ")
			}
			parts := make([]string, len(es[i].Key))
			for j, k := range es[i].Key {
				parts[j] = k.text(KeyIndent)
			}
			sb.WriteString(jsonString(strings.Join(parts, ",")) + ": " + m.tseriesJSON(&es[i], first, last))
		}
		sb.WriteByte('}')
	}
	sb.WriteString("}}\n")
	return sb.String()
}

// PrintMapJSON writes a map as one line of bpftrace's NDJSON (-f json):
//
//	{"type": "map", "data": {"@c": {"a": 1, "b": 2}}}
//	{"type": "stats", "data": {"@s": {"count": 1, "average": 10, "total": 10}}}
//	{"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}]}}
//
// avg() maps are of type "stats" with plain numbers, as in bpftrace. Keys
// of several parts are joined with ',' ("1,abc"). An empty map writes
// nothing. Histogram bounds are exact 64-bit numbers where bpftrace 0.17
// overflows at 2^31.
func PrintMapJSON(w io.Writer, m *Map, opts PrintOptions) error {
	_, err := io.WriteString(w, FormatMapJSON(m, opts))
	return err
}

// JSON returns the value as bpftrace writes it in JSON: integers as
// numbers, strings, buffers, pointers and stacks as JSON strings, tuples as
// arrays without spaces ([1,"a"]). bpftrace 0.17 writes pointers unquoted
// (0x1234), which is not JSON; uscope quotes them.
func (v Value) JSON() string {
	switch v.Kind {
	case KindInt:
		if v.Str != "" && !v.Bool {
			v.Str = "" // an enum is its number in JSON, as in bpftrace
		}
		return v.Text()
	case KindTuple:
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = e.JSON()
		}
		if v.Names != nil && len(v.Names) == len(v.Elems) {
			// A record is an object, written as bpftrace main writes it.
			for i := range parts {
				parts[i] = jsonString(v.Names[i]) + ": " + parts[i]
			}
			return "{" + strings.Join(parts, ", ") + "}"
		}
		return "[" + strings.Join(parts, ",") + "]"
	case KindPointer:
		return strconv.FormatUint(v.Uint, 10) // an address is a number in JSON
	case KindNone:
		return "null"
	}
	return jsonString(v.Text())
}
