package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// Source lines, locals and statics from DWARF (issue 17), on
// testdata/lines.c, whose lines the tests find by their LINE_ comments.

// linesSource returns lines.c and the numbers of its marked lines.
func linesSource(t *testing.T) (src string, line map[string]int) {
	t.Helper()
	b, err := os.ReadFile("testdata/lines.c")
	if err != nil {
		t.Fatal(err)
	}
	line = map[string]int{}
	for i, l := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`LINE_[A-Z]+`).FindString(l); m != "" {
			line[m] = i + 1
		}
		for _, fn := range []string{"main", "observe"} {
			if strings.Contains(l, " "+fn+"(") && strings.HasSuffix(l, "{") {
				line[fn] = i + 1
			}
		}
	}
	for _, k := range []string{"LINE_LOOP", "LINE_TOTAL", "main", "observe"} {
		if line[k] == 0 {
			t.Fatalf("lines.c has no %s", k)
		}
	}
	return string(b), line
}

// TestLineProbeForms: uprobe:BIN:FILE:LINE, uprobe:BIN:FUNC:LINE (from the
// function's own line, as perf probe counts) and bpftrace's
// uprobe:BIN@FILE:LINE fire as many times as the line runs, at -O0 and at
// -O2 without frame pointers, PIE and not; locals there read the loop
// variable and a struct the frame holds (at -O2 through the CFA from
// .eh_frame), and a static local (DW_OP_addr, moved by the load bias).
func TestLineProbeForms(t *testing.T) {
	testutil.RequireRoot(t)
	src, line := linesSource(t)
	for _, flags := range [][]string{{"-O0", "-g"}, {"-O2", "-g", "-fomit-frame-pointer"}, {"-O2", "-g", "-no-pie", "-fno-pie"}, {"-O2", "-gdwarf-4"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			bin := testutil.BuildC(t, "lines", src, flags...)
			const n = 4
			prog := fmt.Sprintf(`
uprobe:%[1]s:lines.c:%[2]d { printf("loop %%d %%ld %%d\n", locals.i, locals.a.sum, locals.a.n); }
uprobe:%[1]s:main:%[3]d { @rel = count(); }
uprobe:%[1]s@lines.c:%[2]d { @at = count(); }
uprobe:%[1]s:observe:%[4]d { @total = count(); }
uprobe:%[1]s:observe { printf("calls %%ld\n", locals.calls); }
`, bin, line["LINE_LOOP"], line["LINE_LOOP"]-line["main"], line["LINE_TOTAL"]-line["observe"])
			r := runUscope(t, "run", "-c", fmt.Sprintf("%s %d", bin, n), "-e", prog)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			var want []string
			for i := 0; i < n; i++ {
				want = append(want, fmt.Sprintf("loop %d %d %d", i, 10*i*(i-1)/2, i))
			}
			wantLines(t, r.stdout, want...)
			var calls []string
			for i := 0; i < n; i++ {
				calls = append(calls, fmt.Sprintf("calls %d", i))
			}
			wantLines(t, r.stdout, calls...)
			wantLines(t, r.stdout, fmt.Sprintf("@at: %d", n), fmt.Sprintf("@rel: %d", n), fmt.Sprintf("@total: %d", n))
			if c := strings.Count(r.stdout, "loop "); c != n {
				t.Errorf("the loop line fired %d times, want %d", c, n)
			}
		})
	}
}

// TestLineProbeErrors: the mistakes of a line probe, each one line.
func TestLineProbeErrors(t *testing.T) {
	src, line := linesSource(t)
	bin := testutil.BuildC(t, "lines", src, "-O2", "-g")
	for _, c := range []struct{ probe, want string }{
		{"uprobe:" + bin + ":nosuch.c:3", "no source file nosuch.c in the line table"},
		{"uprobe:" + bin + ":lines.c:1", "no code for line 1 of lines.c"},
		{"uprobe:" + bin + ":lines.c:*", "a line probe needs a line number"},
		{"uprobe:" + bin + ":nosuch:2", "nosuch: no DWARF entry for the function"},
		{"uprobe:" + bin + ":main:200", fmt.Sprintf("line 200 of main is line %d of ", line["main"]+200)},
	} {
		// One line, then the program's line and a caret under the probe.
		r := runUscope(t, "run", "-e", c.probe+" { }")
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != 1 || !strings.Contains(first, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
			t.Errorf("%s: exit %d, stderr %q, want one line with %q", c.probe, r.code, r.stderr, c.want)
		}
	}
}

