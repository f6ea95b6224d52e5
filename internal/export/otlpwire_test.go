package export

import (
	"math"
	"os"
	"testing"
	"time"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

func pbStr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func pbInt(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// wantResource is the resource of resourceAttrs(k8s), as protobuf.
func wantResource(t *testing.T) *resourcepb.Resource {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by key, a key of the attrs replacing the built-in one.
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		pbStr("container.id", "c0ffee"), pbStr("host.name", host), pbStr("k8s.pod.name", "agent-1"), pbStr("service.name", "uscope")}}
}

var testAttrs = map[string]string{"k8s.pod.name": "agent-1", "container.id": "c0ffee"}

// equalProto fails the test unless got, decoded with the generated OTLP
// types, equals want field by field (proto.Equal: NaN equals NaN).
func equalProto(t *testing.T, b []byte, got, want proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, got); err != nil {
		t.Fatalf("the encoded request does not decode: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("decoded request:\n%s\nwant:\n%s", prototext.Format(got), prototext.Format(want))
	}
}

// TestEncodeMetrics: the ExportMetricsServiceRequest of an Exporter's
// points, decoded with go.opentelemetry.io/proto/otlp, is the one the SDK
// sent: the resource and scope, then one metric per name with its
// description: count() a cumulative monotonic sum with the key as an
// attribute, hist() an explicit-bucket histogram with the per-bucket
// counts (the cumulative ones differenced), NaN sum and bounds, stats() a
// summary and an _avg gauge, max() a gauge (no start time), the loss
// counters sums and uscope_series_dropped a gauge, every point's labels
// sorted by name, zeros included.
func TestEncodeMetrics(t *testing.T) {
	p := parse(t, `uprobe:x:f { @calls[comm, pid] = count(); @lat = hist(arg0); @st = stats(arg0); @mx = max(arg0); }`)
	h := make([]uint64, output.Log2Buckets)
	for _, v := range []int64{0, 1, 2, 3, 5} {
		h[output.Log2Bucket(v)]++
	}
	sn := session.Snapshot{Full: map[string]uint64{"@calls": 3}, Lost: 9, Maps: []*output.Map{
		{Name: "@calls", Kind: output.AggCount, Entries: []output.Entry{
			{Key: []output.Value{str("app"), output.IntValue(7, 8)}, Value: output.IntValue(42, 8)},
			{Key: []output.Value{str("db"), output.IntValue(8, 8)}, Value: output.IntValue(0, 8)},
		}},
		{Name: "@lat", Kind: output.AggHist, Entries: []output.Entry{{Buckets: h}}},
		{Name: "@st", Kind: output.AggStats, Entries: []output.Entry{{Count: 4, Sum: 10}}},
		{Name: "@mx", Kind: output.AggMax, Entries: []output.Entry{{Value: output.IntValue(-3, 8)}}},
	}}
	e := New(0)
	e.Add("prog", p, reader(sn), map[string]string{"zone": "a"})
	start, now := time.Unix(1, 5), time.Unix(2, 7)
	b := encodeMetrics(e.Points(), resourceAttrs(testAttrs), start, now)

	t0, t1 := uint64(start.UnixNano()), uint64(now.UnixNano())
	base := []*commonpb.KeyValue{pbStr("program", "prog"), pbStr("zone", "a")}
	with := func(kv ...*commonpb.KeyValue) []*commonpb.KeyValue {
		out := append(append([]*commonpb.KeyValue{}, kv...), base...)
		// sorted by key, as attribute sets are
		for i := 1; i < len(out); i++ {
			for j := i; j > 0 && out[j].Key < out[j-1].Key; j-- {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
		return out
	}
	sum := func(kv []*commonpb.KeyValue, v float64) *metricpb.NumberDataPoint {
		return &metricpb.NumberDataPoint{Attributes: kv, StartTimeUnixNano: t0, TimeUnixNano: t1, Value: &metricpb.NumberDataPoint_AsDouble{AsDouble: v}}
	}
	cumulative := func(pts ...*metricpb.NumberDataPoint) *metricpb.Metric_Sum {
		return &metricpb.Metric_Sum{Sum: &metricpb.Sum{DataPoints: pts, AggregationTemporality: metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true}}
	}
	gauge := func(v float64) *metricpb.Metric_Gauge {
		return &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{DataPoints: []*metricpb.NumberDataPoint{
			{Attributes: base, TimeUnixNano: t1, Value: &metricpb.NumberDataPoint_AsDouble{AsDouble: v}}}}}
	}
	dropped := func(m string) *metricpb.NumberDataPoint {
		return &metricpb.NumberDataPoint{Attributes: []*commonpb.KeyValue{pbStr("map", m), pbStr("program", "prog")},
			TimeUnixNano: t1, Value: &metricpb.NumberDataPoint_AsDouble{AsDouble: 0}}
	}
	nan := math.NaN()
	full := "Map updates the kernel refused because the map was full (raise --map-size)."
	want := &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{
		Resource: wantResource(t),
		ScopeMetrics: []*metricpb.ScopeMetrics{{
			Scope: &commonpb.InstrumentationScope{Name: "github.com/uscope/uscope"},
			Metrics: []*metricpb.Metric{
				{Name: "uscope_lost_events", Description: "Ring-buffer records the kernel refused (the reader was too slow).", Data: cumulative(sum(base, 9))},
				{Name: "uscope_map_full_updates", Description: full, Data: cumulative(
					sum(with(pbStr("map", "calls")), 3), sum(with(pbStr("map", "lat")), 0), sum(with(pbStr("map", "st")), 0), sum(with(pbStr("map", "mx")), 0))},
				{Name: "uscope_calls", Description: "uscope map @calls (count)", Data: cumulative(
					sum(with(pbStr("comm", "app"), pbStr("pid", "7")), 42), sum(with(pbStr("comm", "db"), pbStr("pid", "8")), 0))},
				{Name: "uscope_lat", Description: "uscope map @lat (hist)", Data: &metricpb.Metric_Histogram{Histogram: &metricpb.Histogram{
					AggregationTemporality: metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
					DataPoints: []*metricpb.HistogramDataPoint{{Attributes: base, StartTimeUnixNano: t0, TimeUnixNano: t1,
						Count: 5, Sum: &nan, ExplicitBounds: []float64{-1, 0, 1, 3, 7}, BucketCounts: []uint64{0, 1, 1, 2, 1, 0}}}}}},
				{Name: "uscope_mx", Description: "uscope map @mx (max)", Data: gauge(-3)},
				{Name: "uscope_st", Description: "uscope map @st (stats)", Data: &metricpb.Metric_Summary{Summary: &metricpb.Summary{
					DataPoints: []*metricpb.SummaryDataPoint{{Attributes: base, StartTimeUnixNano: t0, TimeUnixNano: t1, Count: 4, Sum: 10}}}}},
				{Name: "uscope_st_avg", Description: "uscope map @st (stats): average", Data: gauge(2.5)},
				{Name: "uscope_series_dropped", Description: "Series of the map left out of the last scrape by --max-series.",
					Data: &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{DataPoints: []*metricpb.NumberDataPoint{
						dropped("calls"), dropped("lat"), dropped("mx"), dropped("st")}}}},
			},
		}},
	}}}
	equalProto(t, b, &colmetricpb.ExportMetricsServiceRequest{}, want)
}

