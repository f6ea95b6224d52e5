package export

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// promCollector is how uscope served its points with the Prometheus client
// library before it wrote the exposition itself: the reference the new
// writer is held to.
type promCollector struct{ points []Point }

func (c promCollector) Describe(chan<- *prometheus.Desc) {}

func (c promCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.points {
		desc := prometheus.NewDesc(p.Name, p.Help, p.Labels, nil)
		var m prometheus.Metric
		var err error
		switch p.Kind {
		case Counter:
			desc = prometheus.NewDesc(p.Name+"_total", p.Help, p.Labels, nil)
			m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, p.Value, p.Values...)
		case Gauge:
			m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, p.Value, p.Values...)
		case Summary:
			m, err = prometheus.NewConstSummary(desc, p.Count, p.Sum, nil, p.Values...)
		case Histogram:
			buckets := make(map[float64]uint64, len(p.Bounds))
			for i, b := range p.Bounds {
				buckets[b] = p.Cumulative[i]
			}
			m, err = prometheus.NewConstHistogram(desc, p.Count, p.Sum, buckets, p.Values...)
		}
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
}

// promhttpHandler serves points as uscope did with the library.
func promhttpHandler(points []Point) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(promCollector{points})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// serve runs h for one GET with the headers and returns status, Content-Type,
// Content-Encoding and the (decompressed) body.
func serve(t testing.TB, h http.Handler, accept, encoding string) (int, string, string, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip: %v", err)
		}
	}
	return rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Encoding"), string(body)
}

// pointsHandler serves fixed points through the new writer.
type pointsHandler []Point

func (p pointsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveExposition(w, r, []Point(p))
}

// expositionCases are points of every kind and the values and texts that
// need care: escaping, special floats, empty and unicode label values,
// many buckets, and conflicting series the library left out.
var expositionCases = map[string][]Point{
	"kinds": {
		{Name: "uscope_calls", Help: "count() of @calls", Kind: Counter, Labels: []string{"comm", "func"}, Values: []string{"app", "work"}, Value: 42},
		{Name: "uscope_calls", Help: "count() of @calls", Kind: Counter, Labels: []string{"comm", "func"}, Values: []string{"app", "idle"}, Value: 1e6},
		{Name: "uscope_mx", Help: "max() of @mx", Kind: Gauge, Value: -3},
		{Name: "uscope_av", Help: "avg() of @av", Kind: Gauge, Value: 2.5},
		{Name: "uscope_st", Help: "stats() of @st", Kind: Summary, Count: 4, Sum: 10},
		{Name: "uscope_lat", Help: "hist() of @lat", Kind: Histogram, Count: 5, Sum: math.NaN(),
			Bounds: []float64{-1, 0, 1, 3, 7}, Cumulative: []uint64{0, 1, 2, 4, 5}},
		{Name: "uscope_lin", Help: "lhist() of @lin", Kind: Histogram, Labels: []string{"pid"}, Values: []string{"9"}, Count: 4, Sum: math.NaN(),
			Bounds: []float64{-1, 9, 19, 29, 39, 49, 59, 69, 79, 89, 99}, Cumulative: []uint64{0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
		{Name: "uscope_lost_events", Help: "events lost", Kind: Counter, Value: 7},
	},
	"escaping": {
		{Name: "uscope_s", Help: "help with \\ and \"quotes\"\nand a newline", Kind: Gauge, Labels: []string{"k"}, Values: []string{"a\\b\"c\nd"}, Value: 1},
		{Name: "uscope_s", Help: "help with \\ and \"quotes\"\nand a newline", Kind: Gauge, Labels: []string{"k"}, Values: []string{""}, Value: 2},
		{Name: "uscope_s", Help: "help with \\ and \"quotes\"\nand a newline", Kind: Gauge, Labels: []string{"k"}, Values: []string{"héllo ✓"}, Value: 3},
		{Name: "uscope_e", Help: "", Kind: Counter, Value: 0},
	},
	"floats": {
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"nan"}, Value: math.NaN()},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"inf"}, Value: math.Inf(1)},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"-inf"}, Value: math.Inf(-1)},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"huge"}, Value: 1.8446744073709552e19},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"tiny"}, Value: 1e-300},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"neg0"}, Value: math.Copysign(0, -1)},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"int"}, Value: 123456789},
		{Name: "uscope_f", Help: "floats", Kind: Gauge, Labels: []string{"v"}, Values: []string{"frac"}, Value: 0.1},
		{Name: "uscope_h", Help: "big buckets", Kind: Histogram, Count: 1 << 40, Sum: 1e15,
			Bounds: []float64{1023, 1 << 40, 1e21}, Cumulative: []uint64{1, 1 << 39, 1 << 40}},
	},
	"order": {
		{Name: "uscope_z", Help: "z", Kind: Gauge, Labels: []string{"b", "a"}, Values: []string{"2", "9"}, Value: 1},
		{Name: "uscope_z", Help: "z", Kind: Gauge, Labels: []string{"b", "a"}, Values: []string{"1", "9"}, Value: 2},
		{Name: "uscope_z", Help: "z", Kind: Gauge, Labels: []string{"b", "a"}, Values: []string{"1", "10"}, Value: 3},
		{Name: "uscope_a", Help: "a", Kind: Counter, Labels: []string{"program"}, Values: []string{"y"}, Value: 1},
		{Name: "uscope_a", Help: "a", Kind: Counter, Labels: []string{"program"}, Values: []string{"x"}, Value: 2},
	},
	"conflicts": {
		{Name: "uscope_c", Help: "c", Kind: Gauge, Labels: []string{"k"}, Values: []string{"1"}, Value: 1},
		{Name: "uscope_c", Help: "c", Kind: Gauge, Labels: []string{"k"}, Values: []string{"1"}, Value: 2},
		{Name: "uscope_c", Help: "other help", Kind: Gauge, Labels: []string{"k"}, Values: []string{"2"}, Value: 3},
		{Name: "uscope_c", Help: "c", Kind: Summary, Labels: []string{"k"}, Values: []string{"3"}, Count: 1, Sum: 1},
		{Name: "uscope_u", Help: "u", Kind: Gauge, Labels: []string{"k"}, Values: []string{"bad \xff utf-8"}, Value: 1},
		{Name: "uscope_u", Help: "u", Kind: Gauge, Labels: []string{"k"}, Values: []string{"good"}, Value: 2},
	},
	"empty": {},
	"nothing left": {
		{Name: "uscope_u", Help: "u", Kind: Gauge, Labels: []string{"k"}, Values: []string{"bad \xff utf-8"}, Value: 1},
	},
}

