package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// The call tree of the stack tests' programs: leaf is reached 3 times
// through main;a;b, once through main;c and twice from main itself.
// noinline and the work after each call keep every frame (no inlining, no
// tail calls) at any optimization level.
const treeC = `
#define NOINLINE __attribute__((noinline))
volatile long sink;
NOINLINE void leaf(int x) { sink += x; }
NOINLINE void b(int x) { leaf(x); sink++; }
NOINLINE void a(int x) { b(x); sink++; }
NOINLINE void c(int x) { leaf(x); sink++; }
int main(void) {
	for (int i = 0; i < 3; i++) a(i);
	c(1);
	leaf(2); sink++;
	leaf(3); sink++;
	return 0;
}
`

// treeWant is the tree as folded paths from main down, with their counts.
var treeWant = []string{"main;a;b;leaf 3", "main;c;leaf 1", "main;leaf 2"}

// foldedFromMain returns the folded lines of out cut to start at the frame
// named main (or main.main), sorted; it fails the test on a line that has
// no main frame or an [unknown] frame below main.
func foldedFromMain(t *testing.T, out, main string) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		i := strings.Index(l, ";"+main+";")
		if i < 0 {
			t.Errorf("folded line %q has no %s frame", l, main)
			continue
		}
		rest := l[i+1:]
		if strings.Contains(rest, "[unknown]") {
			t.Errorf("folded line %q has an [unknown] frame below %s", l, main)
		}
		got = append(got, rest)
	}
	sort.Strings(got)
	return got
}

func checkTree(t *testing.T, bin, leaf, main string, want []string) {
	t.Helper()
	out := runOK(t, "stack", "-f", "-c", bin, bin+":"+leaf)
	got := foldedFromMain(t, out, main)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stack -f on %s:\n%s\nwant the paths (from %s down):\n%s", leaf, out, main, strings.Join(want, "\n"))
	}
}

// TestStackFramelessCaller: at a function's entry the probed function has
// no frame yet, so a frame-pointer walk alone loses its caller
// (main;a;leaf for main;a;b;leaf); the caller comes from [sp]. -O0 leaves
// start with push %rbp, -O2 leaves have no frame at all.
func TestStackFramelessCaller(t *testing.T) {
	testutil.RequireRoot(t)
	for _, flags := range [][]string{
		{"-O0", "-fno-omit-frame-pointer"},
		{"-O2", "-fno-omit-frame-pointer"},
		{"-O2", "-fno-omit-frame-pointer", "-fcf-protection=full"}, // endbr64 first
	} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			bin := testutil.BuildC(t, "tree", treeC, flags...)
			checkTree(t, bin, "leaf", "main", treeWant)
		})
	}
}

// TestStackFramelessCallerCXX: the same tree in C++ methods of a template,
// named demangled.
func TestStackFramelessCallerCXX(t *testing.T) {
	checkCXXTree(t, "-O2", "-fno-omit-frame-pointer")
}

