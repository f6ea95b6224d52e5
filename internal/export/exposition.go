package export

// uscope writes the Prometheus exposition itself. Until issue 22 it
// used github.com/prometheus/client_golang (a Collector, a Registry and
// promhttp.HandlerFor with EnableOpenMetrics and ContinueOnError), but
// that library, with procfs, client_model, expfmt, runtime/metrics and
// expvar, cost 4-6 ms of package init in every uscope command, even
// `uscope run -e 'BEGIN { exit(); }'`, whose budget is 15 ms. The writer
// here answers scrapes with the bytes promhttp answered with (the
// equivalence test in exposition_test.go serves the same points through
// both and compares them):
//
//   - OpenMetrics 1.0.0 and 0.0.1 (application/openmetrics-text, ending
//     in "# EOF"), the Prometheus text format 0.0.4 (text/plain) and
//     delimited protobuf MetricFamily messages (what Prometheus asks for
//     with native histograms on), negotiated from the Accept header as
//     expfmt.NegotiateAccept does, with its "; escaping=..." parameter on
//     the Content-Type;
//   - gzip when Accept-Encoding prefers it to identity, as promhttp
//     negotiates it, and the same Vary headers;
//   - families sorted by name, series by label values, the checks a
//     Registry makes when it gathers (same name with another help or
//     kind, a series collected twice, _count/_sum/_bucket collisions):
//     the offending series is left out and the rest is served, and a
//     scrape where nothing is left is a 500, as ContinueOnError did.
//
// What it does not do: protobuf's text and compact-text encodings (whose
// spacing protobuf randomises; a scraper that asks for them first gets
// the next format it accepts, or text 0.0.4) and names that are not
// legacy Prometheus names (uscope never makes them: map names are
// identifiers and KeyNames validates label names). A malformed point (label names and values of
// different lengths, an invalid name or label name, a label value that
// is not UTF-8, a NaN or missing bucket) is left out with an error: the
// Collector panicked on those.

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/uscope/uscope/internal/pbwire"
)

// Exposition formats, as Content-Type values without the escaping
// parameter.
const (
	// FormatText is the Prometheus text format 0.0.4.
	FormatText = "text/plain; version=0.0.4; charset=utf-8"
	// FormatOpenMetrics is OpenMetrics 1.0.0, the format Prometheus asks
	// for first.
	FormatOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	// FormatOpenMetrics001 is OpenMetrics 0.0.1: the same text as 1.0.0.
	FormatOpenMetrics001 = "application/openmetrics-text; version=0.0.1; charset=utf-8"
)

// family is one metric family of an exposition: the points of one
// exposed name (a counter's with _total), all of one kind and help.
type family struct {
	name    string // as exposed: NAME_total for a counter
	help    string
	kind    PointKind
	samples []*sample
}

// sample is one point of a family with its labels sorted by name.
type sample struct {
	p      *Point
	labels []labelPair
	// histograms: buckets sorted by bound, one per distinct bound
	buckets []bucket
}

type labelPair struct{ name, value string }

type bucket struct {
	le  float64
	cum uint64
}

