package export

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collogpb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

// h2cServer serves handler over HTTP/2 without TLS (prior knowledge, as
// gRPC servers do) and returns its grpc:// URL.
func h2cServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return "grpc://" + srv.Listener.Addr().String()
}

// grpcFrame is msg in a gRPC length-prefixed frame.
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// TestGRPCClient: a unary gRPC call over h2c reaches the method's path as
// HTTP/2 with gRPC's headers and the request in one uncompressed
// length-prefixed frame; grpc-status in the trailers, or in the headers
// of a trailers-only answer, decides the result: OK (with or without a
// partial success to report), or an error naming the code and the
// percent-decoded grpc-message.
func TestGRPCClient(t *testing.T) {
	type answer struct {
		trailersOnly bool
		status       string
		message      string
		resp         proto.Message
	}
	var mu sync.Mutex
	var ans answer
	var got []*colmetricpb.ExportMetricsServiceRequest
	url := h2cServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Method != http.MethodPost || r.URL.Path != "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" {
			t.Errorf("request %s %s %s", r.Proto, r.Method, r.URL.Path)
		}
		if ct, te := r.Header.Get("Content-Type"), r.Header.Get("Te"); ct != "application/grpc" || te != "trailers" {
			t.Errorf("content-type %q, te %q", ct, te)
		}
		if d := r.Header.Get("Grpc-Timeout"); !strings.HasSuffix(d, "m") {
			t.Errorf("grpc-timeout %q", d)
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) < 5 || body[0] != 0 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
			t.Errorf("request frame % x", body)
		} else {
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(body[5:], &req); err != nil {
				t.Errorf("request message: %v", err)
			}
			mu.Lock()
			got = append(got, &req)
			mu.Unlock()
		}
		mu.Lock()
		a := ans
		mu.Unlock()
		w.Header().Set("Content-Type", "application/grpc")
		if a.trailersOnly {
			w.Header().Set("Grpc-Status", a.status)
			w.Header().Set("Grpc-Message", a.message)
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		if a.resp != nil {
			b, _ := proto.Marshal(a.resp)
			w.Write(grpcFrame(b))
		}
		w.Header().Set("Grpc-Status", a.status)
		w.Header().Set("Grpc-Message", a.message)
	})
	c, err := newOTLPClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.backoff = time.Millisecond
	req := encodeMetrics([]Point{{Name: "uscope_n", Kind: Counter, Value: 3}}, resourceAttrs(nil), time.Unix(1, 0), time.Unix(2, 0))
	for _, tc := range []struct {
		name  string
		ans   answer
		err   string // "" for success
		tries int
	}{
		{"ok", answer{status: "0", resp: &colmetricpb.ExportMetricsServiceResponse{}}, "", 1},
		{"ok, no message", answer{status: "0"}, "", 1},
		{"partial success", answer{status: "0", resp: &colmetricpb.ExportMetricsServiceResponse{PartialSuccess: &colmetricpb.ExportMetricsPartialSuccess{
			RejectedDataPoints: 2, ErrorMessage: "too old"}}}, "OTLP partial success: too old (2 metric data points rejected)", 1},
		{"error in trailers", answer{status: "3", message: "bad %C3%BCscope request"}, "rpc error: code = InvalidArgument desc = bad üscope request", 1},
		{"trailers only", answer{trailersOnly: true, status: "12", message: "unknown service"}, "rpc error: code = Unimplemented desc = unknown service", 1},
		{"unknown code", answer{trailersOnly: true, status: "99"}, "code = Code(99)", 1},
		{"no status", answer{status: ""}, "without sending a grpc-status", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			ans, got = tc.ans, nil
			mu.Unlock()
			err := c.send(context.Background(), metricsSignal, req)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != tc.tries {
				t.Fatalf("%d calls, want %d", len(got), tc.tries)
			}
			if n := got[0].GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics()[0].GetName(); n != "uscope_n" {
				t.Errorf("the server read metric %q", n)
			}
		})
	}

	// Unavailable is retried (after the backoff) until it succeeds;
	// InvalidArgument is not.
	var calls atomic.Int32
	retryURL := h2cServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", map[bool]string{true: "14", false: "0"}[calls.Add(1) < 3])
		w.WriteHeader(http.StatusOK)
	})
	rc, _ := newOTLPClient(retryURL)
	defer rc.close()
	rc.backoff = time.Millisecond
	if err := rc.send(context.Background(), logsSignal, encodeLogs(nil, nil)); err != nil || calls.Load() != 3 {
		t.Errorf("Unavailable twice then OK: %v after %d calls", err, calls.Load())
	}
	// The export's time is bounded: a backoff longer than what is left
	// ends the retries with the last error.
	calls.Store(-100)
	rc.backoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.send(ctx, logsSignal, nil); err == nil || !strings.Contains(err.Error(), "code = Unavailable") || calls.Load() != -99 {
		t.Errorf("Unavailable, no time to retry: %v after %d calls", err, calls.Load()+100)
	}
	// Nothing listening: Unavailable, with the dial error.
	dead, _ := newOTLPClient("grpc://127.0.0.1:1")
	dead.backoff = time.Hour
	if err := dead.send(ctx, metricsSignal, req); err == nil || !strings.Contains(err.Error(), "code = Unavailable") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("no server: %v", err)
	}
}

