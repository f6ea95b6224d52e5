package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/internal/tools"
)

// bcc's language tools under their names (bcc_runtime.go), each line of
// tools/lib/u*_example.txt (and of its --help examples) that a Debian
// runtime can run, against workloads whose calls, collections,
// allocations and threads are known: testdata/runtime_c.c,
// testdata/runtime_work.py (CPython 3.11) and testdata/UscopeRuntime.java
// (TestRuntimeJava). A PID becomes the workload's. Lines for Ruby, PHP,
// Perl and Tcl have no runtime with probes here, and Node 20 has none
// (Node 19 removed them): TestRuntimeWithoutProbes covers the refusal.
// Expectations are the layouts the example files show.

// stdoutLines are a tracer's standard output lines.
func stdoutLines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "uscope-stderr: ") {
			ls = append(ls, l)
		}
	}
	return ls
}

// wantLine checks that out has the line exactly.
func wantLine(t *testing.T, tool, out, line string) {
	t.Helper()
	for _, l := range stdoutLines(out) {
		if l == line {
			return
		}
	}
	t.Errorf("%s: no line %q\n%s", tool, line, out)
}

// tableRows returns, for each table under a header line equal to header,
// its rows' fields (a table ends at an empty line or another header).
func tableRows(out, header string) [][][]string {
	var tables [][][]string
	in := false
	for _, l := range stdoutLines(out) {
		switch {
		case l == header:
			tables = append(tables, nil)
			in = true
		case l == "" || strings.HasPrefix(l, "Tracing"):
			in = false
		case in:
			tables[len(tables)-1] = append(tables[len(tables)-1], strings.Fields(l))
		}
	}
	return tables
}

func TestBCCRuntimeC(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/runtime_c.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "runtime_c", string(src), "-pthread")
	c := startChild(t, bin)
	c.expect("ready")
	pid := strconv.Itoa(c.pid())
	objnewI := startUscope(t, "uobjnew", "-l", "c", pid, "1")        // ./uobjnew -l c 2020 1
	objnewS := startUscope(t, "uobjnew", "-S", "10", "-l", "c", pid) // ./uobjnew -S 10 -l c 27245
	threads := startUscope(t, "uthreads", pid)                       // ./uthreads 27450
	none := startUscope(t, "uthreads", "-l", "none", pid)            // ./uthreads -l none 12245
	tids := goC(t, c)
	if len(tids) != 4 {
		t.Fatalf("the workload started %d threads, want 4", len(tids))
	}
	// The start routines are named while the process lives.
	last := regexp.MustCompile(`^\d+\.\d{3} +` + strconv.Itoa(tids[3]) + ` `)
	for _, tr := range []*tracer{threads, none} {
		tr.waitFor(last.MatchString, "the last thread's row")
	}
	c.stdin.Close()

	row := regexp.MustCompile(`^(\d+\.\d{3}) +(\d+) +pthread +uscope_worker \[runtime_c\]`)
	for _, ex := range []struct {
		tr   *tracer
		lang string
	}{{threads, "c"}, {none, "none"}} {
		out := ex.tr.waitExit()
		wantLine(t, "uthreads", out, "Tracing thread events in process "+pid+" (language: "+ex.lang+")... Ctrl-C to quit.")
		wantLine(t, "uthreads", out, fmt.Sprintf("%-8s %-16s %-8s %-30s", "TIME", "ID", "TYPE", "DESCRIPTION"))
		var got []int
		for _, l := range stdoutLines(out) {
			if m := row.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[2])
				got = append(got, n)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tids) {
			t.Errorf("uthreads -l %s: pthread rows for threads %v, want %v\n%s", ex.lang, got, tids, out)
		}
	}

	header := fmt.Sprintf("%-30s %8s %12s", "TYPE", "# ALLOCS", "# BYTES")
	want := []string{fmt.Sprintf("%-30s %8d %12d", "block size 4343", 2, 8686), fmt.Sprintf("%-30s %8d %12d", "block size 4242", 3, 12726)}
	// -S 10: at most ten rows, ascending by bytes, ours among them.
	out := objnewS.waitExit()
	wantLine(t, "uobjnew", out, "Tracing allocations in process "+pid+" (language: c)... Ctrl-C to quit.")
	tables := tableRows(out, header)
	if len(tables) != 1 || len(tables[0]) > 10 {
		t.Errorf("uobjnew -S 10: want one table of at most 10 rows\n%s", out)
	}
	for _, w := range want {
		wantLine(t, "uobjnew -S 10", out, w)
	}
	if len(tables) == 1 {
		prev := int64(-1)
		for _, r := range tables[0] {
			b, _ := strconv.ParseInt(r[len(r)-1], 10, 64)
			if b < prev {
				t.Errorf("uobjnew -S 10: rows not ascending by bytes\n%s", out)
			}
			prev = b
		}
	}
	// An interval: every table has the header; the rows add up.
	out = objnewI.waitExit()
	sums := map[string][2]int64{}
	for _, tab := range tableRows(out, header) {
		for _, r := range tab {
			if len(r) == 5 {
				n, _ := strconv.ParseInt(r[3], 10, 64)
				b, _ := strconv.ParseInt(r[4], 10, 64)
				k := strings.Join(r[:3], " ")
				sums[k] = [2]int64{sums[k][0] + n, sums[k][1] + b}
			}
		}
	}
	if sums["block size 4242"] != [2]int64{3, 12726} || sums["block size 4343"] != [2]int64{2, 8686} {
		t.Errorf("uobjnew -l c PID 1: over the intervals 4242: %v, 4343: %v; want 3 12726 and 2 8686\n%s", sums["block size 4242"], sums["block size 4343"], out)
	}
}

