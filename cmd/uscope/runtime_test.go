package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// startPythonWork starts testdata/runtime_work.py under /usr/bin/python3.11,
// which makes `calls` calls of outer(), and waits until it is ready.
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
		{script + ":outer", strconv.Itoa(n)},
		{script + ":leaf", strconv.Itoa(n)},
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
