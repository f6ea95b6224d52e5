package main

import (
	"fmt"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestRunSarg: bpftrace 0.17's sargN are the 64-bit words above the return
// address at a function's entry: widths() of testdata/args.c takes eight
// arguments, so its seventh and eighth (arg6, arg7) are sarg0 and sarg1
// (bpftrace 0.17's builtin test: too_many_args' stack arguments).
func TestRunSarg(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	prog := fmt.Sprintf(`uprobe:%s:widths { printf("sarg %%ld %%lu %%d\n", (int64)sarg0, sarg1, sarg0 == arg6); }`, bin)
	r := runUscope(t, "run", "-c", bin, "-e", prog)
	if r.code != argsExit {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "sarg -5000000000 18000000000000000000 1")
}
