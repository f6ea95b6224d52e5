package main

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/testutil"
)

// cParamsProgram builds internal/cdwarf/testdata/params.c, whose main
// passes known values to functions of every C type class.
func cParamsProgram(t *testing.T, flags ...string) string {
	t.Helper()
	src, err := os.ReadFile("../../internal/cdwarf/testdata/params.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "params", string(src), flags...)
}

// TestCArgsByName reads parameters by name from DWARF at -O0 and -O2; the
// expected values are those main passes (params.c).
func TestCArgsByName(t *testing.T) {
	testutil.RequireRoot(t)
	// The last: DWARF in a separate file found by .gnu_debuglink.
	for _, opt := range [][]string{{"-O0", "-g"}, {"-O2", "-g"}, {"-O2", "-gdwarf-4"}, {"-O2", "-g", "debuglink"}} {
		t.Run(strings.Join(opt, ""), func(t *testing.T) {
			bin := cParamsProgram(t, opt[:2]...)
			if len(opt) > 2 {
				splitDebug(t, bin)
			}
			r := runUscope(t, "run", "-c", bin+" 2 1", "-e", cParamsProbes(bin))
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			wantCParams(t, r.stdout)
		})
	}
}

// TestCArgsErrors: names DWARF does not have, and args where they are not.
func TestCArgsErrors(t *testing.T) {
	testutil.RequireRoot(t)
	bin := cParamsProgram(t, "-O0", "-g")
	for _, c := range []struct{ prog, want string }{
		{`uprobe:` + bin + `:byref { print(args.x); }`, "byref has no parameter named x"},
		{`uretprobe:` + bin + `:byref { print(args.r); }`, "args are not available in a uretprobe"},
	} {
		r := runUscope(t, "run", "-e", c.prog)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.prog, r.code, r.stderr, c.want)
		}
	}
	stripped := filepath.Join(t.TempDir(), "stripped")
	if out, err := exec.Command("strip", "--strip-debug", "-o", stripped, bin).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v %s", err, out)
	}
	r := runUscope(t, "run", "-e", `uprobe:`+stripped+`:byref { print(args.r); }`)
	if r.code != 1 || !strings.Contains(r.stderr, "args needs DWARF") {
		t.Errorf("stripped: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCxxThis reads a C++ method's this->member and parameter.
func TestCxxThis(t *testing.T) {
	testutil.RequireRoot(t)
	gxx := testutil.RequireTool(t, "g++")
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "method")
			if out, err := exec.Command(gxx, opt, "-g", "-o", bin, "testdata/method.cpp").CombinedOutput(); err != nil {
				t.Fatalf("g++: %v %s", err, out)
			}
			r := runUscope(t, "run", "-c", bin, "-e",
				`uprobe:`+bin+`:"Counter::add" { printf("add %d %d %d\n", args.this->total, args.this->id, args.delta); }`)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			// total starts at 40 and grows by 1, 2, 3; id is 7.
			wantLines(t, r.stdout, "add 40 7 1", "add 41 7 2", "add 43 7 3")
		})
	}
}

// splitDebug moves bin's DWARF to bin.debug and links it by .gnu_debuglink,
// as distributions ship debug files.
func splitDebug(t *testing.T, bin string) {
	t.Helper()
	for _, args := range [][]string{
		{"objcopy", "--only-keep-debug", bin, bin + ".debug"},
		{"strip", "--strip-debug", bin},
		{"objcopy", "--add-gnu-debuglink=" + bin + ".debug", bin},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = filepath.Dir(bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	if out, _ := exec.Command("readelf", "-S", bin).Output(); strings.Contains(string(out), ".debug_info") {
		t.Fatal("strip left .debug_info")
	}
}

// TestListSignatures: `uscope list -v` prints each C function's parameters
// as bpftrace's -lv does, and --json carries them; the expectations are
// params.c's declarations.
func TestListSignatures(t *testing.T) {
	bin := cParamsProgram(t, "-O2", "-g")
	r := runUscope(t, "list", "-v", bin, "uprobe:*by*")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	wantLines(t, r.stdout,
		"uprobe:"+bin+":byref", "    struct req* r", "    struct wrap* w",
		"uprobe:"+bin+":byval", "    struct small s", "    struct pair p", "    struct big b", "    cb_t fn")
	// bpftrace's form: the pattern's target part a relative path.
	rel := exec.Command(uscopeBin, "list", "-v", "uprobe:./"+filepath.Base(bin)+":byref")
	rel.Dir = filepath.Dir(bin)
	out, err := rel.CombinedOutput()
	if err != nil {
		t.Fatalf("relative pattern: %v %s", err, out)
	}
	// The path is listed as it was written, as bpftrace lists it.
	wantLines(t, string(out), "uprobe:./"+filepath.Base(bin)+":byref", "    struct req* r")
	r = runUscope(t, "list", "--json", bin, "wide")
	if !strings.Contains(r.stdout, `"params":["int64_t g","uint64_t h","_Bool t","enum color col","char ch","const char* s"]`) {
		t.Errorf("--json: %s %s", r.stdout, r.stderr)
	}
}

// TestCArgsAtOffset reads parameters inside an -O2 function by their DWARF
// location lists: clobber(71, 72) keeps y in a callee-saved register after
// its first call, and x is dead there; reading x there is an error naming
// it and the address.
func TestCArgsAtOffset(t *testing.T) {
	testutil.RequireRoot(t)
	bin := cParamsProgram(t, "-O2", "-g")
	f, err := cdwarf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fn, err := f.Func("clobber", 0)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := fn.Param("x")
	y, _ := fn.Param("y")
	// An instruction boundary past the entry where DWARF has y in a
	// register and x nowhere: the line table's statements.
	var pc uint64
	for _, a := range statementAddrs(t, f, fn.LowPC, fn.HighPC) {
		ly, ey := fn.Location(y, a, false, arch.AMD64)
		_, ex := fn.Location(x, a, false, arch.AMD64)
		if a > fn.LowPC && ey == nil && ly.Pieces[0].Kind == cdwarf.InReg && errors.Is(ex, cdwarf.ErrOptimizedOut) {
			pc = a
			break
		}
	}
	if pc == 0 {
		t.Skip("gcc left no statement where y is in a register and x is gone")
	}
	probe := fmt.Sprintf("uprobe:%s:clobber+%d", bin, pc-fn.LowPC)
	r := runUscope(t, "run", "--exact-entry", "-c", bin+" 2", "-e", probe+` { printf("y=%d\n", args.y); }`)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "y=72", "y=72")
	r = runUscope(t, "run", "-c", bin+" 1", "-e", probe+` { printf("x=%d\n", args.x); }`)
	want := fmt.Sprintf("x is optimized out at %#x", pc)
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 3 {
		t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

// statementAddrs are the is_stmt addresses of the line table in [lo, hi).
func statementAddrs(t *testing.T, f *cdwarf.File, lo, hi uint64) []uint64 {
	t.Helper()
	var out []uint64
	r := f.Data().Reader()
	for {
		cu, err := r.Next()
		if err != nil || cu == nil {
			return out
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lr, err := f.Data().LineReader(cu)
		if err == nil && lr != nil {
			var le dwarf.LineEntry
			for lr.Next(&le) == nil {
				if le.IsStmt && le.Address >= lo && le.Address < hi {
					out = append(out, le.Address)
				}
			}
		}
		r.SkipChildren()
	}
}

// TestLineProbeLocals: a uprobe on a source line in main's loop fires as
// many times as the loop runs, at -O0 and -O2, and locals.i there prints
// the loop variable's values in order; a variable DWARF says is optimized
// out there is a one-line error naming it and the address.
func TestLineProbeLocals(t *testing.T) {
	testutil.RequireRoot(t)
	line := paramsLine(t, "ints(-5, 250")
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := cParamsProgram(t, opt, "-g")
			probe := fmt.Sprintf("uprobe:%s@params.c:%d", bin, line)
			r := runUscope(t, "run", "-c", bin+" 4", "-e", probe+` { @hits = count(); printf("i=%d n=%d\n", locals.i, locals.n); }`)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			wantLines(t, r.stdout, "i=0 n=4", "i=1 n=4", "i=2 n=4", "i=3 n=4", "@hits: 4")
			if strings.Count(r.stdout, "i=") != 4 {
				t.Errorf("the line fired %d times, want 4:\n%s", strings.Count(r.stdout, "i="), r.stdout)
			}
			// A variable optimized out at one of the line's addresses.
			f, err := cdwarf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			addrs, _, err := f.LineAddrs("params.c", line)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := f.ScopeAt(addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range sc.Vars {
				if _, err := sc.Func.Location(&v, addrs[0], false, arch.AMD64); errors.Is(err, cdwarf.ErrOptimizedOut) {
					r := runUscope(t, "run", "-e", probe+` { print(locals.`+v.Name+`); }`)
					want := fmt.Sprintf("locals.%s in main: %s is optimized out at %#x", v.Name, v.Name, addrs[0])
					if r.code != 1 || !strings.Contains(r.stderr, want) {
						t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
					}
					return
				}
			}
			t.Logf("no variable is optimized out at %#x", addrs[0])
		})
	}
}

// TestInlinedInstances: with probe_inline, a uprobe on a static inline
// function inlined into three callers at -O2 counts every call (the
// program prints its own count) and reads its argument in each instance.
func TestInlinedInstances(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/inline.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "inline", string(src), "-O2", "-g")
	const n = 5
	r := runUscope(t, "run", "-c", fmt.Sprintf("%s %d", bin, n), "-e",
		`config = { probe_inline = 1 } uprobe:`+bin+`:scale { @calls = count(); @v[args.v] = count(); }`)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var own int
	if _, err := fmt.Sscanf(r.stdout[strings.Index(r.stdout, "calls "):], "calls %d", &own); err != nil {
		t.Fatalf("no count from the program: %s", r.stdout)
	}
	if own != n+n+n/2 {
		t.Fatalf("the program counted %d calls", own)
	}
	wantLines(t, r.stdout, fmt.Sprintf("@calls: %d", own))
	// a1 passes i, a2 i+100, a3 (odd i) i+200.
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("@v[%d]: 1", i))
	}
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("@v[%d]: 1", i+100))
	}
	for i := 1; i < n; i += 2 {
		want = append(want, fmt.Sprintf("@v[%d]: 1", i+200))
	}
	wantLines(t, r.stdout, want...)
	// Without probe_inline, as bpftrace: the name has no function.
	r = runUscope(t, "run", "-e", `uprobe:`+bin+`:scale { @calls = count(); }`)
	if r.code != 1 {
		t.Errorf("without probe_inline: exit %d, %s", r.code, r.stderr)
	}
}

// cParamsProbes reads every parameter class of params.c by name.
func cParamsProbes(bin string) string {
	return fmt.Sprintf(`
uprobe:%[1]s:ints { print(args); }
uprobe:%[1]s:wide { printf("w %%ld %%lu %%d %%d %%c %%s\n", args.g, args.h, args.t, args.col, args.ch, str(args.s)); }
uprobe:%[1]s:byref { printf("r %%d %%d %%s %%d %%d %%s %%d\n", args.r->id, args.r->hdr.len, args.r->hdr.tag, args.w->req->hp->len, args.w->req->hp->flags, str(args.r->path), args.r->vals[2]); print(args.r->vals); }
uprobe:%[1]s:byref { printf("c %%d %%s\n", ((struct req *)arg0)->hdr.len, ((struct req *)arg0)->hdr.tag); }
uprobe:%[1]s:byval { print(args.s); printf("v %%d %%ld %%ld %%ld %%ld\n", args.s.b, args.p.x, args.p.y, args.b.a, args.b.c); print(args.fn); }
uretprobe:%[1]s:getreq { printf("ret %%d\n", retval->id); }
`, bin)
}

// wantCParams checks the values params.c's main passes.
func wantCParams(t *testing.T, out string) {
	t.Helper()
	wantLines(t, out,
		"{ .a = -5, .b = 250, .c = -30000, .d = 65000, .e = -2000000000, .f = 4000000000 }",
		fmt.Sprintf("w %d 18000000000000000000 1 6 x a string", -(int64(1)<<50)),
		"r 17 99 hello 4242 7 /srv/index.html 3",
		"[1,2,3]",
		"c 99 hello",
		"{ .a = 11, .b = -12 }",
		fmt.Sprintf("v -12 %d -5 100 300", int64(1)<<40),
		"callback",
		"ret 1234",
		"ret 1235",
	)
}

// TestDebuginfod serves the debug file of a binary stripped of its DWARF
// (and with no debuglink) from a real debuginfod (elfutils', Debian's
// debuginfod package) on loopback: DEBUGINFOD_URLS gives the same results
// as the unstripped binary.
func TestDebuginfod(t *testing.T) {
	testutil.RequireRoot(t)
	server := testutil.RequireTool(t, "debuginfod")
	dir := t.TempDir()
	bin := cParamsProgram(t, "-O2", "-g")
	srv := filepath.Join(dir, "srv")
	if err := os.Mkdir(srv, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"objcopy", "--only-keep-debug", bin, filepath.Join(srv, "params.debug")},
		{"strip", "--strip-debug", bin},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	id := buildIDOf(t, bin)
	port := freePort(t)
	cmd := exec.Command(server, "-F", "-p", fmt.Sprint(port), "-d", filepath.Join(dir, "db.sqlite"), "-t", "1", srv)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Wait until the server has indexed the file (it scans at start).
	ready := false
	for i := 0; i < 600 && !ready; i++ {
		resp, err := http.Get(url + "/buildid/" + id + "/debuginfo") // it serves GET only
		if err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
		if !ready {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatalf("debuginfod at %s never served build-id %s", url, id)
	}
	env := []string{"DEBUGINFOD_URLS=" + url, "DEBUGINFOD_CACHE_PATH=" + filepath.Join(dir, "cache")}
	out := runUscopeEnv(t, env, "run", "-c", bin+" 2 1", "-e", cParamsProbes(bin))
	wantCParams(t, out)
	if _, err := os.Stat(filepath.Join(dir, "cache", id, "debuginfo")); err != nil {
		t.Errorf("the debug file is not in the cache: %v", err)
	}
}

func buildIDOf(t *testing.T, path string) string {
	t.Helper()
	f, err := elfx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.BuildID() == "" {
		t.Fatalf("%s has no build-id", path)
	}
	return f.BuildID()
}

// TestPackedBitFieldAcrossByte reads bit-fields of packed structs that
// cross the byte of their char unit, or the unit of their short, both
// from a struct the program defines and from DWARF: each is read as the
// bytes that hold it (gcc puts y in bits 5-9 of struct P).
func TestPackedBitFieldAcrossByte(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "packedbf", `
struct P { char x:5, y:5; } __attribute__((packed));
struct Q { unsigned short a:3; unsigned int b:20; } __attribute__((packed));
__attribute__((noinline)) void f(struct P *p, struct Q *q) { __asm__ volatile("" :: "r"(p), "r"(q) : "memory"); }
int main(void) {
	struct P p = {0}; struct Q q = {0};
	p.x = 3; p.y = 13; q.a = 5; q.b = 700001;
	f(&p, &q);
	return 0;
}
`, "-g", "-O1", "-Wno-packed-bitfield-compat")
	for _, c := range []struct{ name, prog, want string }{
		{"program struct", `struct P { char x:5, y:5; } __attribute__((packed))
uprobe:` + bin + `:f { $p = (struct P *)arg0; printf("%d %d\n", $p->x, $p->y); }`, "3 13"},
		{"DWARF", `uprobe:` + bin + `:f { printf("%d %d %d %d\n", args.p->x, args.p->y, args.q->a, args.q->b); }`, "3 13 5 700001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runUscope(t, "run", "-c", bin, "-e", c.prog)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			wantLines(t, r.stdout, c.want)
		})
	}
}
