package export

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uscope/uscope/internal/pbwire"
)

// OTLP transports, written for uscope rather than taken from the
// OpenTelemetry exporters and grpc-go, whose packages' inits cost
// start-up (issue 22): HTTP/protobuf is a POST; gRPC is one unary call
// over HTTP/2 with net/http (h2c for grpc://, TLS with ALPN h2 for
// grpcs://), the message in a 5-byte length-prefixed frame and the status
// in the grpc-status trailer.

// otlpSignal is one OTLP service: its gRPC method, its HTTP path (after
// the URL's prefix) and what its partial success counts as rejected.
type otlpSignal struct {
	name, method, path, rejected string
}

var (
	metricsSignal  = otlpSignal{"metrics", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", "/v1/metrics", "metric data points"}
	logsSignal     = otlpSignal{"logs", "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/v1/logs", "log records"}
	profilesSignal = otlpSignal{"profiles", "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export", "/v1development/profiles", "profiles"}
)

// otlpTimeout bounds one export, its retries included: the SDK
// exporters' default.
const otlpTimeout = 10 * time.Second

// otlpClient sends encoded OTLP requests to one endpoint.
type otlpClient struct {
	url  string // as given, for errors
	grpc bool
	// base is scheme://host:port and the URL's path prefix (HTTP), the
	// scheme http or https.
	base string
	tr   *http.Transport
	hc   *http.Client
	// backoff is the wait before the first retry (then 1.5 times longer
	// each, up to 30 s), as the SDK's exporters wait.
	backoff time.Duration
}

// errOTLPURL is the error of a URL StartOTLP and SendProfiles do not take.
func errOTLPURL(rawURL string) error {
	return fmt.Errorf("--otlp %q: not a URL; give grpc://HOST:4317 or http://HOST:4318", rawURL)
}

// newOTLPClient returns the client of rawURL: grpc://HOST[:4317],
// grpcs://, http://HOST[:4318][/PREFIX] or https://.
func newOTLPClient(rawURL string) (*otlpClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, errOTLPURL(rawURL)
	}
	c := &otlpClient{url: rawURL, backoff: 5 * time.Second}
	host := u.Host
	var p http.Protocols
	switch u.Scheme {
	case "grpc", "grpcs":
		if u.Port() == "" {
			host += ":4317"
		}
		c.grpc = true
		c.tr = &http.Transport{Protocols: &p, ForceAttemptHTTP2: true, IdleConnTimeout: 5 * time.Minute}
		if u.Scheme == "grpc" {
			p.SetUnencryptedHTTP2(true) // h2c, prior knowledge
			c.base = "http://" + host
		} else {
			p.SetHTTP2(true)
			c.base = "https://" + host
		}
	case "http", "https":
		if u.Port() == "" {
			host += ":4318"
		}
		c.tr = http.DefaultTransport.(*http.Transport).Clone()
		c.base = u.Scheme + "://" + host + strings.TrimSuffix(u.Path, "/")
	default:
		return nil, fmt.Errorf("--otlp %q: unknown scheme %q; give grpc://HOST:4317 (gRPC) or http://HOST:4318 (HTTP/protobuf)", rawURL, u.Scheme)
	}
	c.hc = &http.Client{Transport: c.tr}
	return c, nil
}

// close closes the client's idle connections.
func (c *otlpClient) close() { c.tr.CloseIdleConnections() }

// send sends one encoded Export request of sig and waits for its answer,
// retrying what the SDK's exporters retry (gRPC codes Unavailable,
// Canceled, DeadlineExceeded, Aborted, OutOfRange, DataLoss; HTTP 429,
// 502, 503, 504; timeouts) while the export's time (otlpTimeout, or ctx's
// if it ends sooner) allows. A partial success is an error naming what
// was rejected.
func (c *otlpClient) send(ctx context.Context, sig otlpSignal, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, otlpTimeout)
	defer cancel()
	wait := c.backoff
	for {
		var a attempt
		if c.grpc {
			a = c.sendGRPC(ctx, sig, msg)
		} else {
			a = c.sendHTTP(ctx, sig, msg)
		}
		if a.err == nil || !a.retry {
			return a.err
		}
		w := wait
		if a.after > 0 {
			w = a.after
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < w {
			return a.err
		}
		select {
		case <-time.After(w):
		case <-ctx.Done():
			return a.err
		}
		wait = min(wait*3/2, 30*time.Second)
	}
}

// attempt is the outcome of one try: its error, whether it is worth a
// retry, and how long the server asked to wait first (Retry-After).
type attempt struct {
	err   error
	retry bool
	after time.Duration
}

// maxResponse bounds the response body read: an Export response is a
// partial success at most.
const maxResponse = 64 << 10

// sendHTTP POSTs msg; it says whether the error is worth a retry and how
// long the server asked to wait (Retry-After).
func (c *otlpClient) sendHTTP(ctx context.Context, sig otlpSignal, msg []byte) attempt {
	target := c.base + sig.path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(msg))
	if err != nil {
		return attempt{err, false, 0}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "uscope")
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne net.Error
		retry := errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said once
		}
		return attempt{fmt.Errorf("failed to send %s to %s: %w", sig.name, target, err), retry, 0}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return attempt{fmt.Errorf("failed to read the response of %s: %w", target, err), false, 0}
	}
	isProto := resp.Header.Get("Content-Type") == "application/x-protobuf"
	if resp.StatusCode/100 == 2 {
		if isProto {
			return attempt{partialSuccess(sig, body), false, 0}
		}
		return attempt{nil, false, 0}
	}
	text := strings.TrimSpace(string(body))
	if isProto {
		text = statusMessage(body) // a google.rpc.Status
	}
	if text == "" {
		text = "(empty)"
	}
	err = fmt.Errorf("failed to send %s to %s: %s (body: %s)", sig.name, target, resp.Status, text)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		var after time.Duration
		if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return attempt{err, true, after}
	}
	return attempt{err, false, 0}
}

