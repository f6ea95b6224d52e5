package export

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/uscope/uscope/internal/session"
)

// OTLP pushes an Exporter's points as OTLP metrics and a session's events
// as OTLP log records to an OpenTelemetry endpoint. uscope encodes and
// sends them itself (otlpwire.go, otlpclient.go) rather than with the
// OpenTelemetry Go SDK, gRPC and the protobuf runtime, whose package
// inits cost every start of uscope several milliseconds (issue 22); what
// it sends is what the SDK sent.
//
// The mapping from maps to metrics is Points', the one Prometheus gets:
// counters are cumulative monotonic sums (named without Prometheus's
// _total), gauges gauges, hist()/lhist() explicit bucket histograms with
// the same bounds, stats() summaries.
//
// Resource attributes say where the telemetry comes from: service.name
// "uscope", host.name, and those of OTLPOptions.Attrs (container.id,
// k8s.*); each log record carries what varies per event: process.pid,
// thread.id, process.executable.name (the comm), uscope.probe,
// code.function.name and container.id of the event's process.
//
// Metrics are exported every OTLPOptions.Interval and once more at
// Shutdown; log records are queued (at most 2048, the oldest dropped
// beyond that and counted) and exported in batches of up to 512, every
// second or as soon as a batch is full, and what is left at Shutdown.
type OTLP struct {
	exp      *Exporter
	client   *otlpClient
	res      []otlpAttr
	start    time.Time
	interval time.Duration
	onError  func(error)

	logs logQueue
	kick chan struct{} // a full batch is queued

	stop        chan struct{}
	stopOnce    sync.Once
	shutdownCtx context.Context // set before stop is closed
	// ticks is the context of the periodic metric exports, cancelled by
	// Shutdown: its export carries the same cumulative values, and later.
	ticks       context.Context
	cancelTicks context.CancelFunc
	wg          sync.WaitGroup
	lastErr     [2]error // of the last metrics export and of the logs' flush, at Shutdown

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
	// Errors, if set, is given the error of each periodic export that
	// failed (and partial successes); by default they are printed on
	// standard error with the standard logger, as the SDK's default error
	// handler printed them. The errors of Shutdown's exports are its own.
	Errors func(error)
}

// The batching of log records: the SDK's batch processor's defaults.
const (
	logQueueSize   = 2048
	logBatchSize   = 512
	logExportEvery = time.Second
)

// StartOTLP starts exporting exp's points and the events given to Event to
// rawURL: grpc://HOST[:PORT] (plaintext gRPC, port 4317), grpcs:// (gRPC
// over TLS), http://HOST[:PORT][/PREFIX] (HTTP/protobuf to
// PREFIX/v1/metrics and PREFIX/v1/logs, port 4318) or https://.
func StartOTLP(rawURL string, exp *Exporter, o OTLPOptions) (*OTLP, error) {
	c, err := newOTLPClient(rawURL)
	if err != nil {
		return nil, err
	}
	t := &OTLP{exp: exp, client: c, res: resourceAttrs(o.Attrs), start: time.Now(), interval: o.Interval,
		onError: o.Errors, kick: make(chan struct{}, 1), stop: make(chan struct{}), containers: map[int]string{}}
	if t.interval <= 0 {
		t.interval = 10 * time.Second
	}
	if t.onError == nil {
		t.onError = func(err error) { log.Print(err) }
	}
	t.logs.buf = make([]logRecord, logQueueSize)
	t.ticks, t.cancelTicks = context.WithCancel(context.Background())
	t.wg.Add(2)
	go t.metricsLoop()
	go t.logsLoop()
	return t, nil
}

// Event queues one event as a log record (session.Config.Events); it never
// blocks on the network.
func (t *OTLP) Event(ev session.Event) {
	r := logRecord{time: ev.Time, observed: time.Now(), body: ev.Text}
	if ev.PID != 0 {
		r.attrs = append(r.attrs, intAttr("process.pid", ev.PID), intAttr("thread.id", ev.TID),
			strAttr("process.executable.name", ev.Comm))
		if id := t.container(ev.PID); id != "" {
			r.attrs = append(r.attrs, strAttr("container.id", id))
		}
	}
	if ev.Probe != "" {
		r.attrs = append(r.attrs, strAttr("uscope.probe", ev.Probe), strAttr("code.function.name", ev.Func))
	}
	if t.logs.push(r) >= logBatchSize {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
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
// until ctx ends. Its error is those exports', and says how many log
// records were dropped because the queue was full. Later calls return
// nil.
func (t *OTLP) Shutdown(ctx context.Context) error {
	first := false
	t.stopOnce.Do(func() {
		first = true
		t.shutdownCtx = ctx
		t.cancelTicks()
		close(t.stop)
	})
	if !first {
		return nil
	}
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
		err = errors.Join(t.lastErr[0], t.lastErr[1])
	case <-ctx.Done():
		err = fmt.Errorf("OTLP shutdown: %w", ctx.Err())
	}
	if n := t.logs.droppedCount(); n > 0 {
		err = errors.Join(err, fmt.Errorf("%d log records dropped: more than %d events were waiting to be exported", n, logQueueSize))
	}
	t.client.close()
	return err
}

// metricsLoop exports the metrics every interval, and once more at
// Shutdown.
func (t *OTLP) metricsLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := t.exportMetrics(t.ticks); err != nil && t.ticks.Err() == nil {
				t.onError(err)
			}
		case <-t.stop:
			t.lastErr[0] = t.exportMetrics(t.shutdownCtx)
			return
		}
	}
}

func (t *OTLP) exportMetrics(ctx context.Context) error {
	req := encodeMetrics(t.exp.Points(), t.res, t.start, time.Now())
	return t.client.send(ctx, metricsSignal, req)
}

// logsLoop exports the queued log records every second, full batches as
// soon as they are, and all of them at Shutdown.
func (t *OTLP) logsLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(logExportEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := t.exportLogs(context.Background(), 1); err != nil {
				t.onError(err)
			}
		case <-t.kick:
			if err := t.exportLogs(context.Background(), logBatchSize); err != nil {
				t.onError(err)
			}
		case <-t.stop:
			t.lastErr[1] = t.exportLogs(t.shutdownCtx, 1)
			return
		}
	}
}

// exportLogs exports the queue in batches while at least min records are
// queued; it returns the first error (the records of a failed batch are
// lost, as with the SDK).
func (t *OTLP) exportLogs(ctx context.Context, min int) error {
	var first error
	batch := make([]logRecord, 0, logBatchSize)
	for ctx.Err() == nil {
		batch = t.logs.take(batch[:0], logBatchSize, min)
		if len(batch) == 0 {
			break
		}
		if err := t.client.send(ctx, logsSignal, encodeLogs(batch, t.res)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// logQueue is a ring of at most len(buf) records: when full, a new
// record replaces the oldest, which is counted as dropped.
type logQueue struct {
	mu      sync.Mutex
	buf     []logRecord
	head, n int
	dropped uint64
}

// push queues r and returns how many records are queued.
func (q *logQueue) push(r logRecord) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == len(q.buf) {
		q.buf[q.head] = r
		q.head = (q.head + 1) % len(q.buf)
		q.dropped++
		return q.n
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
	return q.n
}

// take appends up to max of the oldest records to out and removes them
// from the queue, if at least min are queued.
func (q *logQueue) take(out []logRecord, max, min int) []logRecord {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n < min || q.n == 0 {
		return out
	}
	for ; max > 0 && q.n > 0; max-- {
		out = append(out, q.buf[q.head])
		q.buf[q.head] = logRecord{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	return out
}

func (q *logQueue) droppedCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
