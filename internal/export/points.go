package export

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

// PointKind is the kind of metric a map entry becomes.
type PointKind int

const (
	// Counter is a monotonic cumulative sum: count(), sum(), the loss
	// counters. Prometheus names it with a _total suffix.
	Counter PointKind = iota
	// Gauge is a value read as it is now: min(), max(), avg(), plain values.
	Gauge
	// Histogram has explicit, upper-inclusive bucket bounds: hist(), lhist().
	Histogram
	// Summary has a count and a sum: stats().
	Summary
)

// Point is one series at one collection: the one mapping from maps to
// metrics that both the Prometheus and the OTLP exporters render.
type Point struct {
	Name   string // uscope_NAME, without Prometheus's _total
	Help   string
	Kind   PointKind
	Labels []string // label names, in order
	Values []string // label values, one per name
	// Value is a counter's or a gauge's value.
	Value float64
	// Count and Sum are a histogram's or a summary's; a histogram's Sum
	// is NaN (hist() keeps none).
	Count uint64
	Sum   float64
	// Bounds are a histogram's inclusive upper bounds, ascending, up to
	// the last non-empty bucket; Cumulative[i] counts the values <=
	// Bounds[i]. The values above the last bound are Count minus the
	// last Cumulative.
	Bounds     []float64
	Cumulative []uint64
}

// series is one map entry ready to become a metric.
type series struct {
	src    *source
	m      *output.Map
	entry  *output.Entry
	labels []string // names
	values []string
	id     string
}

