package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/uscope/uscope/internal/placement"
	"github.com/uscope/uscope/internal/testutil"
)

// placementProgram builds testdata/placement.c: functions whose first
// instructions the test chooses, called with known arguments.
func placementProgram(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/placement.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "placement", string(src), "-O2")
}

// placementWant is where the entry probe of each test function goes.
var placementWant = []struct{ fn, want string }{
	{"f_cmpjcc", "+4 (jcc, emulated; skipped cmp)"},
	{"f_testje", "+3 (jcc, emulated; skipped test)"},
	{"f_movr11", "+6 (push, emulated; skipped mov)"},
	{"f_learax", "+4 (push, emulated; skipped lea)"},
	{"f_push", "+0 (push, emulated)"},
	{"f_loop", "+0 (cmp, single-stepped; kept: jmp at +0x9 goes to +0x0)"},
	{"f_writearg", "+0 (mov, single-stepped; kept: mov writes rcx, which the probe reads)"},
	{"f_endbr", "+7 (jcc, emulated; skipped endbr64, test)"},
}

func TestPlacementList(t *testing.T) {
	bin := placementProgram(t)
	r := runUscope(t, "list", "-v", bin, "f_*")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, w := range placementWant {
		re := regexp.MustCompile(`(?m)^uprobe:\S+:` + w.fn + `\n    addr .* entry probe ` + regexp.QuoteMeta(w.want) + `$`)
		if !re.MatchString(r.stdout) {
			t.Errorf("%s: want entry probe %s\n%s", w.fn, w.want, r.stdout)
		}
	}
	r = runUscope(t, "list", "-v", bin, "g_*")
	for _, w := range []struct{ fn, want string }{
		{"g_alias", "+0 (cmp, single-stepped; kept: symbol g_alias_inner starts at +4)"},
		{"g_alias_inner", "+0 (jcc, emulated)"},
	} {
		re := regexp.MustCompile(`(?m)^uprobe:\S+:` + w.fn + `\n    addr .* entry probe ` + regexp.QuoteMeta(w.want) + `$`)
		if !re.MatchString(r.stdout) {
			t.Errorf("%s: want entry probe %s\n%s", w.fn, w.want, r.stdout)
		}
	}
	// The same for the functions of the issue, where they are installed.
	for _, c := range []struct{ target, fn, want string }{
		{"/usr/bin/redis-server", "createStringObject", "entry probe +4 (jcc, emulated; skipped cmp)"},
		{"libc", "free", "(jcc, emulated; skipped test)"},
		{"libc", "write", "(jcc, emulated; skipped cmp)"},
	} {
		if strings.HasPrefix(c.target, "/") {
			if _, err := os.Stat(c.target); err != nil {
				continue
			}
		}
		r := runUscope(t, "list", "-v", c.target, c.fn)
		if r.code != 0 || !strings.Contains(r.stdout, c.want) {
			t.Errorf("list -v %s %s: want %q\n%s%s", c.target, c.fn, c.want, r.stdout, r.stderr)
		}
	}
}

