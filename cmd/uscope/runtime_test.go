package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// startPythonWork starts testdata/runtime_work.py under /usr/bin/python3.11,
// which makes `calls` calls of outer() (and one more under sys.setprofile),
// and waits until it is ready.
func startPythonWork(t *testing.T, calls int) (*child, string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireFile(t, python311)
	src, err := os.ReadFile("testdata/runtime_work.py")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "work.py")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, python311, script, strconv.Itoa(calls))
	c.expect("ready")
	return c, script
}

// goPython releases the workload and returns the facts it printed:
// collected objects per generation.
func goPython(t *testing.T, c *child) map[int]int {
	t.Helper()
	fmt.Fprintln(c.stdin, "go")
	collected := map[int]int{}
	for {
		l := c.next()
		if l == "done" {
			return collected
		}
		var g, n int
		if _, err := fmt.Sscanf(l, "gc %d %d", &g, &n); err == nil {
			collected[g] = n
		}
	}
}

// TestCallsPython counts the script's own functions: CPython 3.11 inlines
// Python-to-Python calls (no function__entry), so calls counts returns,
// which fire for every call.
func TestCallsPython(t *testing.T) {
	const n = 7
	c, script := startPythonWork(t, n)
	tr := startUscope(t, "calls", strconv.Itoa(c.pid()))
	tr.waitLine("Tracing calls in python process")
	goPython(t, c)
	out := tr.waitExit()
	for _, w := range []struct{ method, calls string }{
		{script + ":outer", strconv.Itoa(n + 1)},
		{script + ":leaf", strconv.Itoa(n + 1)},
		{script + ":main", "1"},
	} {
		if !hasRow(out, w.method, w.calls) {
			t.Errorf("no row %s %s\n%s", w.method, w.calls, out)
		}
	}
}

// hasRow reports whether out has a line whose fields start with want.
func hasRow(out string, want ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(want) && strings.Join(f[:len(want)], " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}

// TestGCPython lists the collections the script forces, each with its
// generation and the number of objects gc.collect() returned.
func TestGCPython(t *testing.T) {
	c, _ := startPythonWork(t, 1)
	tr := startUscope(t, "gc", strconv.Itoa(c.pid()))
	tr.waitLine("DESCRIPTION")
	collected := goPython(t, c)
	out := tr.waitExit()
	for g := 0; g < 3; g++ {
		want := fmt.Sprintf("gen %d GC collected %d objects", g, collected[g])
		if !strings.Contains(out, want) {
			t.Errorf("no %q\n%s", want, out)
		}
	}
}

// TestRuntimeJava runs calls, gc, threads and objnew on one JVM started
// with -XX:+ExtendedDTraceProbes, and checks what each saw against what
// UscopeRuntime.java does.
func TestRuntimeJava(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, libjvm)
	javac := filepath.Join(javaHome, "bin", "javac")
	testutil.RequireFile(t, javac)
	dir := t.TempDir()
	if out, err := exec.Command(javac, "-d", dir, "testdata/UscopeRuntime.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	// The serial collector, as in bcc's ugc_example.txt (MarkSweepCompact,
	// Tenured Gen).
	c := startChild(t, filepath.Join(javaHome, "bin", "java"), "-XX:+ExtendedDTraceProbes", "-XX:+UseSerialGC", "-cp", dir, "UscopeRuntime")
	c.expect("ready")
	pid := strconv.Itoa(c.pid())
	calls := startUscope(t, "calls", pid)
	flow := startUscope(t, "flow", "-C", "UscopeRuntime", pid)
	gc := startUscope(t, "gc", pid)
	threads := startUscope(t, "threads", pid)
	objnew := startUscope(t, "objnew", pid)
	// bcc's names, the Java lines of tools/lib/u*_example.txt.
	bcc := map[string]*tracer{}
	for _, line := range bccJavaLines {
		args := strings.Fields(strings.ReplaceAll(line, "PID", pid))
		bcc[line] = startUscope(t, args...)
	}
	fmt.Fprintln(c.stdin, "go")
	c.expect("done 15")
	c.stdin.Close()
	checkBCCJava(t, pid, bcc)
	checks := []struct {
		tool *tracer
		want [][]string // rows: the first fields of a line
	}{
		{calls, [][]string{{"UscopeRuntime.step", "7"}, {"UscopeRuntime.main", "1"}}},
		{threads, [][]string{{"start", "uscope-a"}, {"start", "uscope-b"}, {"stop", "uscope-a"}}},
		{objnew, [][]string{{"UscopeRuntime$Blob", "300"}}},
	}
	for _, ch := range checks {
		out := ch.tool.waitExit()
		for _, w := range ch.want {
			if !hasRow(out, w...) && !hasRowAfterID(out, w...) {
				t.Errorf("%s: no row %q\n%s", ch.tool.cmd.Args[1], w, out)
			}
		}
	}
	// flow: the threads' lambda calls step, one level deeper (main began
	// before tracing, so its steps are at the top).
	out := flow.waitExit()
	var mainDepth, stepDepth int = -1, -1
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "-> UscopeRuntime.lambda$main$0"); i >= 0 && mainDepth < 0 {
			mainDepth = i
		}
		if i := strings.Index(l, "-> UscopeRuntime.step"); i >= 0 && mainDepth >= 0 && stepDepth < 0 {
			stepDepth = i
		}
	}
	if mainDepth < 0 || stepDepth != mainDepth+2 {
		t.Errorf("flow: step is not indented one level below the lambda that calls it\n%s", out)
	}
	// System.gc() twice: at least two full collections with a duration.
	out = gc.waitExit()
	full := 0
	for _, l := range strings.Split(out, "\n") {
		var start, dur float64
		if _, err := fmt.Sscanf(l, "%f %f full collection", &start, &dur); err == nil && dur > 0 {
			full++
		}
	}
	if full < 2 {
		t.Errorf("gc: %d full collections with a duration, want at least 2\n%s", full, out)
	}
}

