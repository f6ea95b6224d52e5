package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// buildThrow compiles testdata/throw.cc: 2000 calls of level1 → level2 →
// level3, the odd ones thrown through all three frames from level3 and
// caught in main. Each frame runs a destructor on the way out.
func buildThrow(t *testing.T) string {
	t.Helper()
	gxx := testutil.RequireTool(t, "g++")
	bin := filepath.Join(t.TempDir(), "throw")
	if out, err := exec.Command(gxx, "-O2", "-o", bin, "testdata/throw.cc").CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	return bin
}

// TestCxxReturnProbes: uretprobes on C++ functions that exceptions unwind
// through sit on their exits, so the program runs as it does untraced
// (exit 0, its own output), and the returns counted equal the calls: 1000
// returns by RET and 1000 exits by unwinding, seen at each frame's landing
// pad (its call of _Unwind_Resume after the destructor ran). A probe that
// reads retval sees the 1000 real returns only. --kernel-uretprobe keeps
// the kernel's trampoline, with which the C++ runtime calls std::terminate
// (exit 134), as bpftrace's uretprobes do.
func TestCxxReturnProbes(t *testing.T) {
	testutil.RequireRoot(t)
	bin := buildThrow(t)
	points := func(kind string) string {
		var p []string
		for _, fn := range []string{"_Z6level1l", "_Z6level2l", "_Z6level3l"} {
			p = append(p, kind+":"+bin+":"+fn)
		}
		return strings.Join(p, ", ")
	}
	r := runUscope(t, "run", "-c", bin, "-e", points("uprobe")+" { @calls[func] = count(); } "+points("uretprobe")+" { @rets[func] = count(); }")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "caught 1000 sum 2999000")
	for _, fn := range []string{"level1(long)", "level2(long)", "level3(long)"} {
		wantLines(t, r.stdout, "@calls["+fn+"]: 2000")
		wantLines(t, r.stdout, "@rets["+fn+"]: 2000")
	}

	r = runUscope(t, "run", "-c", bin, "-e", "uretprobe:"+bin+":_Z6level3l { @even[retval % 2 == 0] = count(); @sum = sum(retval); }")
	if r.code != 0 {
		t.Fatalf("retval: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// level3(i) returns 3i for the 1000 even i below 2000.
	wantLines(t, r.stdout, "caught 1000 sum 2999000", "@even[true]: 1000", "@sum: 2997000")

	r = runUscope(t, "run", "--kernel-uretprobe", "-c", bin, "-e", points("uretprobe")+" { @rets[func] = count(); }")
	if r.code != 134 || !strings.Contains(r.stderr, "terminate called") || !strings.Contains(r.stderr, "SIGABRT") {
		t.Errorf("--kernel-uretprobe: exit %d, want 134 with std::terminate named\n%s", r.code, r.stderr)
	}
}