// Gather groups points into families as a Prometheus Registry does:
// families sorted by name, their series by label values (compared in
// label-name order). A point that is malformed or inconsistent with
// the points before it (same exposed name with another help or kind, the
// same labels again, a summary with a quantile label, a name that
// collides with a histogram's or a summary's _count, _sum or _bucket) is
// left out and reported in the returned error.
func gather(points []Point) ([]*family, error) {
	byName := map[string]*family{}
	seen := map[string]bool{}
	var errs []error
	for i := range points {
		p := &points[i]
		name := p.Name
		if p.Kind == Counter {
			name += "_total"
		}
		s, err := newSample(name, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f, ok := byName[name]
		if ok {
			if f.help != p.Help {
				errs = append(errs, fmt.Errorf("metric %s%s has help %q but should have %q", name, s, p.Help, f.help))
				continue
			}
			if f.kind != p.Kind {
				errs = append(errs, fmt.Errorf("metric %s%s should be a %s", name, s, kindName(f.kind)))
				continue
			}
		} else {
			f = &family{name: name, help: p.Help, kind: p.Kind}
			if err := suffixCollision(f, byName); err != nil {
				errs = append(errs, err)
				continue
			}
			byName[name] = f
		}
		if p.Kind == Summary && s.has("quantile") {
			errs = append(errs, fmt.Errorf("metric %s%s must not have a quantile label", name, s))
			continue
		}
		id := s.id(name)
		if seen[id] {
			errs = append(errs, fmt.Errorf("metric %s%s was collected before with the same name and label values", name, s))
			continue
		}
		seen[id] = true
		f.samples = append(f.samples, s)
	}
	var names []string
	for name, f := range byName {
		if len(f.samples) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	fams := make([]*family, len(names))
	for i, name := range names {
		fams[i] = byName[name]
		// sort.Sort, not a stable sort: series of different label
		// names but equal values compare equal, and the Registry left
		// them in sort.Sort's order.
		sort.Sort(bySeries(fams[i].samples))
	}
	return fams, errors.Join(errs...)
}

// newSample checks p and returns it with its labels sorted.
func newSample(name string, p *Point) (*sample, error) {
	if !validMetricName(name) {
		return nil, fmt.Errorf("%q is not a valid metric name", name)
	}
	if len(p.Labels) != len(p.Values) {
		return nil, fmt.Errorf("metric %s: %d label names but %d values", name, len(p.Labels), len(p.Values))
	}
	s := &sample{p: p, labels: make([]labelPair, len(p.Labels))}
	names := map[string]bool{}
	for i, l := range p.Labels {
		if !validLabelName(l) || strings.HasPrefix(l, "__") {
			return nil, fmt.Errorf("%q is not a valid label name for metric %q", l, name)
		}
		if names[l] {
			return nil, fmt.Errorf("duplicate label name %q for metric %q", l, name)
		}
		names[l] = true
		if !utf8.ValidString(p.Values[i]) {
			return nil, fmt.Errorf("label value %q of metric %q is not valid UTF-8", p.Values[i], name)
		}
		s.labels[i] = labelPair{l, p.Values[i]}
	}
	sort.Slice(s.labels, func(i, j int) bool { return s.labels[i].name < s.labels[j].name })
	if p.Kind == Histogram {
		if len(p.Cumulative) < len(p.Bounds) {
			return nil, fmt.Errorf("metric %s: %d bucket bounds but %d counts", name, len(p.Bounds), len(p.Cumulative))
		}
		// One bucket per bound, the last count of a bound given twice
		// (the Collector went through a map).
		at := map[float64]int{}
		for i, b := range p.Bounds {
			if math.IsNaN(b) {
				return nil, fmt.Errorf("metric %s: NaN bucket bound", name)
			}
			if j, ok := at[b]; ok {
				s.buckets[j].cum = p.Cumulative[i]
				continue
			}
			at[b] = len(s.buckets)
			s.buckets = append(s.buckets, bucket{b, p.Cumulative[i]})
		}
		sort.Slice(s.buckets, func(i, j int) bool { return s.buckets[i].le < s.buckets[j].le })
	}
	return s, nil
}

func (s *sample) has(label string) bool {
	for _, l := range s.labels {
		if l.name == label {
			return true
		}
	}
	return false
}

// id identifies a series: its name and sorted labels.
func (s *sample) id(name string) string {
	var sb strings.Builder
	sb.WriteString(name)
	for _, l := range s.labels {
		sb.WriteString("\xff" + l.name + "\xff" + l.value)
	}
	return sb.String()
}

// String is the series' labels, for errors.
func (s *sample) String() string {
	var sb strings.Builder
	writeLabels(&sb, s.labels, "", "")
	return sb.String()
}

func kindName(k PointKind) string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Histogram:
		return "histogram"
	}
	return "summary"
}