// checkCXXTree builds the C++ tree with the flags given and checks its
// stacks.
func checkCXXTree(t *testing.T, flags ...string) {
	t.Helper()
	testutil.RequireRoot(t)
	gxx := testutil.RequireTool(t, "g++")
	src := `
#define NOINLINE __attribute__((noinline))
volatile long sink;
template <typename T> struct W {
	NOINLINE static void leaf(T x) { sink += x; }
	NOINLINE static void b(T x) { leaf(x); sink++; }
	NOINLINE static void a(T x) { b(x); sink++; }
	NOINLINE static void c(T x) { leaf(x); sink++; }
};
int main() {
	for (int i = 0; i < 3; i++) W<int>::a(i);
	W<int>::c(1);
	W<int>::leaf(2); sink++;
	W<int>::leaf(3); sink++;
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tree.cc"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "treecc")
	if b, err := exec.Command(gxx, append(flags, "-o", bin, filepath.Join(dir, "tree.cc"))...).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, b)
	}
	w := func(s string) string {
		var out []string
		for _, f := range strings.Split(s, ";") {
			if f != "main" {
				f = "W<int>::" + f + "(int)"
			}
			out = append(out, f)
		}
		return strings.Join(out, ";")
	}
	var want []string
	for _, l := range treeWant {
		path, n, _ := strings.Cut(l, " ")
		want = append(want, w(path)+" "+n)
	}
	sort.Strings(want)
	checkTree(t, bin, "_ZN1WIiE4leafEi", "main", want)
}

// TestStackFramelessCallerGo: Go entry probes sit after the stack check
// (on push %rbp); a small leaf has no stack check and no frame.
func TestStackFramelessCallerGo(t *testing.T) {
	testutil.RequireRoot(t)
	src := `package main

var sink int

//go:noinline
func leaf(x int) { sink += x }

//go:noinline
func b(x int) { leaf(x); sink++ }

//go:noinline
func a(x int) { b(x); sink++ }

//go:noinline
func c(x int) { leaf(x); sink++ }

func main() {
	for i := 0; i < 3; i++ {
		a(i)
	}
	c(1)
	leaf(2)
	sink++
	leaf(3)
	sink++
}
`
	bin := testutil.BuildGo(t, "gotree", src, []string{"CGO_ENABLED=0"})
	var want []string
	for _, l := range treeWant {
		path, n, _ := strings.Cut(l, " ")
		want = append(want, "main."+strings.ReplaceAll(path, ";", ";main.")+" "+n)
	}
	sort.Strings(want)
	checkTree(t, bin, "main.leaf", "main.main", want)
}

// TestStackModes: ustack(MODE[, N]) and the stack_mode config key print
// frames as bpftrace's modes do (the formats of bpftrace's
// tests/runtime/call ustack_stack_mode_* and builtin tests).
func TestStackModes(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "tree", treeC, "-O2", "-fno-omit-frame-pointer")
	run := func(prog string) []string {
		t.Helper()
		out := runOK(t, "run", "-c", bin, "-e", prog)
		return strings.Split(out, "\n")
	}
	framesOf := func(lines []string) []string {
		// The frames of the first map key: between "@[" and "]: N".
		var fr []string
		in := false
		for _, l := range lines {
			switch {
			case l == "@[":
				in = true
			case strings.HasPrefix(l, "]: "):
				return fr
			case in:
				fr = append(fr, l)
			}
		}
		return fr
	}
	perf := framesOf(run(`uprobe:` + bin + `:leaf { @[ustack(perf, 2)] = count(); }`))
	rePerf := regexp.MustCompile(`^\t[0-9a-f]+ (leaf|b|c|main)\+[0-9]+ \(` + regexp.QuoteMeta(bin) + `\)$`)
	if len(perf) != 2 || !rePerf.MatchString(perf[0]) || !rePerf.MatchString(perf[1]) || !strings.Contains(perf[0], " leaf+0 ") {
		t.Errorf("ustack(perf, 2) frames = %q, want 2 of \"\\tADDR sym+off (%s)\", leaf first", perf, bin)
	}
	raw := framesOf(run(`config = { stack_mode=raw } uprobe:` + bin + `:leaf { @[ustack] = count(); }`))
	reRaw := regexp.MustCompile(`^[0-9a-f]+$`)
	if len(raw) < 3 {
		t.Errorf("stack_mode=raw frames = %q, want at least leaf, its caller, main", raw)
	}
	for _, f := range raw {
		if !reRaw.MatchString(f) {
			t.Errorf("stack_mode=raw frame %q is not a bare hex address", f)
		}
	}
	id := testutil.RequireTool(t, "readelf")
	b, err := exec.Command(id, "-n", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Build ID: ([0-9a-f]+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no build ID in %s", bin)
	}
	leafOff := testutil.SymbolValue(t, bin, "leaf") // a PIE: link address = file offset in .text's segment
	bid := framesOf(run(`uprobe:` + bin + `:leaf { @[ustack(build_id, 1)] = count(); }`))
	want := string(m[1]) + " 0x" + strconv.FormatUint(leafOff, 16)
	if len(bid) != 1 || bid[0] != want {
		t.Errorf("ustack(build_id, 1) = %q, want %q", bid, want)
	}
}

// mapStacks parses bpftrace's printing of @[ustack] = count(): each key's
// frames without their +offsets, innermost first, joined by ';', with the
// counts of keys that read the same added up.
func mapStacks(t *testing.T, out string) map[string]int {
	t.Helper()
	got := map[string]int{}
	var fr []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "@[":
			in, fr = true, nil
		case in && strings.HasPrefix(l, "]: "):
			n, err := strconv.Atoi(strings.TrimPrefix(l, "]: "))
			if err != nil {
				t.Fatalf("bad count line %q", l)
			}
			got[strings.Join(fr, ";")] += n
			in = false
		case in:
			f := strings.TrimSpace(l)
			if i := strings.LastIndexByte(f, '+'); i > 0 {
				f = f[:i]
			}
			fr = append(fr, f)
		}
	}
	return got
}

// TestStackAtReturn: a kernel uretprobe fires with ip at the return
// address in the caller, whose frame the walk starts from; no [sp] word is
// read there (a site with a frame), and the stack is the caller's.
func TestStackAtReturn(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "tree", treeC, "-O2", "-fno-omit-frame-pointer")
	out := runOK(t, "run", "-c", bin, "-e", `uretprobe:`+bin+`:leaf { @[ustack] = count(); }`)
	got := mapStacks(t, out)
	// Cut every stack after its main frame (libc's frames below it).
	toMain := map[string]int{}
	for g, m := range got {
		fr := strings.Split(g, ";")
		for i, f := range fr {
			if f == "main" {
				fr = fr[:i+1]
				break
			}
		}
		toMain[strings.Join(fr, ";")] += m
	}
	want := map[string]int{"b;a;main": 3, "c;main": 1, "main": 2}
	if !reflect.DeepEqual(toMain, want) {
		t.Errorf("uretprobe stacks = %v, want %v; output:\n%s", toMain, want, out)
	}
}

// TestStackCgo: mixed stacks through cgo come out whole: Go calling C
// (runtime.cgocall, asmcgocall onto the system stack, cgo's C wrapper) and
// C calling back into Go (the exported function's C side, crosscall2,
// runtime.cgocallback, cgocallbackg's ABI wrapper and itself, cgocallbackg1,
// the Go side) and that Go calling C again. The register save area of
// crosscall2 holds a stack address the walk reads as a frame: it is left
// out (not code).
func TestStackCgo(t *testing.T) {
	checkCgoTree(t, "-O0 -fno-omit-frame-pointer")
}

// checkCgoTree builds the cgo tree with the C flags given and checks its
// stacks (TestStackCgo, TestStackCFICgo).
func checkCgoTree(t *testing.T, cflags string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "gcc")
	goTool := testutil.RequireTool(t, "go")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module cgotree\n\ngo 1.21\n",
		"main.go": `package main

/*
#cgo CFLAGS: CFLAGS
void c_leaf(int x);
void c_mid(int x);
void c_calls_go(int x);
*/
import "C"

var sink int

//export goCallback
func goCallback(x C.int) { goLeaf(int(x)) }

//go:noinline
func goLeaf(x int) { sink += x; C.c_leaf(C.int(x)) }

//go:noinline
func callMid() { C.c_mid(1) }

//go:noinline
func callBack() { C.c_calls_go(2) }

func main() {
	for i := 0; i < 3; i++ {
		callMid()
	}
	callBack()
}
`,
		"tree.c": `#include "_cgo_export.h"
volatile long csink;
__attribute__((noinline)) void c_leaf(int x) { csink += x; }
__attribute__((noinline)) void c_mid(int x) { c_leaf(x); csink++; }
__attribute__((noinline)) void c_calls_go(int x) { goCallback(x); csink++; }
`,
	}
	for name, src := range files {
		src = strings.Replace(src, "#cgo CFLAGS: CFLAGS", "#cgo CFLAGS: "+cflags, 1)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "cgotree")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=", "GOWORK=off", "CGO_CFLAGS_ALLOW=-fno-optimize-sibling-calls")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out := runOK(t, "stack", "-f", "-c", bin, bin+":c_leaf")
	got := foldedFromMain(t, out, "main.main")
	hash := regexp.MustCompile(`_cgo(exp)?_[0-9a-f]{12}_`)
	for i := range got {
		got[i] = hash.ReplaceAllString(got[i], "_cgo${1}_H_")
	}
	want := []string{
		"main.main;main.callBack;main._Cfunc_c_calls_go;runtime.cgocall;runtime.asmcgocall;_cgo_H_Cfunc_c_calls_go;c_calls_go;" +
			"goCallback;crosscall2;runtime.cgocallback;runtime.cgocallbackg;runtime.cgocallbackg;runtime.cgocallbackg1;_cgoexp_H_goCallback;" +
			"main.goLeaf;main._Cfunc_c_leaf;runtime.cgocall;runtime.asmcgocall;_cgo_H_Cfunc_c_leaf;c_leaf 1",
		"main.main;main.callMid;main._Cfunc_c_mid;runtime.cgocall;runtime.asmcgocall;_cgo_H_Cfunc_c_mid;c_mid;c_leaf 3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stack -f on c_leaf:\n%s\nwant (from main.main down):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTraceStackLibraryFrame: trace -U on a callback that libc calls
// (dl_iterate_phdr) in a command that exits at once: the frame in libc is
// the callback's caller, read from [sp], and it is named, because the
// command's libraries were known before it could exit (it ran to its entry
// point held). Frames past libc need CFI (libc has no frame pointers).
func TestTraceStackLibraryFrame(t *testing.T) {
	testutil.RequireRoot(t)
	src := `#define _GNU_SOURCE
#include <link.h>
#define NOINLINE __attribute__((noinline))
volatile long sink;
NOINLINE int leaf_cb(struct dl_phdr_info *info, size_t size, void *data) { sink++; return 1; }
NOINLINE void walk(void) { dl_iterate_phdr(leaf_cb, 0); sink++; }
int main(void) { walk(); walk(); return 0; }
`
	bin := testutil.BuildC(t, "dl", src, "-O2", "-fno-omit-frame-pointer")
	out := runOK(t, "trace", "-U", "--cmd", bin, "p:"+bin+":leaf_cb")
	re := regexp.MustCompile(`(?m)^\s+leaf_cb\+0x0 \[dl\]\n\s+dl_iterate_phdr\+0x[0-9a-f]+ \[libc\.so\.6\]\n`)
	if n := len(re.FindAllString(out, -1)); n != 2 {
		t.Errorf("%d stacks of leaf_cb called by dl_iterate_phdr [libc.so.6], want 2:\n%s", n, out)
	}
}

// TestStackDebugInfo: with show_debug_info, bpftrace-mode frames end in
// @file:line from DWARF and functions inlined at a return address get
// frames of their own, "[inlined] name@file:line", innermost first, as
// addr2line -i lists them: the line of each is the call it made.
func TestStackDebugInfo(t *testing.T) {
	testutil.RequireRoot(t)
	src := `#define NOINLINE __attribute__((noinline))
#define INLINE static inline __attribute__((always_inline))
volatile long sink;
NOINLINE void ext(int x) { sink += x; } // EXT
INLINE void inner(int x) {
	ext(x); // INNER
	sink++;
}
INLINE void middle(int x) {
	inner(x + 1); // MIDDLE
	sink++;
}
NOINLINE void outer(int x) {
	middle(x); // OUTER
	sink++;
}
int main(void) {
	outer(1); // MAIN
	return 0;
}
`
	line := func(marker string) int {
		for i, l := range strings.Split(src, "\n") {
			if strings.Contains(l, "// "+marker) {
				return i + 1
			}
		}
		t.Fatalf("no marker %s", marker)
		return 0
	}
	bin := testutil.BuildC(t, "inl", src, "-O2", "-g", "-fno-omit-frame-pointer")
	cfile := regexp.QuoteMeta(filepath.Join(filepath.Dir(bin), "inl.c"))
	out := runOK(t, "run", "-c", bin, "-e", `config = { show_debug_info = 1 } uprobe:`+bin+`:ext { @[ustack] = count(); }`)
	var frames []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "    ") {
			frames = append(frames, strings.TrimSpace(l))
		}
	}
	want := []string{
		fmt.Sprintf(`ext\+0@%s:%d`, cfile, line("EXT")),
		fmt.Sprintf(`\[inlined\] inner@%s:%d`, cfile, line("INNER")),
		fmt.Sprintf(`\[inlined\] middle@%s:%d`, cfile, line("MIDDLE")),
		fmt.Sprintf(`outer\+\d+@%s:%d`, cfile, line("OUTER")),
		fmt.Sprintf(`main\+\d+@%s:%d`, cfile, line("MAIN")),
	}
	if len(frames) < len(want) {
		t.Fatalf("stack has %d frames, want at least %d:\n%s", len(frames), len(want), out)
	}
	for i, w := range want {
		if !regexp.MustCompile("^" + w + "$").MatchString(frames[i]) {
			t.Errorf("frame %d = %q, want %s", i, frames[i], w)
		}
	}

	// ustack(N) counts addresses, not the lines inlined functions add
	// (bpftrace's stdlib.md): ustack(2) is ext, then outer with the two
	// functions inlined in it.
	out = runOK(t, "run", "-c", bin, "-e", `config = { show_debug_info = 1 } uprobe:`+bin+`:ext { printf("%s", ustack(2)); }`)
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			got = append(got, l)
		}
	}
	if len(got) != 4 || !regexp.MustCompile("^"+want[3]+"$").MatchString(got[3]) {
		t.Errorf("ustack(2): %q, want the lines of two addresses, ext's and outer's with its 2 inlined functions", got)
	}
	// In perf mode, an inlined function is "addr name (inlined)", without
	// file:line, before the frame (bpftrace's usyms.cpp).
	out = runOK(t, "run", "-c", bin, "-e", `config = { show_debug_info = 1 } uprobe:`+bin+`:ext { printf("%s", ustack(perf, 2)); }`)
	re := regexp.MustCompile(`(?m)^\s+[0-9a-f]+ ext\+0 \(\S+/inl\)\n\s+([0-9a-f]+) inner \(inlined\)\n\s+([0-9a-f]+) middle \(inlined\)\n\s+([0-9a-f]+) outer\+\d+ \(\S+/inl\)\n`)
	if m := re.FindStringSubmatch(out); m == nil || m[1] != m[2] || m[2] != m[3] {
		t.Errorf("ustack(perf, 2) with show_debug_info:\n%s", out)
	}
}

// TestUstackLen: len(ustack) is the number of frames ustack prints, at
// most ustack(N)'s N (bpftrace main's call."ustack len"), with either walk
// and at a site before the function's frame is set up (where the caller
// is the walk's second frame).
func TestUstackLen(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	for _, unwind := range []string{"cfi", "fp"} {
		for _, site := range []string{"leaf", "path_a+4"} {
			out := runOK(t, "run", "-c", bin, "-e", `config = { unwind = `+unwind+` } uprobe:`+bin+`:`+site+` {
				$x = ustack(3); @a = len($x); @b = len(ustack); @c = len(ustack(1)); print(ustack); exit(); }`)
			frames := 0
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "        ") && strings.TrimSpace(l) != "" {
					frames++
				}
			}
			want := fmt.Sprintf("@a: 3\n@b: %d\n@c: 1\n", frames)
			if frames < 3 || !strings.Contains(out, want) {
				t.Errorf("unwind = %s, at %s: want %q (%d frames printed) in:\n%s", unwind, site, want, frames, out)
			}
		}
	}
}
