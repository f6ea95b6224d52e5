package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/uscope/uscope/internal/cgroup"
	"github.com/uscope/uscope/internal/testutil"
)

// otelcolBinary builds testdata/otelcol (the Collector's otlp receiver and
// the contrib file exporter, a module of its own) once per source and Go
// version, into the user's cache directory, so that later runs and CI on
// the same machine reuse it (the first build takes minutes on 2 cores).
func otelcolBinary(t *testing.T) string {
	t.Helper()
	goBin := testutil.RequireTool(t, "go")
	src, err := filepath.Abs("testdata/otelcol")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "uscope-test", "otelcol-"+hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "otelcol")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, fmt.Sprintf("otelcol.%d.tmp", os.Getpid()))
	t.Logf("building the OpenTelemetry Collector into %s (cached for later runs)", dir)
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("building the collector: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// collector is a running OpenTelemetry Collector writing what it receives
// to a file, in OTLP JSON, one batch a line.
type collector struct {
	grpc, http string // host:port of the OTLP receivers
	out        string
	log        bytes.Buffer
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	return startCollectorWith(t, false)
}

// startCollectorWith starts the collector, with a profiles pipeline (and
// the feature gate the Collector keeps OTLP profiles behind) if profiles.
func startCollectorWith(t *testing.T, profiles bool) *collector {
	t.Helper()
	bin := otelcolBinary(t)
	dir := t.TempDir()
	c := &collector{
		grpc: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		http: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		out:  filepath.Join(dir, "out.json"),
	}
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [file]
    logs:
      receivers: [otlp]
      exporters: [file]
`, c.grpc, c.http, c.out)
	var args []string
	if profiles {
		cfg += `    profiles:
      receivers: [otlp]
      exporters: [file]
`
		args = append(args, "--feature-gates=service.profilesSupport")
	}
	cfgFile := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--config", cfgFile}, args...)...)
	cmd.Stdout, cmd.Stderr = &c.log, &c.log
	// A test binary killed before its cleanups leaves no collector behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitFor(t, "the collector to be ready", func() (bool, string) {
		return strings.Contains(c.log.String(), "Everything is ready"), c.log.String()
	})
	return c
}

// OTLP JSON, as the file exporter writes it: only the fields the test
// reads.
type otlpKV struct {
	Key   string `json:"key"`
	Value struct {
		String *string `json:"stringValue"`
		Int    *string `json:"intValue"`
	} `json:"value"`
}

type otlpAttrs []otlpKV

func (a otlpAttrs) get(k string) string {
	for _, kv := range a {
		if kv.Key == k {
			switch {
			case kv.Value.String != nil:
				return *kv.Value.String
			case kv.Value.Int != nil:
				return *kv.Value.Int
			}
		}
	}
	return ""
}

type otlpPoint struct {
	Attributes   otlpAttrs `json:"attributes"`
	AsDouble     *float64  `json:"asDouble"`
	Count        string    `json:"count"`
	BucketCounts []string  `json:"bucketCounts"`
	Bounds       []float64 `json:"explicitBounds"`
}

type otlpBatch struct {
	ResourceMetrics []struct {
		Resource struct {
			Attributes otlpAttrs `json:"attributes"`
		} `json:"resource"`
		ScopeMetrics []struct {
			Metrics []struct {
				Name string `json:"name"`
				Sum  *struct {
					DataPoints  []otlpPoint `json:"dataPoints"`
					Temporality int         `json:"aggregationTemporality"`
					IsMonotonic bool        `json:"isMonotonic"`
				} `json:"sum"`
				Gauge *struct {
					DataPoints []otlpPoint `json:"dataPoints"`
				} `json:"gauge"`
				Histogram *struct {
					DataPoints []otlpPoint `json:"dataPoints"`
				} `json:"histogram"`
			} `json:"metrics"`
		} `json:"scopeMetrics"`
	} `json:"resourceMetrics"`
	ResourceLogs []struct {
		Resource struct {
			Attributes otlpAttrs `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			LogRecords []struct {
				Body struct {
					String string `json:"stringValue"`
				} `json:"body"`
				Attributes otlpAttrs `json:"attributes"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

// lines calls fn with each line the collector's file exporter wrote so
// far (one batch a line; the last may be partly written).
func (c *collector) lines(fn func([]byte)) {
	f, err := os.Open(c.out)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
}

// batches reads what the collector wrote so far.
func (c *collector) batches(t *testing.T) []otlpBatch {
	t.Helper()
	var out []otlpBatch
	c.lines(func(l []byte) {
		var b otlpBatch
		if json.Unmarshal(l, &b) == nil { // else a line being written
			out = append(out, b)
		}
	})
	return out
}

// TestOTLP sends a program's maps and printf events, over gRPC and over
// HTTP/protobuf, to a real OpenTelemetry Collector while a program calls
// work(i) for i = 0..N-1, and reads what the collector's file exporter
// wrote: the count is a cumulative monotonic sum equal to N with the key
// as an attribute, hist() an explicit-bucket histogram with bpftrace's
// bucket bounds and the known counts, one log record per call with the
// printf text, the pid, comm and probe; the resource carries the host,
// and the Kubernetes downward-API variables the DaemonSet sets; the
// record's container.id comes from the cgroup path of the process.
func TestOTLP(t *testing.T) {
	testutil.RequireRoot(t)
	const n = 20
	bin := fleetwork(t)
	col := startCollector(t)
	host, _ := os.Hostname()
	// A cgroup named as Docker names a container's, for container.id.
	cid := strings.Repeat("c0ffee", 10) + "abcd"
	mnt, err := cgroup.Mount()
	if err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join(mnt, fmt.Sprintf("uscope-otlp-test-%d.slice", os.Getpid()), "docker-"+cid+".scope")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(cg)
		os.Remove(filepath.Dir(cg))
	})
	for _, tc := range []struct{ name, url string }{
		{"grpc", "grpc://" + col.grpc},
		{"http", "http://" + col.http},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := fmt.Sprintf(`uprobe:%s:work { @%s[comm] = count(); @%s_lat = hist(arg0); printf("%s %%d\n", arg0); }`,
				bin, tc.name, tc.name, tc.name)
			// The command puts itself in the container's cgroup and execs
			// the program, which -c follows.
			// It waits for the release file before it exits, so that the
			// container of its events' pid is still readable when they are
			// decoded; the release comes once its log records arrived.
			release := filepath.Join(t.TempDir(), "release")
			command := fmt.Sprintf(`sh -c 'echo $$ > %s/cgroup.procs && exec %s %d %s'`, cg, bin, n, release)
			us := exec.Command(uscopeBin, "run", "-q", "--otlp", tc.url, "--otlp-interval", "500ms", "-c", command, "-e", prog)
			us.Env = append(os.Environ(), "USCOPE_POD_NAME=uscope-agent-x7k2p", "USCOPE_POD_NAMESPACE=uscope", "USCOPE_NODE_NAME=node-1")
			out, done := startUntilRelease(t, us, release)
			released := false
			var sum, hist *otlpPoint
			var res otlpAttrs
			var logs []string
			var logAttrs otlpAttrs
			waitFor(t, "the metrics and the "+strconv.Itoa(n)+" log records in the collector's file", func() (bool, string) {
				sum, hist, logs = nil, nil, nil
				for _, b := range col.batches(t) {
					for _, rm := range b.ResourceMetrics {
						for _, sm := range rm.ScopeMetrics {
							for _, m := range sm.Metrics {
								switch {
								case m.Name == "uscope_"+tc.name && m.Sum != nil && len(m.Sum.DataPoints) == 1:
									if !m.Sum.IsMonotonic || m.Sum.Temporality != 2 {
										t.Errorf("%s: not a cumulative monotonic sum: %+v", m.Name, m.Sum)
									}
									sum, res = &m.Sum.DataPoints[0], rm.Resource.Attributes
								case m.Name == "uscope_"+tc.name+"_lat" && m.Histogram != nil && len(m.Histogram.DataPoints) == 1:
									hist = &m.Histogram.DataPoints[0]
								}
							}
						}
					}
					for _, rl := range b.ResourceLogs {
						for _, sl := range rl.ScopeLogs {
							for _, r := range sl.LogRecords {
								if strings.HasPrefix(r.Body.String, tc.name+" ") {
									logs = append(logs, r.Body.String)
									logAttrs = r.Attributes
								}
							}
						}
					}
				}
				if !released && len(logs) == n {
					if err := os.WriteFile(release, nil, 0o644); err != nil {
						t.Fatal(err)
					}
					released = true
					if err := <-done; err != nil {
						t.Fatalf("uscope: %v\n%s", err, out.String())
					}
					done <- nil
				}
				// The last export carries the final values (N).
				complete := released && sum != nil && sum.AsDouble != nil && *sum.AsDouble == n && hist != nil && len(logs) == n
				return complete, fmt.Sprintf("sum %v, hist %v, %d logs\n%s", sum, hist, len(logs), col.log.String())
			})
			if got := sum.Attributes.get("comm"); got != "fleetwork" {
				t.Errorf("uscope_%s's comm attribute = %q, want fleetwork", tc.name, got)
			}
			for k, want := range map[string]string{"service.name": "uscope", "host.name": host,
				"k8s.pod.name": "uscope-agent-x7k2p", "k8s.namespace.name": "uscope", "k8s.node.name": "node-1"} {
				if got := res.get(k); got != want {
					t.Errorf("resource attribute %s = %q, want %q", k, got, want)
				}
			}
			// hist(): [0], [1], [2,4), [4,8), [8,16), [16,32) as upper-inclusive
			// bounds -1 (negatives), 0, 1, 3, 7, 15, 31 (the last non-empty
			// bucket), then the values above.
			wantBounds := []float64{-1, 0, 1, 3, 7, 15, 31}
			if fmt.Sprint(hist.Bounds) != fmt.Sprint(wantBounds) {
				t.Errorf("histogram bounds %v, want %v", hist.Bounds, wantBounds)
			}
			var wantCounts []string
			prev := -1.0
			for _, b := range append(wantBounds, 1e18) {
				c := 0
				for i := 0; i < n; i++ {
					if float64(i) > prev && float64(i) <= b {
						c++
					}
				}
				wantCounts, prev = append(wantCounts, strconv.Itoa(c)), b
			}
			if fmt.Sprint(hist.BucketCounts) != fmt.Sprint(wantCounts) || hist.Count != strconv.Itoa(n) {
				t.Errorf("histogram counts %v (count %s), want %v (count %d)", hist.BucketCounts, hist.Count, wantCounts, n)
			}
			seen := map[string]bool{}
			for _, l := range logs {
				seen[l] = true
			}
			for i := 0; i < n; i++ {
				if !seen[fmt.Sprintf("%s %d", tc.name, i)] {
					t.Errorf("no log record %q among %q", fmt.Sprintf("%s %d", tc.name, i), logs)
				}
			}
			for k, want := range map[string]string{"process.executable.name": "fleetwork", "uscope.probe": "uprobe:" + bin + ":work",
				"code.function.name": "work", "container.id": cid} {
				if got := logAttrs.get(k); got != want {
					t.Errorf("log record attribute %s = %q, want %q", k, got, want)
				}
			}
			if pid, _ := strconv.Atoi(logAttrs.get("process.pid")); pid <= 0 {
				t.Errorf("log record process.pid = %q", logAttrs.get("process.pid"))
			}
		})
	}
}