// suffixCollision reports a new family whose samples would be read as a
// histogram's or a summary's, or the reverse, as a Registry does.
func suffixCollision(f *family, byName map[string]*family) error {
	for _, suffix := range []string{"_count", "_sum", "_bucket"} {
		base, ok := strings.CutSuffix(f.name, suffix)
		if !ok {
			continue
		}
		if g, ok := byName[base]; ok && (g.kind == Histogram || g.kind == Summary && suffix != "_bucket") {
			return fmt.Errorf("metric named %q collides with %s named %q", f.name, kindName(g.kind), base)
		}
		break
	}
	if f.kind != Histogram && f.kind != Summary {
		return nil
	}
	suffixes := []string{"_count", "_sum"}
	if f.kind == Histogram {
		suffixes = append(suffixes, "_bucket")
	}
	for _, suffix := range suffixes {
		if _, ok := byName[f.name+suffix]; ok {
			return fmt.Errorf("%s named %q collides with metric named %q", kindName(f.kind), f.name, f.name+suffix)
		}
	}
	return nil
}

// bySeries orders the series of a family as client_golang's
// MetricSorter: by label count, then label values in label-name order.
type bySeries []*sample

func (s bySeries) Len() int      { return len(s) }
func (s bySeries) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s bySeries) Less(i, j int) bool {
	a, b := s[i].labels, s[j].labels
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	for n := range a {
		if a[n].value != b[n].value {
			return a[n].value < b[n].value
		}
	}
	return false
}

// validMetricName reports a legacy Prometheus metric name,
// [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return true
}

// validLabelName reports a legacy Prometheus label name,
// [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	return s != "" && !strings.Contains(s, ":") && validMetricName(s)
}

// textWriter writes samples in one of the text formats.
type textWriter struct {
	w  *bufio.Writer
	om bool // OpenMetrics, else Prometheus text 0.0.4
}

// family writes one family: HELP, TYPE and its samples.
func (t *textWriter) family(f *family) {
	name := f.name
	if t.om && f.kind == Counter {
		name = strings.TrimSuffix(name, "_total") // OpenMetrics names the counter, not its sample
	}
	t.w.WriteString("# HELP " + name + " ")
	if t.om {
		escapeQuoted(t.w, f.help)
	} else {
		escapeHelp(t.w, f.help)
	}
	t.w.WriteString("\n# TYPE " + name + " " + kindName(f.kind) + "\n")
	for _, s := range f.samples {
		p := s.p
		switch f.kind {
		case Counter, Gauge:
			t.sample(f.name, "", s, "", 0, t.float(p.Value))
		case Summary:
			t.sample(f.name, "_sum", s, "", 0, t.float(p.Sum))
			t.sample(f.name, "_count", s, "", 0, t.count(p.Count))
		case Histogram:
			inf := false
			for _, b := range s.buckets {
				t.sample(f.name, "_bucket", s, "le", b.le, t.count(b.cum))
				inf = inf || math.IsInf(b.le, 1)
			}
			if !inf {
				t.sample(f.name, "_bucket", s, "le", math.Inf(1), t.count(p.Count))
			}
			t.sample(f.name, "_sum", s, "", 0, t.float(p.Sum))
			t.sample(f.name, "_count", s, "", 0, t.count(p.Count))
		}
	}
}

// sample writes one line: name, labels (and le), value.
func (t *textWriter) sample(name, suffix string, s *sample, extra string, extraValue float64, value string) {
	t.w.WriteString(name + suffix)
	le := ""
	if extra != "" {
		le = t.float(extraValue)
	}
	writeLabels(t.w, s.labels, extra, le)
	t.w.WriteByte(' ')
	t.w.WriteString(value)
	t.w.WriteByte('\n')
}

// writeLabels writes {a="x",b="y"} (nothing without labels), with an
// extra label (le) last.
func writeLabels(w io.StringWriter, labels []labelPair, extra, extraValue string) {
	if len(labels) == 0 && extra == "" {
		return
	}
	sep := "{"
	for _, l := range labels {
		w.WriteString(sep + l.name + `="`)
		escapeQuoted(w, l.value)
		w.WriteString(`"`)
		sep = ","
	}
	if extra != "" {
		w.WriteString(sep + extra + `="` + extraValue + `"`)
	}
	w.WriteString("}")
}

