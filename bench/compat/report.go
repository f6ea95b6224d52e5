package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Report is the outcome of one run.
type Report struct {
	Tool, Src, Commit, Command string
	Format                     Format
	Date                       time.Time
	Tests                      []*Test
	Classes                    map[*Test]Class
	Results                    []*Result
	OtherArch, Retries         int
	BuildFailed                map[string]string
	Selected, All, Rewrite     bool
	Superseded                 map[*Test]*Superseded // with -superseded-by
	MainSrc                    string                // its checkout
}

type counts struct{ tests, run, pass, fail, timeout, skip int }

func (c *counts) add(r *Result) {
	c.run++
	switch r.Status {
	case Pass:
		c.pass++
	case Fail:
		c.fail++
	case Timeout:
		c.timeout++
	case Skip:
		c.skip++
	}
}

// Cause is one line of the taxonomy.
type Cause struct {
	Cause   string
	Count   int
	Example string
}

// Taxonomy groups the failed and timed-out results by cause, biggest first.
func Taxonomy(rs []*Result) []Cause {
	m := map[string]*Cause{}
	for _, r := range rs {
		if r.Status != Fail && r.Status != Timeout {
			continue
		}
		c := m[r.Cause]
		if c == nil {
			c = &Cause{Cause: r.Cause, Example: r.Test.ID()}
			m[r.Cause] = c
		}
		c.Count++
	}
	var out []Cause
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Cause < out[j].Cause
	})
	return out
}

// Write writes summary.txt, failures.tsv and results.tsv into dir.
func (rep *Report) Write(dir string) error {
	if err := writeFile(filepath.Join(dir, "summary.txt"), rep.summary); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "failures.tsv"), func(w io.Writer) {
		fmt.Fprintln(w, "test\tfile:line\tscope\tstatus\tcause\treason")
		for _, r := range rep.Results {
			if r.Status == Fail || r.Status == Timeout {
				fmt.Fprintf(w, "%s\t%s:%d\t%s\t%s\t%s\t%s\n", r.Test.ID(), r.Test.Suite, r.Test.Line, r.Class.Scope, r.Status, tsv(r.Cause), tsv(r.Reason))
			}
		}
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "results.tsv"), func(w io.Writer) {
		fmt.Fprintln(w, "test\tsuite\tscope\tstatus\treason")
		for _, r := range rep.Results {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Test.ID(), r.Test.Suite, r.Class.Scope, r.Status, tsv(r.Reason))
		}
	})
}

func tsv(s string) string { return strings.NewReplacer("\t", " ", "\n", `\n`).Replace(s) }