// perfLines are the line numbers perf probe -L prints for file in bin.
func perfLines(t *testing.T, perf, bin, file string) []int {
	t.Helper()
	out, err := exec.Command(perf, "probe", "-x", bin, "-L", file).CombinedOutput()
	if err != nil {
		t.Fatalf("perf probe -L: %v %s", err, out)
	}
	var lines []int
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lines = append(lines, n)
			}
		}
	}
	return lines
}

// perfVars are the names of the variables perf probe -V prints at
// file:line, sorted; nil when perf refuses the line.
func perfVars(t *testing.T, perf, bin, at string) []string {
	t.Helper()
	out, err := exec.Command(perf, "probe", "-x", bin, "-V", at).CombinedOutput()
	if err != nil {
		t.Logf("perf probe -V %s: %v %s", at, err, out)
		return nil
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "\t\t") {
			f := strings.Fields(l)
			names = append(names, strings.TrimRight(f[len(f)-1], "]0123456789["))
		}
	}
	slices.Sort(names)
	return names
}

// TestListLines: `uscope list BIN 'uprobe:*:FILE:*'` lists the lines perf
// probe -L lists, and `list -v`/`--json` at a line show the variables perf
// probe -V (--vars) shows there, each with a location.
func TestListLines(t *testing.T) {
	perf := testutil.RequireTool(t, "perf")
	src, line := linesSource(t)
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := testutil.BuildC(t, "lines", src, opt, "-g")
			r := runUscope(t, "list", bin, "uprobe:*:lines.c:*")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var got []int
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				prefix := "uprobe:" + bin + ":lines.c:"
				if !strings.HasPrefix(l, prefix) {
					t.Fatalf("listed %q, want %sLINE", l, prefix)
				}
				n, _ := strconv.Atoi(strings.TrimPrefix(l, prefix))
				got = append(got, n)
			}
			if want := perfLines(t, perf, bin, "lines.c"); !slices.Equal(got, want) {
				t.Errorf("lines %v, perf probe -L lists %v", got, want)
			}
			// A line without code: one line naming the nearest ones.
			r = runUscope(t, "list", "-v", bin, "uprobe:*:lines.c:1")
			if want := fmt.Sprintf("line 1 of lines.c has no code of its own; nearest probeable lines: %d", got[0]); r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("line 1: exit %d, stderr %q, want %q", r.code, r.stderr, want)
			}
			// The loop's line, or the nearest line before it in main that
			// perf probe -V accepts (at -O2 the loop's lines share
			// addresses, which perf refuses).
			var at string
			var want []string
			loop := line["LINE_LOOP"]
			for ; loop > line["main"]; loop-- {
				at = fmt.Sprintf("lines.c:%d", loop)
				if slices.Contains(got, loop) {
					if want = perfVars(t, perf, bin, at); len(want) > 0 {
						break
					}
				}
			}
			if len(want) == 0 {
				t.Fatalf("perf probe -V shows variables at no line of main")
			}
			r = runUscope(t, "list", "-v", bin, "uprobe:*:"+at)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "uprobe:"+bin+":"+at+"\n    addr 0x") {
				t.Errorf("list -v:\n%s", r.stdout)
			}
			var avail []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "        ") && !strings.HasSuffix(l, "<optimized out>") {
					f := strings.Fields(l)
					avail = append(avail, f[len(f)-1])
				}
			}
			for _, v := range want {
				if !slices.Contains(avail, v) {
					t.Errorf("perf probe -V shows %s, list -v does not:\n%s", v, r.stdout)
				}
			}
			r = runUscope(t, "list", "--json", bin, "uprobe:*:"+at)
			var j struct {
				Probe string
				Line  int
				Sites []struct {
					Func string
					Vars []string
				}
			}
			if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
				t.Fatalf("--json: %v %s", err, r.stdout)
			}
			if j.Line != loop || len(j.Sites) == 0 || !strings.HasPrefix(j.Sites[0].Func, "main+") {
				t.Errorf("--json: %s", r.stdout)
			}
			for _, v := range want {
				found := false
				for _, d := range j.Sites[0].Vars {
					found = found || strings.HasSuffix(d, " "+v)
				}
				if !found {
					t.Errorf("--json lacks %s: %s", v, r.stdout)
				}
			}
		})
	}
}