// TestPlacementRun traces the test functions, write and free, with and
// without --exact-entry: every argument is what the program passed, ip is
// the function's address, and each probe fires once per call (f_loop once
// per entry, its back edge included).
func TestPlacementRun(t *testing.T) {
	testutil.RequireRoot(t)
	bin := placementProgram(t)
	const n = 5
	prog := fmt.Sprintf(`
uprobe:%[1]s:f_* { printf("call %%s %%d %%d %%d %%lx\n", func, arg0, arg1, arg2, reg("ip")); @[func] = count(); }
uprobe:libc:write /pid == cpid && arg2 <= 3/ { printf("write %%d %%d %%s\n", arg0, arg2, str(arg1, arg2)); @w = count(); }
uprobe:libc:free /pid == cpid/ { @f = count(); }
`, bin)
	for _, mode := range [][]string{nil, {"--exact-entry"}} {
		t.Run(fmt.Sprintf("%q", mode), func(t *testing.T) {
			args := append([]string{"run", "-d", "-c", fmt.Sprintf("%s %d", bin, n), "-e", prog}, mode...)
			r := runUscope(t, args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			addr := map[string]string{}
			for _, m := range regexp.MustCompile(`(?m)^addr (\w+) ([0-9a-f]+)$`).FindAllStringSubmatch(r.stdout, -1) {
				addr[m[1]] = m[2]
			}
			if len(addr) != len(placementWant) {
				t.Fatalf("program printed %d addresses\n%s", len(addr), r.stdout)
			}
			var want []string
			for i := 0; i < n; i++ {
				call := func(fn string, a, b, c int) {
					want = append(want, fmt.Sprintf("call %s %d %d %d %s", fn, a, b, c, addr[fn]))
				}
				call("f_cmpjcc", i, 7, 100)
				call("f_testje", i+1, 8, 200)
				call("f_movr11", i, 9, 300)
				call("f_learax", i, 10, 400)
				call("f_push", i, 11, 500)
				call("f_loop", i, 12, 2)
				call("f_loop", i, 12, 1)
				call("f_loop", i, 12, 0)
				call("f_writearg", i, 13, 700)
				call("f_endbr", i, 14, 800)
				want = append(want, fmt.Sprintf("write 1 %d %s", i%3+1, "xyz"[:i%3+1]))
			}
			var got []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "call ") || strings.HasPrefix(l, "write ") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, w := range placementWant {
				count := n
				if w.fn == "f_loop" {
					count = 3 * n
				}
				wantLines(t, r.stdout, fmt.Sprintf("@[%s]: %d", w.fn, count))
			}
			wantLines(t, r.stdout, fmt.Sprintf("@f: %d", n), fmt.Sprintf("@w: %d", n))
			// -d shows each site's placement, or none with --exact-entry.
			for _, w := range placementWant {
				line := regexp.MustCompile(`(?m)^  site \d+: uprobe:\S+:` + w.fn + ` at \S+( entry .*)?$`).FindStringSubmatch(r.stdout + r.stderr)
				switch {
				case line == nil:
					t.Errorf("-d lists no site for %s\n%s", w.fn, r.stderr)
				case mode == nil && line[1] != " entry "+w.want:
					t.Errorf("-d: %s%s, want entry %s", w.fn, line[1], w.want)
				case mode != nil && line[1] != "":
					t.Errorf("-d with %v: %s%s, want no placement", mode, w.fn, line[1])
				}
			}
		})
	}
}