func TestBCCRuntimePython(t *testing.T) {
	const n = 7
	c, script := startPythonWork(t, n)
	pid := strconv.Itoa(c.pid())
	top := startUscope(t, "ucalls", "-mT", "5", pid)                   // ucalls -mT 5 $(pidof python)
	every := startUscope(t, "ucalls", "-l", "python", pid, "1")        // ./ucalls -l python 2020 1
	lat := startUscope(t, "ucalls", "-l", "python", pid, "-mL")        // ./ucalls -l python 2020 -mL
	flow := startUscope(t, "uflow", "-C", script, "-l", "python", pid) // ./uflow -C '<stdin>' -l python 180
	gc := startUscope(t, "ugc", "-l", "python", pid)
	stat := startUscope(t, "ustat", "-C", "-l", "python", "1", "4") // ./ustat.py -C 5 12, shortened
	collected := goPython(t, c)

	calls := fmt.Sprintf("%-50s %8s", "METHOD", "# CALLS")
	row := func(m string, k int) string { return fmt.Sprintf("%-50s %8d", script+"."+m, k) }
	// CPython 3.11 inlines Python-to-Python calls: counted at their
	// returns, outer and leaf N times plus once under sys.setprofile.
	out := top.waitExit()
	wantLine(t, "ucalls", out, "Tracing calls in process "+pid+" (language: python)... Ctrl-C to quit.")
	if tabs := tableRows(out, calls); len(tabs) != 1 || len(tabs[0]) > 5 {
		t.Errorf("ucalls -T 5: want one table of at most 5 rows\n%s", out)
	}
	wantLine(t, "ucalls -mT 5", out, row("outer", n+1))
	wantLine(t, "ucalls -mT 5", out, row("leaf", n+1))

	out = every.waitExit()
	total := 0
	for _, tab := range tableRows(out, calls) {
		for _, r := range tab {
			if len(r) == 2 && r[0] == script+".outer" {
				k, _ := strconv.Atoi(r[1])
				total += k
			}
		}
	}
	if total != n+1 {
		t.Errorf("ucalls PID 1: %d calls of outer over the intervals, want %d\n%s", total, n+1, out)
	}

	// Entries fire only under sys.setprofile: outer(100) and its leaf.
	out = lat.waitExit()
	timed := regexp.MustCompile(`^` + regexp.QuoteMeta(script) + `\.(outer|leaf) +1 +(\d+\.\d\d)$`)
	seen := 0
	for _, l := range stdoutLines(out) {
		if m := timed.FindStringSubmatch(l); m != nil && m[2] != "0.00" || m != nil && m[1] == "leaf" {
			seen++
		}
	}
	wantLine(t, "ucalls -mL", out, fmt.Sprintf("%-50s %8s %8s", "METHOD", "# CALLS", "TIME (ms)"))
	if seen != 2 {
		t.Errorf("ucalls -mL: want outer and leaf once each, timed\n%s", out)
	}

	out = flow.waitExit()
	wantLine(t, "uflow", out, "Tracing method calls in python process "+pid+"... Ctrl-C to quit.")
	wantLine(t, "uflow", out, fmt.Sprintf("%-3s %-6s %-6s %-8s %s", "CPU", "PID", "TID", "TIME(us)", "METHOD"))
	frow := regexp.MustCompile(`^\d+ +` + pid + ` +` + pid + ` +(\d+\.\d{3})( +)(->|<-) ` + regexp.QuoteMeta(script) + `\.(\w+|<lambda>) *$`)
	count := map[string]int{}
	outerIndent, leafIndent := -1, -1
	for _, l := range stdoutLines(out) {
		m := frow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		// TIME is %-8.3f and a space; the rest is the indentation.
		indent := len(m[2]) - (9 - len(m[1]))
		count[m[3]+m[4]]++
		if m[3] == "->" && m[4] == "outer" {
			outerIndent = indent
		}
		if m[3] == "->" && m[4] == "leaf" && outerIndent >= 0 && leafIndent < 0 {
			leafIndent = indent
		}
	}
	if count["<-leaf"] != n+1 || count["->outer"] != 1 || count["->leaf"] != 1 || leafIndent != outerIndent+2 {
		t.Errorf("uflow: returns of leaf %d (want %d), entries of outer %d and leaf %d (want 1), leaf indented %d under outer's %d (want 2 more)\n%s",
			count["<-leaf"], n+1, count["->outer"], count["->leaf"], leafIndent, outerIndent, out)
	}

	out = gc.waitExit()
	wantLine(t, "ugc", out, "Tracing garbage collections in python process "+pid+"... Ctrl-C to quit.")
	wantLine(t, "ugc", out, fmt.Sprintf("%-8s %-8s %-40s", "START", "TIME (us)", "DESCRIPTION"))
	gcs := 0
	for g := 0; g < 3; g++ {
		gcrow := regexp.MustCompile(fmt.Sprintf(`^\d+\.\d{3} +\d+\.\d\d +gen %d GC collected %d objects$`, g, collected[g]))
		for _, l := range stdoutLines(out) {
			if gcrow.MatchString(l) {
				gcs++
				break
			}
		}
	}
	if gcs != 3 {
		t.Errorf("ugc: %d of the script's 3 collections (%v)\n%s", gcs, collected, out)
	}
	all := 0
	for _, l := range stdoutLines(out) {
		if strings.Contains(l, " GC collected ") {
			all++
		}
	}

	// ustat: each interval the time and loadavg, the header, our process;
	// its GCs over the intervals are the collections ugc saw.
	out = stat.waitExit()
	wantLine(t, "ustat", out, "Tracing... Output every 1 secs. Hit Ctrl-C to end")
	wantLine(t, "ustat", out, "Detaching...")
	header := fmt.Sprintf("%-6s %-20s %-10s %-6s %-10s %-8s %-6s %-6s", "PID", "CMDLINE", "METHOD/s", "GC/s", "OBJNEW/s", "CLOAD/s", "EXC/s", "THR/s")
	load := regexp.MustCompile(`^\d\d:\d\d:\d\d loadavg: \d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ \d+$`)
	loads := 0
	for _, l := range stdoutLines(out) {
		if load.MatchString(l) {
			loads++
		}
	}
	tabs := tableRows(out, header)
	if loads != 4 || len(tabs) != 4 {
		t.Errorf("ustat 1 4: %d loadavg lines and %d tables, want 4\n%s", loads, len(tabs), out)
	}
	methods, gcTotal := 0, 0
	for _, tab := range tabs {
		for _, r := range tab {
			if r[0] == pid {
				if r[1] != "/usr/bin/python3.11" || len(r) != 8 {
					t.Errorf("ustat: row %q, want CMDLINE cut at 20 characters and 6 counts", r)
					continue
				}
				m, _ := strconv.Atoi(r[2])
				g, _ := strconv.Atoi(r[3])
				methods += m
				gcTotal += g
			}
		}
	}
	if gcTotal != all || methods < 2*(n+1) {
		t.Errorf("ustat: GC/s add up to %d (ugc saw %d), METHOD/s to %d (want at least %d)\n%s", gcTotal, all, methods, 2*(n+1), out)
	}
}

