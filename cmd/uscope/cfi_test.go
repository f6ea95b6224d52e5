package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/uscope/uscope/internal/testutil"
)

// Stacks of code without frame pointers, walked from .eh_frame in the
// kernel (internal/unwind, compile/cfiunwind.go).

// checkWhole checks folded lines of a CFI walk: the walk reached the
// program's _start (the outermost frame, whose return address .eh_frame
// marks undefined) and named every frame on the way.
func checkWhole(t *testing.T, out, comm string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, comm+";_start;") {
			t.Errorf("folded line %q does not start at %s;_start", l, comm)
		}
		if strings.Contains(l, "[unknown]") {
			t.Errorf("folded line %q has an [unknown] frame", l)
		}
	}
}

// TestStackCFI: the tree built without frame pointers (every function
// frameless at -O2 -fomit-frame-pointer), also with endbr64 first, and
// with frame pointers everywhere but in its leaves, gives exactly the
// known paths with their counts, through libc's start code.
func TestStackCFI(t *testing.T) {
	testutil.RequireRoot(t)
	for _, flags := range [][]string{
		{"-O2", "-fomit-frame-pointer"},
		{"-O2", "-fomit-frame-pointer", "-fcf-protection=full"},
		{"-O2", "-fno-omit-frame-pointer", "-momit-leaf-frame-pointer"},
		{"-O3", "-fomit-frame-pointer", "-fno-asynchronous-unwind-tables", "-fexceptions"},
	} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			bin := testutil.BuildC(t, "tree", treeC, flags...)
			out := runOK(t, "stack", "-f", "-c", bin, bin+":leaf")
			checkWhole(t, out, "tree")
			got := foldedFromMain(t, out, "main")
			if strings.Join(got, "\n") != strings.Join(treeWant, "\n") {
				t.Errorf("stack -f on leaf:\n%s\nwant the paths (from main down):\n%s", out, strings.Join(treeWant, "\n"))
			}
		})
	}
}

// TestStackCFICXX: the C++ tree without frame pointers.
func TestStackCFICXX(t *testing.T) {
	checkCXXTree(t, "-O2", "-fomit-frame-pointer")
}

// TestStackCFICgo: the cgo tree with its C side built as cgo builds it
// by default (-O2, no frame pointers; sibling calls kept as calls so that
// cgo's wrappers stay frames): Go calling C, C calling back into Go,
// that Go calling C again, all whole.
func TestStackCFICgo(t *testing.T) {
	checkCgoTree(t, "-O2 -fomit-frame-pointer -fno-optimize-sibling-calls")
}

// gdbFrames runs gdb's backtrace (past main) at the first stop at
// breakpoint fn, and returns the program counter of each physical frame
// (inlined frames share their caller's pc and print none).
func gdbFrames(t *testing.T, args ...string) []string {
	t.Helper()
	gdb := testutil.RequireTool(t, "gdb")
	out, _ := exec.Command(gdb, args...).CombinedOutput()
	re := regexp.MustCompile(`(?m)^#\d+\s+(0x[0-9a-f]+) in `)
	var pcs []string
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		pcs = append(pcs, m[1])
	}
	if len(pcs) == 0 {
		t.Fatalf("no backtrace from gdb %v:\n%s", args, out)
	}
	return pcs
}

// TestStackCFIQsort: a comparison function that Debian's libc (built
// without frame pointers) calls back from qsort: the stack names every
// frame, the program's are exactly main;sort_it;...;cmp, and it has as
// many frames as gdb's backtrace at the same breakpoint.
func TestStackCFIQsort(t *testing.T) {
	testutil.RequireRoot(t)
	src := `#include <stdlib.h>
#define NOINLINE __attribute__((noinline))
volatile long sink;
NOINLINE int cmp(const void *a, const void *b) { sink++; return *(const int *)a - *(const int *)b; }
NOINLINE void sort_it(int *v, int n) { qsort(v, n, sizeof *v, cmp); sink++; }
int main(void) {
	int v[2] = {2, 1};
	sort_it(v, 2); /* two elements: one comparison */
	return 0;
}
`
	bin := testutil.BuildC(t, "qs", src, "-O2", "-fomit-frame-pointer")
	out := runOK(t, "stack", "-f", "-c", bin, bin+":cmp")
	checkWhole(t, out, "qs")
	got := foldedFromMain(t, out, "main")
	if len(got) != 1 || !strings.HasPrefix(got[0], "main;sort_it;") || !strings.HasSuffix(got[0], ";cmp 1") {
		t.Fatalf("stack -f on cmp:\n%s\nwant one path main;sort_it;<libc>;cmp 1", out)
	}
	line := strings.TrimSpace(out)
	depth := strings.Count(strings.Fields(line)[0], ";") // frames: comm is not one
	gdb := gdbFrames(t, "-batch", "-nx", "-ex", "set pagination off", "-ex", "set backtrace past-main on",
		"-ex", "break cmp", "-ex", "run", "-ex", "bt", bin)
	if depth != len(gdb) {
		t.Errorf("%d frames (%s), gdb's backtrace has %d physical frames", depth, line, len(gdb))
	}
}

