package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestBpftraceRunFlags: bpftrace's flags that `uscope run` takes with
// bpftrace's meaning (its runtime suite's probe_filter and strerror
// tests): --probe-filter keeps the matching attach points and BEGIN/END,
// --include errno.h gives the errno constants, --usdt-file-activation is
// accepted; list 'interval:*' lists the interval forms.
func TestBpftraceRunFlags(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "run", "--probe-filter", "interval:ms:(200|300)", "-e",
		`BEGIN { printf("begin\n"); } interval:ms:100 { printf("bad\n"); exit(); } interval:ms:200 { printf("a\n"); } interval:ms:300 { printf("b\n"); exit(); } END { printf("end\n"); }`)
	if r.code != 0 || strings.Contains(r.stdout, "bad") {
		t.Fatalf("--probe-filter: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "begin", "a", "b", "end")
	r = runUscope(t, "run", "--include", "errno.h", "--usdt-file-activation", "-e", `BEGIN { print(strerror(EPERM)); printf("%d\n", ENOENT); exit(); }`)
	if r.code != 0 {
		t.Fatalf("--include errno.h: exit %d\n%s", r.code, r.stderr)
	}
	wantLines(t, r.stdout, "Operation not permitted", "2")
	for _, bad := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--probe-filter", "[x", "-e", "BEGIN { exit(); }"}, "Invalid --probe-filter regex"},
		{[]string{"--probe-filter", "nothing", "-e", "interval:ms:1 { exit(); }"}, "No probes to attach"},
		{[]string{"--include", "linux/sched.h", "-e", "BEGIN { exit(); }"}, "uscope has no C preprocessor"},
	} {
		r := runUscope(t, append([]string{"run"}, bad.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, bad.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("run %q: exit %d, want 1 and one line with %q\n%s", bad.args, r.code, bad.msg, r.stderr)
		}
	}
	out := runOK(t, "list", "interval:*")
	if strings.TrimSpace(out) != "interval:hz:\ninterval:us:\ninterval:ms:\ninterval:s:" {
		t.Errorf("list 'interval:*':\n%s", out)
	}
}

// TestBenchMode: --mode bench times each bench:NAME probe after BEGIN and
// before END, and prints bpftrace's table (or one benchmark_result per
// probe with -f json); the counts the probes kept equal the iterations.
func TestBenchMode(t *testing.T) {
	testutil.RequireRoot(t)
	out := runOK(t, "run", "--mode", "bench", "-e", `BEGIN { printf("begin\n"); } bench:a { @a = count(); } bench:b { @b = count(); } END { printf("end\n"); }`)
	re := regexp.MustCompile(`(?m)^begin\nBenchmark {32}Time\(ns\) {7}Iterations\n-{66}\na {40}(\d+) +(\d+)\nb {40}(\d+) +(\d+)\nend\n`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no benchmark table:\n%s", out)
	}
	wantLines(t, out, "@a: "+m[2], "@b: "+m[4])
	js := runOK(t, "run", "-q", "-f", "json", "--mode", "bench", "-e", `bench:x { @x = count(); }`)
	if !regexp.MustCompile(`(?m)^\{"type": "benchmark_result", "data": \{"x": \{"average": \d+, "iters": \d+\}\}\}$`).MatchString(js) {
		t.Errorf("json:\n%s", js)
	}
	for _, bad := range [][]string{
		{"run", "-e", "bench:x { }"},
		{"run", "--mode", "bench", "-e", "BEGIN { exit(); }"},
		{"run", "--mode", "fast", "-e", "BEGIN { exit(); }"},
	} {
		if r := runUscope(t, bad...); r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%q: exit %d, want 1 with one line\n%s", bad, r.code, r.stderr)
		}
	}
}

// TestDebuginfoDirs: --debuginfo DIR finds the debug file of a stripped
// binary by its name (DIR/NAME.debug, as bpftrace's --debuginfo), for
// list -v's signature and for args in a probe; without it there is none.
func TestDebuginfoDirs(t *testing.T) {
	testutil.RequireRoot(t)
	objcopy := testutil.RequireTool(t, "objcopy")
	full := testutil.BuildC(t, "dbg", `
#define NOINLINE __attribute__((noinline))
NOINLINE int probed(int count, char c) { __asm__ volatile(""); return count + c; }
int main(void) { return probed(2, 'x') == 0; }
`, "-O0", "-g")
	dir := t.TempDir()
	dbgDir := filepath.Join(dir, "debug")
	bin := filepath.Join(dir, "dbg-stripped")
	for _, args := range [][]string{{"--only-keep-debug", full, filepath.Join(dbgDir, "dbg-stripped.debug")}, {"--strip-debug", full, bin}} {
		if err := os.MkdirAll(dbgDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(objcopy, args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy %q: %v\n%s", args, err, out)
		}
	}
	ap := "uprobe:" + bin + ":probed"
	wantLines(t, runOK(t, "list", "-v", ap, "--debuginfo", filepath.Join(dir, "nothing"), "--debuginfo", dbgDir), ap, "    int count", "    char c")
	if out := runOK(t, "list", "-v", ap); strings.Contains(out, "int count") {
		t.Errorf("a signature without --debuginfo:\n%s", out)
	}
	wantLines(t, runOK(t, "run", "--debuginfo", dbgDir, "-c", bin, "-e", ap+` { printf("%d %c\n", args.count, args.c); exit(); }`), "2 x")
}