// TestBCCUcallsRefused: ucalls' system-call modes are kernel tracepoints.
func TestBCCUcallsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"ucalls", "-l", "none", "-ST", "10", "1"}, // ucalls -l none -ST 10 7913
		{"ucalls", "1", "-S"},                      // ./ucalls 6712 -S
		{"ucalls", "-l", "java", "1", "-S"},        // ./ucalls -l java 185 -S
	} {
		r := runUscope(t, args...)
		out, code := r.stderr, r.code
		if code != 1 || !strings.Contains(out, "kernel tracepoints; uscope traces userspace") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 1 and one line saying uscope traces userspace", args, code, out)
		}
	}
}

// bccJavaLines are the Java lines of bcc's u*_example.txt files and their
// --help examples, PID standing for the JVM of TestRuntimeJava, which runs
// UscopeRuntime.java with -XX:+ExtendedDTraceProbes and the serial
// collector.
var bccJavaLines = []string{
	"ucalls -L PID",                 // ucalls -L $(pidof java)
	"ucalls -l java PID",            // ./ucalls -l java 185
	"uflow -C java/lang/Thread PID", // ./uflow -C java/lang/Thread $(pidof java)
	"uflow -l java PID",             // ./uflow -l java 185
	"uflow -M indexOf -l java PID",  // ./uflow -M indexOf -l java 185
	"ugc -F Tenured PID",            // ugc -F Tenured $(pidof java)
	"ugc -M 1 PID",                  // ugc -M 1 $(pidof java)
	"ugc -l java PID",               // ./ugc -l java 185
	"ugc -M 10 -l java PID",         // ./ugc -M 10 -l java 185
	"uthreads -l java PID",          // ./uthreads -l java 27420
	"uobjnew -l java PID",           // ./uobjnew -l java 145
	"ustat -C -l java 1 6",          // ./ustat -l java, -C and 6 one-second summaries
}

