package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp/syntax"
	"sort"
	"strings"
)

// Superseded tells why a failed test of the v0.17.0 suite is not counted
// against uscope: bpftrace's main branch has a test of the same file and
// name whose program or expectations differ, and uscope passes main's
// version. Where 0.17 and main differ and cannot coexist, main wins (issue
// 16); everything else stays a plain failure.
type Superseded struct {
	Old     *Test  // the v0.17.0 test
	OldKey  string // its results key (suite.name#n)
	Main    *Test  // main's test of the same file and name
	MainKey string // main's results key (suite.name#n)
	Differs string // "program", "expectations" or "program and expectations"
}

// NormName is a test's name as both suites can be matched on: v0.17.0
// writes some names in double quotes (usdt."usdt probes - ..."), main
// does not.
func NormName(name string) string {
	n := strings.TrimSpace(name)
	if len(n) >= 2 && n[0] == '"' && n[len(n)-1] == '"' {
		n = n[1 : len(n)-1]
	}
	return n
}

// testKeys numbers the tests of one name in one file, in file order, as
// readResults keys results.tsv: suite.name#n, with the name normalised
// when norm is set.
func testKeys(ts []*Test, norm bool) map[*Test]string {
	seen := map[string]int{}
	keys := map[*Test]string{}
	for _, t := range ts {
		name := t.Name
		if norm {
			name = NormName(name)
		}
		id := t.Suite + "." + name
		seen[id]++
		keys[t] = fmt.Sprintf("%s#%d", id, seen[id])
	}
	return keys
}

// program is the program or command of a test with runs of blanks made
// one (main's files may split a PROG over continuation lines).
func program(t *Test) string {
	p := t.Prog
	if p == "" {
		p = "RUN " + t.Run
	}
	return strings.Join(strings.Fields(p), " ")
}

// expectations is a test's expectations as one comparable string; the
// text of EXPECT_FILE/EXPECT_JSON files is read from the test's checkout
// (testsDir is its tests/).
func expectations(t *Test, testsDir string) string {
	var b strings.Builder
	for _, x := range t.Expects {
		if x.Mode == ExpectRegex {
			if lit, ok := wholeLineLiteral(x.Text); ok {
				// ^text$ asks what EXPECT text asks: v0.17 had only regexes.
				fmt.Fprintf(&b, "%s %s\n", ExpectText, lit)
				continue
			}
		}
		fmt.Fprintf(&b, "%s %s\n", x.Mode, x.Text)
		if x.Mode == ExpectFile || x.Mode == ExpectJSON {
			body, _ := os.ReadFile(filepath.Join(testsDir, x.Text))
			b.Write(body)
		}
	}
	return b.String()
}

// Supersede classifies the failed tests of the v0.17.0 suite (old, with
// uscope's results oldRes keyed suite.name#n) against main's suite (main,
// read from mainSrc, with uscope's results mainRes). A failed test is
// superseded when main has a test of the same file and normalised name
// (the n-th of that name to the n-th), the program or the expectations
// differ, and uscope passed main's. The result is keyed by the old test.
func Supersede(old []*Test, oldRes map[string]resultRow, oldSrc string, main []*Test, mainRes map[string]resultRow, mainSrc string) map[*Test]*Superseded {
	oldKeys := testKeys(old, false)
	normKeys := testKeys(old, true)
	mainByKey := map[string]*Test{}
	for t, k := range testKeys(main, true) {
		mainByKey[k] = t
	}
	mainKeys := testKeys(main, false)
	out := map[*Test]*Superseded{}
	for _, t := range old {
		r, ok := oldRes[oldKeys[t]]
		if !ok || (r.status != string(Fail) && r.status != string(Timeout)) {
			continue
		}
		m := mainByKey[normKeys[t]]
		if m == nil {
			continue
		}
		if mr, ok := mainRes[mainKeys[m]]; !ok || mr.status != string(Pass) {
			continue
		}
		prog := program(t) != program(m)
		exp := expectations(t, filepath.Join(oldSrc, "tests")) != expectations(m, filepath.Join(mainSrc, "tests"))
		var d string
		switch {
		case prog && exp:
			d = "program and expectations"
		case prog:
			d = "program"
		case exp:
			d = "expectations"
		default:
			continue // the same test: a plain failure
		}
		out[t] = &Superseded{Old: t, OldKey: oldKeys[t], Main: m, MainKey: mainKeys[m], Differs: d}
	}
	return out
}

// wholeLineLiteral: the text a regex of the form ^text$ matches, the
// line of an EXPECT (blanks around it aside).
func wholeLineLiteral(re string) (string, bool) {
	if !strings.HasPrefix(re, "^") || !strings.HasSuffix(re, "$") {
		return "", false
	}
	r, err := syntax.Parse(re[1:len(re)-1], syntax.Perl)
	if err != nil {
		return "", false
	}
	r = r.Simplify()
	if r.Op != syntax.OpLiteral || r.Flags&syntax.FoldCase != 0 {
		return "", false
	}
	return strings.TrimSpace(string(r.Rune)), true
}

