package main

import (
	"fmt"
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

// TestHelperErrorsRead: with -k, a read of user memory that fails warns
// once at the pointer read through, with the helper and its return code:
// bpftrace main's json-output.helper_error, whose object this is, and its
// text form; without -k the read gives 0 silently.
func TestHelperErrorsRead(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "helper_error_test", `#include <stdio.h>
struct foo { int a; };
void test_helper_error(struct foo *ptr) { printf("test %llu\n", (long long unsigned)ptr); }
int main() { test_helper_error(NULL); return 0; }
`, "-O0")
	prog := `struct foo {int a;}; uprobe:` + bin + `:test_helper_error { $tmp = ((struct foo*) arg0).a; exit(); }`
	col := strings.Index(prog, "(struct foo*)") + 1
	r := runUscope(t, "run", "-k", "-q", "-f", "json", "-c", bin, "-e", prog)
	want := fmt.Sprintf(`{"type": "helper_error", "msg": "Bad address", "helper": "probe_read_user", "retcode": -14, "filename": "stdin", "line": 1, "col": %d}`, col)
	if r.code != 0 || strings.Count(r.stdout, want+"\n") != 1 {
		t.Errorf("exit %d, want one line %s in stdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	r = runUscope(t, "run", "-k", "-c", bin, "-e", prog)
	for _, w := range []string{
		fmt.Sprintf("stdin:1:%d-%d: WARNING: Bad address\n", col, col+1),
		"\nAdditional Info - helper: probe_read_user, retcode: -14\n",
	} {
		if n := strings.Count(r.stderr, w); r.code != 0 || n != 1 {
			t.Errorf("exit %d: stderr has %q %d times, want once\n%s", r.code, w, n, r.stderr)
		}
	}
	if r := runUscope(t, "run", "-c", bin, "-e", prog); r.code != 0 || strings.Contains(r.stderr, "WARNING") {
		t.Errorf("without -k: exit %d, stderr %q", r.code, r.stderr)
	}
}