var (
	helpEscaper   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	quotedEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// escapeHelp escapes a text-format HELP: backslash and newline.
func escapeHelp(w io.StringWriter, s string) { w.WriteString(helpEscaper.Replace(s)) }

// escapeQuoted escapes a label value or an OpenMetrics HELP: backslash,
// newline and double quote.
func escapeQuoted(w io.StringWriter, s string) { w.WriteString(quotedEscaper.Replace(s)) }

// float formats a value: the shortest 'g' form; NaN, +Inf, -Inf; in
// OpenMetrics with a ".0" on integers that have neither '.' nor an
// exponent. -0 is 0.
func (t *textWriter) float(f float64) string {
	var s string
	switch {
	case f == 0:
		s = "0"
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	default:
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	if t.om && !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// count formats a count: an integer in OpenMetrics, a float64 in text
// 0.0.4 (so 2^64-1 is 1.8446744073709552e+19 there).
func (t *textWriter) count(n uint64) string {
	if t.om {
		return strconv.FormatUint(n, 10)
	}
	return t.float(float64(n))
}

// negotiate picks the format and the escaping parameter of a scrape
// from its first Accept header, as expfmt.NegotiateAccept does with
// promhttp's OpenMetrics-enabled offers (less protobuf text and
// compact-text): the
// clauses by descending q, the first that matches an offer wins; none
// gives text 0.0.4. An escaping parameter (allow-utf-8, underscores,
// dots, values) on a clause seen before or at the match is echoed on the
// Content-Type; the default is underscores. Names uscope exposes never
// need escaping, so the parameter changes no sample.
func negotiate(accept string) (format, escaping string) {
	escaping = "underscores"
	offers := []struct{ format, subtype, version string }{
		{FormatOpenMetrics, "openmetrics-text", "1.0.0"},
		{FormatOpenMetrics001, "openmetrics-text", "0.0.1"},
		{FormatProtobuf, "vnd.google.protobuf", ""},
		{FormatText, "plain", "0.0.4"},
	}
	for _, c := range parseAccept(accept) {
		switch e := c.params["escaping"]; e {
		case "allow-utf-8", "underscores", "dots", "values":
			escaping = e
		}
		for _, o := range offers {
			typ := "application"
			if o.subtype == "plain" {
				typ = "text"
			}
			if c.typ != "*" && c.typ != typ || c.subtype != "*" && c.subtype != o.subtype {
				continue
			}
			if o.format == FormatProtobuf {
				if c.params["proto"] == "io.prometheus.client.MetricFamily" && c.params["encoding"] == "delimited" {
					return o.format, escaping
				}
				continue
			}
			v := c.params["version"]
			if v == "" && c.typ == "application" && c.subtype == "openmetrics-text" {
				v = "0.0.1"
			}
			if v == "" && c.typ == "text" && c.subtype == "plain" {
				v = "0.0.4"
			}
			if v == o.version {
				return o.format, escaping
			}
		}
	}
	return FormatText, escaping
}

// acceptClause is one media range of an Accept header.
type acceptClause struct {
	typ, subtype string
	q            float64
	params       map[string]string
}

// byQ orders Accept clauses as goautoneg does (expfmt's parser): higher
// q first, then concrete types and subtypes before wildcards. Its Less
// is not a strict order; sort.Sort with it reproduces goautoneg's
// permutation exactly.
type byQ []acceptClause

func (s byQ) Len() int      { return len(s) }
func (s byQ) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s byQ) Less(i, j int) bool {
	a, b := s[i], s[j]
	return a.q > b.q || a.typ != "*" && b.typ == "*" || a.subtype != "*" && b.subtype == "*"
}

// parseAccept splits an Accept header into clauses: "type/subtype" with
// ";k=v" parameters, q among them (parsed as a float32; unparsable is 0).
// A clause without a '/' (other than "*") or with two is skipped, so are
// parameters without exactly one '='. Only spaces are trimmed.
func parseAccept(h string) []acceptClause {
	trim := func(s string) string { return strings.Trim(s, " ") }
	var out []acceptClause
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ",")
		part = trim(part)
		c := acceptClause{q: 1}
		mt, params, _ := strings.Cut(part, ";")
		typ, sub, _ := strings.Cut(mt, "/")
		c.typ = trim(typ)
		sub, extra, _ := strings.Cut(sub, "/")
		switch {
		case extra != "":
			continue // a/b/c
		case sub == "":
			if c.typ != "*" {
				continue // "text", "text/"
			}
			c.subtype = "*"
		default:
			c.subtype = trim(sub)
		}
		if params != "" {
			c.params = map[string]string{}
		}
		for params != "" {
			var kv string
			kv, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(kv, "=")
			v, rest, _ := strings.Cut(v, "=")
			if v == "" && rest == "" && !strings.HasSuffix(kv, "==") || rest != "" {
				continue // "k", "k=", "k=v=w"; "k=v=" and "k==" count
			}
			if k = trim(k); k == "q" {
				q, _ := strconv.ParseFloat(v, 32)
				c.q = q
			} else {
				c.params[k] = trim(v)
			}
		}
		out = append(out, c)
	}
	sort.Sort(byQ(out))
	return out
}

