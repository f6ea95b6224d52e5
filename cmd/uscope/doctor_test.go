package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/doctor"
	"github.com/uscope/uscope/internal/testutil"
)

// simulatedEnv is a machine whose /proc and /sys are under root, with the
// given identity and all kernel features present.
func simulatedEnv(root string, uid int, caps uint64) doctor.Env {
	ok := attach.Feature{OK: true}
	return doctor.Env{
		Root:    root,
		UID:     uid,
		CapEff:  caps,
		Release: "6.18.0",
		Features: func() attach.FeatureSet {
			return attach.FeatureSet{UprobeMulti: ok, RefCtr: ok, RingBuf: ok, Cookies: ok, OptimizedUprobes: ok, BTF: ok}
		},
		BPF: func() error { return nil },
	}
}

func TestDoctorCommandSimulated(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		uid      int
		caps     uint64
		wantCode int
		want     []string
	}{
		{"privileged", []string{"doctor"}, 0, 1 << 21, 0,
			[]string{"ok    privileges", "info  tracefs", "not mounted; optional: uscope does not need it"}},
		{"unprivileged", []string{"doctor"}, 1000, 0, exitUsage,
			[]string{"FAIL  privileges", "uid 1000 lacks CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN", "check(s) failed: fix the FAIL lines above"}},
		{"unprivileged json", []string{"doctor", "--json"}, 1000, 0, exitUsage,
			[]string{`"ok": false`, `"status": "fail"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range map[string]string{
				"proc/self/mounts":                         "proc /proc proc rw 0 0\n",
				"proc/sys/kernel/perf_event_paranoid":      "2\n",
				"sys/bus/event_source/devices/uprobe/type": "8\n",
			} {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			saved := doctorEnv
			doctorEnv = func() doctor.Env { return simulatedEnv(root, tt.uid, tt.caps) }
			defer func() { doctorEnv = saved }()
			out, errOut, code := inProcess(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

// On the test machine, as root, doctor finds nothing to fix and exits 0.
func TestDoctorCommandHost(t *testing.T) {
	testutil.RequireRoot(t)
	out, errOut, code := inProcess(t, "doctor")
	if code != 0 {
		t.Fatalf("doctor: exit %d\n%s%s", code, out, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "ok ") && !strings.HasPrefix(line, "info ") {
			t.Errorf("not ok: %s", line)
		}
	}
	out, _, code = inProcess(t, "doctor", "--json")
	var r struct {
		OK     bool
		Checks []doctor.Check
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.OK || len(r.Checks) == 0 {
		t.Fatalf("doctor --json: exit %d, err %v, %+v\n%s", code, err, r, out)
	}
}

// Run by an unprivileged user, the real binary says what to change and
// exits 1.
func TestDoctorUnprivileged(t *testing.T) {
	testutil.RequireRoot(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	bin := buildTool(t)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "doctor")
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitUsage {
		t.Fatalf("doctor as nobody: %v, want exit %d\n%s", err, exitUsage, out)
	}
	for _, w := range []string{
		"FAIL  privileges                 uid 65534 lacks CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN: run uscope with sudo",
		"FAIL  bpf                        bpf() is denied (operation not permitted)",
		"run uscope doctor as root to be sure",
	} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
