package main

// The semantics table: BEGIN/END/interval programs, each with the exact
// output bpftrace prints for it (bpftrace's current main branch is the
// reference; see issue 15). The table is the judge of the compiler: an
// expectation is written from bpftrace's documented behaviour, its runtime
// tests and its sources, never from what uscope prints today.
//
// Cases live in testdata/semantics/*.txt, grouped by area. The format, one
// directive per line:
//
//	# text            a comment (outside a program: program lines start with "|")
//	### NAME          starts a case; NAME is unique across all files
//	| TEXT            a line of the program (uscope run -e PROGRAM)
//	> TEXT            a line of the expected stdout (">" alone: an empty line)
//	MAPS              the rest of the "> " lines are the maps printed at exit
//	EMPTY             the program prints nothing before the exit trailer
//	ERROR CODE TEXT   the program is rejected: exit code CODE, stderr contains TEXT
//	EXIT CODE         the program runs and exits with CODE (exit(CODE)); default 0
//	ARGS WORD...      words given after the program (its $1, $2 ... and --name=v)
//	XFAIL REASON      uscope fails this case today (the lead's work queue)
//	MAIN_ONLY REASON  bpftrace main and 0.17 differ here; main's result is the
//	                  expectation and the bpftrace 0.17 cross-check skips it
//
// bpftrace ends every run with two empty lines (after the END probes, before
// the maps it prints at exit). The runner adds them, so the expected stdout of
// a case is: its "> " lines before MAPS, "\n\n", its "> " lines after MAPS.
// In expected lines {PID} stands for the pid of the tracer process and {COMM}
// for its comm (BEGIN, END and interval probes run in the tracer itself).
//
// A case marked XFAIL still runs: if it now passes, the test fails ("remove
// XFAIL"); if it fails, the failure is logged and counted.
//
// USCOPE_SEMANTICS_PEER=bpftrace runs every case (but MAIN_ONLY ones) with
// `bpftrace -e` instead, to cross-check the expectations against Debian's
// bpftrace 0.17; it only logs the cases where bpftrace disagrees and the
// count that agree. It is off by default and never runs in CI.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// semCase is one row of the semantics table.
type semCase struct {
	Name     string
	Pos      string   // file:line of the ### line
	Prog     string   // the program, lines joined with "\n"
	Out      []string // expected stdout lines before the exit trailer
	Maps     []string // expected stdout lines after it (the maps printed at exit)
	HasMaps  bool     // MAPS seen
	Empty    bool     // EMPTY seen
	ErrCode  int      // with ErrText: the program must be rejected
	ErrText  string
	IsError  bool
	Exit     int // the exit code of a case that is not rejected
	Args     []string
	XFail    string
	MainOnly string
}

