package export

import (
	"fmt"
	"os"
	"strings"

	"github.com/uscope/uscope/internal/cgroup"
)

// Kubernetes metadata: the DaemonSet (deploy/kubernetes/daemonset.yaml)
// sets these variables from the downward API (fieldRef metadata.name,
// metadata.namespace, spec.nodeName). They name the pod uscope runs in
// and its node; the traced processes' containers are named by their
// container id (ProcessContainer), from their cgroup path.
var k8sEnv = []struct{ env, attr string }{
	{"USCOPE_POD_NAME", "k8s.pod.name"},
	{"USCOPE_POD_NAMESPACE", "k8s.namespace.name"},
	{"USCOPE_NODE_NAME", "k8s.node.name"},
}

// Kubernetes returns the OpenTelemetry resource attributes (k8s.pod.name,
// k8s.namespace.name, k8s.node.name) that the downward API variables set
// in getenv (os.Getenv) provide.
func Kubernetes(getenv func(string) string) map[string]string {
	out := map[string]string{}
	for _, e := range k8sEnv {
		if v := strings.TrimSpace(getenv(e.env)); v != "" {
			out[e.attr] = v
		}
	}
	return out
}

// PromLabels turns resource attribute names into Prometheus label names
// (k8s.pod.name → k8s_pod_name, container.id → container).
func PromLabels(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if k == "container.id" {
			k = "container"
		}
		out[strings.ReplaceAll(k, ".", "_")] = v
	}
	return out
}

// ProcessContainer returns the container id of a process, read from the
// cgroup v2 path in /proc/PID/cgroup ("" when it is in no container).
func ProcessContainer(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	return CgroupContainer(string(b))
}

// CgroupContainer returns the container id in the text of a
// /proc/PID/cgroup file: the cgroup v2 line's ("0::PATH"), else (hybrid
// hierarchies) the first v1 line's whose path names a container.
func CgroupContainer(text string) string {
	var v1 string
	for _, l := range strings.Split(text, "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			if id := cgroup.ContainerID(parts[2]); id != "" {
				return id
			}
			continue
		}
		if v1 == "" {
			v1 = cgroup.ContainerID(parts[2])
		}
	}
	return v1
}
