package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// legacyCollector is the prometheus.Collector uscope had before issue 22
// (Exporter.Collect), over fixed points. It builds metrics with the
// non-Must constructors and skips a point they refuse: the Must ones
// panicked there, and the Registry lost the rest of the scrape with it.
// The new writer leaves out just that point, which is what this
// collector does.
type legacyCollector []Point

func (c legacyCollector) Describe(chan<- *prometheus.Desc) {}

func (c legacyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c {
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
			if len(p.Cumulative) < len(p.Bounds) {
				continue // index out of range in the old Collect
			}
			buckets := make(map[float64]uint64, len(p.Bounds))
			for i, b := range p.Bounds {
				buckets[b] = p.Cumulative[i]
			}
			m, err = prometheus.NewConstHistogram(desc, p.Count, p.Sum, buckets, p.Values...)
		}
		if err == nil {
			ch <- m
		}
	}
}

// legacyHandler is what Listen served before: promhttp over a Registry
// of the points.
func legacyHandler(points []Point) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(legacyCollector(points))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// response is what a scraper sees of a scrape.
type response struct {
	status                                   int
	contentType, encoding, nosniff, vary, te string
	length                                   int64
	body                                     []byte // decompressed
}

// scrape requests /metrics?query with the headers, without the client's
// transparent gzip, and decompresses the body itself. Without a real
// server (inProcess, for the fuzz target) it records the handler's
// response: no Content-Length or Transfer-Encoding then.
var inProcess bool

func scrape(t testing.TB, h http.Handler, accept, encoding, query string) response {
	t.Helper()
	req, err := http.NewRequest("GET", "http://uscope/metrics"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	var resp *http.Response
	if inProcess {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp = rec.Result()
	} else {
		srv := httptest.NewServer(h)
		defer srv.Close()
		req.URL.Host = srv.Listener.Addr().String()
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		defer client.CloseIdleConnections()
		if resp, err = client.Do(req); err != nil {
			t.Fatal(err)
		}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"),
		encoding: resp.Header.Get("Content-Encoding"), nosniff: resp.Header.Get("X-Content-Type-Options"),
		vary: strings.Join(resp.Header.Values("Vary"), "|"), te: strings.Join(resp.TransferEncoding, ","),
		length: resp.ContentLength, body: raw}
	if r.encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		if r.body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip: %v", err)
		}
	}
	return r
}

// compare scrapes both handlers and reports any difference.
func compare(t testing.TB, points []Point, accept, encoding, query string) response {
	t.Helper()
	old := scrape(t, legacyHandler(points), accept, encoding, query)
	cur := scrape(t, Handler(func() []Point { return points }), accept, encoding, query)
	if old.status == http.StatusInternalServerError {
		// The error text quotes the metrics in protobuf text, whose
		// spacing is randomised: compare up to it.
		const head = "An error has occurred while serving metrics:\n\n"
		if !bytes.HasPrefix(old.body, []byte(head)) || !bytes.HasPrefix(cur.body, []byte(head)) {
			t.Errorf("Accept %q, Accept-Encoding %q: error bodies\n%s\nand\n%s", accept, encoding, old.body, cur.body)
		}
		old.body, cur.body, old.length, cur.length = nil, nil, 0, 0
	}
	if !bytes.Equal(old.body, cur.body) {
		t.Errorf("Accept %q, Accept-Encoding %q, query %q: bodies differ\npromhttp:\n%s\nuscope:\n%s", accept, encoding, query, old.body, cur.body)
	}
	ob, cb := old.body, cur.body
	old.body, cur.body = nil, nil
	if fmt.Sprint(old) != fmt.Sprint(cur) {
		t.Errorf("Accept %q, Accept-Encoding %q: responses differ\npromhttp: %+v\nuscope:   %+v", accept, encoding, old, cur)
	}
	old.body, cur.body = ob, cb
	return cur
}

