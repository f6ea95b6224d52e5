package export

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/uscope/uscope/internal/pbwire"
)

// The Prometheus exposition of Points, written by uscope rather than by the
// Prometheus client library, whose packages' inits (the client, procfs,
// runtime/metrics, the protobuf runtime) cost every uscope command ~5 ms of
// start-up (issue 22). It is what the library's promhttp handler served
// for the same points, byte for byte (TestExpositionSameAsPromhttp):
//
//   - OpenMetrics 1.0.0 (or 0.0.1) when the Accept header asks for it, as
//     Prometheus does by default: "# TYPE x counter", x_total samples,
//     floats with a decimal point, "# EOF" at the end;
//   - else the text format 0.0.4 (also for the protobuf text formats,
//     which nothing scrapes with);
//   - gzip when Accept-Encoding allows it;
//   - delimited protobuf when asked for first (Prometheus's
//     PrometheusProto scrape protocol);
//   - families sorted by name, series by label values; a point that
//     conflicts with one already written (another kind or help under the
//     same name, the same labels twice, a label value that is not UTF-8)
//     is left out, as the library's ContinueOnError did, and when nothing
//     is left the answer is a 500, as it was.

// The formats, as their Content-Type starts; the name escaping scheme the
// scraper asked for (else underscores: uscope's names are legacy-valid
// either way) follows, as the Prometheus libraries append it.
const (
	formatText          = "text/plain; version=0.0.4; charset=utf-8"
	formatOpenMetrics   = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	formatOpenMetrics01 = "application/openmetrics-text; version=0.0.1; charset=utf-8"
	formatProtoDelim    = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

// ServeHTTP serves the exporter's metrics (GET /metrics).
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveExposition(w, r, e.Points())
}

// serveExposition answers a scrape with points.
func serveExposition(w http.ResponseWriter, r *http.Request, points []Point) {
	format, escaping := negotiate(r.Header.Get("Accept"))
	fams, dropped := families(points)
	if len(fams) == 0 && dropped > 0 {
		http.Error(w, fmt.Sprintf("uscope: none of the %d series can be exposed (a label value is not UTF-8, or series conflict)", dropped),
			http.StatusInternalServerError)
		return
	}
	var body []byte
	switch format {
	case formatProtoDelim:
		body = writeProtoDelimited(fams)
	default:
		body = writeExposition(fams, format != formatText)
	}
	h := w.Header()
	h.Set("Content-Type", format+"; escaping="+escaping)
	if gzipAccepted(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(body)
		zw.Close()
		return
	}
	w.Write(body)
}

// negotiate returns the format to serve for an Accept header, and the
// name escaping scheme: the first of its media ranges, by quality then
// order, that names a format uscope writes (OpenMetrics 1.0.0 or 0.0.1,
// delimited protobuf, text 0.0.4), else the text format; the escaping is
// the last one asked for up to that range.
func negotiate(accept string) (format, escaping string) {
	type rng struct {
		typ    string
		params map[string]string
		q      float64
	}
	var ranges []rng
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		ranges = append(ranges, rng{mt, params, q})
	}
	slices.SortStableFunc(ranges, func(a, b rng) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	escaping = "underscores"
	for _, r := range ranges {
		switch e := r.params["escaping"]; e {
		case "allow-utf-8", "underscores", "dots", "values":
			escaping = e
		}
		v := r.params["version"]
		switch {
		case r.typ == "application/openmetrics-text" && (v == "" || v == "1.0.0"):
			return formatOpenMetrics, escaping
		case r.typ == "application/openmetrics-text" && v == "0.0.1":
			return formatOpenMetrics01, escaping
		case r.typ == "application/vnd.google.protobuf" && r.params["proto"] == "io.prometheus.client.MetricFamily" && r.params["encoding"] == "delimited":
			return formatProtoDelim, escaping
		case r.typ == "text/plain" && (v == "" || v == "0.0.4"):
			return formatText, escaping
		}
	}
	return formatText, escaping
}