// shortExpect is a test's expectations on one line, cut to n characters;
// a file's first line stands for its text.
func shortExpect(t *Test, testsDir string, n int) string {
	var parts []string
	for _, x := range t.Expects {
		s := x.Text
		if x.Mode == ExpectFile || x.Mode == ExpectJSON {
			body, _ := os.ReadFile(filepath.Join(testsDir, x.Text))
			s = filepath.Base(x.Text) + ": " + firstLine(strings.TrimSpace(string(body)))
		}
		parts = append(parts, string(x.Mode)+" "+strings.ReplaceAll(s, "\n", `\n`))
	}
	s := strings.Join(parts, "; ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// changedElsewhere are v0.17.0 tests that main changed under another
// name or file, or dropped with the behaviour they test. They are not
// superseded by the rule (no same-named test of main passes) and stay
// counted as failures; the table lists them, when they fail, with why.
var changedElsewhere = map[string]string{
	"basic.delete count-map": "main moved it to stdlib.delete count-map, which expects the opposite: " +
		"a count map emptied by delete() prints nothing (EXPECT_NONE @: 0); 0.17 prints @: 0",
	"signals.print all maps on sigusr1": "main removed the default SIGUSR1 handler that printed every map " +
		"(docs/migration_guide.md, bpftrace PR 3522): SIGUSR1 runs self:signal:SIGUSR1 probes instead",
	"other.runtime_error_check_delete": "main has no such test: -k warns of failed probe_read and map lookups " +
		"(man page), delete() returns whether it deleted, and main words helper warnings differently " +
		"(other.runtime_error_check_lookup)",
	`usdt."usdt probes - attach to probe on multiple files by wildcard"`: "commented out in main's suite; " +
		"it expects 0.17's \"Attaching 48 probes...\" line, which main prints as \"Attached N probes\"",
}

// supersededFile is the name of the classification in a v0.17 run's
// directory, beside results.tsv.
const supersededFile = "superseded.tsv"

// writeSuperseded writes the classification: the old test's results key,
// what differs, main's test, and both expectations, short.
func writeSuperseded(path string, sup map[*Test]*Superseded, oldSrc, mainSrc string) error {
	return writeFile(path, func(w io.Writer) {
		fmt.Fprintln(w, "test\tdiffers\tmain test\tv0.17 expects\tmain expects")
		for _, t := range supersededTests(sup) {
			s := sup[t]
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.OldKey, s.Differs, s.MainKey,
				tsv(shortExpect(t, filepath.Join(oldSrc, "tests"), 70)), tsv(shortExpect(s.Main, filepath.Join(mainSrc, "tests"), 70)))
		}
	})
}

// supersededTests: the superseded tests in suite and line order.
func supersededTests(sup map[*Test]*Superseded) []*Test {
	var ts []*Test
	for t := range sup {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Suite != ts[j].Suite {
			return ts[i].Suite < ts[j].Suite
		}
		return ts[i].Line < ts[j].Line
	})
	return ts
}

// supRow is one line of superseded.tsv.
type supRow struct{ differs, mainTest, oldExpect, mainExpect string }

// readSuperseded reads superseded.tsv; a missing file is no superseded
// test.
func readSuperseded(path string) (map[string]supRow, []string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	m := map[string]supRow{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		p := strings.Split(sc.Text(), "\t")
		if first || len(p) < 5 {
			continue
		}
		m[p[0]] = supRow{p[1], p[2], p[3], p[4]}
		order = append(order, p[0])
	}
	return m, order, sc.Err()
}

// parseSuite parses every test file of a checkout in its own format.
func parseSuite(src string) ([]*Test, error) {
	f, err := DetectFormat(src)
	if err != nil {
		return nil, err
	}
	files, err := SuiteFiles(src)
	if err != nil {
		return nil, err
	}
	machine := unameMachine()
	var tests []*Test
	for _, p := range files {
		ts, _, err := ParseFile(p, f, machine)
		if err != nil {
			return nil, err
		}
		tests = append(tests, ts...)
	}
	return tests, nil
}

// supersede classifies this run's failures against uscope's run of
// main's suite (-superseded-by, -superseded-results) and writes
// superseded.tsv into out.
func (rep *Report) supersede(mainSrc, mainResults, out string) error {
	if mainResults == "" {
		return fmt.Errorf("-superseded-by needs -superseded-results FILE (results.tsv of uscope's run of main's suite)")
	}
	main, err := parseSuite(mainSrc)
	if err != nil {
		return err
	}
	mainRes, err := readResults(mainResults)
	if err != nil {
		return err
	}
	oldRes := map[string]resultRow{}
	seen := map[string]int{}
	for _, r := range rep.Results {
		id := r.Test.ID()
		seen[id]++
		oldRes[fmt.Sprintf("%s#%d", id, seen[id])] = resultRow{r.Test.Suite, string(r.Class.Scope), string(r.Status), tsv(r.Reason)}
	}
	rep.Superseded = Supersede(rep.Tests, oldRes, rep.Src, main, mainRes, mainSrc)
	rep.MainSrc = mainSrc
	return writeSuperseded(filepath.Join(out, supersededFile), rep.Superseded, rep.Src, mainSrc)
}

// supersedeMain is `compat -supersede OLD_SRC OLD_RUN MAIN_SRC MAIN_RUN`:
// it writes OLD_RUN/superseded.tsv from the two uscope runs' results.tsv.
func supersedeMain(oldSrc, oldRun, mainSrc, mainRun string) error {
	old, err := parseSuite(oldSrc)
	if err != nil {
		return err
	}
	main, err := parseSuite(mainSrc)
	if err != nil {
		return err
	}
	oldRes, err := readResults(filepath.Join(oldRun, "results.tsv"))
	if err != nil {
		return err
	}
	mainRes, err := readResults(filepath.Join(mainRun, "results.tsv"))
	if err != nil {
		return err
	}
	sup := Supersede(old, oldRes, oldSrc, main, mainRes, mainSrc)
	return writeSuperseded(filepath.Join(oldRun, supersededFile), sup, oldSrc, mainSrc)
}