// expositionRequests are the Accept and Accept-Encoding headers of real
// scrapers: Prometheus 2 and 3 (with and without protobuf first), curl,
// a browser, and a text-only client.
var expositionRequests = []struct{ accept, encoding string }{
	{"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "gzip"},
	{"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,*/*;q=0.1", "gzip"},
	{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,text/plain;version=0.0.4;q=0.3", ""},
	{"application/openmetrics-text;version=0.0.1", ""},
	{"*/*", ""},
	{"", ""},
	{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "gzip, deflate, br"},
	{"text/plain", "identity"},
	{"text/plain;version=0.0.4", "gzip;q=0"},
}

// TestExpositionSameAsPromhttp serves every case through uscope's writer
// and through the Prometheus client library's handler, for every request,
// and wants the same status, content type, encoding and body.
func TestExpositionSameAsPromhttp(t *testing.T) {
	for name, points := range expositionCases {
		for _, rq := range expositionRequests {
			ref := promhttpHandler(points)
			wc, wt, we, wb := serve(t, ref, rq.accept, rq.encoding)
			gc, gt, ge, gb := serve(t, pointsHandler(points), rq.accept, rq.encoding)
			if wc == http.StatusInternalServerError && gc == wc {
				continue // nothing to expose: the errors are worded by each
			}
			if wc != gc || wt != gt || we != ge || wb != gb {
				t.Errorf("%s, Accept %q, Accept-Encoding %q:\npromhttp: %d %q %q\n%s\nuscope:   %d %q %q\n%s",
					name, rq.accept, rq.encoding, wc, wt, we, wb, gc, gt, ge, gb)
			}
		}
	}
}

// TestExpositionParses reads uscope's text exposition back with the
// library's parser.
func TestExpositionParses(t *testing.T) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, _ := families(expositionCases["kinds"])
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(writeExposition(fams, false))))
	if err != nil {
		t.Fatal(err)
	}
	if got := mfs["uscope_calls_total"].GetMetric(); len(got) != 2 || got[0].GetCounter().GetValue() != 1e6 {
		t.Errorf("uscope_calls_total read back as %v", got)
	}
	if h := mfs["uscope_lat"].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 5 || len(h.GetBucket()) != 6 {
		t.Errorf("uscope_lat read back as %v", h)
	}
}

// FuzzExposition builds points from fuzzed names, values and texts and
// checks that uscope's exposition equals the library's.
func FuzzExposition(f *testing.F) {
	f.Add("calls", "help", "k", "v", 1.5, uint64(3), uint8(0))
	f.Add("lat", "a\\b\n\"", "pid", "\"x\"\n", math.Inf(1), uint64(1)<<40, uint8(3))
	f.Add("s", "", "k", "", math.NaN(), uint64(0), uint8(2))
	f.Fuzz(func(t *testing.T, name, help, label, value string, v float64, n uint64, kind uint8) {
		if !validName(name) || !validName(label) || label == "le" || label == "quantile" || strings.HasPrefix(label, "__") {
			return // names come from program identifiers (KeyNames)
		}
		p := Point{Name: "uscope_" + name, Help: help, Kind: PointKind(kind % 4), Labels: []string{label}, Values: []string{value},
			Value: v, Count: n, Sum: v}
		if p.Kind == Histogram {
			p.Bounds, p.Cumulative = []float64{v}, []uint64{n / 2}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return // a bound is a bucket's integer upper limit
			}
		}
		points := []Point{p, p}
		points[1].Values = []string{value + "2"}
		for _, rq := range expositionRequests[:4] {
			wc, wt, _, wb := serve(t, promhttpHandler(points), rq.accept, "")
			gc, gt, _, gb := serve(t, pointsHandler(points), rq.accept, "")
			if wc == http.StatusInternalServerError && gc == wc {
				continue // nothing to expose: the errors are worded by each
			}
			if wc != gc || wt != gt || wb != gb {
				t.Fatalf("Accept %q:\npromhttp: %d %q\n%s\nuscope:   %d %q\n%s", rq.accept, wc, wt, wb, gc, gt, gb)
			}
		}
	})
}

// validName reports whether s is a legacy Prometheus name (as uscope's
// names from program identifiers are).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