// checkBCCJava checks what each of bccJavaLines printed about
// UscopeRuntime's run: step() 7 times (5 from main, one in each thread),
// String.indexOf 5 times from main, threads uscope-a and uscope-b started
// and stopped, 300 Blobs, System.gc() twice.
func checkBCCJava(t *testing.T, pid string, trs map[string]*tracer) {
	out := func(line string) string { return trs[line].waitExit() }
	rows := func(o string, re *regexp.Regexp) [][]string {
		var got [][]string
		for _, l := range stdoutLines(o) {
			if m := re.FindStringSubmatch(l); m != nil {
				got = append(got, m)
			}
		}
		return got
	}

	o := out("ucalls -L PID")
	wantLine(t, "ucalls -L", o, "Tracing calls in process "+pid+" (language: java)... Ctrl-C to quit.")
	wantLine(t, "ucalls -L", o, "If you do not see any results, make sure you ran java with option -XX:+ExtendedDTraceProbes")
	wantLine(t, "ucalls -L", o, fmt.Sprintf("%-50s %8s %8s", "METHOD", "# CALLS", "TIME (us)"))
	if len(rows(o, regexp.MustCompile(`^UscopeRuntime\.step {40}7 +\d+\.\d\d$`))) != 1 {
		t.Errorf("ucalls -L: no row UscopeRuntime.step 7 with its time\n%s", o)
	}
	o = out("ucalls -l java PID")
	wantLine(t, "ucalls -l java", o, fmt.Sprintf("%-50s %8s", "METHOD", "# CALLS"))
	wantLine(t, "ucalls -l java", o, fmt.Sprintf("%-50s %8d", "UscopeRuntime.step", 7))

	flowRow := regexp.MustCompile(`^\d+ +` + pid + ` +\d+ +(\d+\.\d{3})( +)(->|<-) (\S+)\.(\S+?) *$`)
	o = out("uflow -C java/lang/Thread PID")
	wantLine(t, "uflow", o, "Tracing method calls in java process "+pid+"... Ctrl-C to quit.")
	wantLine(t, "uflow", o, fmt.Sprintf("%-3s %-6s %-6s %-8s %s", "CPU", "PID", "TID", "TIME(us)", "METHOD"))
	n := map[string]int{}
	for _, m := range rows(o, flowRow) {
		if !strings.HasPrefix(m[4], "java/lang/Thread") {
			t.Errorf("uflow -C java/lang/Thread: row of class %s", m[4])
		}
		n[m[3]+m[4]+"."+m[5]]++
	}
	if n["->java/lang/Thread.start"] != 2 || n["<-java/lang/Thread.start"] != 2 {
		t.Errorf("uflow -C java/lang/Thread: Thread.start entered %d times and left %d, want 2\n%s", n["->java/lang/Thread.start"], n["<-java/lang/Thread.start"], o)
	}
	o = out("uflow -l java PID")
	n = map[string]int{}
	for _, m := range rows(o, flowRow) {
		n[m[3]+m[4]+"."+m[5]]++
	}
	if n["->UscopeRuntime.step"] != 7 || n["<-UscopeRuntime.step"] != 7 {
		t.Errorf("uflow -l java: step entered %d times and left %d, want 7\n%s", n["->UscopeRuntime.step"], n["<-UscopeRuntime.step"], o)
	}
	o = out("uflow -M indexOf -l java PID")
	n = map[string]int{}
	for _, m := range rows(o, flowRow) {
		if !strings.HasPrefix(m[5], "indexOf") {
			t.Errorf("uflow -M indexOf: row of method %s", m[5])
		}
		n[m[3]]++
	}
	if n["->"] < 5 || n["->"] != n["<-"] {
		t.Errorf("uflow -M indexOf: %d entries and %d returns of indexOf*, want the same number, at least UscopeRuntime's 5\n%s", n["->"], n["<-"], o)
	}

	pool := regexp.MustCompile(`^\d+\.\d{3} +(\d+\.\d\d) +MarkSweepCompact Tenured Gen used=\d+->\d+ max=\d+->\d+$`)
	gcRow := regexp.MustCompile(`^\d+\.\d{3} +(\d+\.\d\d) +(.*)$`)
	o = out("ugc -F Tenured PID")
	wantLine(t, "ugc", o, "Tracing garbage collections in java process "+pid+"... Ctrl-C to quit.")
	wantLine(t, "ugc", o, fmt.Sprintf("%-8s %-8s %-40s", "START", "TIME (us)", "DESCRIPTION"))
	if got, all := len(rows(o, pool)), len(rows(o, gcRow)); got < 2 || got != all {
		t.Errorf("ugc -F Tenured: %d rows, %d of them the tenured pool's collections, want System.gc()'s 2 at least, and only those\n%s", all, got, o)
	}
	o = out("ugc -l java PID")
	info := 0
	for _, m := range rows(o, gcRow) {
		if m[2] == "no additional info available" {
			info++
		}
	}
	if info < 2 || len(rows(o, pool)) < 2 {
		t.Errorf("ugc -l java: %d collections and %d tenured pool rows, want System.gc()'s 2 at least\n%s", info, len(rows(o, pool)), o)
	}
	for line, minUS := range map[string]float64{"ugc -M 1 PID": 1000, "ugc -M 10 -l java PID": 10000} {
		o = out(line)
		wantLine(t, line, o, fmt.Sprintf("%-8s %-8s %-40s", "START", "TIME (us)", "DESCRIPTION"))
		for _, m := range rows(o, gcRow) {
			if us, _ := strconv.ParseFloat(m[1], 64); us < minUS {
				t.Errorf("%s: a collection of %s us\n%s", line, m[1], o)
			}
		}
	}

	o = out("uthreads -l java PID")
	wantLine(t, "uthreads", o, "Tracing thread events in process "+pid+" (language: java)... Ctrl-C to quit.")
	for _, w := range []string{"start +uscope-a", "stop +uscope-a", "start +uscope-b", "stop +uscope-b"} {
		if len(rows(o, regexp.MustCompile(`^\d+\.\d{3} +R=\d+/N=\d+ +`+w+` *$`))) != 1 {
			t.Errorf("uthreads -l java: no row %q with R=ID/N=TID\n%s", w, o)
		}
	}
	// ustat: the JVM's row adds up to its 300 Blobs (and more), 2 System.gc()
	// at least, the 2 threads it starts at least, and calls.
	o = out("ustat -C -l java 1 6")
	wantLine(t, "ustat", o, "Tracing... Output every 1 secs. Hit Ctrl-C to end")
	header := fmt.Sprintf("%-6s %-20s %-10s %-6s %-10s %-8s %-6s %-6s", "PID", "CMDLINE", "METHOD/s", "GC/s", "OBJNEW/s", "CLOAD/s", "EXC/s", "THR/s")
	sum := make([]int, 6)
	for _, tab := range tableRows(o, header) {
		for _, r := range tab {
			if len(r) == 8 && r[0] == pid {
				for i := range sum {
					v, _ := strconv.Atoi(r[2+i])
					sum[i] += v
				}
			}
		}
	}
	if sum[0] < 7 || sum[1] < 2 || sum[2] < 300 || sum[5] < 2 {
		t.Errorf("ustat -l java: the JVM's METHOD, GC, OBJNEW, CLOAD, EXC, THR add up to %v; want at least 7 calls, 2 GCs, 300 objects, 2 threads\n%s", sum, o)
	}
	o = out("uobjnew -l java PID")
	wantLine(t, "uobjnew", o, "Tracing allocations in process "+pid+" (language: java)... Ctrl-C to quit.")
	wantLine(t, "uobjnew", o, fmt.Sprintf("%-30s %8s %12s", "TYPE", "# ALLOCS", "# BYTES"))
	wantLine(t, "uobjnew", o, fmt.Sprintf("%-30s %8d %12d", "UscopeRuntime$Blob", 300, 0))
}