// TestHTTPClient: HTTP/protobuf POSTs the request to PREFIX/v1/logs;
// a 2xx answer with a partial success reports it, an error status is an
// error with the google.rpc.Status message of the body, 503 is retried.
func TestHTTPClient(t *testing.T) {
	var calls atomic.Int32
	var mode atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/otlp/v1/logs" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(r.Body)
		var req collogpb.ExportLogsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil || len(req.GetResourceLogs()) != 1 {
			t.Errorf("request: %v, %d resource logs", err, len(req.GetResourceLogs()))
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		switch mode.Load() {
		case "partial":
			b, _ := proto.Marshal(&collogpb.ExportLogsServiceResponse{PartialSuccess: &collogpb.ExportLogsPartialSuccess{RejectedLogRecords: 1}})
			w.Write(b)
		case "bad":
			b, _ := proto.Marshal(&status.Status{Code: 3, Message: "no such thing"})
			w.WriteHeader(http.StatusBadRequest)
			w.Write(b)
		case "busy":
			if calls.Load() == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}
	}))
	defer srv.Close()
	c, err := newOTLPClient(srv.URL + "/otlp/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.backoff = time.Millisecond
	req := encodeLogs([]logRecord{{body: "x"}}, resourceAttrs(nil))
	for _, tc := range []struct{ mode, err string }{
		{"ok", ""},
		{"partial", "OTLP partial success: empty message (1 log records rejected)"},
		{"bad", "400 Bad Request (body: no such thing)"},
		{"busy", ""},
	} {
		calls.Store(0)
		mode.Store(tc.mode)
		err := c.send(context.Background(), logsSignal, req)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want %q", tc.mode, err, tc.err)
		}
		if want := map[bool]int32{true: 2, false: 1}[tc.mode == "busy"]; calls.Load() != want {
			t.Errorf("%s: %d calls, want %d", tc.mode, calls.Load(), want)
		}
	}
}