// TestStackCFIRedisDepth: Debian's redis-server (no frame pointers) at
// lookupKey during a GET: the walk is as deep as gdb's backtrace at the
// same breakpoint (gdb names some static functions ?? too: they have no
// symbol, so the depth is compared, not the names). With unwind = fp the
// kernel's frame-pointer walk stops within a few frames.
func TestStackCFIRedisDepth(t *testing.T) {
	testutil.RequireRoot(t)
	pid, cli := startRedis(t)
	cli("set", "k", "v")
	gdbDone := make(chan []string, 1)
	go func() {
		gdbDone <- gdbFrames(t, "-batch", "-nx", "-p", strconv.Itoa(pid), "-ex", "set pagination off",
			"-ex", "set backtrace past-main on", "-ex", "break lookupKey", "-ex", "continue", "-ex", "bt")
	}()
	// gdb has attached and set its breakpoint when the GET stops in it;
	// retry the GET until gdb has reported (a GET before the breakpoint
	// is set just answers).
	var gdb []string
	for gdb == nil {
		cli("get", "k") // blocks while gdb holds the breakpoint
		select {
		case gdb = <-gdbDone:
		case <-time.After(200 * time.Millisecond):
		}
	}
	depth := func(unwind string) int {
		tr := startUscope(t, "run", "-p", strconv.Itoa(pid), "-e",
			`config = { unwind = "`+unwind+`" } uprobe:/usr/bin/redis-server:lookupKey { @[ustack] = count(); }`)
		cli("get", "k")
		out := tr.stop()
		i, j := strings.Index(out, "@["), strings.Index(out, "]: ")
		if i < 0 || j < i {
			t.Fatalf("no stack:\n%s", out)
		}
		return len(strings.Fields(out[i+2 : j]))
	}
	cfi, fp := depth("cfi"), depth("fp")
	t.Logf("redis-server at lookupKey: gdb %d frames, CFI %d, frame pointers %d", len(gdb), cfi, fp)
	if cfi != len(gdb) {
		t.Errorf("CFI walk: %d frames, gdb's backtrace %d", cfi, len(gdb))
	}
	if fp >= cfi {
		t.Errorf("frame-pointer walk %d frames, CFI %d: redis-server has frame pointers now?", fp, cfi)
	}
}

// TestStackFiles: stack -f pprof -o FILE and -f svg -o FILE write the
// stacks of the tree (without frame pointers) through the profile's
// writers: the pprof profile's samples are the known paths with their
// counts (calls/count), the flame graph's frames have the known widths.
func TestStackFiles(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "tree", treeC, "-O2", "-fomit-frame-pointer")
	dir := t.TempDir()
	pb := filepath.Join(dir, "stacks.pb.gz")
	runOK(t, "stack", "-f", "pprof", "-o", pb, "-c", bin, bin+":leaf")
	f, err := os.Open(pb)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.SampleType) != 1 || p.SampleType[0].Type != "calls" || p.SampleType[0].Unit != "count" {
		t.Errorf("sample types %v, want calls/count", p.SampleType)
	}
	var got []string
	for _, s := range p.Sample {
		var names []string
		for i := len(s.Location) - 1; i >= 0; i-- { // pprof lists the leaf first
			names = append(names, s.Location[i].Line[0].Function.Name)
		}
		path := strings.Join(names, ";")
		if i := strings.Index(path, ";main;"); i >= 0 {
			path = path[i+1:]
		}
		got = append(got, path+" "+strconv.FormatInt(s.Value[0], 10))
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(treeWant, "\n") {
		t.Errorf("pprof samples:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(treeWant, "\n"))
	}

	svg := filepath.Join(dir, "stacks.svg")
	runOK(t, "stack", "-f", "svg", "-o", svg, "-c", bin, bin+":leaf")
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	widths := map[string][]string{}
	for _, m := range regexp.MustCompile(`<g class="frame" data-name="([^"]*)" data-samples="(\d+)"`).FindAllStringSubmatch(string(data), -1) {
		widths[m[1]] = append(widths[m[1]], m[2])
	}
	for name, want := range map[string]string{"main": "6", "a": "3", "b": "3", "c": "1", "leaf": "1 2 3"} {
		w := widths[name]
		sort.Strings(w)
		if strings.Join(w, " ") != want {
			t.Errorf("flame graph frames %s: samples %v, want %s", name, w, want)
		}
	}
}

// TestProfileRatioCFI: the 3:1 program built without frame pointers: a
// sample in spin (frameless) keeps its caller, so nearly every sample is
// main;hot_a;spin or main;hot_b;spin, in the 3:1 ratio, each stack whole
// to _start.
func TestProfileRatioCFI(t *testing.T) {
	testutil.RequireRoot(t)
	// noipa: no constprop clones of spin at -O2.
	src := strings.Replace(hotC, "__attribute__((noinline))", "__attribute__((noipa))", 1)
	bin := testutil.BuildC(t, "hot", src, "-O2", "-fomit-frame-pointer")
	out := runOK(t, "profile", "-F", "999", "-c", bin)
	re := regexp.MustCompile(`(?m)^hot;_start;(?:[^;\n]+;)*main;(hot_a|hot_b);spin (\d+)$`)
	got := map[string]float64{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] += float64(n)
	}
	total := 0.0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		n, _ := strconv.Atoi(f[len(f)-1])
		total += float64(n)
	}
	if in := got["hot_a"] + got["hot_b"]; in < 0.95*total {
		t.Errorf("%.0f of %.0f samples are main;hot_a|hot_b;spin, want 95 %%:\n%s", in, total, out)
	}
	checkRatio(t, "folded", got["hot_a"], got["hot_b"])
}