// startUscopeFile starts a tool that writes to file (-o) and waits until
// its attached_probes line is there.
func startUscopeFile(t *testing.T, file string, args ...string) *tracer {
	t.Helper()
	tr := launchUscope(t, args...)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(file); strings.Contains(string(b), `"attached_probes"`) {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attached_probes line in %s within 30s\n%s", file, tr.output())
		}
	}
}

// jsonLines reads an NDJSON file: every line must be a JSON object.
func jsonLines(t *testing.T, file string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for i, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("%s line %d is not JSON: %v\n%s", file, i+1, err, l)
		}
		out = append(out, obj)
	}
	return out
}

// mapData returns the entries of map name in a line of type "map".
func mapData(obj map[string]any, name string) map[string]any {
	if obj["type"] != "map" {
		return nil
	}
	data, _ := obj["data"].(map[string]any)
	m, _ := data[name].(map[string]any)
	return m
}

// TestRuntimeToolsJSON: calls and stat with -f json -o FILE write
// bpftrace's NDJSON (attached_probes, then the maps), with the counts the
// workload makes; calls --top N prints at most N rows an interval when
// piped.
func TestRuntimeToolsJSON(t *testing.T) {
	const n = 5
	c, script := startPythonWork(t, n)
	pid := strconv.Itoa(c.pid())
	dir := t.TempDir()
	callsFile, statFile := dir+"/calls.json", dir+"/stat.json"
	calls := startUscopeFile(t, callsFile, "calls", "-f", "json", "-o", callsFile, pid)
	stat := startUscopeFile(t, statFile, "stat", "-f", "json", "-o", statFile, "-l", "python", "1", "4")
	top := startUscope(t, "calls", "--top", "2", pid)
	goPython(t, c)
	for _, tr := range []*tracer{calls, top, stat} {
		if out := tr.waitExit(); strings.Contains(out, "{") && tr != top {
			t.Errorf("-o FILE: JSON on standard output\n%s", out)
		}
	}

	lines := jsonLines(t, callsFile)
	if lines[0]["type"] != "attached_probes" {
		t.Errorf("calls: first line %v, want attached_probes", lines[0])
	}
	got := map[string]float64{}
	for _, l := range lines {
		for k, v := range mapData(l, "@calls") {
			got[k], _ = v.(float64)
		}
	}
	if got[script+",outer"] != n+1 || got[script+",leaf"] != n+1 {
		t.Errorf("calls -f json: @calls %v, want %s,outer and %s,leaf %d", got, script, script, n+1)
	}

	lines = jsonLines(t, statFile)
	if lines[0]["type"] != "attached_probes" {
		t.Errorf("stat: first line %v, want attached_probes", lines[0])
	}
	gcs := 0.0
	for _, l := range lines {
		if v, ok := mapData(l, "@gc")[pid].(float64); ok {
			gcs += v
		}
	}
	if gcs < 3 {
		t.Errorf("stat -f json: %v collections of process %s in @gc, want the script's 3 at least", gcs, pid)
	}

	out := top.output()
	header := fmt.Sprintf("%-50s %8s", "METHOD", "# CALLS")
	tabs := tableRows(out, header)
	seen := false
	for _, tab := range tabs {
		if len(tab) > 2 {
			t.Errorf("calls --top 2: a table of %d rows\n%s", len(tab), out)
		}
		if len(tab) == 2 && tab[0][1] == strconv.Itoa(n+1) && tab[1][1] == strconv.Itoa(n+1) {
			seen = true
		}
	}
	if !seen {
		t.Errorf("calls --top 2: no interval with outer and leaf, %d calls each, as its top rows\n%s", n+1, out)
	}
}