// hasRowAfterID is hasRow for lines that start with a thread id.
func hasRowAfterID(out string, want ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && hasRow(strings.Join(f[1:], " "), want...) {
			return true
		}
	}
	return false
}

// TestRuntimeC runs objnew -l c (malloc sizes) and threads -l c
// (pthread_create start routines by name) on one C program.
func TestRuntimeC(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/runtime_c.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "runtime_c", string(src), "-pthread")
	c := startChild(t, bin)
	c.expect("ready")
	pid := strconv.Itoa(c.pid())
	objnew := startUscope(t, "objnew", "-l", "c", pid)
	threads := startUscope(t, "threads", "-l", "c", pid)
	goC(t, c)
	// The start routine is named while the process lives.
	threads.waitLine("create")
	c.stdin.Close()
	out := objnew.waitExit()
	for _, w := range [][]string{{"block", "size", "4242", "3", "12726"}, {"block", "size", "4343", "2", "8686"}} {
		if !hasRow(out, w...) {
			t.Errorf("objnew: no row %q\n%s", w, out)
		}
	}
	if out := threads.waitExit(); !hasRowAfterID(out, "create", "uscope_worker") {
		t.Errorf("threads: no thread started in uscope_worker\n%s", out)
	}
}

// goC releases testdata/runtime_c.c's work and returns the ids of the
// threads it started, in order.
func goC(t *testing.T, c *child) []int {
	t.Helper()
	fmt.Fprintln(c.stdin, "go")
	var tids []int
	for {
		l := c.next()
		if l == "done" {
			return tids
		}
		var tid int
		if _, err := fmt.Sscanf(l, "tid %d", &tid); err == nil {
			tids = append(tids, tid)
		}
	}
}

// TestRuntimeWithoutProbes: runtimes without probes on this machine, or
// that need a flag, make the tool say so in one line (exit 1).
func TestRuntimeWithoutProbes(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []struct {
		name string
		prog []string
		args []string
		want string
	}{
		{"perl", []string{"/usr/bin/perl", "-e", "print qq(ready\n); $| = 1; <STDIN>"}, []string{"calls"}, "-Dusedtrace"},
		{"node", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"gc", "-l", "node"}, "Node.js 19 removed its USDT probes"},
		{"tcl", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"calls", "-l", "tcl"}, "Tcl (/usr/bin/dash) has no USDT probes"},
		{"python gc objnew", []string{python311, "-c", "print('ready', flush=True); input()"}, []string{"objnew"}, "has no probe for object allocations"},
		// bcc's example lines for runtimes without probes here.
		{"ugc $(pidof node)", []string{"/usr/bin/node", "-e", "console.log('ready'); process.stdin.resume()"}, []string{"ugc"}, "Node.js 19 removed its USDT probes"},
		{"ucalls -l ruby 1344 -T 10", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"ucalls", "-l", "ruby", "-T", "10"}, "Ruby (/usr/bin/dash) has no USDT probes"},
		{"uflow -l ruby 27245", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"uflow", "-l", "ruby"}, "configured with --enable-dtrace"},
		{"ugc -l ruby 1344 -m", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"ugc", "-l", "ruby", "-m"}, "Ruby (/usr/bin/dash) has no USDT probes"},
		{"uobjnew -l ruby 6712 -C 10", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"uobjnew", "-l", "ruby", "-C", "10"}, "Ruby (/usr/bin/dash) has no USDT probes"},
		{"ucalls -l php 443 -LS", []string{"/bin/sh", "-c", "echo ready; read x"}, []string{"ucalls", "-l", "php", "-LS"}, "kernel tracepoints; uscope traces userspace"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.RequireFile(t, c.prog[0])
			ch := startChild(t, c.prog[0], c.prog[1:]...)
			ch.expect("ready")
			r := runUscope(t, append(c.args, strconv.Itoa(ch.pid()))...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", r.code, r.stderr, c.want)
			}
		})
	}
}

