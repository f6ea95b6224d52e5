package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/uscope/uscope/internal/testutil"
)

// scrapeMetrics reads an exporter's /metrics and returns each sample as
// "name{labels}" (labels sorted, as the text format prints them) → value.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			var parts []string
			for _, l := range m.Label {
				parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name + "{" + strings.Join(parts, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func healthy(addr string) (bool, string) {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200, string(b)
}

// startAgent runs uscope agent --config cfgFile until the test ends (then
// SIGTERM, SIGKILL after 30 s), with its logs in the buffer.
func startAgent(t *testing.T, cfgFile string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	ag := exec.Command(uscopeBin, "agent", "--config", cfgFile)
	var logs bytes.Buffer
	ag.Stdout, ag.Stderr = &logs, &logs
	// A test binary killed before its cleanups leaves no agent behind.
	ag.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ag.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { ag.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			ag.Process.Kill()
			<-done
		}
	})
	return ag, &logs
}

// TestAgent runs two programs (one a program, one the count tool) from a
// config, runs the target three times (so it restarts twice), reloads the
// config once between the second and third run (adding a program), and
// checks the exact totals on /metrics: the unchanged programs counted
// every run, the new one only the last.
func TestAgent(t *testing.T) {
	testutil.RequireRoot(t)
	const n = 25
	bin := fleetwork(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	two := fmt.Sprintf(`listen: %s
programs:
  - name: calls
    program: 'uprobe:%[2]s:work { @calls[func] = count(); @total = sum(arg0); }'
  - name: counted
    tool: count
    args: ["%[2]s:work"]
`, addr, bin)
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	ag, logs := startAgent(t, cfgFile)
	waitFor(t, "the agent's programs to attach", func() (bool, string) { return healthy(addr) })
	runTarget := func() {
		out, err := exec.Command(bin, fmt.Sprint(n)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, out)
		}
	}
	runTarget()
	runTarget()
	three := two + fmt.Sprintf(`  - name: late
    program: 'uprobe:%s:work { @late = count(); }'
`, bin)
	if err := os.WriteFile(cfgFile, []byte(three), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ag.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reloaded program to attach", func() (bool, string) {
		ok, why := healthy(addr)
		_, has := scrapeMetrics(t, addr)[`uscope_lost_events_total{program="late"}`]
		return ok && has && strings.Contains(logs.String(), "config reloaded"), why + "\n" + logs.String()
	})
	runTarget()
	m := scrapeMetrics(t, addr)
	want := map[string]float64{
		`uscope_calls_total{func="work",program="calls"}`:            3 * n,
		`uscope_total_total{program="calls"}`:                        3 * n * (n - 1) / 2,
		`uscope_counts_total{func="work",program="counted"}`:         3 * n,
		`uscope_late_total{program="late"}`:                          n,
		`uscope_lost_events_total{program="calls"}`:                  0,
		`uscope_map_full_updates_total{map="calls",program="calls"}`: 0,
	}
	for k, w := range want {
		if got, ok := m[k]; !ok || got != w {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, w)
		}
	}
	if t.Failed() {
		t.Logf("metrics: %v\nlogs:\n%s", m, logs.String())
	}
	// Logs are JSON lines.
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"msg":`) {
			t.Errorf("log line is not a JSON record: %q", line)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"program unchanged","program":"calls"`) {
		t.Errorf("the reload did not keep program calls:\n%s", logs.String())
	}
}
