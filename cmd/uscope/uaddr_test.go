package main

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestUaddr: uaddr("sym") points at a global of the probed binary, typed
// by the symbol's size (bpftrace's call.uaddr tests), in an executable
// linked at a fixed address and in a PIE; a name that is not there is one
// line with a near name. ctx reads the probe's registers.
func TestUaddr(t *testing.T) {
	testutil.RequireRoot(t)
	src := `
#define NOINLINE __attribute__((noinline))
int GLOBAL_A = 0x55555555;
short GLOBAL_S = 0x1234;
long long GLOBAL_L = 0x1122334455667788LL;
NOINLINE int probed(int x) { __asm__ volatile(""); return x + 1; }
int main(void) { return probed(0) - 1; }
`
	for _, pie := range []bool{false, true} {
		flags := []string{"-O1", "-no-pie", "-fno-pie"}
		if pie {
			flags = []string{"-O1", "-fPIE", "-pie"}
		}
		bin := testutil.BuildC(t, "globals", src, flags...)
		out := runOK(t, "run", "-c", bin, "-e", "uprobe:"+bin+`:probed { printf("%x %x %lx\n", *uaddr("GLOBAL_A"), *uaddr("GLOBAL_S"), *uaddr("GLOBAL_L")); exit(); }`)
		wantLines(t, out, "55555555 1234 1122334455667788")
	}
	bin := testutil.BuildC(t, "globals", src, "-O1")
	// ctx is the probe's pt_regs, read through a cast with
	// probe_read_kernel: its di is arg0.
	regs := "struct r { unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di; } "
	wantLines(t, runOK(t, "run", "-c", bin, "-e", regs+"uprobe:"+bin+`:probed { printf("%d %d\n", ((struct r *)ctx)->di == arg0, arg0); exit(); }`), "1 0")
	r := runUscope(t, "run", "-c", bin, "-e", "uprobe:"+bin+`:probed { print(*uaddr("GLOBAL_B")); }`)
	if r.code != 1 || !strings.Contains(r.stderr, `no such symbol`) || !strings.Contains(r.stderr, "did you mean GLOBAL_") {
		t.Errorf("missing symbol: exit %d\n%s", r.code, r.stderr)
	}
}
