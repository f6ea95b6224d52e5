package export

import (
	"os"
	"slices"
	"strings"
	"time"

	"github.com/uscope/uscope/internal/pbwire"
)

// The OTLP requests uscope sends, encoded with internal/pbwire after
// opentelemetry-proto's collector/metrics/v1/metrics_service.proto,
// collector/logs/v1/logs_service.proto and the metrics, logs, common and
// resource messages they hold (the field numbers below are theirs). They
// carry what the OpenTelemetry Go SDK's exporters sent for the same
// telemetry: one resource, uscope's instrumentation scope, and the
// metrics or log records under it.

// otlpAttr is a common.v1.KeyValue whose value is a string or an int64.
type otlpAttr struct {
	key   string
	str   string
	num   int64
	isNum bool
}

func strAttr(k, v string) otlpAttr { return otlpAttr{key: k, str: v} }
func intAttr(k string, v int) otlpAttr {
	return otlpAttr{key: k, num: int64(v), isNum: true}
}

// scope is the instrumentation scope of uscope's metrics, logs and
// profiles.
var scope = struct{ Name, Version string }{Name: "github.com/uscope/uscope"}

// resourceAttrs are the attributes of uscope's resource: service.name
// "uscope", host.name and attrs, sorted by key, a key of attrs replacing
// the one before it (as the SDK's attribute sets do).
func resourceAttrs(attrs map[string]string) []otlpAttr {
	kv := []otlpAttr{strAttr("service.name", "uscope")}
	if h, err := os.Hostname(); err == nil {
		kv = append(kv, strAttr("host.name", h))
	}
	for k, v := range attrs {
		kv = append(kv, strAttr(k, v))
	}
	return attrSet(kv)
}

// attrSet sorts attributes by key, keeping the last of equal keys: the
// order and the values of the SDK's attribute.NewSet.
func attrSet(kv []otlpAttr) []otlpAttr {
	slices.SortStableFunc(kv, func(a, b otlpAttr) int { return strings.Compare(a.key, b.key) })
	out := kv[:0]
	for i, a := range kv {
		if i+1 < len(kv) && kv[i+1].key == a.key {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Field numbers of common.v1, resource.v1 and the messages that frame
// metrics and log records.
const (
	kvKey, kvValue              = 1, 2 // KeyValue
	anyString, anyInt           = 1, 3 // AnyValue
	scopeName, scopeVersion     = 1, 2 // InstrumentationScope
	resourceAttributes          = 1    // Resource
	resourceField, scopesField  = 1, 2 // ResourceMetrics/ResourceLogs: resource, scope_metrics/scope_logs
	scopeField, scopeItemsField = 1, 2 // ScopeMetrics/ScopeLogs: scope, metrics/log_records
	requestResourceField        = 1    // Export{Metrics,Logs}ServiceRequest: resource_metrics/resource_logs
	partialSuccessField         = 1    // Export*ServiceResponse: partial_success
	rejectedField, messageField = 1, 2 // Export*PartialSuccess: rejected_*, error_message
)

// appendKeyValue appends a as the KeyValue field num.
func appendKeyValue(b []byte, num pbwire.Number, a otlpAttr) []byte {
	kv := len(b)
	b = pbwire.Open(b, num)
	b = pbwire.String(b, kvKey, a.key)
	v := len(b)
	b = pbwire.Open(b, kvValue)
	if a.isNum {
		b = pbwire.Varint(b, anyInt, uint64(a.num))
	} else {
		b = pbwire.String(b, anyString, a.str)
	}
	b = pbwire.Close(b, v)
	return pbwire.Close(b, kv)
}

// appendResource appends the Resource field num with attrs.
func appendResource(b []byte, num pbwire.Number, attrs []otlpAttr) []byte {
	m := len(b)
	b = pbwire.Open(b, num)
	for _, a := range attrs {
		b = appendKeyValue(b, resourceAttributes, a)
	}
	return pbwire.Close(b, m)
}

// appendScope appends uscope's InstrumentationScope as field num.
func appendScope(b []byte, num pbwire.Number) []byte {
	m := len(b)
	b = pbwire.Open(b, num)
	b = pbwire.String(b, scopeName, scope.Name)
	if scope.Version != "" {
		b = pbwire.String(b, scopeVersion, scope.Version)
	}
	return pbwire.Close(b, m)
}

// unixNano is t in nanoseconds since the epoch, 0 for the zero time (as
// the SDK writes it).
func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano()))
}

// appendTime appends a fixed64 time field, if not 0 (proto3 leaves zeros
// out).
func appendTime(b []byte, num pbwire.Number, t time.Time) []byte {
	if ns := unixNano(t); ns != 0 {
		b = pbwire.Fixed64(b, num, ns)
	}
	return b
}

// Field numbers of metrics.v1.
const (
	metricName, metricDescription, metricUnit = 1, 2, 3
	metricGauge, metricSum                    = 5, 7
	metricHistogram, metricSummary            = 9, 11

	dataPoints                       = 1 // Gauge, Sum, Histogram, Summary
	aggregationTemporality           = 2 // Sum, Histogram
	sumIsMonotonic                   = 3
	temporalityCumulative            = 2 // AggregationTemporality
	pointStart, pointTime            = 2, 3
	numberAsDouble, numberAttributes = 4, 7
	histCount, histSum               = 4, 5
	histBucketCounts, histBounds     = 6, 7
	histAttributes                   = 9
	summaryCount, summarySum         = 4, 5
	summaryAttributes                = 7
)