func writeFile(path string, fill func(io.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (rep *Report) summary(w io.Writer) {
	fmt.Fprintf(w, "bpftrace runtime suite against %s\n", rep.Tool)
	fmt.Fprintf(w, "suite:   %s/tests/runtime, commit %s, %s format\n", rep.Src, rep.Commit, rep.Format)
	fmt.Fprintf(w, "date:    %s\n", rep.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "command: %s\n", rep.Command)
	if rep.Retries > 0 {
		n := 0
		for _, r := range rep.Results {
			if r.Attempts > 1 && r.Status == Pass {
				n++
			}
		}
		fmt.Fprintf(w, "retries: a test that timed out ran up to %d more times; %d passed on a later run\n", rep.Retries, n)
	}
	if rep.Rewrite {
		fmt.Fprintln(w, "NOTE: -rewrite-begin: lowercase begin/end probes were rewritten to BEGIN/END (a measurement aid, not a result)")
	}
	fmt.Fprintln(w)

	scopes := []Scope{ScopeUser, ScopeSpecial, ScopeProfile, ScopeKernel}
	byScope := map[Scope]int{}
	for _, t := range rep.Tests {
		byScope[rep.Classes[t].Scope]++
	}
	fmt.Fprintf(w, "tests parsed: %d (and %d for other architectures, dropped as the peer's parser does)\n", len(rep.Tests), rep.OtherArch)
	for _, s := range scopes {
		fmt.Fprintf(w, "  %-12s %d\n", s, byScope[s])
	}
	fmt.Fprintf(w, "  in scope (userspace + probe-less): %d\n\n", byScope[ScopeUser]+byScope[ScopeSpecial])

	tot := map[Scope]*counts{}
	files := map[string]*counts{}
	var names []string
	for _, s := range scopes {
		tot[s] = &counts{}
	}
	for _, r := range rep.Results {
		tot[r.Class.Scope].add(r)
		if r.Class.Scope.InScope() {
			c := files[r.Test.Suite]
			if c == nil {
				c = &counts{}
				files[r.Test.Suite] = c
				names = append(names, r.Test.Suite)
			}
			c.add(r)
		}
	}
	in := counts{}
	for _, s := range []Scope{ScopeUser, ScopeSpecial} {
		c := tot[s]
		in.run += c.run
		in.pass += c.pass
		in.fail += c.fail
		in.timeout += c.timeout
		in.skip += c.skip
	}
	if rep.Selected {
		fmt.Fprintln(w, "(a -run selection: only some tests ran)")
	}
	fmt.Fprintf(w, "%-24s %5s %5s %5s %7s %5s\n", "results", "run", "pass", "fail", "timeout", "skip")
	line := func(name string, c *counts) {
		fmt.Fprintf(w, "%-24s %5d %5d %5d %7d %5d\n", name, c.run, c.pass, c.fail, c.timeout, c.skip)
	}
	line("in scope", &in)
	for _, s := range scopes {
		if tot[s].run > 0 {
			line("  "+string(s), tot[s])
		}
	}
	if ran := in.run - in.skip; ran > 0 {
		fmt.Fprintf(w, "in-scope pass rate: %d/%d run (%.1f %%), %d skipped\n", in.pass, ran, 100*float64(in.pass)/float64(ran), in.skip)
		if rep.Superseded != nil {
			n := 0
			for t := range rep.Superseded {
				if rep.Classes[t].Scope.InScope() {
					n++
				}
			}
			fmt.Fprintf(w, "superseded by main: %d of the in-scope failures (main's same-named test differs and uscope passes it; %s)\n", n, supersededFile)
			fmt.Fprintf(w, "in-scope pass rate without them: %d/%d (%.1f %%)\n", in.pass, ran-n, pct(in.pass, ran-n))
		}
	}
	fmt.Fprintln(w)
	sort.Strings(names)
	fmt.Fprintln(w, "per file (in-scope tests):")
	fmt.Fprintf(w, "%-24s %5s %5s %5s %7s %5s\n", "file", "run", "pass", "fail", "timeout", "skip")
	for _, n := range names {
		line(n, files[n])
	}
	fmt.Fprintln(w)

	var inRes []*Result
	for _, r := range rep.Results {
		if r.Class.Scope.InScope() {
			inRes = append(inRes, r)
		}
	}
	tax := Taxonomy(inRes)
	fmt.Fprintf(w, "failure taxonomy (in-scope failures and timeouts by first cause, %d causes):\n", len(tax))
	for _, c := range tax {
		fmt.Fprintf(w, "%5d  %s   [e.g. %s]\n", c.Count, c.Cause, c.Example)
	}
	var skips []*Result
	for _, r := range inRes {
		if r.Status == Skip {
			skips = append(skips, r)
		}
	}
	if len(skips) > 0 {
		fmt.Fprintln(w, "\nskipped in-scope tests:")
		for _, r := range skips {
			fmt.Fprintf(w, "  %s: %s\n", r.Test.ID(), r.Reason)
		}
	}
	if len(rep.Superseded) > 0 {
		fmt.Fprintln(w, "\nsuperseded by main (v0.17 expects / main expects):")
		for _, t := range supersededTests(rep.Superseded) {
			s := rep.Superseded[t]
			fmt.Fprintf(w, "  %s (differs: %s; main: %s)\n    0.17: %s\n    main: %s\n", t.ID(), s.Differs, s.MainKey,
				shortExpect(t, filepath.Join(rep.Src, "tests"), 100), shortExpect(s.Main, filepath.Join(rep.MainSrc, "tests"), 100))
		}
	}
	if len(rep.BuildFailed) > 0 {
		fmt.Fprintln(w, "\ntest programs that failed to build:")
		var ks []string
		for k := range rep.BuildFailed {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Fprintf(w, "  %s: %s\n", k, rep.BuildFailed[k])
		}
	}
}

// tableMain prints the markdown table of two runs' results.tsv (uscope's
// and bpftrace's) side by side, per file, in-scope tests only.
func tableMain(uscopeDir, bpftraceDir string, w io.Writer) error {
	us, err := readResults(filepath.Join(uscopeDir, "results.tsv"))
	if err != nil {
		return err
	}
	bt, err := readResults(filepath.Join(bpftraceDir, "results.tsv"))
	if err != nil {
		return err
	}
	type row struct{ tests, us, bt, both int }
	rows := map[string]*row{}
	var names []string
	var total row
	for id, u := range us {
		if u.scope != string(ScopeUser) && u.scope != string(ScopeSpecial) {
			continue
		}
		r := rows[u.suite]
		if r == nil {
			r = &row{}
			rows[u.suite] = r
			names = append(names, u.suite)
		}
		b := bt[id]
		for _, x := range []*row{r, &total} {
			x.tests++
			if u.status == string(Pass) {
				x.us++
			}
			if b.status == string(Pass) {
				x.bt++
				if u.status == string(Pass) {
					x.both++
				}
			}
		}
	}
	sort.Strings(names)
	fmt.Fprintln(w, "| file | in-scope tests | uscope passes | bpftrace 0.17 passes | uscope passes of those bpftrace passes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, n := range names {
		r := rows[n]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d |\n", n, r.tests, r.us, r.bt, r.both)
	}
	fmt.Fprintf(w, "| **total** | **%d** | **%d (%.1f %%)** | **%d** | **%d of %d (%.1f %%)** |\n", total.tests, total.us,
		pct(total.us, total.tests), total.bt, total.both, total.bt, pct(total.both, total.bt))
	sup, order, err := readSuperseded(filepath.Join(uscopeDir, supersededFile))
	if err != nil || sup == nil {
		return err
	}
	// Superseded tests among those bpftrace passes leave the denominator.
	n := 0
	for _, id := range order {
		if bt[id].status == string(Pass) {
			n++
		}
	}
	fmt.Fprintf(w, "\nSuperseded by main: %d of uscope's failures (%d of them on tests bpftrace 0.17 passes) are tests whose\n", len(order), n)
	fmt.Fprintln(w, "same-named test in bpftrace main's suite (same file, name without v0.17's quotes) has a different program or")
	fmt.Fprintln(w, "different expectations, and uscope passes main's version (main wins where the two cannot coexist).")
	fmt.Fprintf(w, "Over the tests bpftrace 0.17 passes minus those: **uscope passes %d of %d (%.1f %%)**.\n\n", total.both, total.bt-n, pct(total.both, total.bt-n))
	fmt.Fprintln(w, "| v0.17 test | differs | uscope's failure on v0.17 | v0.17 expects | main expects |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	md := func(s string) string { return strings.NewReplacer("|", `\|`, "`", "'").Replace(s) }
	for _, id := range order {
		r := sup[id]
		why := us[id].reason
		if rs := []rune(why); len(rs) > 60 {
			why = string(rs[:60]) + "…"
		}
		fmt.Fprintf(w, "| %s | %s | %s | `%s` | `%s` |\n", md(strings.TrimSuffix(id, "#1")), r.differs, md(why), md(r.oldExpect), md(r.mainExpect))
	}
	var elsewhere []string
	for id := range changedElsewhere {
		if u, ok := us[id+"#1"]; ok && (u.status == string(Fail) || u.status == string(Timeout)) {
			elsewhere = append(elsewhere, id)
		}
	}
	if len(elsewhere) > 0 {
		sort.Strings(elsewhere)
		fmt.Fprintln(w, "\nFailures main changed under another name or dropped (not superseded by the rule; counted as failures above):")
		fmt.Fprintln(w)
		for _, id := range elsewhere {
			fmt.Fprintf(w, "- %s: %s.\n", id, changedElsewhere[id])
		}
	}
	return nil
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

type resultRow struct{ suite, scope, status, reason string }

func readResults(path string) (map[string]resultRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A file may hold two tests of one name: the n-th of them is id#n
	// (both runs list the tests in the same order).
	m := map[string]resultRow{}
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		p := strings.Split(sc.Text(), "\t")
		if len(p) >= 4 {
			seen[p[0]]++
			r := resultRow{p[1], p[2], p[3], ""}
			if len(p) >= 5 {
				r.reason = p[4]
			}
			m[fmt.Sprintf("%s#%d", p[0], seen[p[0]])] = r
		}
	}
	return m, sc.Err()
}
