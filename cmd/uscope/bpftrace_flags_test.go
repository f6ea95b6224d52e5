package main

import (
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