// encodeMetrics returns the ExportMetricsServiceRequest of points: one
// metric per name, in the order of the names' first points, cumulative
// since start. Counters are cumulative monotonic sums, gauges gauges
// (without a start time), histograms explicit-bucket histograms with
// Bounds and the per-bucket counts (Cumulative differenced, then what is
// above the last bound), summaries count and sum. Each point's labels are
// its attributes, sorted by name.
func encodeMetrics(points []Point, res []otlpAttr, start, now time.Time) []byte {
	var names []string
	byName := map[string][]int{}
	for i, p := range points {
		if _, ok := byName[p.Name]; !ok {
			names = append(names, p.Name)
		}
		byName[p.Name] = append(byName[p.Name], i)
	}
	b := pbwire.Open(nil, requestResourceField)
	b = appendResource(b, resourceField, res)
	sm := len(b)
	b = pbwire.Open(b, scopesField)
	b = appendScope(b, scopeField)
	var counts []uint64
	for _, name := range names {
		idx := byName[name]
		first := &points[idx[0]]
		mm := len(b)
		b = pbwire.Open(b, scopeItemsField)
		b = pbwire.String(b, metricName, first.Name)
		if first.Help != "" {
			b = pbwire.String(b, metricDescription, first.Help)
		}
		dm := len(b)
		b = pbwire.Open(b, metricData(first.Kind))
		for _, i := range idx {
			p := &points[i]
			if p.Kind != first.Kind {
				continue // one name, one kind: never happens with Points'
			}
			pm := len(b)
			b = pbwire.Open(b, dataPoints)
			attrNum := pbwire.Number(numberAttributes)
			switch p.Kind {
			case Counter:
				b = appendTime(b, pointStart, start)
				b = appendTime(b, pointTime, now)
				b = pbwire.Double(b, numberAsDouble, p.Value)
			case Gauge:
				b = appendTime(b, pointTime, now)
				b = pbwire.Double(b, numberAsDouble, p.Value)
			case Histogram:
				b = appendTime(b, pointStart, start)
				b = appendTime(b, pointTime, now)
				if p.Count != 0 {
					b = pbwire.Fixed64(b, histCount, p.Count)
				}
				b = pbwire.Double(b, histSum, p.Sum) // optional: always present, NaN for hist()
				counts = histCounts(counts[:0], p)
				b = pbwire.PackedFixed64(b, histBucketCounts, counts)
				b = pbwire.PackedDouble(b, histBounds, p.Bounds)
				attrNum = histAttributes
			case Summary:
				b = appendTime(b, pointStart, start)
				b = appendTime(b, pointTime, now)
				if p.Count != 0 {
					b = pbwire.Fixed64(b, summaryCount, p.Count)
				}
				if p.Sum != 0 {
					b = pbwire.Double(b, summarySum, p.Sum)
				}
				attrNum = summaryAttributes
			}
			for _, a := range pointAttrs(p) {
				b = appendKeyValue(b, attrNum, a)
			}
			b = pbwire.Close(b, pm)
		}
		if first.Kind == Counter || first.Kind == Histogram {
			b = pbwire.Varint(b, aggregationTemporality, temporalityCumulative)
		}
		if first.Kind == Counter {
			b = pbwire.Bool(b, sumIsMonotonic, true)
		}
		b = pbwire.Close(b, dm)
		b = pbwire.Close(b, mm)
	}
	b = pbwire.Close(b, sm)
	return pbwire.Close(b, 0)
}

// metricData is the field of Metric's data oneof that a kind fills.
func metricData(k PointKind) pbwire.Number {
	switch k {
	case Counter:
		return metricSum
	case Histogram:
		return metricHistogram
	case Summary:
		return metricSummary
	}
	return metricGauge
}

// histCounts appends a histogram point's per-bucket counts: one per bound
// and the count above the last.
func histCounts(counts []uint64, p *Point) []uint64 {
	var prev uint64
	for _, c := range p.Cumulative {
		counts, prev = append(counts, c-prev), c
	}
	for len(counts) < len(p.Bounds) {
		counts = append(counts, 0)
	}
	return append(counts, p.Count-prev)
}

// pointAttrs are a point's labels as attributes, sorted by name.
func pointAttrs(p *Point) []otlpAttr {
	kv := make([]otlpAttr, len(p.Labels))
	for i, l := range p.Labels {
		kv[i] = strAttr(l, p.Values[i])
	}
	return attrSet(kv)
}

// logRecord is one event to export as a log record.
type logRecord struct {
	time, observed time.Time
	body           string
	attrs          []otlpAttr
}

// Field numbers of logs.v1.LogRecord.
const (
	logTime, logObserved       = 1, 11
	logSeverity, logSeverityTx = 2, 3
	logBody, logAttributes     = 5, 6
	severityInfo               = 9 // SeverityNumber SEVERITY_NUMBER_INFO
)

// encodeLogs returns the ExportLogsServiceRequest of recs: log records of
// severity INFO with the event's text as a string body and its
// attributes in the order given.
func encodeLogs(recs []logRecord, res []otlpAttr) []byte {
	b := pbwire.Open(nil, requestResourceField)
	b = appendResource(b, resourceField, res)
	sl := len(b)
	b = pbwire.Open(b, scopesField)
	b = appendScope(b, scopeField)
	for i := range recs {
		r := &recs[i]
		lm := len(b)
		b = pbwire.Open(b, scopeItemsField)
		b = appendTime(b, logTime, r.time)
		b = pbwire.Varint(b, logSeverity, severityInfo)
		b = pbwire.String(b, logSeverityTx, "INFO")
		body := len(b)
		b = pbwire.Open(b, logBody)
		b = pbwire.String(b, anyString, r.body)
		b = pbwire.Close(b, body)
		for _, a := range r.attrs {
			b = appendKeyValue(b, logAttributes, a)
		}
		b = appendTime(b, logObserved, r.observed)
		b = pbwire.Close(b, lm)
	}
	b = pbwire.Close(b, sl)
	return pbwire.Close(b, 0)
}