// TestPlacementRedis counts and prints createStringObject in redis-server,
// whose probe moves to its jcc, and at its first instruction: same strings,
// same count.
func TestPlacementRedis(t *testing.T) {
	testutil.RequireRoot(t)
	pid, cli := startRedis(t)
	counts := map[string]string{}
	for _, mode := range [][]string{nil, {"--exact-entry"}} {
		args := append([]string{"run", "-p", strconv.Itoa(pid), "-e",
			`uprobe:/usr/bin/redis-server:createStringObject { @n = count(); printf("<%s>\n", str(arg0, arg1)); }`}, mode...)
		tr := startUscope(t, args...)
		for i := 0; i < 10; i++ {
			if got := cli("set", fmt.Sprintf("key%d", i), fmt.Sprintf("value%d", i)); got != "OK" {
				t.Fatalf("set: %s", got)
			}
		}
		cli("get", "placement-end")
		tr.waitLine("<placement-end>")
		out := tr.stop()
		for i := 0; i < 10; i++ {
			wantLines(t, out, "<set>", fmt.Sprintf("<key%d>", i), fmt.Sprintf("<value%d>", i))
		}
		m := regexp.MustCompile(`(?m)^@n: (\d+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%v: no count\n%s", mode, out)
		}
		counts[fmt.Sprint(mode)] = m[1]
	}
	if counts["[]"] != counts["[--exact-entry]"] {
		t.Errorf("createStringObject counted %s times with placement, %s at the first instruction", counts["[]"], counts["[--exact-entry]"])
	}
}

// TestPlacementKernelTable verifies internal/placement's table for the
// running kernel without timing anything: a probe on an instruction the
// kernel single-steps makes it map the out-of-line area ([uprobes]) in the
// process; an emulated one does not.
func TestPlacementKernelTable(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/emulated.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "emulated", string(src), "-O1")
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	k := placement.ForRelease(string(rel))
	for _, c := range []struct{ name, class string }{
		{"nop", "nop"}, {"nop66", "nop"}, {"nop5", "nop5"}, {"nopl", "nopl"}, {"push", "push"},
		{"jmp", "jmp"}, {"jcc", "jcc"}, {"call", "call"}, {"endbr64", "endbr64"}, {"cmp", "cmp"},
	} {
		r := runUscope(t, "run", "--exact-entry", "-c", bin+" "+c.name, "-e",
			fmt.Sprintf(`uprobe:%s:class_%s { printf("hit\n"); }`, bin, c.name))
		if r.code != 0 || !strings.Contains(r.stdout, "hit\n") {
			t.Fatalf("%s: exit %d\n%s\n%s", c.name, r.code, r.stdout, r.stderr)
		}
		stepped := strings.Contains(r.stdout, "xol yes")
		if stepped == k.Emulates(c.class) {
			t.Errorf("%s: the kernel single-stepped it: %v; table %q says emulated: %v", c.name, stepped, k.Source, k.Emulates(c.class))
		}
	}
}

// TestPlacementStack: the first frame of a user stack taken at a moved
// entry probe is the function's first instruction, as without the move.
func TestPlacementStack(t *testing.T) {
	testutil.RequireRoot(t)
	bin := placementProgram(t)
	for _, fn := range []string{"f_cmpjcc", "f_testje", "f_learax"} {
		r := runUscope(t, "trace", "-U", "--cmd", bin+" 1", bin+":"+fn)
		if r.code != 0 || !strings.Contains(r.stdout, "\n        "+fn+"+0x0 [placement]\n") {
			t.Errorf("%s: want frame %s+0x0\nexit %d\n%s\n%s", fn, fn, r.code, r.stdout, r.stderr)
		}
	}
}

// TestPlacementReturn: a uretprobe's entry hook moves too (it reads the
// return address at (%rsp), which skipped instructions leave alone); every
// return value and count is as with the hook at the first instruction.
func TestPlacementReturn(t *testing.T) {
	testutil.RequireRoot(t)
	bin := placementProgram(t)
	const n = 4
	want := []string{}
	for _, c := range []struct {
		fn   string
		b, c int
	}{{"f_cmpjcc", 7, 100}, {"f_testje", 8, 200}, {"f_movr11", 9, 300}, {"f_learax", 10, 400}, {"f_push", 11, 500}, {"f_writearg", 13, 700}, {"f_endbr", 14, 800}} {
		sum := 0
		for i := 0; i < n; i++ {
			a := i
			if c.fn == "f_testje" {
				a = i + 1
			}
			sum += a + c.b + c.c
			if c.fn == "f_movr11" {
				sum += 7
			}
		}
		want = append(want, fmt.Sprintf("@r[%s]: %d", c.fn, sum), fmt.Sprintf("@n[%s]: %d", c.fn, n))
	}
	for _, mode := range [][]string{nil, {"--exact-entry"}} {
		r := runUscope(t, append([]string{"run", "-c", fmt.Sprintf("%s %d", bin, n), "-e",
			fmt.Sprintf(`uretprobe:%s:f_* { @r[func] = sum(retval); @n[func] = count(); }`, bin)}, mode...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", mode, r.code, r.stderr)
		}
		for _, w := range want {
			wantLines(t, r.stdout, w)
		}
	}
}
