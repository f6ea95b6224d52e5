package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// goBuild is one way of building testdata/goprog.go.txt.
type goBuild struct {
	name  string
	env   []string
	flags []string
	// stripped builds have no DWARF: probes read registers (goarg).
	stripped bool
	needs    string // a tool the build needs, or ""
}

// secondGoToolchain is an older Go release the tests also build with, when
// GOTOOLCHAIN can get it (goid sits at another offset in runtime.g there).
const secondGoToolchain = "go1.24.0"

var goBuilds = []goBuild{
	{name: "plain"},
	{name: "stripped", flags: []string{"-ldflags=-s -w"}, stripped: true},
	{name: "pie", flags: []string{"-buildmode=pie"}},
	{name: "pie-stripped", flags: []string{"-buildmode=pie", "-ldflags=-s -w"}, stripped: true},
	{name: "static", env: []string{"CGO_ENABLED=0"}},
	{name: "cgo", env: []string{"CGO_ENABLED=1"}, needs: "gcc"},
	{name: "go1.24", env: []string{"GOTOOLCHAIN=" + secondGoToolchain}},
	{name: "go1.24-stripped", env: []string{"GOTOOLCHAIN=" + secondGoToolchain}, flags: []string{"-ldflags=-s -w"}, stripped: true},
}

var (
	goProgMu    sync.Mutex
	goProgBuilt = map[string]string{}
)

// goProgram builds the Go test program one way (once per test binary run).
func goProgram(t *testing.T, b goBuild) string {
	t.Helper()
	goProgMu.Lock()
	defer goProgMu.Unlock()
	if p, ok := goProgBuilt[b.name]; ok {
		return p
	}
	if b.needs != "" {
		testutil.RequireTool(t, b.needs)
	}
	for _, e := range b.env {
		if v, ok := strings.CutPrefix(e, "GOTOOLCHAIN="); ok {
			requireGoToolchain(t, v)
		}
	}
	src, err := os.ReadFile("testdata/goprog.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	built := testutil.BuildGo(t, "goprog", string(src), b.env, b.flags...)
	// BuildGo's directory belongs to the test that built it; keep the
	// binary for the whole run, next to uscope (TestMain removes both).
	dst := filepath.Join(filepath.Dir(uscopeBin), "goprog-"+b.name)
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	goProgBuilt[b.name] = dst
	return dst
}

// requireGoToolchain skips the test when GOTOOLCHAIN cannot provide version
// v (no network and not in the module cache).
func requireGoToolchain(t *testing.T, v string) {
	t.Helper()
	if err := goToolchainErr(v); err != nil {
		t.Skip(err)
	}
}

// goToolchainErr says why GOTOOLCHAIN cannot run Go version v, or nil.
func goToolchainErr(v string) error {
	cmd := exec.Command("go", "version")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+v, "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), v) {
		return fmt.Errorf("Go toolchain %s not available: %v %s", v, err, out)
	}
	return nil
}

// passed returns the values the program reports having passed: its lines
// "passed X" as X.
func passed(out string) []string {
	var vals []string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "passed "); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// wantAll checks that every line in want is a line of out.
func wantAll(t *testing.T, out string, want []string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		have[l] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("output lacks line %q\n--- output:\n%s", w, out)
		}
	}
}

// goArgsProgram is the probe program for one build: by name with DWARF,
// by register and stack slot without.
func goArgsProgram(bin string, stripped bool) string {
	if stripped {
		return fmt.Sprintf(`
uprobe:%[1]s:main.widths {
	printf("w %%d %%d %%d %%ld %%u %%u %%u %%lu %%d %%u\n", (int8)goarg(0), (int16)goarg(1), (int32)goarg(2), (int64)goarg(3),
		(uint8)goarg(4), (uint16)goarg(5), (uint32)goarg(6), goarg(7), (int64)arg8, *(uint16*)(reg("sp") + 8));
}
uprobe:%[1]s:main.values {
	printf("v %%s %%d %%d %%d %%d %%d %%s %%d %%d %%#lx %%#lx\n", str(goarg(0), goarg(1)), goarg(3), goarg(4),
		*(int64*)goarg(2), *(int64*)(goarg(2) + 8), (int32)goarg(5), str(goarg(6), goarg(7)), (uint8)goarg(8),
		*(int32*)*(uint64*)(reg("sp") + 8), *(uint64*)(reg("sp") + 16), **(uint64**)(reg("sp") + 16));
	printf("p { .A = %%d, .B = %%s, .C = %%d }\n", (int32)goarg(5), str(goarg(6), goarg(7)), (uint8)goarg(8));
}
uretprobe:%[1]s:main.named { printf("n %%d %%s\n", retval, str(goarg(1), goarg(2))); }
uprobe:%[1]s:main.work { printf("g %%d\n", goid); }
uprobe:%[1]s:main.floaty { printf("f { .x = (unavailable: float in xmm0), .n = %%d }\n", goarg(0)); }
`, bin)
	}
	return fmt.Sprintf(`
uprobe:%[1]s:main.widths {
	printf("w %%d %%d %%d %%ld %%u %%u %%u %%lu %%d %%u\n", args.a, args.b, args.c, args.d, args.e, args.f, args.g, args.h, args.i, args.u);
}
uprobe:%[1]s:main.values {
	printf("v %%s %%d %%d %%d %%d %%d %%s %%d %%d %%#lx %%#lx\n", str(args.s), len(args.sl), args.sl.cap, args.sl[0], args.sl[1],
		args.p.A, args.p.B, args.p.C, args.pp.A, args.fn, *(uint64*)args.fn);
	printf("p ");
	print(args.p);
}
uretprobe:%[1]s:main.named { printf("n %%d %%s\n", args.sum, args.msg); }
uprobe:%[1]s:main.work { printf("g %%d\n", goid); }
uprobe:%[1]s:main.floaty { printf("f "); print(args); }
`, bin)
}

// TestGoArguments traces a Go program built every way: each value a probe
// prints equals what the program passed.
func TestGoArguments(t *testing.T) {
	testutil.RequireRoot(t)
	for _, b := range goBuilds {
		t.Run(b.name, func(t *testing.T) {
			bin := goProgram(t, b)
			r := runUscope(t, "run", "-c", bin+" args", "-e", goArgsProgram(bin, b.stripped))
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			want := passed(r.stdout)
			if len(want) != 5+5 {
				t.Fatalf("the program reported %d values, want 10\n%s", len(want), r.stdout)
			}
			wantAll(t, r.stdout, want)
		})
	}
}

// TestGoPrintArgs prints every parameter at once.
func TestGoPrintArgs(t *testing.T) {
	testutil.RequireRoot(t)
	bin := goProgram(t, goBuilds[0])
	r := runUscope(t, "run", "-c", bin+" args", "-e", fmt.Sprintf(`uprobe:%s:main.widths { print(args); }`, bin))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	wantLines(t, r.stdout, "{ .a = -5, .b = -1234, .c = -100000, .d = -5000000000, .e = 250, .f = 65000, .g = 4000000000, .h = 18000000000000000000, .i = 42, .u = 65535 }")
}

// TestGoReturnsWithStackGrowth probes entry and returns of a function that
// recurses deeply enough to grow (and move) its goroutine's stack, in 1,000
// goroutines: the program runs to its normal end, and every call is seen
// once at entry and once at return.
func TestGoReturnsWithStackGrowth(t *testing.T) {
	testutil.RequireRoot(t)
	for _, b := range []goBuild{goBuilds[0], goBuilds[2]} {
		t.Run(b.name, func(t *testing.T) {
			bin := goProgram(t, b)
			const goroutines, depth = 1000, 200
			r := runUscope(t, "run", "-c", fmt.Sprintf("%s recurse %d %d", bin, goroutines, depth), "-e",
				fmt.Sprintf(`uprobe:%[1]s:main.recurse { @calls = count(); } uretprobe:%[1]s:main.recurse { @returns = count(); }`, bin))
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			calls := goroutines * (depth + 1)
			wantAll(t, r.stdout, []string{
				fmt.Sprintf("calls %d", calls),
				fmt.Sprintf("@calls: %d", calls),
				fmt.Sprintf("@returns: %d", calls),
			})
		})
	}
}

// TestGoHTTPPath prints the path of each request a net/http server
// handles, from its handler's *http.Request, while a client sends requests.
func TestGoHTTPPath(t *testing.T) {
	testutil.RequireRoot(t)
	bin := goProgram(t, goBuilds[0])
	port := freePort(t)
	srv := exec.Command(bin, "http", strconv.Itoa(port))
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	tr := startUscope(t, "run", "-p", strconv.Itoa(srv.Process.Pid), "-e",
		fmt.Sprintf(`uprobe:%s:main.handler { printf("path %%s %%s\n", args.r.Method, str(args.r.URL.Path)); }`, bin))
	paths := []string{"/", "/hello/world", "/a/b/c?q=1"}
	for _, p := range paths {
		var resp *http.Response
		var err error
		for i := 0; i < 100; i++ { // the server may still be starting
			if resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, p)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	tr.waitLine("path GET /a/b/c")
	out := tr.stop()
	wantLines(t, out, "path GET /", "path GET /hello/world", "path GET /a/b/c")
}

// symbolAddr returns the address of a symbol of an ELF file.
func symbolAddr(t *testing.T, path, name string) uint64 {
	t.Helper()
	return testutil.SymbolValue(t, path, name)
}

// TestGoErrors checks what uscope says when a Go value cannot be read.
func TestGoErrors(t *testing.T) {
	testutil.RequireRoot(t)
	bin := goProgram(t, goBuilds[0])
	stripped := goProgram(t, goBuilds[1])
	cases := []struct{ prog, want string }{
		{fmt.Sprintf(`uprobe:%s:main.widths { printf("%%d\n", args.nope); }`, bin), "main.widths has no parameter named nope"},
		{fmt.Sprintf(`uprobe:%s:main.widths { print(args); }`, stripped), "args needs DWARF"},
		{fmt.Sprintf(`uprobe:%s:main.widths { printf("%%d\n", arg9); }`, bin), "Go passes at most 9 integer words in registers"},
		{fmt.Sprintf(`uprobe:%s:main.named { printf("%%d\n", args.sum); }`, bin), "sum is a result: read it in a uretprobe"},
		{fmt.Sprintf(`uprobe:%s:main.values { printf("%%d\n", args.p.Z); }`, bin), "args.p (main.Pair) has no field Z\n"},
		{fmt.Sprintf(`uprobe:%s:main.floaty { printf("%%d\n", args.x); }`, bin), "args.x is unavailable (float in XMM register xmm0)"},
		{fmt.Sprintf(`uretprobe:%s:main.floaty { printf("%%d\n", args.r0); }`, bin), "args.r0 is unavailable (float in XMM register xmm0)"},
		{fmt.Sprintf(`uretprobe:%s:0x%x { printf("%%d\n", retval); }`, bin, symbolAddr(t, bin, "main.named")+4), "a uretprobe inside Go function main.named cannot be attached"},
	}
	for _, tc := range cases {
		r := runUscope(t, "run", "-e", tc.prog)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || strings.Contains(tc.want, "no field Z") && !strings.Contains(r.stderr, "\nHINT: fields: A, B, C") {
			t.Errorf("%s: exit %d, stderr %q; want %q", tc.prog, r.code, r.stderr, tc.want)
		}
	}
}

// TestGoLatency times a Go function that sleeps known durations in many
// goroutines at once: calls pair by goroutine (a sleeping goroutine leaves
// its thread to others), so each lands in its bucket.
func TestGoLatency(t *testing.T) {
	testutil.RequireRoot(t)
	for _, b := range []goBuild{goBuilds[0], goBuilds[1]} {
		t.Run(b.name, func(t *testing.T) {
			bin := goProgram(t, b)
			out := runOK(t, "latency", "-u", "-c", bin+" nap", bin+":main.nap")
			if !strings.Contains(out, "Tracing 1 functions for") {
				t.Errorf("header does not count one function:\n%s", out)
			}
			got := bccHist(t, out)
			want := map[uint64]int{bucketOf(2200): 4, bucketOf(9000): 4, bucketOf(40000): 4}
			if len(got) != len(want) {
				t.Errorf("buckets %v, want %v\n%s", got, want, out)
			}
			for b, n := range want {
				if got[b] != n {
					t.Errorf("bucket %d: %d calls, want %d\n%s", b, got[b], n, out)
				}
			}
		})
	}
}