// gzipPreferred reports whether a scrape gets gzip, negotiated from its
// Accept-Encoding headers as promhttp does between its offers identity
// and gzip: the first offer with the highest q among the clauses that
// name it or "*" wins, so "gzip" and "gzip, *;q=0.5" get gzip but "*"
// or "identity, gzip" get identity, and no header is identity.
func gzipPreferred(h http.Header) bool {
	best, bestQ := "identity", -1.0
	for _, offer := range []string{"identity", "gzip"} {
		for _, c := range parseCodings(h.Values("Accept-Encoding")) {
			if c.q > bestQ && (c.value == "*" || c.value == offer) {
				best, bestQ = offer, c.q
			}
		}
	}
	return best == "gzip" && bestQ != 0
}

type coding struct {
	value string
	q     float64
}

// parseCodings parses Accept-Encoding values: tokens, each with an
// optional ";q=" of the form 0[.ddd] or 1[.ddd]; a header value stops at
// the first thing that does not parse.
func parseCodings(values []string) []coding {
	var out []coding
	space := func(s string) string { return strings.TrimLeft(s, " \t\r\n") }
	for _, s := range values {
		for {
			i := 0
			for i < len(s) && (isToken(s[i]) || s[i] == '/') {
				i++
			}
			c := coding{value: s[:i], q: 1}
			if c.value == "" {
				break
			}
			s = space(s[i:])
			if strings.HasPrefix(s, ";") {
				s = space(s[1:])
				if !strings.HasPrefix(s, "q=") {
					break
				}
				c.q, s = quality(s[2:])
				if c.q < 0 {
					break
				}
			}
			out = append(out, c)
			s = space(s)
			if !strings.HasPrefix(s, ",") {
				break
			}
			s = space(s[1:])
		}
	}
	return out
}

// quality parses a q value, 0 or 1 then an optional '.' and digits (not
// bounded: "1.5" is 1.5); -1 if it does not start with 0 or 1.
func quality(s string) (float64, string) {
	if s == "" || s[0] != '0' && s[0] != '1' {
		return -1, ""
	}
	q := float64(s[0] - '0')
	s = s[1:]
	if !strings.HasPrefix(s, ".") {
		return q, s
	}
	s = s[1:]
	n, d, i := 0, 1, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n, d = n*10+int(s[i]-'0'), d*10
	}
	return q + float64(n)/float64(d), s[i:]
}

// isToken reports an HTTP token character.
func isToken(c byte) bool {
	return c > 31 && c < 127 && !strings.ContainsRune(" \t\"(),/:;<=>?@[]\\{}", rune(c))
}

