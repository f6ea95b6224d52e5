package export

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/uscope/uscope/internal/session"
)

// OTLP pushes an Exporter's points as OTLP metrics and a session's events
// as OTLP log records to an OpenTelemetry endpoint, with the
// OpenTelemetry Go SDK. The mapping from maps to metrics is Points', the
// one Prometheus gets: counters are cumulative monotonic sums (named
// without Prometheus's _total), gauges gauges, hist()/lhist() explicit
// bucket histograms with the same bounds, stats() summaries.
//
// Resource attributes say where the telemetry comes from: service.name
// "uscope", host.name, and those of Resource's attrs (container.id,
// k8s.*); each log record carries what varies per event: process.pid,
// thread.id, process.executable.name (the comm), uscope.probe,
// code.function.name and container.id of the event's process.
type OTLP struct {
	exp    *Exporter
	mp     *sdkmetric.MeterProvider
	lp     *sdklog.LoggerProvider
	logger otellog.Logger
	start  time.Time

	mu         sync.Mutex
	containers map[int]string // pid → container id, for log records
}

// OTLPOptions configure StartOTLP.
type OTLPOptions struct {
	// Interval is the period of metric exports (default 10 s); the last
	// export happens at Shutdown.
	Interval time.Duration
	// Attrs are resource attributes added to service.name and host.name.
	Attrs map[string]string
}

// StartOTLP starts exporting exp's points and the events given to Event to
// rawURL: grpc://HOST[:PORT] (plaintext gRPC, port 4317), grpcs:// (gRPC
// over TLS), http://HOST[:PORT][/PREFIX] (HTTP/protobuf to
// PREFIX/v1/metrics and PREFIX/v1/logs, port 4318) or https://.
func StartOTLP(rawURL string, exp *Exporter, o OTLPOptions) (*OTLP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--otlp %q: not a URL; give grpc://HOST:4317 or http://HOST:4318", rawURL)
	}
	ctx := context.Background()
	host := u.Host
	var mexp sdkmetric.Exporter
	var lexp sdklog.Exporter
	switch u.Scheme {
	case "grpc", "grpcs":
		if u.Port() == "" {
			host += ":4317"
		}
		mo := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(host)}
		lo := []otlploggrpc.Option{otlploggrpc.WithEndpoint(host)}
		if u.Scheme == "grpc" {
			mo, lo = append(mo, otlpmetricgrpc.WithInsecure()), append(lo, otlploggrpc.WithInsecure())
		}
		if mexp, err = otlpmetricgrpc.New(ctx, mo...); err == nil {
			lexp, err = otlploggrpc.New(ctx, lo...)
		}
	case "http", "https":
		if u.Port() == "" {
			host += ":4318"
		}
		prefix := strings.TrimSuffix(u.Path, "/")
		mo := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpoint(host), otlpmetrichttp.WithURLPath(prefix + "/v1/metrics")}
		lo := []otlploghttp.Option{otlploghttp.WithEndpoint(host), otlploghttp.WithURLPath(prefix + "/v1/logs")}
		if u.Scheme == "http" {
			mo, lo = append(mo, otlpmetrichttp.WithInsecure()), append(lo, otlploghttp.WithInsecure())
		}
		if mexp, err = otlpmetrichttp.New(ctx, mo...); err == nil {
			lexp, err = otlploghttp.New(ctx, lo...)
		}
	default:
		return nil, fmt.Errorf("--otlp %q: unknown scheme %q; give grpc://HOST:4317 (gRPC) or http://HOST:4318 (HTTP/protobuf)", rawURL, u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("--otlp %s: %w", rawURL, err)
	}
	res := Resource(o.Attrs)
	interval := o.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := &OTLP{exp: exp, start: time.Now(), containers: map[int]string{}}
	reader := sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(interval), sdkmetric.WithProducer(producer{t}))
	t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	t.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp, sdklog.WithExportInterval(time.Second))))
	t.logger = t.lp.Logger(scope.Name, otellog.WithInstrumentationVersion(scope.Version))
	return t, nil
}

// scope is the instrumentation scope of uscope's metrics and logs.
var scope = instrumentation.Scope{Name: "github.com/uscope/uscope"}