// want is the exact stdout the case expects (for a case that is not rejected).
func (c *semCase) want() string {
	var b strings.Builder
	for _, l := range c.Out {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n\n")
	for _, l := range c.Maps {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// parseSemantics reads the cases of one file.
func parseSemantics(r io.Reader, file string) ([]semCase, error) {
	var cases []semCase
	var cur *semCase
	var prog []string
	finish := func() error {
		if cur == nil {
			return nil
		}
		cur.Prog = strings.Join(prog, "\n")
		switch {
		case strings.TrimSpace(cur.Prog) == "":
			return fmt.Errorf("%s: case %s has no program", cur.Pos, cur.Name)
		case cur.IsError && (len(cur.Out) > 0 || len(cur.Maps) > 0 || cur.Empty || cur.HasMaps):
			return fmt.Errorf("%s: case %s has both ERROR and an expected output", cur.Pos, cur.Name)
		case !cur.IsError && !cur.Empty && len(cur.Out) == 0 && len(cur.Maps) == 0:
			return fmt.Errorf("%s: case %s expects nothing: add \"> \" lines, EMPTY or ERROR", cur.Pos, cur.Name)
		case cur.IsError && cur.Exit != 0:
			return fmt.Errorf("%s: case %s has both ERROR and EXIT", cur.Pos, cur.Name)
		case cur.Empty && len(cur.Out) > 0:
			return fmt.Errorf("%s: case %s has EMPTY and output lines", cur.Pos, cur.Name)
		}
		cases = append(cases, *cur)
		cur, prog = nil, nil
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		pos := fmt.Sprintf("%s:%d", file, n)
		word, rest, _ := strings.Cut(line, " ")
		switch {
		case strings.HasPrefix(line, "### "):
			if err := finish(); err != nil {
				return nil, err
			}
			name := strings.TrimSpace(line[4:])
			if name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("%s: a case name is one word", pos)
			}
			cur = &semCase{Name: name, Pos: pos}
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			// An empty line or a comment.
		case cur == nil:
			return nil, fmt.Errorf("%s: %q outside a case (start one with \"### NAME\")", pos, line)
		case line == "|" || strings.HasPrefix(line, "| "):
			if len(cur.Out) > 0 || cur.HasMaps {
				return nil, fmt.Errorf("%s: program line after the expected output", pos)
			}
			prog = append(prog, strings.TrimPrefix(strings.TrimPrefix(line, "|"), " "))
		case line == ">" || strings.HasPrefix(line, "> "):
			text := strings.TrimPrefix(strings.TrimPrefix(line, ">"), " ")
			if cur.HasMaps {
				cur.Maps = append(cur.Maps, text)
			} else {
				cur.Out = append(cur.Out, text)
			}
		case line == "MAPS":
			if cur.HasMaps {
				return nil, fmt.Errorf("%s: MAPS twice", pos)
			}
			cur.HasMaps = true
		case line == "EMPTY":
			cur.Empty = true
		case word == "ERROR":
			code, text, _ := strings.Cut(rest, " ")
			c, err := strconv.Atoi(code)
			if err != nil || c == 0 || strings.TrimSpace(text) == "" {
				return nil, fmt.Errorf("%s: want \"ERROR CODE TEXT\" with a nonzero code", pos)
			}
			cur.IsError, cur.ErrCode, cur.ErrText = true, c, text
		case word == "EXIT":
			c, err := strconv.Atoi(rest)
			if err != nil || c <= 0 || c > 255 {
				return nil, fmt.Errorf("%s: want \"EXIT CODE\" with a code in 1..255", pos)
			}
			cur.Exit = c
		case word == "ARGS":
			cur.Args = strings.Fields(rest)
		case word == "XFAIL" || word == "MAIN_ONLY":
			if strings.TrimSpace(rest) == "" {
				return nil, fmt.Errorf("%s: %s needs a reason", pos, word)
			}
			if (word == "XFAIL" && cur.XFail != "") || (word == "MAIN_ONLY" && cur.MainOnly != "") {
				return nil, fmt.Errorf("%s: %s twice", pos, word)
			}
			if word == "XFAIL" {
				cur.XFail = rest
			} else {
				cur.MainOnly = rest
			}
		default:
			return nil, fmt.Errorf("%s: unknown line %q (program lines start with \"| \", output lines with \"> \")", pos, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return cases, nil
}

// loadSemantics reads every testdata/semantics/*.txt file and adds the
// generated cases; it checks that names are unique.
func loadSemantics(t *testing.T) (cases []semCase, perFile map[string]int) {
	t.Helper()
	files, err := filepath.Glob("testdata/semantics/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/semantics/*.txt: %v", err)
	}
	perFile = map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := parseSemantics(bytes.NewReader(data), f)
		if err != nil {
			t.Fatal(err)
		}
		perFile[filepath.Base(f)] = len(cs)
		cases = append(cases, cs...)
	}
	gen := generatedSemantics()
	perFile["(generated)"] = len(gen)
	cases = append(cases, gen...)
	seen := map[string]string{}
	for _, c := range cases {
		if p, ok := seen[c.Name]; ok {
			t.Fatalf("%s: case %s already defined at %s", c.Pos, c.Name, p)
		}
		seen[c.Name] = c.Pos
	}
	return cases, perFile
}

// generatedSemantics are the cases too long to write by hand.
func generatedSemantics() []semCase {
	// 5,000 terms in one expression: the jump and instruction limits of one
	// long body. Terms ($x + i) for i = 1..5000 with $x = 1 sum to
	// 5000 + 5000*5001/2.
	const n = 5000
	var terms []string
	sum := 0
	for i := 1; i <= n; i++ {
		terms = append(terms, fmt.Sprintf("($x + %d)", i))
		sum += 1 + i
	}
	long := semCase{
		Name: "bugs.expression_5000_terms",
		Pos:  "semantics_test.go (generated)",
		Prog: fmt.Sprintf("BEGIN { $x = 1; printf(\"%%d\\n\", %s); exit(); }", strings.Join(terms, " + ")),
		Out:  []string{strconv.Itoa(sum)},
	}
	// The same sum through a map: a long body of map updates.
	var stmts []string
	for i := 1; i <= 1000; i++ {
		stmts = append(stmts, fmt.Sprintf("@s += %d;", i))
	}
	mapSum := semCase{
		Name:    "bugs.map_updates_1000_statements",
		Pos:     "semantics_test.go (generated)",
		Prog:    fmt.Sprintf("BEGIN { %s exit(); }", strings.Join(stmts, " ")),
		HasMaps: true,
		Maps:    []string{"@s: 500500"},
	}
	return []semCase{long, mapSum}
}

// semResult is what one case did.
type semResult struct {
	stdout, stderr string
	code           int
	pid            int
	err            error
}

// semRun runs one program with uscope (or the peer) and returns its output.
func semRun(peer string, prog string, args ...string) semResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if peer != "" {
		cmd = exec.CommandContext(ctx, peer, append([]string{"-e", prog}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, uscopeBin, append([]string{"run", "-e", prog}, args...)...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := semResult{}
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	r.pid = cmd.Process.Pid
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.err = err
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("did not finish within 60s")
	}
	r.stdout, r.stderr = out.String(), errb.String()
	if peer != "" {
		r.stdout = attachingLine.ReplaceAllString(r.stdout, "")
	}
	return r
}

// attachingLine is the line bpftrace 0.17 prints on stdout before tracing
// (bpftrace main prints "Attached N probes" on stderr).
var attachingLine = regexp.MustCompile(`\AAttaching \d+ probes?\.\.\.\n`)

// semExpand replaces the placeholders of an expected output.
func semExpand(s string, pid int, comm string) string {
	return strings.NewReplacer("{PID}", strconv.Itoa(pid), "{COMM}", comm).Replace(s)
}

// semVerdict is the outcome of one case.
type semVerdict int

const (
	semPass    semVerdict = iota
	semFail               // a failure: the test fails
	semXFail              // a failure the table expects (an XFAIL row)
	semUnxpass            // an XFAIL row that passes: the test fails
	semSkip
)

// judge compares one result with its case. It returns the verdict and a
// description of the difference.
func judge(c *semCase, r semResult, comm string, peer bool) (semVerdict, string) {
	if r.err != nil {
		return semFail, r.err.Error()
	}
	var diff string
	if c.IsError {
		switch {
		case r.code != c.ErrCode:
			diff = fmt.Sprintf("exit code %d, want %d; stdout %q stderr %q", r.code, c.ErrCode, r.stdout, r.stderr)
		case !peer && !strings.Contains(r.stderr, c.ErrText):
			diff = fmt.Sprintf("stderr %q lacks %q", r.stderr, c.ErrText)
		case strings.Contains(r.stderr, "panic"):
			diff = fmt.Sprintf("panic: %s", r.stderr)
		}
	} else {
		want := semExpand(c.want(), r.pid, comm)
		switch {
		case r.code != c.Exit:
			diff = fmt.Sprintf("exit code %d, want %d; stdout %q stderr %q", r.code, c.Exit, r.stdout, strings.TrimSpace(r.stderr))
		case r.stdout != want:
			diff = fmt.Sprintf("stdout %q, want %q", r.stdout, want)
		}
	}
	switch {
	case peer && diff != "":
		return semFail, diff
	case peer:
		return semPass, ""
	case diff == "" && c.XFail != "":
		return semUnxpass, "passes now: remove its XFAIL line"
	case diff == "":
		return semPass, ""
	case c.XFail != "":
		return semXFail, diff
	}
	return semFail, diff
}

func TestSemantics(t *testing.T) {
	testutil.RequireRoot(t)
	peer := ""
	comm := "uscope"
	switch p := os.Getenv("USCOPE_SEMANTICS_PEER"); p {
	case "":
	case "bpftrace":
		if testutil.InCI() {
			t.Fatal("USCOPE_SEMANTICS_PEER is a manual cross-check; it does not run in CI")
		}
		peer = testutil.RequireTool(t, "bpftrace")
		comm = "bpftrace"
	default:
		t.Fatalf("USCOPE_SEMANTICS_PEER=%q: the only peer is bpftrace", p)
	}
	cases, perFile := loadSemantics(t)
	var files []string
	for f := range perFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		t.Logf("%-28s %d cases", f, perFile[f])
	}

	var mu sync.Mutex
	counts := map[semVerdict]int{}
	var xfails []string
	limit := make(chan struct{}, 4)
	t.Run("case", func(t *testing.T) {
		for i := range cases {
			c := &cases[i]
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				if peer != "" && c.MainOnly != "" {
					mu.Lock()
					counts[semSkip]++
					mu.Unlock()
					t.Skipf("MAIN_ONLY: %s", c.MainOnly)
				}
				limit <- struct{}{}
				r := semRun(peer, c.Prog, c.Args...)
				<-limit
				v, diff := judge(c, r, comm, peer != "")
				mu.Lock()
				counts[v]++
				if v == semXFail {
					xfails = append(xfails, c.Name+": "+c.XFail)
				}
				mu.Unlock()
				where := fmt.Sprintf("%s\nprogram: %s", c.Pos, c.Prog)
				switch v {
				case semFail:
					if peer != "" {
						t.Logf("bpftrace 0.17 disagrees: %s\n%s", diff, where)
						return
					}
					t.Errorf("%s\n%s", diff, where)
				case semUnxpass:
					t.Errorf("%s\n%s", diff, where)
				case semXFail:
					t.Logf("XFAIL %s: %s\n%s", c.XFail, diff, where)
				}
			})
		}
	})
	if peer != "" {
		run := counts[semPass] + counts[semFail]
		t.Logf("bpftrace 0.17 agrees with %d of %d cases (%d MAIN_ONLY cases skipped)", counts[semPass], run, counts[semSkip])
		return
	}
	t.Logf("semantics: %d of %d cases ran: %d pass, %d XFAIL, %d fail, %d XFAIL rows pass",
		counts[semPass]+counts[semXFail]+counts[semFail]+counts[semUnxpass], len(cases), counts[semPass], counts[semXFail], counts[semFail], counts[semUnxpass])
}

func TestParseSemantics(t *testing.T) {
	src := `# a comment
### a.one
| BEGIN { printf("%d\n", 1);
|   exit(); }
> 1
>
> x
MAPS
> @a: 1
XFAIL some reason
MAIN_ONLY other reason

### a.two
| BEGIN { nope }
ERROR 1 unknown identifier

### a.three
| BEGIN { exit(); }
EMPTY
`
	cs, err := parseSemantics(strings.NewReader(src), "f.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d cases, want 3", len(cs))
	}
	a := cs[0]
	if a.Name != "a.one" || a.Pos != "f.txt:2" || a.Prog != "BEGIN { printf(\"%d\\n\", 1);\n  exit(); }" ||
		a.XFail != "some reason" || a.MainOnly != "other reason" {
		t.Fatalf("case 1: %+v", a)
	}
	if got, want := a.want(), "1\n\nx\n\n\n@a: 1\n"; got != want {
		t.Fatalf("want() = %q, want %q", got, want)
	}
	if b := cs[1]; !b.IsError || b.ErrCode != 1 || b.ErrText != "unknown identifier" {
		t.Fatalf("case 2: %+v", b)
	}
	if c := cs[2]; !c.Empty || c.want() != "\n\n" {
		t.Fatalf("case 3: %+v", c)
	}
	for _, bad := range []string{
		"| BEGIN {}",                                 // outside a case
		"### x\n> 1",                                 // no program
		"### x\n| BEGIN {}",                          // expects nothing
		"### x\n| BEGIN {}\n> 1\nERROR 1 e",          // both
		"### x\n| BEGIN {}\nERROR x e",               // bad code
		"### x\n| BEGIN {}\nERROR 0 e",               // zero code
		"### x\n| BEGIN {}\nXFAIL",                   // no reason
		"### x\n| BEGIN {}\nwhat",                    // unknown line
		"### x\n> 1\n| BEGIN {}",                     // program after output
		"### x y\n| BEGIN {}\n> 1",                   // name with a space
		"### x\n| BEGIN {}\nMAPS\nMAPS\n> 1",         // MAPS twice
		"### x\n| BEGIN {}\nEMPTY\n> 1",              // EMPTY and output
		"### x\n| BEGIN {}\nEMPTY\nEXIT 0",           // EXIT 0
		"### x\n| BEGIN {}\nERROR 1 e\nEXIT 2",       // ERROR and EXIT
		"### x\n| BEGIN {}\nEMPTY\nXFAIL a\nXFAIL b", // XFAIL twice
	} {
		if _, err := parseSemantics(strings.NewReader(bad), "f.txt"); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
}

func TestJudgeSemantics(t *testing.T) {
	c := &semCase{Name: "x", Out: []string{"pid {PID} {COMM}"}}
	ok := semResult{stdout: "pid 7 uscope\n\n\n", pid: 7}
	if v, d := judge(c, ok, "uscope", false); v != semPass {
		t.Fatalf("exact output: %v %s", v, d)
	}
	noTrailer := semResult{stdout: "pid 7 uscope\n", pid: 7}
	if v, _ := judge(c, noTrailer, "uscope", false); v != semFail {
		t.Fatalf("missing exit trailer: verdict %v", v)
	}
	wrong := semResult{stdout: "pid 8 uscope\n\n\n", pid: 7}
	if v, _ := judge(c, wrong, "uscope", false); v != semFail {
		t.Fatalf("wrong output: verdict %v", v)
	}
	x := *c
	x.XFail = "bug"
	if v, _ := judge(&x, wrong, "uscope", false); v != semXFail {
		t.Fatalf("XFAIL row failing: verdict %v", v)
	}
	if v, _ := judge(&x, ok, "uscope", false); v != semUnxpass {
		t.Fatalf("XFAIL row passing: verdict %v", v)
	}
	if v, _ := judge(c, wrong, "bpftrace", true); v != semFail {
		t.Fatalf("peer disagreeing: verdict %v", v)
	}
	e := &semCase{Name: "e", IsError: true, ErrCode: 1, ErrText: "unknown"}
	if v, _ := judge(e, semResult{code: 1, stderr: "x: unknown identifier"}, "uscope", false); v != semPass {
		t.Fatalf("rejected program: verdict %v", v)
	}
	if v, _ := judge(e, semResult{code: 0}, "uscope", false); v != semFail {
		t.Fatalf("accepted program: verdict %v", v)
	}
	if v, _ := judge(e, semResult{code: 1, stderr: "other"}, "bpftrace", true); v != semPass {
		t.Fatalf("peer rejects with its own words: verdict %v", v)
	}
}

func FuzzParseSemantics(f *testing.F) {
	f.Add("### a\n| BEGIN { exit(); }\n> 1\nMAPS\n> @: 1\nXFAIL r\n")
	f.Add("### b\n| x\nERROR 2 y\nMAIN_ONLY z\n")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := parseSemantics(strings.NewReader(s), "f")
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Name == "" || strings.TrimSpace(c.Prog) == "" {
				t.Fatalf("case without a name or program: %+v", c)
			}
			_ = c.want()
		}
	})
}
