package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/doctor"
	"github.com/uscope/uscope/internal/testutil"
)

// inProcess runs the CLI in this process, as run does, and returns what it
// printed and its exit code.
func inProcess(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errb.WriteString("uscope: " + errorText(err) + "\n")
	}
	return out.String(), errb.String(), code
}

// buildTool builds uscope into a directory every user may read, with extra
// go build flags.
func buildTool(t *testing.T, flags ...string) string {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	dir := t.TempDir()
	// Both the directory and the test's temporary root above it.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "uscope")
	args := append(append([]string{"build", "-o", bin}, flags...), ".")
	cmd := exec.Command(goTool, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return bin
}

func TestVersionFrom(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{
			Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: rev},
				{Key: "vcs.modified", Value: modified},
			},
		}
	}
	tests := []struct {
		name     string
		override string
		info     *debug.BuildInfo
		want     buildVersion
		text     string
	}{
		{"no build info", "", nil, buildVersion{Version: "devel"}, "devel"},
		{"ldflags, no build info", "v1.2.3", nil, buildVersion{Version: "v1.2.3"}, "v1.2.3"},
		{"go install of a release", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, buildVersion{Version: "v0.4.0"}, "v0.4.0"},
		{"devel without vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, buildVersion{Version: "devel"}, "devel"},
		{"empty main version", "", &debug.BuildInfo{}, buildVersion{Version: "devel"}, "devel"},
		{"devel, clean tree", "", vcs("0123456789abcdef0123", "false"),
			buildVersion{Version: "devel", Commit: "0123456789abcdef0123"}, "devel (0123456789ab)"},
		{"devel, modified tree", "", vcs("0123456789abcdef0123", "true"),
			buildVersion{Version: "devel", Commit: "0123456789abcdef0123", Modified: true}, "devel (0123456789ab, modified)"},
		{"ldflags wins over module version", "v2.0.0", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, buildVersion{Version: "v2.0.0"}, "v2.0.0"},
		{"ldflags keeps the commit", "v2.0.0", vcs("abc", "false"), buildVersion{Version: "v2.0.0", Commit: "abc"}, "v2.0.0 (abc)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := versionFrom(tt.override, tt.info)
			if got != tt.want {
				t.Errorf("versionFrom = %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.text {
				t.Errorf("String() = %q, want %q", got.String(), tt.text)
			}
		})
	}
}

func TestVersionText(t *testing.T) {
	tests := []struct {
		name string
		fs   attach.FeatureSet
		want []string
	}{
		{"all present", attach.FeatureSet{
			UprobeMulti: attach.Feature{OK: true}, RefCtr: attach.Feature{OK: true}, RingBuf: attach.Feature{OK: true},
			Cookies: attach.Feature{OK: true}, OptimizedUprobes: attach.Feature{OK: true}, BTF: attach.Feature{OK: true},
		}, []string{"  uprobe_multi       yes\n", "  btf                yes\n"}},
		{"missing and unknown", attach.FeatureSet{
			UprobeMulti: attach.Feature{Reason: "could not check: permission denied (run as root)"},
			BTF:         attach.Feature{Reason: "kernel has no BTF"},
		}, []string{"  uprobe_multi       unknown: permission denied (run as root)\n", "  btf                no: kernel has no BTF\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := newVersionReport(tt.fs).writeText(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			head := []string{"uscope  ", "go        " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n", "kernel  ", "features:\n"}
			for _, w := range append(head, tt.want...) {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	release, err := doctor.KernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := inProcess(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"uscope  ", runtime.Version(), "kernel    " + release + "\n", "uprobe_multi", "ref_ctr_offset", "ringbuf", "optimized_uprobes"} {
		if !strings.Contains(out, w) {
			t.Errorf("version output lacks %q:\n%s", w, out)
		}
	}

	out, errOut, code = inProcess(t, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		Version, Go, Platform, Kernel string
		Features                      []featureReport
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Version == "" || v.Go != runtime.Version() || v.Kernel != release || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version --json = %+v", v)
	}
	if len(v.Features) != len(attach.FeatureSet{}.List()) {
		t.Errorf("got %d features, want %d", len(v.Features), len(attach.FeatureSet{}.List()))
	}
	for _, f := range v.Features {
		if !f.OK && f.Reason == "" {
			t.Errorf("feature %s missing without a reason", f.Name)
		}
	}

	if _, _, code := inProcess(t, "version", "extra"); code != exitUsage {
		t.Errorf("version extra: exit %d, want %d", code, exitUsage)
	}
}

// As root on the test machine, version reports every feature present.
func TestVersionFeaturesPresent(t *testing.T) {
	testutil.RequireRoot(t)
	out, _, code := inProcess(t, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v struct{ Features []featureReport }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Features {
		if !f.OK {
			t.Errorf("%s: no: %s", f.Name, f.Reason)
		}
	}
}

// A release build sets the version with -ldflags -X main.version.
func TestVersionLdflags(t *testing.T) {
	bin := buildTool(t, "-ldflags=-X main.version=v9.8.7-test")
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	var v buildVersion
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "v9.8.7-test" {
		t.Errorf("version = %q, want v9.8.7-test\n%s", v.Version, out)
	}
	// --version on the root command prints the same stamp.
	out, err = exec.Command(bin, "--version").Output()
	if err != nil || string(out) != "uscope v9.8.7-test\n" {
		t.Errorf("%s --version: %v %q, want \"uscope v9.8.7-test\"", bin, err, out)
	}
}