// Points reads every source's snapshot and returns its metrics, the
// series bound by MaxSeries applied: the series exported at the last
// collection first, then new ones in key order while there is room; the
// rest are counted in uscope_series_dropped{map}.
func (e *Exporter) Points() []Point {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Point
	var all []series
	type mapID struct{ program, name string }
	dropped := map[mapID]int{}
	for _, name := range e.order {
		src := e.sources[name]
		sn, ok := src.read()
		if !ok {
			continue
		}
		base, baseVals := []string{}, []string{}
		if src.program != "" {
			base, baseVals = []string{"program"}, []string{src.program}
		}
		for _, k := range slices.Sorted(maps.Keys(src.extra)) {
			base, baseVals = append(base, k), append(baseVals, src.extra[k])
		}
		out = append(out, Point{Name: prefix + "lost_events", Help: "Ring-buffer records the kernel refused (the reader was too slow).",
			Kind: Counter, Labels: base, Values: baseVals, Value: float64(sn.Lost)})
		for _, m := range sn.Maps {
			mlabels := append(append([]string{}, base...), "map")
			mvals := append(append([]string{}, baseVals...), mapName(m.Name))
			out = append(out, Point{Name: prefix + "map_full_updates", Help: "Map updates the kernel refused because the map was full (raise --map-size).",
				Kind: Counter, Labels: mlabels, Values: mvals, Value: float64(sn.Full[m.Name])})
			dropped[mapID{src.program, m.Name}] = 0
			keys := src.labels[m.Name]
			for i := range m.Entries {
				en := &m.Entries[i]
				s := series{src: src, m: m, entry: en, labels: append([]string{}, base...), values: append([]string{}, baseVals...)}
				for j, k := range en.Key {
					ln := "key" + fmt.Sprint(j)
					if j < len(keys) {
						ln = keys[j]
					}
					s.labels = append(s.labels, ln)
					s.values = append(s.values, labelValue(k))
				}
				s.id = src.program + "\xff" + m.Name + "\xff" + strings.Join(s.values, "\xff")
				all = append(all, s)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		ai, aj := e.admitted[all[i].id], e.admitted[all[j].id]
		if ai != aj {
			return ai
		}
		return all[i].id < all[j].id
	})
	admitted := map[string]bool{}
	for _, s := range all {
		if e.MaxSeries > 0 && len(admitted) >= e.MaxSeries {
			dropped[mapID{s.src.program, s.m.Name}]++
			continue
		}
		admitted[s.id] = true
		out = append(out, points(s)...)
	}
	e.admitted = admitted
	ids := slices.SortedFunc(maps.Keys(dropped), func(a, b mapID) int {
		return strings.Compare(a.program+"\xff"+a.name, b.program+"\xff"+b.name)
	})
	for _, id := range ids {
		labels, vals := []string{"map"}, []string{mapName(id.name)}
		if id.program != "" {
			labels, vals = []string{"program", "map"}, []string{id.program, mapName(id.name)}
		}
		out = append(out, Point{Name: prefix + "series_dropped", Help: "Series of the map left out of the last scrape by --max-series.",
			Kind: Gauge, Labels: labels, Values: vals, Value: float64(dropped[id])})
	}
	return out
}

// points returns the metric(s) of one series.
func points(s series) []Point {
	p := Point{Name: prefix + mapName(s.m.Name), Help: fmt.Sprintf("uscope map %s (%s)", s.m.Name, s.m.Kind),
		Labels: s.labels, Values: s.values}
	en := s.entry
	switch s.m.Kind {
	case output.AggCount, output.AggSum:
		p.Kind, p.Value = Counter, intValue(en.Value)
	case output.AggMin, output.AggMax, output.AggValue:
		if en.Value.Kind != output.KindInt && en.Value.Kind != output.KindPointer {
			return nil // strings, tuples: not a number
		}
		p.Kind, p.Value = Gauge, intValue(en.Value)
	case output.AggAvg:
		p.Kind, p.Value = Gauge, average(en)
	case output.AggStats:
		p.Kind, p.Count, p.Sum = Summary, uint64(max(en.Count, 0)), float64(en.Sum)
		avg := p
		avg.Name, avg.Help, avg.Kind, avg.Value, avg.Count, avg.Sum = p.Name+"_avg", p.Help+": average", Gauge, average(en), 0, 0
		return []Point{p, avg}
	case output.AggHist, output.AggLHist:
		p.Kind, p.Sum = Histogram, math.NaN()
		p.Bounds, p.Cumulative, p.Count = histBuckets(s.m, en.Buckets)
	default:
		return nil
	}
	return []Point{p}
}

func average(en *output.Entry) float64 {
	if en.Count > 0 {
		return float64(en.Sum) / float64(en.Count)
	}
	return math.NaN()
}

// mapName is a map's name without '@' ("map" for the bare @).
func mapName(n string) string {
	n = strings.TrimPrefix(n, "@")
	if n == "" {
		return "map"
	}
	return n
}

// labelValue renders one key part as a label value: integers in decimal,
// strings raw, stacks as their frames joined by ';' (innermost first).
func labelValue(v output.Value) string {
	if v.Kind == output.KindStack {
		return strings.Join(v.Frames, ";")
	}
	return v.Text()
}

// histBuckets turns a histogram's counts into cumulative buckets keyed by
// their inclusive upper bound, up to the last non-empty bucket (the rest
// equal the total), and the total.
func histBuckets(m *output.Map, counts []uint64) ([]float64, []uint64, uint64) {
	last := -1
	for i, c := range counts {
		if c != 0 {
			last = i
		}
	}
	var bounds []float64
	var cums []uint64
	var cum uint64
	for i := 0; i <= last; i++ {
		cum += counts[i]
		var le int64
		if m.Kind == output.AggHist {
			le = output.HistBucketMax(i, m.HistBits)
		} else {
			le = output.LinearBucketMax(i, m.LHistMin, m.LHistMax, m.LHistStep)
		}
		if le == math.MaxInt64 {
			continue // +Inf
		}
		bounds, cums = append(bounds, float64(le)), append(cums, cum)
	}
	var total uint64
	for _, c := range counts {
		total += c
	}
	return bounds, cums, total
}

func intValue(v output.Value) float64 {
	if v.Kind == output.KindInt && v.Signed {
		return float64(v.Int)
	}
	return float64(v.Uint)
}

// Freeze makes the source name return sn from now on: the session's last
// snapshot, taken at its end, so that a last export (OTLP's, at shutdown)
// carries the final values.
func (e *Exporter) Freeze(name string, sn session.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if src, ok := e.sources[name]; ok {
		src.read = func() (session.Snapshot, bool) { return sn, true }
	}
}