// grpcCodes names the gRPC status codes.
var grpcCodes = [...]string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

// grpcError is a call's non-OK status.
type grpcError struct {
	code int
	msg  string
}

func (e *grpcError) Error() string {
	name := "Code(" + strconv.Itoa(e.code) + ")"
	if e.code >= 0 && e.code < len(grpcCodes) {
		name = grpcCodes[e.code]
	}
	return "rpc error: code = " + name + " desc = " + e.msg
}

// retryable says whether the SDK's gRPC exporters retry the code
// (ResourceExhausted only with a RetryInfo detail, which uscope does not
// read: it is not retried).
func (e *grpcError) retryable() bool {
	switch e.code {
	case 1, 4, 10, 11, 14, 15: // Canceled, DeadlineExceeded, Aborted, OutOfRange, Unavailable, DataLoss
		return true
	}
	return false
}

// sendGRPC calls sig's Export method with msg.
func (c *otlpClient) sendGRPC(ctx context.Context, sig otlpSignal, msg []byte) attempt {
	fail := func(err error) error { return fmt.Errorf("failed to upload %s to %s: %w", sig.name, c.url, err) }
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg))) // frame[0] = 0: not compressed
	frame = append(frame, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+sig.method, bytes.NewReader(frame))
	if err != nil {
		return attempt{err: fail(err)}
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", "uscope")
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", strconv.FormatInt(max(time.Until(d).Milliseconds(), 1), 10)+"m")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// No answer: grpc-go calls that Unavailable, or the deadline's.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // not the POST and the URL: the method is known
		}
		if ctx.Err() != nil {
			return attempt{err: fail(&grpcError{4, err.Error()})}
		}
		return attempt{err: fail(&grpcError{14, "connection error: " + err.Error()}), retry: true}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+5))
	if err != nil {
		if ctx.Err() != nil {
			return attempt{err: fail(&grpcError{4, err.Error()})}
		}
		return attempt{err: fail(&grpcError{14, "reading the response: " + err.Error()}), retry: true}
	}
	if resp.StatusCode != http.StatusOK {
		// Not a gRPC answer (a proxy's, say): the codes grpc-go gives.
		code := 2 // Unknown
		switch resp.StatusCode {
		case http.StatusBadRequest:
			code = 13 // Internal
		case http.StatusUnauthorized:
			code = 16
		case http.StatusForbidden:
			code = 7
		case http.StatusNotFound:
			code = 12
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			code = 14
		}
		e := &grpcError{code, "unexpected HTTP status code received from server: " + resp.Status}
		return attempt{err: fail(e), retry: e.retryable()}
	}
	// grpc-status is a trailer, or a header of a trailers-only answer.
	st, m := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if st == "" {
		st, m = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if st == "" {
		return attempt{err: fail(&grpcError{13, "server closed the stream without sending a grpc-status"})}
	}
	code, err := strconv.Atoi(st)
	if err != nil {
		return attempt{err: fail(&grpcError{13, fmt.Sprintf("malformed grpc-status %q", st)})}
	}
	if code != 0 {
		if u, err := url.PathUnescape(m); err == nil {
			m = u // grpc-message is percent-encoded
		}
		e := &grpcError{code, m}
		return attempt{err: fail(e), retry: e.retryable()}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return attempt{err: fail(&grpcError{13, fmt.Sprintf("unexpected content-type %q", ct)})}
	}
	if len(body) == 0 {
		return attempt{} // an empty response
	}
	if len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
		return attempt{err: fail(&grpcError{13, fmt.Sprintf("malformed response frame (%d bytes)", len(body))})}
	}
	if body[0] != 0 {
		return attempt{err: fail(&grpcError{13, "compressed response, though none was asked for"})}
	}
	return attempt{err: partialSuccess(sig, body[5:])}
}

// partialSuccess returns the partial success of an Export response (field
// 1: rejected count 1, error message 2), as the SDK reports it, or nil.
func partialSuccess(sig otlpSignal, resp []byte) error {
	var n int64
	var msg string
	r := pbwire.NewReader(resp)
	for r.Next() {
		if r.Num != partialSuccessField || r.Type != pbwire.BytesType {
			continue
		}
		ps := pbwire.NewReader(r.Data)
		for ps.Next() {
			switch {
			case ps.Num == rejectedField && ps.Type == pbwire.VarintType:
				n = int64(ps.Uint)
			case ps.Num == messageField && ps.Type == pbwire.BytesType:
				msg = string(ps.Data)
			}
		}
	}
	if r.Err() != nil {
		return fmt.Errorf("malformed %s Export response: %w", sig.name, r.Err())
	}
	if n == 0 && msg == "" {
		return nil
	}
	if msg == "" {
		msg = "empty message"
	}
	return fmt.Errorf("OTLP partial success: %s (%d %s rejected)", msg, n, sig.rejected)
}

// statusMessage is the message (field 2) of a google.rpc.Status, the body
// of an OTLP/HTTP error response.
func statusMessage(b []byte) string {
	var msg string
	r := pbwire.NewReader(b)
	for r.Next() {
		if r.Num == 2 && r.Type == pbwire.BytesType {
			msg = string(r.Data)
		}
	}
	return msg
}
