package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestProgramWarnings: the warnings bpftrace prints, in its words, at
// compile time (an unused map, an unreachable statement) and while the
// probes run (a division by zero, which gives 1; a C array index out of
// bounds), each once with its caret; --no-warnings drops them; the
// program's output is unchanged.
func TestProgramWarnings(t *testing.T) {
	testutil.RequireRoot(t)
	src := `struct A { int x[4]; }
uprobe:BIN:arr { $y = (uint64)100; $a = (struct A *)arg0; @x = $a.x[$y]; }
BEGIN { @d = 0; $i = 0; while ($i < 3) { @r = (uint64)10 / (uint64)@d; $i++; } }
uprobe:BIN:arr { exit(); @never = 1; }
`
	bin := testutil.BuildC(t, "arr", `
#define NOINLINE __attribute__((noinline))
struct A { int x[4]; };
NOINLINE void arr(struct A *a) { __asm__ volatile("" :: "r"(a) : "memory"); }
int main(void) { struct A a = {{1, 2, 3, 4}}; for (int i = 0; i < 200; i++) { arr(&a); usleep(10000); } return 0; }
`, "-O1", "-include", "unistd.h")
	prog := filepath.Join(t.TempDir(), "w.bt")
	if err := os.WriteFile(prog, []byte("let @unused = hash(8);\n"+strings.ReplaceAll(src, "BIN", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runUscope(t, "run", "-c", bin, prog)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{
		"WARNING: Unused map: @unused",
		"WARNING: Unreachable statement",
		"WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. 1 is being used as the result.",
		"WARNING: Array access out of bounds. This can lead to unexpected results.",
	} {
		if n := strings.Count(r.stderr, w); n != 1 {
			t.Errorf("stderr has %q %d times, want once\n%s", w, n, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "@r: 1") {
		t.Errorf("10 / 0 is not 1:\n%s", r.stdout)
	}
	q := runUscope(t, "run", "--no-warnings", "-c", bin, prog)
	if q.code != 0 || strings.Contains(q.stderr, "WARNING") {
		t.Errorf("--no-warnings: exit %d\n%s", q.code, q.stderr)
	}
}

// TestHelperErrorsLookup: with -k, a read of a key the map does not hold
// warns once at its place, in bpftrace's words (runtime test
// other.runtime_error_check_lookup); without -k it reads 0 silently.
func TestHelperErrorsLookup(t *testing.T) {
	testutil.RequireRoot(t)
	prog := `BEGIN { @[1] = 1; $i = 0; while ($i < 3) { printf("%d\n", @[2]); $i++; } exit(); }`
	r := runUscope(t, "run", "-k", "-e", prog)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "0\n0\n0\n") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{
		"stdin:1:59-63: WARNING: Can't lookup map element because it does not exist.\n",
		"\nAdditional Info - helper: map_lookup_elem, retcode: 0\n",
		"\n" + prog + "\n" + strings.Repeat(" ", 58) + "~~~~\n",
	} {
		if n := strings.Count(r.stderr, w); n != 1 {
			t.Errorf("stderr has %q %d times, want once\n%s", w, n, r.stderr)
		}
	}
	if r := runUscope(t, "run", "-e", prog); r.code != 0 || strings.Contains(r.stderr, "WARNING") {
		t.Errorf("without -k: exit %d, stderr %q", r.code, r.stderr)
	}
}
