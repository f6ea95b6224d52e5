package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// promServer is a real Prometheus server (Debian's prometheus) with its
// own config and data directory, scraping targets every second.
type promServer struct {
	addr string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

func startPrometheus(t *testing.T, targets ...string) *promServer {
	t.Helper()
	bin := testutil.RequireTool(t, "prometheus")
	dir := t.TempDir()
	var quoted []string
	for _, tg := range targets {
		quoted = append(quoted, strconv.Quote(tg))
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: uscope\n    static_configs:\n      - targets: [%s]\n",
		strings.Join(quoted, ", "))
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &promServer{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	p.cmd = exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	waitFor(t, "prometheus to be ready", func() (bool, string) {
		resp, err := http.Get("http://" + p.addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

// sample is one series of an instant query's result.
type sample struct {
	labels map[string]string
	value  float64
}

// query runs an instant query through Prometheus's HTTP API.
func (p *promServer) query(t *testing.T, q string) []sample {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %q: %v %s %s", q, err, r.Error, body)
	}
	var out []sample
	for _, res := range r.Data.Result {
		s, _ := res.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %q: value %q", q, s)
		}
		out = append(out, sample{res.Metric, v})
	}
	return out
}

// waitFor polls cond until it holds; it fails the test after a minute
// (a bound on a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last: %s", what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fleetwork builds testdata/fleetwork.c.
func fleetwork(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/fleetwork.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "fleetwork", string(src), "-O1")
}

// TestPrometheusScrape: a real Prometheus scrapes `uscope run
// --prometheus` while a program calls work(i) for i = 0..N-1; the counter,
// the sum, the log2 and linear histograms and the loss counters it stored
// are what bpftrace's definitions of count/sum/hist/lhist give for those
// arguments.
func TestPrometheusScrape(t *testing.T) {
	testutil.RequireRoot(t)
	const n = 100
	bin := fleetwork(t)
	release := filepath.Join(t.TempDir(), "release")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	prom := startPrometheus(t, addr)
	prog := fmt.Sprintf(`uprobe:%[1]s:work { @calls[comm, func] = count(); @total = sum(arg0);
		@lat = hist(arg0); @lin[func] = lhist(arg0, 0, 100, 10); }`, bin)
	us := exec.Command(uscopeBin, "run", "--prometheus", addr, "-c", fmt.Sprintf("%s %d %s", bin, n, release), "-e", prog)
	out, done := startUntilRelease(t, us, release)
	waitFor(t, "uscope_calls_total to reach N in Prometheus", func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("uscope ended early: %v\n%s", err, out.String())
		default:
		}
		s := prom.query(t, "uscope_calls_total")
		return len(s) == 1 && s[0].value == n, fmt.Sprint(s)
	})
	calls := prom.query(t, "uscope_calls_total")
	if l := calls[0].labels; l["comm"] != "fleetwork" || l["func"] != "work" || l["job"] != "uscope" {
		t.Errorf("labels of uscope_calls_total: %v, want comm=fleetwork func=work", l)
	}
	if s := prom.query(t, "uscope_total_total"); len(s) != 1 || s[0].value != n*(n-1)/2 {
		t.Errorf("uscope_total_total = %v, want %d", s, n*(n-1)/2)
	}
	// bpftrace's hist(): [0], [1], then [2^k, 2^(k+1)); lhist(0, 100, 10):
	// below 0, [0,10) ... [90,100), 100 and above. Each bucket is le = its
	// largest integer; Prometheus's buckets count the values <= le.
	cum := func(le float64) float64 {
		c := 0.0
		for i := 0; i < n; i++ {
			if float64(i) <= le {
				c++
			}
		}
		return c
	}
	log2 := []float64{-1, 0, 1, 3, 7, 15, 31, 63, 127, math.Inf(1)}
	checkBuckets(t, prom.query(t, "uscope_lat_bucket"), log2, cum)
	lin := []float64{-1}
	for b := 9.0; b < 100; b += 10 {
		lin = append(lin, b)
	}
	lin = append(lin, math.Inf(1))
	lb := prom.query(t, "uscope_lin_bucket")
	checkBuckets(t, lb, lin, cum)
	for _, s := range lb {
		if s.labels["func"] != "work" {
			t.Errorf("uscope_lin_bucket lacks func=work: %v", s.labels)
		}
	}
	if s := prom.query(t, "uscope_lat_count"); len(s) != 1 || s[0].value != n {
		t.Errorf("uscope_lat_count = %v, want %d", s, n)
	}
	if s := prom.query(t, "uscope_lost_events_total"); len(s) != 1 || s[0].value != 0 {
		t.Errorf("uscope_lost_events_total = %v, want one series of 0", s)
	}
	if s := prom.query(t, `uscope_map_full_updates_total{map="calls"}`); len(s) != 1 || s[0].value != 0 {
		t.Errorf("uscope_map_full_updates_total{map=calls} = %v, want 0", s)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("uscope: %v\n%s", err, out.String())
	}
	done <- nil
	if !strings.Contains(out.String(), fmt.Sprintf("@calls[fleetwork, work]: %d", n)) {
		t.Errorf("uscope's own output lacks the count:\n%s", out.String())
	}
}

// checkBuckets compares a histogram's buckets with exactly the bounds
// want, each holding cum(le).
func checkBuckets(t *testing.T, got []sample, want []float64, cum func(float64) float64) {
	t.Helper()
	byLE := map[float64]float64{}
	var les []float64
	for _, s := range got {
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			t.Fatalf("bucket le=%q", s.labels["le"])
		}
		byLE[le] = s.value
		les = append(les, le)
	}
	sort.Float64s(les)
	if fmt.Sprint(les) != fmt.Sprint(want) {
		t.Errorf("bucket bounds %v, want %v", les, want)
	}
	for _, le := range want {
		if w := cum(le); byLE[le] != w {
			t.Errorf("bucket le=%v holds %v, want %v", le, byLE[le], w)
		}
	}
}

// startUntilRelease starts cmd with its output in a buffer and returns it
// and a channel that gets cmd's end (tests put it back after reading it).
// At cleanup the release file the target waits for is created and cmd
// is waited for, killed after 30 s.
func startUntilRelease(t *testing.T, cmd *exec.Cmd, release string) (*bytes.Buffer, chan error) {
	t.Helper()
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		os.WriteFile(release, nil, 0o644)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return out, done
}
