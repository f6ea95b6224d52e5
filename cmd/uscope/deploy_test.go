package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/uscope/uscope/internal/agent"
	"github.com/uscope/uscope/internal/testutil"
)

// The subset of Kubernetes' API (apps/v1 DaemonSet, v1 ConfigMap and
// Namespace) that deploy/kubernetes uses, field for field with the API's
// names: decoding with KnownFields rejects any field the API does not have
// at that place (a typo, a field at the wrong level).
type k8sMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	Spec       *struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				HostPID    bool           `yaml:"hostPID"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					HostPath *struct {
						Path string `yaml:"path"`
					} `yaml:"hostPath"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds int `yaml:"periodSeconds"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	// Env: the downward API only (fieldRef), as the schema allows.
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		Privileged               bool `yaml:"privileged"`
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

func loadK8s(t *testing.T, file string) k8sObject {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../deploy/kubernetes", file))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var o k8sObject
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return o
}

// TestDeployManifests checks deploy/kubernetes against the API's field
// names (strict decoding) and against each other: the DaemonSet mounts
// the ConfigMap that holds a config `uscope agent` accepts, the scrape
// annotation's port is the container's port and the config's listen
// port, probes hit /healthz and /metrics, the pod sees the node's
// processes, and the container has exactly the capabilities needed.
func TestDeployManifests(t *testing.T) {
	ns := loadK8s(t, "namespace.yaml")
	cm := loadK8s(t, "configmap.yaml")
	ds := loadK8s(t, "daemonset.yaml")
	if ns.APIVersion != "v1" || ns.Kind != "Namespace" || cm.APIVersion != "v1" || cm.Kind != "ConfigMap" ||
		ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" || ds.Spec == nil {
		t.Fatalf("kinds: %s %s, %s %s, %s %s", ns.APIVersion, ns.Kind, cm.APIVersion, cm.Kind, ds.APIVersion, ds.Kind)
	}
	if cm.Metadata.Namespace != ns.Metadata.Name || ds.Metadata.Namespace != ns.Metadata.Name {
		t.Errorf("namespaces: configmap %q, daemonset %q, want %q", cm.Metadata.Namespace, ds.Metadata.Namespace, ns.Metadata.Name)
	}
	cfg, err := agent.Parse("configmap agent.yaml", []byte(cm.Data["agent.yaml"]))
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	_, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		t.Fatalf("listen %q: %v", cfg.Listen, err)
	}
	tpl := ds.Spec.Template
	for k, v := range ds.Spec.Selector.MatchLabels {
		if tpl.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod's labels %v", k, v, tpl.Metadata.Labels)
		}
	}
	ann := tpl.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want scrape=true port=%s path=/metrics", ann, port)
	}
	if !tpl.Spec.HostPID {
		t.Error("hostPID is not set: the agent would see only its own pod's processes")
	}
	if len(tpl.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(tpl.Spec.Containers))
	}
	c := tpl.Spec.Containers[0]
	if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port || c.Ports[0].Name != "metrics" {
		t.Errorf("ports %+v, want metrics on %s", c.Ports, port)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/metrics" {
		t.Error("readiness must be /healthz and liveness /metrics")
	}
	if strings.Join(c.Args, " ") != "agent --config /etc/uscope/agent.yaml" {
		t.Errorf("args %q", c.Args)
	}
	sc := c.SecurityContext
	if sc.Privileged || sc.AllowPrivilegeEscalation || strings.Join(sc.Capabilities.Drop, ",") != "ALL" {
		t.Errorf("security context %+v: want unprivileged, all capabilities dropped first", sc)
	}
	if got := strings.Join(sc.Capabilities.Add, ","); got != "BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH" {
		t.Errorf("capabilities %s", got)
	}
	volumes := map[string]bool{}
	for _, v := range tpl.Spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil && v.ConfigMap.Name != cm.Metadata.Name {
			t.Errorf("volume %s mounts ConfigMap %q, not %q", v.Name, v.ConfigMap.Name, cm.Metadata.Name)
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			t.Errorf("mount of undefined volume %q", m.Name)
		}
		mounts[m.MountPath] = m.Name
	}
	if mounts["/etc/uscope"] != "config" || mounts["/sys/kernel/tracing"] == "" {
		t.Errorf("mounts %v: want the config at /etc/uscope and /sys/kernel/tracing", mounts)
	}
}

// daemonSetCapabilities returns the capabilities the DaemonSet adds, as
// setpriv names them (bpf, perfmon, ...).
func daemonSetCapabilities(t *testing.T) []string {
	ds := loadK8s(t, "daemonset.yaml")
	var caps []string
	for _, c := range ds.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add {
		caps = append(caps, strings.ToLower(c))
	}
	return caps
}

// TestDeployPrivileges runs a system-wide probe by path (what the agent
// does) with exactly the DaemonSet's capabilities and none other (setpriv
// limits the bounding set), and checks that it counts a target's calls;
// and that without CAP_PERFMON it cannot.
func TestDeployPrivileges(t *testing.T) {
	testutil.RequireRoot(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	bin := fleetwork(t)
	caps := daemonSetCapabilities(t)
	count := func(caps []string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		bounding := "-all"
		for _, c := range caps {
			bounding += ",+" + c
		}
		cmd := exec.CommandContext(ctx, setpriv, "--bounding-set="+bounding, uscopeBin, "run",
			"-e", fmt.Sprintf(`uprobe:%s:work { @calls = count(); }`, bin))
		stop, err := attached(t, cmd)
		if err != nil {
			return err.Error(), err
		}
		if o, err := exec.Command(bin, "11").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", bin, err, o)
		}
		return stop()
	}
	out, err := count(caps)
	if err != nil || !strings.Contains(out, "@calls: 11") {
		t.Fatalf("with the DaemonSet's capabilities %v: %v\n%s", caps, err, out)
	}
	var fewer []string
	for _, c := range caps {
		if c != "perfmon" {
			fewer = append(fewer, c)
		}
	}
	if out, err := count(fewer); err == nil {
		t.Errorf("without CAP_PERFMON uscope still attached (the DaemonSet would grant more than needed?):\n%s", out)
	}
}

// TestImageBuild builds the Dockerfile's image from a freshly built
// static binary with the container engine found here (podman or
// docker); without one it skips with a message, except under CI=true,
// where .ci/run installs podman.
func TestImageBuild(t *testing.T) {
	testutil.RequireRoot(t)
	var engine string
	for _, e := range []string{"podman", "docker"} {
		if p, err := exec.LookPath(e); err == nil {
			engine = p
			break
		}
	}
	if engine == "" {
		testutil.RequireTool(t, "podman") // skips, or fails under CI=true
	}
	ctxDir := t.TempDir()
	b, err := os.ReadFile(uscopeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "uscope"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("localhost/uscope-test:%d", os.Getpid())
	args := []string{"build", "-f", "../../Dockerfile", "-t", tag, ctxDir}
	if out, err := exec.Command(engine, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", engine, args, err, out)
	}
	t.Cleanup(func() { exec.Command(engine, "rmi", tag).Run() })
	// The image holds the binary and runs uscope agent by default.
	out, err := exec.Command(engine, "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != `["/usr/bin/uscope"] ["agent","--config","/etc/uscope/agent.yaml"]` {
		t.Errorf("entrypoint and command: %s", got)
	}
}