// gzipAccepted reports whether an Accept-Encoding header allows gzip.
func gzipAccepted(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// family is the points of one exposed name.
type family struct {
	name, help string
	kind       PointKind
	points     []*Point
	labels     [][]labelPair // each point's labels, sorted by name
}

type labelPair struct{ name, value string }

// families groups points by exposed name (a counter's gets _total), drops
// the ones that conflict, and sorts families by name and series by label
// values.
func families(points []Point) (out []*family, dropped int) {
	byName := map[string]*family{}
	seen := map[string]bool{}
	for i := range points {
		p := &points[i]
		name := p.Name
		if p.Kind == Counter {
			name += "_total"
		}
		labels := make([]labelPair, len(p.Labels))
		valid := len(p.Labels) == len(p.Values)
		for j := range labels {
			if !valid {
				break
			}
			labels[j] = labelPair{p.Labels[j], p.Values[j]}
			valid = utf8.ValidString(p.Values[j])
		}
		if !valid {
			dropped++
			continue
		}
		slices.SortFunc(labels, func(a, b labelPair) int { return strings.Compare(a.name, b.name) })
		f := byName[name]
		if f == nil {
			f = &family{name: name, help: p.Help, kind: p.Kind}
			byName[name] = f
		} else if f.kind != p.Kind || f.help != p.Help {
			dropped++
			continue
		}
		var key strings.Builder
		key.WriteString(name)
		for _, l := range labels {
			key.WriteString("\xff" + l.name + "\xfe" + l.value)
		}
		if seen[key.String()] {
			dropped++
			continue
		}
		seen[key.String()] = true
		f.points = append(f.points, p)
		f.labels = append(f.labels, labels)
	}
	out = make([]*family, 0, len(byName))
	for _, f := range byName {
		idx := make([]int, len(f.points))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			la, lb := f.labels[a], f.labels[b]
			if len(la) != len(lb) {
				return len(la) - len(lb)
			}
			for n := range la {
				if c := strings.Compare(la[n].value, lb[n].value); c != 0 {
					return c
				}
			}
			return 0
		})
		pts, lbs := make([]*Point, len(idx)), make([][]labelPair, len(idx))
		for i, j := range idx {
			pts[i], lbs[i] = f.points[j], f.labels[j]
		}
		f.points, f.labels = pts, lbs
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return out, dropped
}

// writeExposition renders points in the text format, or in OpenMetrics.
func writeExposition(fams []*family, openMetrics bool) []byte {
	var b bytes.Buffer
	for _, f := range fams {
		name := f.name
		if openMetrics && f.kind == Counter {
			name = strings.TrimSuffix(name, "_total")
		}
		b.WriteString("# HELP " + name + " ")
		writeEscaped(&b, f.help, openMetrics)
		b.WriteString("\n# TYPE " + name + " " + typeName(f.kind) + "\n")
		for i, p := range f.points {
			labels := f.labels[i]
			switch f.kind {
			case Counter:
				sample(&b, f.name, labels, "", 0, p.Value, openMetrics) // x_total in both
			case Gauge:
				sample(&b, name, labels, "", 0, p.Value, openMetrics)
			case Summary:
				sample(&b, name+"_sum", labels, "", 0, p.Sum, openMetrics)
				sample(&b, name+"_count", labels, "", 0, float64(p.Count), openMetrics)
			case Histogram:
				inf := false
				for j, bound := range p.Bounds {
					sample(&b, name+"_bucket", labels, "le", bound, float64(p.Cumulative[j]), openMetrics)
					inf = inf || math.IsInf(bound, 1)
				}
				if !inf {
					sample(&b, name+"_bucket", labels, "le", math.Inf(1), float64(p.Count), openMetrics)
				}
				sample(&b, name+"_sum", labels, "", 0, p.Sum, openMetrics)
				sample(&b, name+"_count", labels, "", 0, float64(p.Count), openMetrics)
			}
		}
	}
	if openMetrics {
		b.WriteString("# EOF\n")
	}
	return b.Bytes()
}