// Resource returns the resource of uscope's telemetry: service.name,
// host.name and attrs.
func Resource(attrs map[string]string) *resource.Resource {
	kv := []attribute.KeyValue{attribute.String("service.name", "uscope")}
	if h, err := os.Hostname(); err == nil {
		kv = append(kv, attribute.String("host.name", h))
	}
	for k, v := range attrs {
		kv = append(kv, attribute.String(k, v))
	}
	return resource.NewSchemaless(kv...)
}

// Event sends one event as a log record (session.Config.Events).
func (t *OTLP) Event(ev session.Event) {
	var r otellog.Record
	r.SetTimestamp(ev.Time)
	r.SetObservedTimestamp(time.Now())
	r.SetSeverity(otellog.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue(ev.Text))
	if ev.PID != 0 {
		r.AddAttributes(attribute.Int("process.pid", ev.PID), attribute.Int("thread.id", ev.TID),
			attribute.String("process.executable.name", ev.Comm))
		if id := t.container(ev.PID); id != "" {
			r.AddAttributes(attribute.String("container.id", id))
		}
	}
	if ev.Probe != "" {
		r.AddAttributes(attribute.String("uscope.probe", ev.Probe), attribute.String("code.function.name", ev.Func))
	}
	t.logger.Emit(context.Background(), r)
}

// container returns the container id of a process (from its cgroup
// path), remembered per pid; the memory is bounded by dropping it all
// when it grows past maxContainerCache.
func (t *OTLP) container(pid int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.containers[pid]; ok {
		return id
	}
	if len(t.containers) >= maxContainerCache {
		clear(t.containers)
	}
	id := ProcessContainer(pid)
	t.containers[pid] = id
	return id
}

const maxContainerCache = 4096

// Shutdown exports what is left (the last metrics, as Exporter.Freeze
// left them, and the queued log records) and stops, waiting at most
// until ctx ends.
func (t *OTLP) Shutdown(ctx context.Context) error {
	return errors.Join(t.mp.Shutdown(ctx), t.lp.Shutdown(ctx))
}

// producer hands the exporter's points to the SDK's periodic reader.
type producer struct{ t *OTLP }

func (p producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	return []metricdata.ScopeMetrics{{Scope: scope, Metrics: otlpMetrics(p.t.exp.Points(), p.t.start, time.Now())}}, nil
}

// otlpMetrics renders points as OTLP metrics, one per name, cumulative
// since start.
func otlpMetrics(points []Point, start, now time.Time) []metricdata.Metrics {
	var out []metricdata.Metrics
	index := map[string]int{}
	for _, p := range points {
		kv := make([]attribute.KeyValue, len(p.Labels))
		for i, l := range p.Labels {
			kv[i] = attribute.String(l, p.Values[i])
		}
		attrs := attribute.NewSet(kv...)
		i, ok := index[p.Name]
		if !ok {
			i = len(out)
			index[p.Name] = i
			m := metricdata.Metrics{Name: p.Name, Description: p.Help}
			switch p.Kind {
			case Counter:
				m.Data = metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
			case Gauge:
				m.Data = metricdata.Gauge[float64]{}
			case Histogram:
				m.Data = metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
			case Summary:
				m.Data = metricdata.Summary{}
			}
			out = append(out, m)
		}
		m := &out[i]
		switch d := m.Data.(type) {
		case metricdata.Sum[float64]:
			d.DataPoints = append(d.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs, StartTime: start, Time: now, Value: p.Value})
			m.Data = d
		case metricdata.Gauge[float64]:
			d.DataPoints = append(d.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs, Time: now, Value: p.Value})
			m.Data = d
		case metricdata.Histogram[float64]:
			counts := make([]uint64, len(p.Bounds)+1)
			var prev uint64
			for j, c := range p.Cumulative {
				counts[j], prev = c-prev, c
			}
			counts[len(p.Bounds)] = p.Count - prev
			d.DataPoints = append(d.DataPoints, metricdata.HistogramDataPoint[float64]{Attributes: attrs, StartTime: start, Time: now,
				Count: p.Count, Bounds: p.Bounds, BucketCounts: counts, Sum: p.Sum})
			m.Data = d
		case metricdata.Summary:
			d.DataPoints = append(d.DataPoints, metricdata.SummaryDataPoint{Attributes: attrs, StartTime: start, Time: now, Count: p.Count, Sum: p.Sum})
			m.Data = d
		}
	}
	return out
}