// TestEncodeMetricsNone: no points is a request with the resource and the
// scope and no metrics, as the SDK's periodic reader sent before any
// program ran.
func TestEncodeMetricsNone(t *testing.T) {
	want := &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{
		Resource:     wantResource(t),
		ScopeMetrics: []*metricpb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "github.com/uscope/uscope"}}},
	}}}
	equalProto(t, encodeMetrics(nil, resourceAttrs(testAttrs), time.Unix(1, 0), time.Unix(2, 0)), &colmetricpb.ExportMetricsServiceRequest{}, want)
}

// TestEncodeLogs: Event's log records, decoded: INFO (9, "INFO"), the
// event's time and the observed time, the text as a string body, the
// per-event attributes in the SDK's order (ints for the pid and the tid);
// an event without a process or a probe (BEGIN's printf) has none.
func TestEncodeLogs(t *testing.T) {
	o := &OTLP{containers: map[int]string{4242: "c0ffee"}}
	o.logs.buf = make([]logRecord, 4)
	o.kick = make(chan struct{}, 1)
	at := time.Unix(100, 42)
	o.Event(session.Event{Time: at, Text: "hello 1\n", PID: 4242, TID: 4243, Comm: "app", Probe: "uprobe:/bin/app:work", Func: "work"})
	o.Event(session.Event{Time: at.Add(time.Second), Text: "begin"})
	recs := o.logs.take(nil, 10, 1)
	if len(recs) != 2 {
		t.Fatalf("%d records queued, want 2", len(recs))
	}
	b := encodeLogs(recs, resourceAttrs(testAttrs))
	rec := func(r logRecord, attrs ...*commonpb.KeyValue) *logspb.LogRecord {
		if r.observed.Before(at) {
			t.Errorf("observed time %v before the event's", r.observed)
		}
		return &logspb.LogRecord{TimeUnixNano: uint64(r.time.UnixNano()), ObservedTimeUnixNano: uint64(r.observed.UnixNano()),
			SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO, SeverityText: "INFO",
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: r.body}}, Attributes: attrs}
	}
	want := &collogpb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: wantResource(t),
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope: &commonpb.InstrumentationScope{Name: "github.com/uscope/uscope"},
			LogRecords: []*logspb.LogRecord{
				rec(recs[0], pbInt("process.pid", 4242), pbInt("thread.id", 4243), pbStr("process.executable.name", "app"),
					pbStr("container.id", "c0ffee"), pbStr("uscope.probe", "uprobe:/bin/app:work"), pbStr("code.function.name", "work")),
				rec(recs[1]),
			},
		}},
	}}}
	got := &collogpb.ExportLogsServiceRequest{}
	equalProto(t, b, got, want)
	if r := got.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()[0]; r.GetTimeUnixNano() != 100e9+42 || r.GetBody().GetStringValue() != "hello 1\n" {
		t.Errorf("first record: time %d body %q", r.GetTimeUnixNano(), r.GetBody().GetStringValue())
	}
}

// TestLogQueue: the queue keeps the newest records once full and counts
// the ones it dropped; take takes the oldest first, only when enough are
// queued.
func TestLogQueue(t *testing.T) {
	q := logQueue{buf: make([]logRecord, 3)}
	for i, body := range []string{"a", "b", "c", "d", "e"} {
		if n := q.push(logRecord{body: body}); n != min(i+1, 3) {
			t.Errorf("push %s: %d queued", body, n)
		}
	}
	if got := q.take(nil, 10, 4); len(got) != 0 {
		t.Errorf("took %d records with min 4 of 3", len(got))
	}
	got := q.take(nil, 2, 1)
	got = q.take(got, 2, 1)
	var bodies string
	for _, r := range got {
		bodies += r.body
	}
	if bodies != "cde" || q.droppedCount() != 2 || q.n != 0 {
		t.Errorf("took %q, dropped %d, %d left; want cde, 2, 0", bodies, q.droppedCount(), q.n)
	}
}
