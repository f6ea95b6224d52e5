package export

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

// Metric names and their mapping from maps (see README "fleet"):
//
//	@name[k...] = count(), sum()    counter   uscope_name_total{k...}
//	min(), max(), avg(), values     gauge     uscope_name{k...}
//	hist(), lhist()                 histogram uscope_name_bucket{le=...}, _count
//	stats()                         summary   uscope_name_count, uscope_name_sum; gauge uscope_name_avg
//
// Histogram bounds are output.Log2BucketMax/LinearBucketMax: bpftrace's
// buckets hold integers in [lo, hi), which is exactly le = hi-1. Their
// _sum is NaN: hist() keeps no sum. Maps of strings or tuples, and @-maps
// without a name (@), are named uscope_map.
const prefix = "uscope_"

// Exporter is a prometheus.Collector over the maps of one or more
// running sessions ("sources", one per agent program).
type Exporter struct {
	// MaxSeries bounds the series of all maps together (0: no bound). A
	// series exported at one scrape stays exported while its key exists;
	// new keys are admitted in key order while there is room; the rest
	// are counted in uscope_series_dropped{map}.
	MaxSeries int

	mu       sync.Mutex
	sources  map[string]*source
	order    []string
	admitted map[string]bool // series exported at the last scrape
}

type source struct {
	read   session.Reader
	labels map[string][]string
	// agent: the program's name as a label ("" for uscope run)
	program string
	// extra labels of every series (container="ID")
	extra map[string]string
}

// New returns an exporter without sources.
func New(maxSeries int) *Exporter {
	return &Exporter{MaxSeries: maxSeries, sources: map[string]*source{}, admitted: map[string]bool{}}
}

// Add publishes the maps of a session under name (the program label;
// "" publishes them without it), with extra labels on every series (the
// container id of a --container filter). A source of the same name is
// replaced.
func (e *Exporter) Add(name string, prog *lang.Program, r session.Reader, extra map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.sources[name]; !ok {
		e.order = append(e.order, name)
	}
	e.sources[name] = &source{read: r, labels: KeyNames(prog), program: name, extra: extra}
}

// Remove stops publishing a source.
func (e *Exporter) Remove(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sources, name)
	for i, n := range e.order {
		if n == name {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
}

// Describe sends nothing: the metrics depend on the programs, so the
// exporter is an unchecked collector.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// series is one map entry ready to become a metric.
type series struct {
	src    *source
	m      *output.Map
	entry  *output.Entry
	labels []string // names
	values []string
	id     string
}

// Collect reads every source's snapshot and sends its metrics.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
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
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc(prefix+"lost_events_total", "Ring-buffer records the kernel refused (the reader was too slow).", base, nil),
			prometheus.CounterValue, float64(sn.Lost), baseVals...)
		for _, m := range sn.Maps {
			mlabels := append(append([]string{}, base...), "map")
			mvals := append(append([]string{}, baseVals...), mapName(m.Name))
			ch <- prometheus.MustNewConstMetric(
				prometheus.NewDesc(prefix+"map_full_updates_total", "Map updates the kernel refused because the map was full (raise --map-size).", mlabels, nil),
				prometheus.CounterValue, float64(sn.Full[m.Name]), mvals...)
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
	// Admit the series kept at the last scrape first, then new ones in a
	// stable order, while the budget lasts.
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
		emit(ch, s)
	}
	e.admitted = admitted
	for id, n := range dropped {
		labels, vals := []string{"map"}, []string{mapName(id.name)}
		if id.program != "" {
			labels, vals = []string{"program", "map"}, []string{id.program, mapName(id.name)}
		}
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc(prefix+"series_dropped", "Series of the map left out of the last scrape by --max-series.", labels, nil),
			prometheus.GaugeValue, float64(n), vals...)
	}
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

// emit sends the metric(s) of one series.
func emit(ch chan<- prometheus.Metric, s series) {
	name := prefix + mapName(s.m.Name)
	help := fmt.Sprintf("uscope map %s (%s)", s.m.Name, s.m.Kind)
	en := s.entry
	switch s.m.Kind {
	case output.AggCount, output.AggSum:
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name+"_total", help, s.labels, nil),
			prometheus.CounterValue, intValue(en.Value), s.values...)
	case output.AggMin, output.AggMax, output.AggValue:
		if en.Value.Kind != output.KindInt && en.Value.Kind != output.KindPointer {
			return // strings, tuples: not a number
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, s.labels, nil),
			prometheus.GaugeValue, intValue(en.Value), s.values...)
	case output.AggAvg:
		avg := math.NaN()
		if en.Count > 0 {
			avg = float64(en.Sum) / float64(en.Count)
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, s.labels, nil),
			prometheus.GaugeValue, avg, s.values...)
	case output.AggStats:
		ch <- prometheus.MustNewConstSummary(prometheus.NewDesc(name, help, s.labels, nil),
			uint64(max(en.Count, 0)), float64(en.Sum), nil, s.values...)
		avg := math.NaN()
		if en.Count > 0 {
			avg = float64(en.Sum) / float64(en.Count)
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name+"_avg", help+": average", s.labels, nil),
			prometheus.GaugeValue, avg, s.values...)
	case output.AggHist, output.AggLHist:
		buckets, count := histBuckets(s.m, en.Buckets)
		ch <- prometheus.MustNewConstHistogram(prometheus.NewDesc(name, help, s.labels, nil),
			count, math.NaN(), buckets, s.values...)
	}
}

// histBuckets turns a histogram's counts into Prometheus's cumulative
// buckets keyed by their inclusive upper bound, up to the last non-empty
// bucket (the rest equal the total, which +Inf carries).
func histBuckets(m *output.Map, counts []uint64) (map[float64]uint64, uint64) {
	last := -1
	for i, c := range counts {
		if c != 0 {
			last = i
		}
	}
	out := map[float64]uint64{}
	var cum uint64
	for i := 0; i <= last; i++ {
		cum += counts[i]
		var le int64
		if m.Kind == output.AggHist {
			le = output.Log2BucketMax(i)
		} else {
			le = output.LinearBucketMax(i, m.LHistMin, m.LHistMax, m.LHistStep)
		}
		if le == math.MaxInt64 {
			continue // +Inf
		}
		out[float64(le)] = cum
	}
	var total uint64
	for _, c := range counts {
		total += c
	}
	return out, total
}

func intValue(v output.Value) float64 {
	if v.Kind == output.KindInt && v.Signed {
		return float64(v.Int)
	}
	return float64(v.Uint)
}

// Server serves an exporter's /metrics (OpenMetrics or Prometheus text,
// as the scraper asks) and /healthz.
type Server struct {
	ln  net.Listener
	srv *http.Server
	// Health, when set, answers /healthz: nil is healthy.
	Health func() error
}

// Listen binds addr at once (so that a busy port is an error before
// anything is attached) and serves reg on it.
func Listen(addr string, reg *prometheus.Registry) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--prometheus %s: %w", addr, err)
	}
	s := &Server{ln: ln}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if s.Health != nil {
			if err := s.Health(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }
