package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/stapsdt/stapsdttest"
)

// TestLateUSDTProvider: a USDT provider the program creates after uscope
// started (usdt::PROVIDER:NAME, which no object defines at start) is traced
// from its first firing, with -c (created 1–2 s after start) and with -p
// (created once uscope waits), exact counts and values:
//   - memfd: testdata/dynprobe.c maps an ELF with a stapsdt note from a
//     memfd, without the dynamic linker, and calls the GDB JIT interface's
//     __jit_debug_register_code, then fires at once;
//   - dlopen: testdata/dlhost.c dlopens a .so with an sdt.h probe from a
//     temporary path (as libstapsdt does), seen at _dl_debug_state;
//   - Go: package stapsdt's provider (firer -late), seen at stapsdt.loaded.
//
// With -c, also when a shell's child execs the program: the exec is seen
// and the new executable's hooks are added before it runs.
func TestLateUSDTProvider(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/dynprobe.c")
	if err != nil {
		t.Fatal(err)
	}
	dyn := testutil.BuildC(t, "dynprobe", string(src), "-O1", "-Wall")
	host := buildTestdata(t, "dlhost")
	plugin := filepath.Join(t.TempDir(), "plugin.c")
	if err := os.WriteFile(plugin, []byte(`#include <sys/sdt.h>
__attribute__((noinline)) double plugin_hit(double x) {
	long v = (long)x * 3 + 1;
	DTRACE_PROBE2(uscope_plugin, hit, v, "plug");
	return x + 1;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A temporary name no probe names, as libstapsdt's mkstemp .so.
	lib := filepath.Join(t.TempDir(), "uscope_plugin-Xk3q9Z.so")
	if out, err := exec.Command(testutil.RequireTool(t, "gcc"), "-shared", "-fPIC", "-O1", "-o", lib, plugin).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	firer := stapsdttest.Build(t)

	var dynWant, plugWant, goWant []string
	for i := 1; i <= 4; i++ {
		dynWant = append(dynWant, fmt.Sprintf("%d dyn-%d %d", -1000*i-7, i, 3-2*i))
	}
	for i := 0; i < 5; i++ {
		plugWant = append(plugWant, fmt.Sprintf("%d plug", i*3+1))
	}
	for i := 1; i <= 6; i++ {
		goWant = append(goWant, fmt.Sprintf("%s%d %d", stapsdttest.RequestPathPrefix, i, i))
	}
	for _, tc := range []struct {
		name, probe, printf string
		cmd, gated          []string
		want                []string
	}{
		{"memfd", "usdt::uscope_dyn:hit", `printf("got %d %s %d\n", arg0, str(arg1), arg2)`,
			[]string{dyn, "4", "late"}, []string{dyn, "4", "gate"}, dynWant},
		{"dlopen", "usdt::uscope_plugin:hit", `printf("got %d %s\n", arg0, str(arg1))`,
			[]string{host, lib, "plugin_hit"}, []string{host, lib, "plugin_hit", "wait"}, plugWant},
		{"go", "usdt::" + stapsdttest.Provider + ":" + stapsdttest.ProbeRequestStart, `printf("got %s %d\n", str(arg0), arg1)`,
			[]string{firer, "-late", "6", "-after", "1s"}, []string{firer, "-late", "6", "-gate"}, goWant},
	} {
		prog := tc.probe + " { " + tc.printf + "; @hits = count(); }"
		check := func(t *testing.T, out string) {
			t.Helper()
			want := slices.Sorted(slices.Values(tc.want)) // prefixed sorts
			if got := prefixed(out, "got "); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q\n%s", got, want, out)
			}
			wantLines(t, out, fmt.Sprintf("@hits: %d", len(tc.want)))
		}
		t.Run(tc.name+" -c", func(t *testing.T) {
			r := runUscope(t, "run", "-c", strings.Join(tc.cmd, " "), "-e", prog)
			if r.code != 0 || !strings.Contains(r.stderr, "Waiting for "+tc.probe) {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			check(t, r.stdout)
		})
		t.Run(tc.name+" -p", func(t *testing.T) {
			out := traceGated(t, func(pid string) []string {
				return []string{"run", "-p", pid, "-e", prog}
			}, tc.gated[0], tc.gated[1:]...)
			check(t, out)
		})
		// The provider in a descendant that execs the program: the exec
		// is seen (sched_process_exec) and the new program hooked.
		t.Run(tc.name+" -c descendant", func(t *testing.T) {
			r := runUscope(t, "run", "-c", "sh -c '"+strings.Join(tc.cmd, " ")+"; true'", "-e", prog)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			check(t, r.stdout)
		})
	}
}

// TestLateUSDTNeverAppears: a -c command that ends without creating the
// provider ends the wait with the probe's error, exit 1.
func TestLateUSDTNeverAppears(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "run", "-c", "true", "-e", "usdt::nosuch_provider:hit { @ = count(); }")
	if r.code != 1 || !strings.Contains(r.stderr, "ended before the probes appeared") || !strings.Contains(r.stderr, `no USDT probe matches "nosuch_provider:hit"`) {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
