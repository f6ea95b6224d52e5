package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// toolsProgram builds testdata/tools.c, the program whose calls the tool
// tests know: frame pointers kept, so that stacks can be walked.
func toolsProgram(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/tools.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "tools", string(src), "-O0", "-fno-omit-frame-pointer")
}

// runOK runs uscope and fails the test unless it exits 0.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	r := runUscope(t, args...)
	if r.code != 0 {
		t.Fatalf("uscope %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

var countRow = regexp.MustCompile(`^(\S+)\s+(\d+)$`)

// funcCounts parses funccount's FUNC COUNT tables, adding up the counts of
// every table printed.
func funcCounts(t *testing.T, out string) map[string]int {
	t.Helper()
	got := map[string]int{}
	inTable := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "FUNC "):
			if !regexp.MustCompile(`^FUNC {32} {4}COUNT$`).MatchString(l) {
				t.Errorf("header %q is not funccount's", l)
			}
			inTable = true
		case l == "" || l == "Detaching...":
			inTable = false
		case inTable:
			m := countRow.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("row %q is not FUNC COUNT", l)
			}
			n, _ := strconv.Atoi(m[2])
			got[m[1]] += n
		}
	}
	return got
}

func TestCountExact(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	out := runOK(t, "count", "-c", bin, bin+":path_*")
	if !strings.HasPrefix(out, `Tracing 2 functions for "`+bin+`:path_*"... Hit Ctrl-C to end.`) {
		t.Errorf("header:\n%s", out)
	}
	if !strings.HasSuffix(out, "Detaching...\n") {
		t.Errorf("no Detaching... at the end:\n%s", out)
	}
	got := funcCounts(t, out)
	if len(got) != 2 || got["path_a"] != 7 || got["path_b"] != 3 {
		t.Errorf("counts %v, want path_a 7, path_b 3\n%s", got, out)
	}
	// Sorted by count, as funccount sorts.
	if a, b := strings.Index(out, "path_b"), strings.Index(out, "path_a "); a < 0 || b < a {
		t.Errorf("rows not sorted by count:\n%s", out)
	}

	// A pattern over every function of the program, per interval, with
	// the counts of all intervals adding up.
	out = runOK(t, "count", "-i", "100ms", "-c", bin, bin+":*")
	got = funcCounts(t, out)
	for fn, want := range map[string]int{"leaf": 10, "path_a": 7, "path_b": 3, "allocate": 1, "main": 1} {
		if got[fn] != want {
			t.Errorf("%s: %d calls, want %d\n%s", fn, got[fn], want, out)
		}
	}
	if strings.Count(out, "\nFUNC ") < 2 {
		t.Errorf("-i 100ms printed fewer than two tables:\n%s", out)
	}
}

func TestCountLibrary(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	// malloc by library short name: the program's own ten calls.
	got := funcCounts(t, runOK(t, "count", "-c", bin, "c:malloc"))
	if got["malloc"] != 10 {
		t.Errorf("malloc: %d calls, want 10", got["malloc"])
	}
}

// TestCountRedisAll attaches every function of redis-server as one
// uprobe_multi link and detaches again.
func TestCountRedisAll(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, "/usr/bin/redis-server")
	out := runOK(t, "count", "-d", "1s", "/usr/bin/redis-server:*")
	m := regexp.MustCompile(`^Tracing (\d+) functions for "/usr/bin/redis-server:\*"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no header:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 3000 {
		t.Errorf("attached %d functions of redis-server, want >= 3000", n)
	}
}

func TestToolArgumentErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"count"}, "accepts 1 arg"},
		{[]string{"count", "t:sched:sched_switch"}, "tracepoints are kernel probes"},
		{[]string{"count", "a:b:c:d:e"}, "too many"},
		{[]string{"count", "-i", "soon", "c:malloc"}, "neither seconds nor a duration"},
		{[]string{"count", "/no/such/file:f*"}, "/no/such/file does not exist"},
		{[]string{"latency", "u:python3:function__entry"}, "no return"},
		{[]string{"latency", "-u", "-m", "c:read"}, "exclude each other"},
		{[]string{"argdist"}, "at least one -C or -H"},
		{[]string{"argdist", "-C", "p:c:malloc"}, "invalid format"},
		{[]string{"argdist", "-C", "p:c"}, "at least the probe type"},
		{[]string{"argdist", "-C", "x:c:malloc()"}, "probe type must be p, r or u"},
		{[]string{"argdist", "-H", "p:c:malloc(size_t size)"}, "a histogram needs an expression"},
		{[]string{"argdist", "-C", "p:c:malloc(size_t size):u64:$retval"}, "only known in return probes"},
		{[]string{"argdist", "-C", "r:c:malloc(size_t size):u64:$entry(nope)"}, "no such parameter"},
		{[]string{"stack", "t:a:b"}, "tracepoints"},
	}
	for _, tc := range cases {
		r := runUscope(t, tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("uscope %q: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "uscope-") {
			t.Errorf("uscope %q: stderr shows internals: %s", tc.args, r.stderr)
		}
	}
}

func TestToolPrograms(t *testing.T) {
	// --program prints the program the tool runs; it must run as is.
	out := runOK(t, "count", "--program", "-i", "2", "-d", "10", "c:str*")
	for _, want := range []string{"uprobe:c:str* {", "@counts[func] = count();", "interval:s:2 {", "if (@ticks >= 5) {"} {
		if !strings.Contains(out, want) {
			t.Errorf("count --program lacks %q:\n%s", want, out)
		}
	}
}

// TestCountWholeLibc: a pattern over every function of libc leaves out the
// few whose first instruction the kernel cannot probe (lock-prefixed, VEX)
// and attaches the rest, instead of failing.
func TestCountWholeLibc(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "count", "-d", "0", "c:*")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`^Tracing (\d+) functions`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no header:\n%s", r.stdout)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1000 {
		t.Errorf("attached %d functions of libc", n)
	}
	if strings.Contains(r.stderr, "left out") && !strings.Contains(r.stderr, "the kernel cannot probe") {
		t.Errorf("unclear warning: %s", r.stderr)
	}
}
