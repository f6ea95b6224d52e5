package export

import (
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/uscope/uscope/internal/lang"
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

// Exporter publishes the maps of one or more running sessions
// ("sources", one per agent program) as metrics: Points for the OTLP
// exporter, Handler(e.Points) and Listen for Prometheus.
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

// Server serves an exporter's /metrics (OpenMetrics or Prometheus text,
// as the scraper asks; see Handler) and /healthz.
type Server struct {
	ln  net.Listener
	srv *http.Server
	// Health, when set, answers /healthz: nil is healthy.
	Health func() error
}

// Listen binds addr at once (so that a busy port is an error before
// anything is attached) and serves exp's Points on it: /metrics with
// Handler, /healthz with Health.
func Listen(addr string, exp *Exporter) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--prometheus %s: %w", addr, err)
	}
	s := &Server{ln: ln}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(exp.Points))
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