var accepts = []string{
	"",
	// Prometheus 2.42 (Debian's) and 3.x without protobuf
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
	"application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
	"text/plain",
	"text/plain;version=0.0.4",
	"application/openmetrics-text",
	"application/openmetrics-text; version=1.0.0; escaping=dots",
	"application/openmetrics-text;version=2.0.0",
	"*/*",
	"text/*",
	"*/openmetrics-text;version=1.0.0",
	"text/plain;version=0.0.4;escaping=values, application/openmetrics-text;q=0.2",
	"text/*;q=0.3, application/openmetrics-text;version=1.0.0;q=0.3",
	"text/plain/, foo, application/openmetrics-text;version=0.0.1;q=abc",
	"application/openmetrics-text;version=1.0.0=;q=0.9, text/plain;q=1e999;escaping=bogus",
	"text/plain;q=0, application/openmetrics-text;version=1.0.0;q=0",
	"*;escaping=underscores, text/plain; version==",
	"text/plain;escaping=allow-utf-8",
	"text/plain;version=0.0.4;escaping=dots",
	"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
	"application/openmetrics-text;version=1.0.0;escaping=values",
	"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.1,text/plain;q=0.5",
	// Prometheus with native histograms on
	"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
	"*/*;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8",
	"application/vnd.google.protobuf;encoding=delimited, application/*;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5",
}

var encodings = []string{"", "gzip", "gzip;q=0", "identity, gzip", "*", "gzip, identity;q=0.5",
	"br;q=1.0, gzip;q=0.8", "deflate", "gzip;q=0.5, *;q=0.6", "identity;q=0, *;q=0", "x-gzip, gzip ; q=1", "gzip;q=1.5"}