// TestTLSJSONFile: tls -f json -o FILE writes one JSON object per read or
// write of curl's request and response.
func TestTLSJSONFile(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, body := startTLSServer(t)
	file := t.TempDir() + "/tls.json"
	res := runUscope(t, "tls", "-f", "json", "-o", file, "-c", fmt.Sprintf("%s -sk --http1.1 -o /dev/null https://127.0.0.1:%d/index.html", curl, port))
	if res.code != 0 || strings.Contains(res.stdout, "{") {
		t.Fatalf("exit %d, standard output %q", res.code, res.stdout)
	}
	wantCurlTLS(t, file, body)
}

// wantCurlTLS checks a file of tls -f json's entries: curl's, its writes
// the request for /index.html, its reads ending with the page body.
func wantCurlTLS(t *testing.T, file, body string) {
	t.Helper()
	var written, read string
	for _, l := range jsonLines(t, file) {
		var e tools.TLSEntry
		b, _ := json.Marshal(l["data"])
		if err := json.Unmarshal(b, &e); err != nil || l["type"] != "tls" || e.Comm != "curl" || e.Func == "" {
			t.Errorf("entry %v: want a TLS entry of curl", l)
		}
		switch e.Direction {
		case "write":
			written += e.Data
		case "read":
			read += e.Data
		}
	}
	if !strings.HasPrefix(written, "GET /index.html HTTP/1.1\r\n") || !strings.HasSuffix(read, body) {
		t.Errorf("written %q, read %q; want curl's request and the page", written, read)
	}
}
