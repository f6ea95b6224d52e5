package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestAgentOTLP: the agent config's otlp key sends every program's maps
// as OTLP metrics (labelled with the program) and its printf events as
// OTLP log records to a real Collector, over HTTP/protobuf; the file
// exporter's output holds the exact count of N calls and one record per
// call.
func TestAgentOTLP(t *testing.T) {
	testutil.RequireRoot(t)
	const n = 12
	bin := fleetwork(t)
	col := startCollector(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
otlp: http://%s
otlp_interval: 300ms
programs:
  - name: agentcalls
    program: 'uprobe:%s:work { @agent_calls = count(); printf("agent %%d\n", arg0); }'
`, freePort(t), col.http, bin)
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, logs := startAgent(t, cfgFile)
	waitFor(t, "the agent's program to attach", func() (bool, string) {
		return strings.Contains(logs.String(), `"msg":"program attached"`), logs.String()
	})
	if out, err := exec.Command(bin, fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	waitFor(t, "the count and the log records in the collector's file", func() (bool, string) {
		var count *float64
		var program string
		recs := map[string]bool{}
		for _, b := range col.batches(t) {
			for _, rm := range b.ResourceMetrics {
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						if m.Name == "uscope_agent_calls" && m.Sum != nil && len(m.Sum.DataPoints) == 1 {
							count = m.Sum.DataPoints[0].AsDouble
							program = m.Sum.DataPoints[0].Attributes.get("program")
						}
					}
				}
			}
			for _, rl := range b.ResourceLogs {
				for _, sl := range rl.ScopeLogs {
					for _, r := range sl.LogRecords {
						if strings.HasPrefix(r.Body.String, "agent ") {
							recs[r.Body.String] = true
						}
					}
				}
			}
		}
		ok := count != nil && *count == n && program == "agentcalls" && len(recs) == n
		for i := 0; i < n && ok; i++ {
			ok = recs[fmt.Sprintf("agent %d\n", i)] || recs[fmt.Sprintf("agent %d", i)]
		}
		return ok, fmt.Sprintf("count %v program %q, %d records\n%s\n%s", count, program, len(recs), logs.String(), col.log.String())
	})
}
