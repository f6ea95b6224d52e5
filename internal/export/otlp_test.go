package export

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

// TestOTLPMapping: the OTLP rendering of the points Prometheus also gets:
// counters are cumulative monotonic sums without _total, hist() explicit
// buckets with per-bucket counts (the cumulative ones differenced),
// stats() a summary and an _avg gauge.
func TestOTLPMapping(t *testing.T) {
	p := parse(t, `uprobe:x:f { @calls[comm] = count(); @lat = hist(arg0); @st = stats(arg0); @mx = max(arg0); }`)
	h := make([]uint64, output.Log2Buckets)
	for _, v := range []int64{0, 1, 2, 3, 5} {
		h[output.Log2Bucket(v)]++
	}
	sn := session.Snapshot{Full: map[string]uint64{}, Maps: []*output.Map{
		{Name: "@calls", Kind: output.AggCount, Entries: []output.Entry{{Key: []output.Value{str("app")}, Value: output.IntValue(42, 8)}}},
		{Name: "@lat", Kind: output.AggHist, Entries: []output.Entry{{Buckets: h}}},
		{Name: "@st", Kind: output.AggStats, Entries: []output.Entry{{Count: 4, Sum: 10}}},
		{Name: "@mx", Kind: output.AggMax, Entries: []output.Entry{{Value: output.IntValue(-3, 8)}}},
	}}
	e := New(0)
	e.Add("", p, reader(sn), nil)
	ms := otlpMetrics(e.Points(), time.Unix(1, 0), time.Unix(2, 0))
	byName := map[string]metricdata.Aggregation{}
	for _, m := range ms {
		byName[m.Name] = m.Data
	}
	sum, ok := byName["uscope_calls"].(metricdata.Sum[float64])
	if !ok || !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality || len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 42 {
		t.Errorf("uscope_calls = %+v", byName["uscope_calls"])
	} else if v, _ := sum.DataPoints[0].Attributes.Value("comm"); v.AsString() != "app" {
		t.Errorf("uscope_calls comm = %q", v.AsString())
	}
	hist, ok := byName["uscope_lat"].(metricdata.Histogram[float64])
	if !ok || len(hist.DataPoints) != 1 {
		t.Fatalf("uscope_lat = %+v", byName["uscope_lat"])
	}
	hp := hist.DataPoints[0]
	if fmt.Sprint(hp.Bounds) != "[-1 0 1 3 7]" || fmt.Sprint(hp.BucketCounts) != "[0 1 1 2 1 0]" || hp.Count != 5 || !math.IsNaN(hp.Sum) {
		t.Errorf("uscope_lat: bounds %v counts %v count %d sum %v", hp.Bounds, hp.BucketCounts, hp.Count, hp.Sum)
	}
	if s, ok := byName["uscope_st"].(metricdata.Summary); !ok || s.DataPoints[0].Count != 4 || s.DataPoints[0].Sum != 10 {
		t.Errorf("uscope_st = %+v", byName["uscope_st"])
	}
	if g, ok := byName["uscope_st_avg"].(metricdata.Gauge[float64]); !ok || g.DataPoints[0].Value != 2.5 {
		t.Errorf("uscope_st_avg = %+v", byName["uscope_st_avg"])
	}
	if g, ok := byName["uscope_mx"].(metricdata.Gauge[float64]); !ok || g.DataPoints[0].Value != -3 {
		t.Errorf("uscope_mx = %+v", byName["uscope_mx"])
	}
	if _, ok := byName["uscope_lost_events"].(metricdata.Sum[float64]); !ok {
		t.Errorf("no uscope_lost_events sum")
	}
}

// TestFreeze: after Freeze, the source gives the final snapshot even
// though the session's reader says it has ended.
func TestFreeze(t *testing.T) {
	p := parse(t, `uprobe:x:f { @n = count(); }`)
	e := New(0)
	e.Add("", p, func() (session.Snapshot, bool) { return session.Snapshot{}, false }, nil)
	if len(e.Points()) != 0 {
		t.Fatal("an ended source gave points")
	}
	e.Freeze("", session.Snapshot{Maps: []*output.Map{{Name: "@n", Kind: output.AggCount, Entries: []output.Entry{{Value: output.IntValue(7, 8)}}}}})
	found := false
	for _, pt := range e.Points() {
		if pt.Name == "uscope_n" && pt.Value == 7 {
			found = true
		}
	}
	if !found {
		t.Errorf("frozen snapshot not exported: %+v", e.Points())
	}
}

func TestKubernetesAndContainer(t *testing.T) {
	env := map[string]string{"USCOPE_POD_NAME": "agent-abc", "USCOPE_POD_NAMESPACE": " ops ", "USCOPE_NODE_NAME": ""}
	got := Kubernetes(func(k string) string { return env[k] })
	if fmt.Sprint(got) != "map[k8s.namespace.name:ops k8s.pod.name:agent-abc]" {
		t.Errorf("Kubernetes = %v", got)
	}
	if l := PromLabels(map[string]string{"k8s.pod.name": "a", "container.id": "b"}); fmt.Sprint(l) != "map[container:b k8s_pod_name:a]" {
		t.Errorf("PromLabels = %v", l)
	}
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for text, want := range map[string]string{
		"0::/system.slice/docker-" + id + ".scope\n": id,
		"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-" + id + ".scope\n": id,
		"12:memory:/docker/" + id + "\n0::/\n":          id,
		"12:memory:/docker/" + id + "\n":                id,
		"0::/user.slice/user-0.slice/session-3.scope\n": "",
		"garbage": "",
	} {
		if got := CgroupContainer(text); got != want {
			t.Errorf("CgroupContainer(%q) = %q, want %q", text, got, want)
		}
	}
}

// TestDaemonSetSetsKubernetesEnv: the DaemonSet sets every downward-API
// variable Kubernetes reads, from the field it stands for.
func TestDaemonSetSetsKubernetesEnv(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	field := map[string]string{"k8s.pod.name": "metadata.name", "k8s.namespace.name": "metadata.namespace", "k8s.node.name": "spec.nodeName"}
	for _, e := range k8sEnv {
		want := fmt.Sprintf("- name: %s\n              valueFrom:\n                fieldRef:\n                  fieldPath: %s\n", e.env, field[e.attr])
		if !strings.Contains(string(b), want) {
			t.Errorf("daemonset.yaml does not set %s from %s", e.env, field[e.attr])
		}
	}
}