// table is the equivalence test's input: every kind, escaping-worthy
// help and label values, extreme values, big histograms, and points the
// Registry turned away.
func table() map[string][]Point {
	inf, nan := math.Inf(1), math.NaN()
	many := Point{Name: "uscope_lat", Help: "uscope map @lat (hist)", Kind: Histogram, Count: 1 << 40, Sum: nan}
	for i := range 64 {
		many.Bounds = append(many.Bounds, float64(int64(1)<<i-1))
		many.Cumulative = append(many.Cumulative, uint64(i*i))
	}
	// More than 12 series (past insertion sort) that compare equal: the
	// Registry left them in sort.Sort's order.
	var ties []Point
	for i := range 40 {
		ties = append(ties, Point{Name: "tie", Kind: Gauge, Labels: []string{fmt.Sprintf("l%02d", i)},
			Values: []string{fmt.Sprint(i * 7 % 3)}, Value: float64(i)})
	}
	return map[string][]Point{
		"empty": nil,
		"ties":  ties,
		"kinds": {
			{Name: "uscope_calls", Help: "uscope map @calls (count)", Kind: Counter, Labels: []string{"comm", "func"}, Values: []string{"app", "work"}, Value: 42},
			{Name: "uscope_calls", Help: "uscope map @calls (count)", Kind: Counter, Labels: []string{"comm", "func"}, Values: []string{"app", "idle"}, Value: 0},
			{Name: "uscope_calls", Help: "uscope map @calls (count)", Kind: Counter, Labels: []string{"comm", "func"}, Values: []string{"", "main"}, Value: 1},
			{Name: "uscope_mx", Help: "uscope map @mx (max)", Kind: Gauge, Value: -3},
			{Name: "uscope_st", Help: "uscope map @st (stats)", Kind: Summary, Count: 4, Sum: 10},
			{Name: "uscope_st_avg", Help: "uscope map @st (stats): average", Kind: Gauge, Value: 2.5},
			{Name: "uscope_lin", Help: "lhist", Kind: Histogram, Labels: []string{"pid"}, Values: []string{"9"},
				Bounds: []float64{-1, 9, 19, 99}, Cumulative: []uint64{0, 0, 3, 3}, Count: 4, Sum: nan},
			{Name: "uscope_empty_hist", Help: "", Kind: Histogram, Sum: 0},
		},
		"many buckets": {many},
		"escaping": {
			{Name: "uscope_esc", Help: "back\\slash \"quoted\"\nnew line, ünïcødé ✓ \t tab", Kind: Gauge,
				Labels: []string{"k"}, Values: []string{"a\\b\"c\nd ünï ✓\x00\t"}, Value: 1},
			{Name: "uscope_esc", Help: "back\\slash \"quoted\"\nnew line, ünïcødé ✓ \t tab", Kind: Gauge,
				Labels: []string{"k"}, Values: []string{`\n`}, Value: 2},
			{Name: "uscope_esc", Help: "back\\slash \"quoted\"\nnew line, ünïcødé ✓ \t tab", Kind: Gauge,
				Labels: []string{"k"}, Values: []string{""}, Value: 3},
			{Name: "uscope_cnt", Help: `"\`, Kind: Counter, Labels: []string{"le"}, Values: []string{"}{,="}, Value: 3},
			{Name: "uscope_stack", Help: "stacks", Kind: Counter, Labels: []string{"ustack"}, Values: []string{"main;work;_start"}, Value: 7},
		},
		"values": {
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"nan"}, Value: nan},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"+inf"}, Value: inf},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"-inf"}, Value: -inf},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"max"}, Value: math.MaxFloat64},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"tiny"}, Value: math.SmallestNonzeroFloat64},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"-0"}, Value: math.Copysign(0, -1)},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"1"}, Value: 1},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"-1"}, Value: -1},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"1e6"}, Value: 1e6},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"1e21"}, Value: 1e21},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"2^53+1"}, Value: 1<<53 + 2},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"0.1"}, Value: 0.1},
			{Name: "v", Kind: Gauge, Labels: []string{"x"}, Values: []string{"-1.5e-7"}, Value: -1.5e-7},
			{Name: "c", Kind: Counter, Value: 18446744073709551615},
			{Name: "s", Kind: Summary, Count: math.MaxUint64, Sum: -inf},
			{Name: "h", Kind: Histogram, Count: math.MaxUint64, Sum: 1e300,
				Bounds: []float64{1e-300, -inf, 0, 0.5, 1, 3, 1e20}, Cumulative: []uint64{1, 0, 2, 3, 4, 5, math.MaxUint64}},
			{Name: "h_inf", Kind: Histogram, Count: 9, Sum: 3, Bounds: []float64{1, inf, 2}, Cumulative: []uint64{1, 7, 2}},
			{Name: "h_dup", Kind: Histogram, Count: 9, Sum: 3, Bounds: []float64{1, 2, 1}, Cumulative: []uint64{1, 2, 5}},
			{Name: "h_short", Kind: Histogram, Count: 9, Sum: 3, Bounds: []float64{1}, Cumulative: []uint64{1, 2, 5}},
		},
		"sorting": {
			{Name: "z", Kind: Gauge, Labels: []string{"b", "a"}, Values: []string{"1", "2"}, Value: 1},
			{Name: "z", Kind: Gauge, Labels: []string{"b", "a"}, Values: []string{"2", "1"}, Value: 2},
			{Name: "z", Kind: Gauge, Labels: []string{"a"}, Values: []string{"9"}, Value: 3},
			{Name: "z", Kind: Gauge, Labels: []string{"b"}, Values: []string{"9"}, Value: 4},
			{Name: "z", Kind: Gauge, Labels: []string{"c"}, Values: []string{"8"}, Value: 5},
			{Name: "z", Kind: Gauge, Value: 6},
			{Name: "a", Kind: Gauge, Labels: []string{"k"}, Values: []string{"10"}, Value: 1},
			{Name: "a", Kind: Gauge, Labels: []string{"k"}, Values: []string{"9"}, Value: 1},
			{Name: "a", Kind: Gauge, Labels: []string{"k"}, Values: []string{"Z"}, Value: 1},
			{Name: "a", Kind: Gauge, Labels: []string{"k"}, Values: []string{"é"}, Value: 1},
			{Name: "A", Kind: Gauge, Value: 1},
			{Name: "_a:b", Kind: Gauge, Value: 1},
		},
		"conflicts": {
			{Name: "d", Help: "h", Kind: Gauge, Labels: []string{"k"}, Values: []string{"1"}, Value: 1},
			{Name: "d", Help: "h", Kind: Gauge, Labels: []string{"k"}, Values: []string{"1"}, Value: 2},     // same series
			{Name: "d", Help: "other", Kind: Gauge, Labels: []string{"k"}, Values: []string{"2"}, Value: 3}, // other help
			{Name: "d", Help: "h", Kind: Summary, Labels: []string{"k"}, Values: []string{"3"}, Count: 1},   // other kind
			{Name: "d_total", Help: "h", Kind: Gauge, Value: 4},
			{Name: "d", Help: "h", Kind: Counter, Value: 5}, // d_total, a gauge already
			{Name: "e", Kind: Counter, Value: 1},
			{Name: "e_total", Kind: Counter, Value: 1}, // e_total_total
			{Name: "e", Kind: Gauge, Value: 2},         // e is free: the counter is e_total
			{Name: "hs", Kind: Histogram, Count: 1},
			{Name: "hs_bucket", Kind: Gauge, Value: 1},
			{Name: "hs_count", Kind: Counter, Value: 1}, // hs_count_total: fine
			{Name: "hs_sum", Kind: Gauge, Value: 1},
			{Name: "sm_count", Kind: Gauge, Value: 1},
			{Name: "sm", Kind: Summary, Count: 1},
			{Name: "sm2", Kind: Summary, Count: 1},
			{Name: "sm2_bucket", Kind: Gauge, Value: 1}, // allowed next to a summary
			{Name: "sm2_sum", Kind: Gauge, Value: 1},
			{Name: "q", Kind: Summary, Labels: []string{"quantile"}, Values: []string{"0.5"}, Count: 1},
			{Name: "q", Kind: Gauge, Value: 1}, // q is a summary, though empty
			{Name: "dup", Kind: Gauge, Labels: []string{"a", "b"}, Values: []string{"1", "2"}, Value: 1},
			{Name: "dup", Kind: Gauge, Labels: []string{"b", "a"}, Values: []string{"2", "1"}, Value: 2}, // same labels, other order
		},
		"malformed": {
			{Name: "ok", Kind: Gauge, Value: 1},
			{Name: "bad", Kind: Gauge, Labels: []string{"a"}, Value: 1},
			{Name: "bad", Kind: Gauge, Labels: []string{"__a"}, Values: []string{"x"}, Value: 1},
			{Name: "bad", Kind: Gauge, Labels: []string{"a", "a"}, Values: []string{"x", "y"}, Value: 1},
			{Name: "bad", Kind: Gauge, Labels: []string{"a"}, Values: []string{"\xff"}, Value: 1},
			{Name: "bad", Kind: Gauge, Labels: []string{""}, Values: []string{"x"}, Value: 1},
			{Name: "", Kind: Gauge, Value: 1},
			{Name: "ok2", Kind: Counter, Value: 1},
		},
		"all refused": {
			{Name: "q", Kind: Summary, Labels: []string{"quantile"}, Values: []string{"0.5"}, Count: 1},
		},
	}
}

// TestExpositionEquivalence serves each point set through promhttp (the
// Registry of the old Collector) and through Handler, with every Accept
// and Accept-Encoding above, and requires the same status, headers and
// (decompressed) bytes.
func TestExpositionEquivalence(t *testing.T) {
	formats := map[string]bool{}
	for name, points := range table() {
		t.Run(name, func(t *testing.T) {
			for _, accept := range accepts {
				for _, enc := range encodings {
					r := compare(t, points, accept, enc, "")
					formats[r.contentType] = true
				}
			}
			compare(t, points, "", "gzip", "?name[]=uscope_calls_total&name[]=v&name[]=d")
		})
	}
	// The table reaches every format.
	for _, f := range []string{FormatText, FormatOpenMetrics, FormatOpenMetrics001, FormatProtobuf} {
		for _, esc := range []string{"underscores", "allow-utf-8", "dots", "values"} {
			if !formats[f+"; escaping="+esc] && (esc == "underscores" || f == FormatText || f == FormatOpenMetrics) {
				t.Errorf("no scrape got %s; escaping=%s", f, esc)
			}
		}
	}
}

// TestExpositionBytes pins a few lines of both formats, so that the
// equivalence test is not the only check of what is served.
func TestExpositionBytes(t *testing.T) {
	points := table()["kinds"][:7]
	text := string(scrape(t, Handler(func() []Point { return points }), "", "", "").body)
	om := string(scrape(t, Handler(func() []Point { return points }), "application/openmetrics-text", "", "").body)
	for _, want := range []string{
		"# HELP uscope_calls_total uscope map @calls (count)\n# TYPE uscope_calls_total counter\n" +
			"uscope_calls_total{comm=\"\",func=\"main\"} 1\nuscope_calls_total{comm=\"app\",func=\"idle\"} 0\n",
		"uscope_lin_bucket{pid=\"9\",le=\"19\"} 3\nuscope_lin_bucket{pid=\"9\",le=\"99\"} 3\nuscope_lin_bucket{pid=\"9\",le=\"+Inf\"} 4\nuscope_lin_sum{pid=\"9\"} NaN\nuscope_lin_count{pid=\"9\"} 4\n",
		"# TYPE uscope_st summary\nuscope_st_sum 10\nuscope_st_count 4\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text: missing\n%s\nin\n%s", want, text)
		}
	}
	for _, want := range []string{
		"# HELP uscope_calls uscope map @calls (count)\n# TYPE uscope_calls counter\nuscope_calls_total{comm=\"\",func=\"main\"} 1.0\n",
		"uscope_lin_bucket{pid=\"9\",le=\"19.0\"} 3\n",
		"uscope_mx -3.0\n",
	} {
		if !strings.Contains(om, want) {
			t.Errorf("OpenMetrics: missing\n%s\nin\n%s", want, om)
		}
	}
	if !strings.HasSuffix(om, "\n# EOF\n") {
		t.Errorf("OpenMetrics does not end in # EOF:\n%s", om)
	}
}

// TestExpositionRefuses covers what the writer leaves out though the
// Collector served it (escaped): names that are only valid UTF-8, and
// NaN bucket bounds, whose order promhttp left to chance.
func TestExpositionRefuses(t *testing.T) {
	for _, p := range []Point{
		{Name: "a.b", Kind: Gauge},
		{Name: "a", Kind: Gauge, Labels: []string{"x:y"}, Values: []string{""}},
		{Name: "a", Kind: Gauge, Labels: []string{"ü"}, Values: []string{""}},
		{Name: "1a", Kind: Gauge},
		{Name: "a", Kind: Histogram, Bounds: []float64{math.NaN()}, Cumulative: []uint64{1}},
	} {
		if fams, err := gather([]Point{p}); len(fams) != 0 || err == nil {
			t.Errorf("%+v: got %d families, error %v", p, len(fams), err)
		}
	}
}

// fuzzPoints builds points from bytes: names and label names from small
// sets (so that conflicts and duplicates happen), values and help from
// the input.
func fuzzPoints(data []byte) []Point {
	names := []string{"a", "a_total", "a_count", "a_sum", "a_bucket", "b", "uscope_x"}
	labels := []string{"k", "le", "quantile", "pid", "z"}
	next := func(n int) int {
		if len(data) == 0 {
			return 0
		}
		b := int(data[0])
		data = data[1:]
		return b % n
	}
	str := func() string {
		n := next(8)
		if n > len(data) {
			n = len(data)
		}
		s := string(data[:n])
		data = data[n:]
		return strings.ToValidUTF8(s, "?")
	}
	f64 := func() float64 {
		if len(data) < 8 {
			return float64(next(3)) - 1
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(data))
		data = data[8:]
		return v
	}
	var points []Point
	for len(data) > 0 && len(points) < 32 {
		p := Point{Name: names[next(len(names))], Kind: PointKind(next(4)), Help: str()}
		for range next(3) {
			l := labels[next(len(labels))]
			if slices.Contains(p.Labels, l) {
				continue
			}
			p.Labels, p.Values = append(p.Labels, l), append(p.Values, str())
		}
		p.Value, p.Sum, p.Count = f64(), f64(), uint64(next(256))<<next(64)
		for range next(5) {
			b := f64()
			if math.IsNaN(b) {
				b = math.Inf(next(3) - 1)
			}
			p.Bounds, p.Cumulative = append(p.Bounds, b), append(p.Cumulative, uint64(next(256)))
		}
		points = append(points, p)
	}
	return points
}

// FuzzExposition checks, for points built from the input, that Handler
// serves what promhttp served in both text formats, and that the text
// format parses back to the same values.
func FuzzExposition(f *testing.F) {
	f.Add([]byte("\x00\x01\x03help\x02\x00\x01v\x04\x00"))
	f.Add([]byte("\x05\x03\x05a\"b\\c\x02\x01\x02le\x03\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"))
	f.Add([]byte("\x00\x02\x00\x01\x02\x00\x00\x00\x00\x00\x00\xf8\x7f\x00\x02\x00\x00\x01\x02"))
	inProcess = true
	defer func() { inProcess = false }()
	f.Fuzz(func(t *testing.T, data []byte) {
		points := fuzzPoints(data)
		compare(t, points, "", "", "")
		compare(t, points, "application/openmetrics-text;version=1.0.0", "gzip", "")
		compare(t, points, FormatProtobuf, "", "")
		// Round trip through expfmt's text parser. A histogram with
		// an le label of its own is served as promhttp served it, with
		// two; it does not parse (uscope never names a key le).
		var buf bytes.Buffer
		fams, _ := gather(points)
		fams = slices.DeleteFunc(fams, func(f *family) bool {
			return f.kind == Histogram && slices.ContainsFunc(f.samples, func(s *sample) bool { return s.has("le") })
		})
		tw := &textWriter{w: bufio.NewWriter(&buf)}
		for _, fam := range fams {
			tw.family(fam)
		}
		tw.w.Flush()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, buf.Bytes())
		}
		for _, fam := range fams {
			mf := mfs[fam.name]
			if mf == nil || len(mf.Metric) != len(fam.samples) {
				t.Fatalf("%s: parsed %v", fam.name, mf)
			}
			for i, s := range fam.samples {
				m := mf.Metric[i]
				var got, want float64
				switch fam.kind {
				case Counter:
					got, want = m.GetCounter().GetValue(), s.p.Value
				case Gauge:
					got, want = m.GetGauge().GetValue(), s.p.Value
				case Summary:
					got, want = m.GetSummary().GetSampleSum(), s.p.Sum
				case Histogram:
					got, want = float64(m.GetHistogram().GetSampleCount()), float64(s.p.Count)
				}
				if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s %v: parsed %v, wrote %v", fam.name, s, got, want)
				}
				if lp := m.GetLabel(); len(lp) != len(s.labels) {
					t.Errorf("%s %v: parsed labels %v", fam.name, s, lp)
				} else {
					for j, l := range lp {
						if l.GetName() != s.labels[j].name || l.GetValue() != s.labels[j].value {
							t.Errorf("%s %v: parsed label %v", fam.name, s, l)
						}
					}
				}
			}
		}
	})
}

func TestFuzzPointsSeeds(t *testing.T) {
	// The seeds make points of several kinds: the fuzz target is not
	// comparing empty scrapes.
	kinds := map[PointKind]bool{}
	for _, seed := range []string{"\x00\x01\x03help\x02\x00\x01v\x04\x00", "\x05\x03\x05a\"b\\c\x02\x01\x02le\x03\x01"} {
		for _, p := range fuzzPoints([]byte(seed)) {
			kinds[p.Kind] = true
		}
	}
	if len(kinds) < 2 {
		t.Errorf("seed points have kinds %v", kinds)
	}
}
