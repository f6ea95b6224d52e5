package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestDlopenLater: a library the program dlopens after start (2 s later
// with -c; once uscope is attached with -p) is traced from its first call,
// whether named by path or by short name (libm, from ld.so.cache): it is
// attached by inode, and the kernel puts the probes in when the process
// maps it. Nothing polls /proc.
func TestDlopenLater(t *testing.T) {
	testutil.RequireRoot(t)
	host := buildTestdata(t, "dlhost")
	plugin := filepath.Join(t.TempDir(), "libplugin.so")
	gcc := testutil.RequireTool(t, "gcc")
	src := filepath.Join(t.TempDir(), "plugin.c")
	if err := os.WriteFile(src, []byte("__attribute__((noinline)) double plugin_fn(double x) { return x + 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-shared", "-fPIC", "-O1", "-o", plugin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name, lib, sym, probe, sum string
	}{
		{"path", plugin, "plugin_fn", "uprobe:" + plugin + ":plugin_fn", "sum 15"},
		{"short name", "libm.so.6", "cbrt", "uprobe:m:cbrt", "sum 5.28957"},
	} {
		t.Run(tc.name+" -c", func(t *testing.T) {
			r := runUscope(t, "run", "-c", host+" "+tc.lib+" "+tc.sym, "-e", tc.probe+" { @calls = count(); }")
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			wantLines(t, r.stdout, tc.sum, "@calls: 5")
		})
		t.Run(tc.name+" -p", func(t *testing.T) {
			out := traceGated(t, func(pid string) []string {
				return []string{"run", "-p", pid, "-e", tc.probe + " { @calls = count(); }"}
			}, host, tc.lib, tc.sym, "wait")
			wantLines(t, out, "@calls: 5")
		})
	}
}