// TestOTLPLoop: StartOTLP exports the metrics every interval and once more
// at Shutdown with the final values (Freeze's); log records go in batches of at most
// 512, a full batch at once; while an export hangs, the queue keeps the
// newest 2048 records and Shutdown says how many it dropped, after
// exporting the rest.
func TestOTLPLoop(t *testing.T) {
	var mu sync.Mutex
	var metrics []float64 // uscope_n's value, per request
	var batches []int     // records per logs request
	records := map[string]bool{}
	first := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/metrics":
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				t.Error(err)
			}
			v := -1.0
			for _, m := range req.GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics() {
				if m.GetName() == "uscope_n" {
					v = m.GetSum().GetDataPoints()[0].GetAsDouble()
				}
			}
			mu.Lock()
			metrics = append(metrics, v)
			mu.Unlock()
		case "/v1/logs":
			var req collogpb.ExportLogsServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				t.Error(err)
			}
			recs := req.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()
			mu.Lock()
			n := len(batches)
			batches = append(batches, len(recs))
			for _, r := range recs {
				records[r.GetBody().GetStringValue()] = true
			}
			mu.Unlock()
			if n == 0 {
				close(first)
				<-release
			}
		}
	}))
	defer srv.Close()
	var value atomic.Int64
	value.Store(1)
	e := New(0)
	e.Add("", parse(t, `uprobe:x:f { @n = count(); }`), func() (session.Snapshot, bool) {
		return session.Snapshot{Maps: []*output.Map{{Name: "@n", Kind: output.AggCount, Entries: []output.Entry{{Value: output.IntValue(value.Load(), 8)}}}}}, true
	}, nil)
	var errs atomic.Int32
	o, err := StartOTLP(srv.URL, e, OTLPOptions{Interval: 20 * time.Millisecond, Errors: func(err error) { errs.Add(1); t.Log(err) }})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(i int) { o.Event(session.Event{Time: time.Now(), Text: "r" + strconv.Itoa(i)}) }
	for i := range logBatchSize { // a full batch: exported at once
		ev(i)
	}
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("a full batch was not exported at once")
	}
	const extra = 100
	for i := logBatchSize; i < logBatchSize+logQueueSize+extra; i++ { // the export hangs: the queue fills
		ev(i)
	}
	close(release)
	for {
		mu.Lock()
		n := len(metrics)
		mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	value.Store(7)
	e.Freeze("", session.Snapshot{Maps: []*output.Map{{Name: "@n", Kind: output.AggCount, Entries: []output.Entry{{Value: output.IntValue(7, 8)}}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = o.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "100 log records dropped") {
		t.Errorf("Shutdown: %v, want 100 log records dropped", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if metrics[len(metrics)-1] != 7 || metrics[0] != 1 {
		t.Errorf("metric values per export %v, want 1 first and 7 last", metrics)
	}
	total := 0
	for _, n := range batches {
		if n > logBatchSize {
			t.Errorf("a batch of %d records", n)
		}
		total += n
	}
	// The first batch, then the newest 2048: the oldest of the rest were
	// dropped.
	if total != logBatchSize+logQueueSize || batches[0] != logBatchSize || !records["r0"] || records["r"+strconv.Itoa(logBatchSize+extra-1)] ||
		!records["r"+strconv.Itoa(logBatchSize+extra)] || !records["r"+strconv.Itoa(logBatchSize+logQueueSize+extra-1)] {
		t.Errorf("batches %v: %d records, want %d, the dropped ones the oldest", batches, total, logBatchSize+logQueueSize)
	}
	if errs.Load() != 0 {
		t.Errorf("%d export errors", errs.Load())
	}
	if o.Shutdown(ctx) != nil {
		t.Error("a second Shutdown failed")
	}

	// No tick before Shutdown: Shutdown alone exports the final metrics.
	metrics = nil
	mu.Unlock()
	o, err = StartOTLP(srv.URL, e, OTLPOptions{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	mu.Lock()
	if len(metrics) != 1 || metrics[0] != 7 {
		t.Errorf("Shutdown exported %v, want [7]", metrics)
	}
}

// TestGRPCSClient: grpcs:// speaks HTTP/2 over TLS (ALPN h2) to the same
// method path.
func TestGRPCSClient(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.ProtoMajor != 2 || r.TLS == nil || r.URL.Path != logsSignal.method {
			t.Errorf("request %s TLS %v %s", r.Proto, r.TLS != nil, r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "0")
		w.WriteHeader(http.StatusOK)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	c, err := newOTLPClient("grpcs://" + srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c.tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	if err := c.send(context.Background(), logsSignal, encodeLogs(nil, nil)); err != nil {
		t.Error(err)
	}
	// Without the test CA, the certificate is refused.
	c2, _ := newOTLPClient("grpcs://" + srv.Listener.Addr().String())
	defer c2.close()
	c2.backoff = time.Hour // no retry within the export's time
	if err := c2.send(context.Background(), logsSignal, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown certificate: %v", err)
	}
}
