package export

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

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