// TestSplitDWARF: a -gsplit-dwarf build (the DWARF in a .dwo next to the
// binary, the binary keeping skeleton units) gives the same parameters,
// signatures and line probes as a build with its DWARF inside, and the
// binary without its .dwo is a one-line error.
func TestSplitDWARF(t *testing.T) {
	testutil.RequireRoot(t)
	bin := cParamsProgram(t, "-O2", "-g", "-gsplit-dwarf")
	dwos, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), "*.dwo"))
	if len(dwos) != 1 {
		t.Fatalf("gcc wrote no .dwo next to %s: %v", bin, dwos)
	}
	if out, _ := exec.Command("readelf", "-S", bin).Output(); strings.Contains(string(out), ".debug_loclists") || !strings.Contains(string(out), ".debug_addr") {
		t.Fatalf("not a split build:\n%s", out)
	}
	r := runUscope(t, "run", "-c", bin+" 2 1", "-e", cParamsProbes(bin))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantCParams(t, r.stdout)
	r = runUscope(t, "list", "-v", bin, "uprobe:*:byval")
	wantLines(t, r.stdout, "uprobe:"+bin+":byval", "    struct small s", "    struct pair p", "    struct big b", "    cb_t fn")
	line := paramsLine(t, "getreq(1234 + i)")
	r = runUscope(t, "run", "-c", bin+" 3", "-e", fmt.Sprintf(`uprobe:%s:params.c:%d { printf("i=%%d\n", locals.i); }`, bin, line))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "i=0", "i=1", "i=2")
	if err := os.Remove(dwos[0]); err != nil {
		t.Fatal(err)
	}
	r = runUscope(t, "run", "-e", `uprobe:`+bin+`:byref { print(args.r); }`)
	if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 1 || !strings.Contains(first, "split DWARF") || !strings.Contains(first, ".dwo") {
		t.Errorf("without the .dwo: exit %d, stderr %q", r.code, r.stderr)
	}
	// DWARF 4's GNU split forms: not read, and said so.
	bin4 := cParamsProgram(t, "-O2", "-gdwarf-4", "-gsplit-dwarf")
	r = runUscope(t, "run", "-e", `uprobe:`+bin4+`:byref { print(args.r); }`)
	if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 1 || !strings.Contains(first, "split DWARF 4") || !strings.Contains(first, "-gdwarf-5") {
		t.Errorf("DWARF 4 split: exit %d, stderr %q", r.code, r.stderr)
	}
}

// paramsLine is the number of the line of params.c that contains text.
func paramsLine(t *testing.T, text string) int {
	t.Helper()
	src, err := os.ReadFile("../../internal/cdwarf/testdata/params.c")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("params.c has no line with %q", text)
	return 0
}

// TestDWP: the .dwo files packed into BIN.dwp (llvm-dwp; at -O0: llvm-dwp
// 14 does not finish on gcc's -O2 location lists) give the same
// parameters as the binary with its DWARF inside.
func TestDWP(t *testing.T) {
	testutil.RequireRoot(t)
	dwp := testutil.RequireTool(t, "llvm-dwp")
	bin := cParamsProgram(t, "-O0", "-g", "-gsplit-dwarf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, dwp, "-e", bin, "-o", bin+".dwp").CombinedOutput(); err != nil {
		t.Fatalf("llvm-dwp: %v %s", err, out)
	}
	dwos, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), "*.dwo"))
	for _, d := range dwos {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
	r := runUscope(t, "run", "-c", bin+" 2 1", "-e", cParamsProbes(bin))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantCParams(t, r.stdout)
	r = runUscope(t, "list", "-v", bin, "uprobe:*:byref")
	wantLines(t, r.stdout, "uprobe:"+bin+":byref", "    struct req* r", "    struct wrap* w")
}