// Handler serves the exposition of the points that points returns, read
// at each request, as promhttp.HandlerFor served a Registry of them with
// EnableOpenMetrics and ContinueOnError: the format from Accept, gzip
// from Accept-Encoding, only the families named by name[] query
// parameters if there are any.
func Handler(points func() []Point) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fams, err := gather(points())
		if err != nil && len(fams) == 0 {
			w.Header().Del("Content-Encoding")
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		format, escaping := negotiate(r.Header.Get("Accept"))
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Accept-Encoding")
		w.Header().Set("Content-Type", format+"; escaping="+escaping)
		var out io.Writer = w
		if gzipPreferred(r.Header) {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			out = gz
		}
		var only map[string]bool
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			only = map[string]bool{}
			for _, n := range names {
				only[n] = true
			}
		}
		t := &textWriter{w: bufio.NewWriter(out), om: format == FormatOpenMetrics || format == FormatOpenMetrics001}
		for _, f := range fams {
			if only != nil && !only[f.name] {
				continue
			}
			if format == FormatProtobuf {
				t.w.Write(appendProto(nil, f))
				continue
			}
			t.family(f)
		}
		if t.om && format != FormatProtobuf {
			t.w.WriteString("# EOF\n")
		}
		t.w.Flush()
	})
}

// FormatProtobuf is the delimited protobuf format of
// io.prometheus.client.MetricFamily, which Prometheus asks for first when
// native histograms are on.
const FormatProtobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

// Field numbers of io.prometheus.client's MetricFamily and its parts
// (client_model's metrics.proto).
const (
	pbFamilyName, pbFamilyHelp, pbFamilyType, pbFamilyMetric = 1, 2, 3, 4
	pbMetricLabel, pbMetricGauge, pbMetricCounter            = 1, 2, 3
	pbMetricSummary, pbMetricHistogram                       = 4, 7
	pbLabelName, pbLabelValue                                = 1, 2
	pbValue                                                  = 1 // Gauge, Counter
	pbSampleCount, pbSampleSum, pbBucket                     = 1, 2, 3
	pbBucketCount, pbBucketBound                             = 1, 2
)

// protoType is a kind's MetricType.
func protoType(k PointKind) uint64 {
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

// appendProto appends f as a length-delimited MetricFamily, its fields in
// field-number order and every field the Collector set present, zeros
// included, as proto.Marshal writes it.
func appendProto(b []byte, f *family) []byte {
	var m []byte
	m = pbwire.String(m, pbFamilyName, f.name)
	m = pbwire.String(m, pbFamilyHelp, f.help)
	m = pbwire.Varint(m, pbFamilyType, protoType(f.kind))
	for _, s := range f.samples {
		m = pbwire.Bytes(m, pbFamilyMetric, protoMetric(f.kind, s))
	}
	return pbwire.AppendBytes(b, m)
}

func protoMetric(k PointKind, s *sample) []byte {
	var m []byte
	for _, l := range s.labels {
		at := len(m)
		m = pbwire.Open(m, pbMetricLabel)
		m = pbwire.String(m, pbLabelName, l.name)
		m = pbwire.String(m, pbLabelValue, l.value)
		m = pbwire.Close(m, at)
	}
	var v []byte
	field := pbwire.Number(pbMetricGauge)
	switch k {
	case Counter, Gauge:
		if k == Counter {
			field = pbMetricCounter
		}
		v = pbwire.Double(v, pbValue, s.p.Value)
	case Summary:
		field = pbMetricSummary
		v = pbwire.Varint(v, pbSampleCount, s.p.Count)
		v = pbwire.Double(v, pbSampleSum, s.p.Sum)
	case Histogram:
		field = pbMetricHistogram
		v = pbwire.Varint(v, pbSampleCount, s.p.Count)
		v = pbwire.Double(v, pbSampleSum, s.p.Sum)
		for _, bk := range s.buckets {
			at := len(v)
			v = pbwire.Open(v, pbBucket)
			v = pbwire.Varint(v, pbBucketCount, bk.cum)
			v = pbwire.Double(v, pbBucketBound, bk.le)
			v = pbwire.Close(v, at)
		}
	}
	return pbwire.Bytes(m, field, v)
}