// TestDBSlowerPostgres prints each query psql sends to a server the test
// starts, with its text and duration: pg_sleep(0.2) takes at least 200 ms.
func TestDBSlowerPostgres(t *testing.T) {
	testutil.RequireRoot(t)
	pg := startPostgres(t)
	tr := startUscope(t, "dbslower", "-m", "0", "postgres")
	tr.waitLine("QUERY")
	if _, err := pg.psql("SELECT pg_sleep(0.2)", "SELECT 42"); err != nil {
		t.Fatal(err)
	}
	tr.waitLine("SELECT 42")
	out := tr.stop()
	// dbstat, on the same server: the 200 ms query lands in the 128-255
	// ms bucket of the histogram.
	st := startUscope(t, "dbstat", "postgres")
	st.waitLine("Tracing database queries")
	if _, err := pg.psql("SELECT pg_sleep(0.2)"); err != nil {
		t.Fatal(err)
	}
	if hist := st.stop(); !hasRow(hist, "128", "->", "255", ":", "1") || !strings.Contains(hist, "     query latency (ms)  : count     distribution\n") {
		t.Errorf("dbstat: no 'query latency (ms)' histogram with one query in 128 -> 255\n%s", hist)
	}
	// dbstat -u -f json: the histogram in microseconds, as run -f json.
	js := startUscope(t, "dbstat", "-u", "-f", "json", "postgres")
	if _, err := pg.psql("SELECT pg_sleep(0.2)"); err != nil {
		t.Fatal(err)
	}
	if out := js.stop(); !strings.Contains(out, `{"type": "hist", "data": {"@latency": [`) || !strings.Contains(out, `{"min": 131072, "max": 262143, "count": 1}`) {
		t.Errorf("dbstat -u -f json: no @latency hist with the 200 ms query in 131072-262143 us\n%s", out)
	}
	var ms float64 = -1
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.Join(f[3:], " ") == "SELECT pg_sleep(0.2)" {
			ms, _ = strconv.ParseFloat(f[2], 64)
		}
	}
	if ms < 200 {
		t.Errorf("pg_sleep(0.2) took %g ms, want at least 200\n%s", ms, out)
	}
}

// TestFlowPython shows the nesting of the script's calls: under
// sys.setprofile CPython 3.11 fires entries, and leaf is one level below
// the outer that calls it.
func TestFlowPython(t *testing.T) {
	c, script := startPythonWork(t, 2)
	tr := startUscope(t, "flow", "-C", script, strconv.Itoa(c.pid()))
	tr.waitLine("METHOD")
	goPython(t, c)
	out := tr.waitExit()
	outer, leaf := -1, -1
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "-> "+script+":outer"); i >= 0 && outer < 0 {
			outer = i
		}
		if i := strings.Index(l, "-> "+script+":leaf"); i >= 0 && outer >= 0 && leaf < 0 {
			leaf = i
		}
	}
	if outer < 0 || leaf != outer+2 {
		t.Errorf("leaf is not indented one level below outer\n%s", out)
	}
}

// TestStatPython: stat, started first, counts a Python process started
// after it (attached by path) with nonzero METHOD/s and GC/s.
func TestStatPython(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, python311)
	tr := startUscope(t, "stat", "-l", "python", "0.2")
	c, _ := startPythonWork(t, 20)
	goPython(t, c)
	pid := strconv.Itoa(c.pid())
	// The calls and the collections may fall in different intervals.
	for i, col := range []string{"METHOD/s", "GC/s"} {
		tr.waitFor(func(l string) bool {
			f := strings.Fields(l)
			if len(f) < 8 || f[0] != pid {
				return false
			}
			v, _ := strconv.ParseFloat(f[len(f)-6+i], 64)
			return v > 0
		}, "a row of the script with nonzero "+col)
	}
}