func typeName(k PointKind) string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Summary:
		return "summary"
	}
	return "histogram"
}

// sample writes one line: name{labels[,extra="v"]} value.
func sample(b *bytes.Buffer, name string, labels []labelPair, extra string, extraValue, value float64, openMetrics bool) {
	b.WriteString(name)
	if len(labels) > 0 || extra != "" {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.name + `="`)
			writeEscaped(b, l.value, true)
			b.WriteByte('"')
		}
		if extra != "" {
			if len(labels) > 0 {
				b.WriteByte(',')
			}
			b.WriteString(extra + `="`)
			b.WriteString(formatFloat(extraValue, openMetrics))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	if openMetrics && isCount(name) {
		b.WriteString(strconv.FormatUint(uint64(value), 10))
	} else {
		b.WriteString(formatFloat(value, openMetrics))
	}
	b.WriteByte('\n')
}

// isCount reports whether a sample is a count, which OpenMetrics writes as
// an integer: a histogram's buckets and a histogram's or summary's _count.
func isCount(name string) bool {
	return strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_count")
}

// writeEscaped escapes a HELP text (backslash and newline) or, with quote,
// a label value (and the double quote); OpenMetrics escapes the double
// quote in HELP too.
func writeEscaped(b *bytes.Buffer, s string, quote bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '"':
			if quote {
				b.WriteString(`\"`)
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
}

// formatFloat writes a value as the formats do: +Inf, -Inf, NaN, 0 for
// either zero, else the shortest representation; OpenMetrics gives an
// integral value a ".0".
func formatFloat(f float64, openMetrics bool) string {
	switch {
	case f == 0 && openMetrics:
		return "0.0"
	case f == 0:
		return "0"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if openMetrics && f == math.Trunc(f) && !strings.ContainsAny(s, "e.") {
		s += ".0"
	}
	return s
}

// writeProtoDelimited renders points as length-delimited
// io.prometheus.client.MetricFamily messages (client_model's metrics.proto,
// proto2: every field set is written, zeros included), as Prometheus asks
// for with the PrometheusProto scrape protocol.
func writeProtoDelimited(fams []*family) []byte {
	var out, b []byte
	for _, f := range fams {
		b = pbwire.String(b[:0], 1, f.name)
		b = pbwire.String(b, 2, f.help)
		b = pbwire.Varint(b, 3, uint64(protoType(f.kind)))
		for i, p := range f.points {
			m := len(b)
			b = pbwire.Open(b, 4)
			for _, l := range f.labels[i] {
				at := len(b)
				b = pbwire.Open(b, 1)
				b = pbwire.String(b, 1, l.name)
				b = pbwire.String(b, 2, l.value)
				b = pbwire.Close(b, at)
			}
			at := len(b)
			switch f.kind {
			case Gauge:
				b = pbwire.Open(b, 2)
				b = pbwire.Double(b, 1, p.Value)
			case Counter:
				b = pbwire.Open(b, 3)
				b = pbwire.Double(b, 1, p.Value)
			case Summary:
				b = pbwire.Open(b, 4)
				b = pbwire.Varint(b, 1, p.Count)
				b = pbwire.Double(b, 2, p.Sum)
			case Histogram:
				b = pbwire.Open(b, 7)
				b = pbwire.Varint(b, 1, p.Count)
				b = pbwire.Double(b, 2, p.Sum)
				for j, bound := range p.Bounds {
					bt := len(b)
					b = pbwire.Open(b, 3)
					b = pbwire.Varint(b, 1, p.Cumulative[j])
					b = pbwire.Double(b, 2, bound)
					b = pbwire.Close(b, bt)
				}
			}
			b = pbwire.Close(b, at)
			b = pbwire.Close(b, m)
		}
		out = pbwire.AppendBytes(out, b)
	}
	return out
}

// protoType is a kind's client_model MetricType.
func protoType(k PointKind) int {
	switch k {
	case Counter:
		return 0
	case Gauge:
		return 1
	case Summary:
		return 2
	}
	return 4 // HISTOGRAM
}
