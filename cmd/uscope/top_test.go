package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// startLooper starts bccex L (malloc every millisecond until killed) and
// returns its pid; the test kills and reaps it.
func startLooper(t *testing.T) int {
	t.Helper()
	bin := bccexProgram(t)
	cmd := exec.Command(bin, "L")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(300 * time.Millisecond) // its libraries mapped
	return cmd.Process.Pid
}

var topMalloc = regexp.MustCompile(`(?m)^(\S*malloc\S*) +(\d+)$`)

// TestTopTerminal runs `uscope count --top 10 -p PID 'c:*alloc*'` in a
// tmux terminal, reads the screen twice and sees it redrawn in place: one
// header on the screen each time (no scrolling intervals), the malloc row
// both times, the time or the count changed.
func TestTopTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	tmux := testutil.RequireTool(t, "tmux")
	pid := startLooper(t)
	session := "uscope-top-" + strings.ReplaceAll(t.Name(), "/", "-")
	cmd := uscopeBin + " count --top 10 -i 0.3 -p " + strconv.Itoa(pid) + " 'c:*alloc*'"
	if out, err := exec.Command(tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(tmux, "kill-session", "-t", session).Run() })
	screen := func() string {
		out, _ := exec.Command(tmux, "capture-pane", "-p", "-t", session).Output()
		return string(out)
	}
	// Wait (up to 30 s) for a screen with the malloc row.
	wait := func(not string) string {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s := screen(); topMalloc.MatchString(s) && s != not {
				return s
			}
		}
		t.Fatalf("no (new) malloc row on the screen:\n%s", screen())
		return ""
	}
	first := wait("")
	second := wait(first)
	for _, s := range []string{first, second} {
		if n := strings.Count(s, "top "); n != 1 {
			t.Errorf("screen has %d headers, want one (redrawn in place):\n%s", n, s)
		}
		if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  top \d+ of \d+, every 300ms`).MatchString(s) || !strings.Contains(s, "FUNC") {
			t.Errorf("no top header:\n%s", s)
		}
	}
}

// TestTopPiped: piped, --top prints plain intervals of at most N rows.
func TestTopPiped(t *testing.T) {
	testutil.RequireRoot(t)
	pid := startLooper(t)
	out := runOK(t, "count", "--top", "1", "-i", "0.2", "-d", "1", "-p", strconv.Itoa(pid), "c:*alloc*")
	if strings.Contains(out, "\x1b[") {
		t.Errorf("piped output has terminal escapes:\n%q", out)
	}
	tables := strings.Split(out, "\nFUNC ")
	if len(tables) < 3 {
		t.Fatalf("want several intervals:\n%s", out)
	}
	for _, tb := range tables[1:] {
		rows := 0
		for _, l := range strings.Split(tb, "\n")[1:] {
			if countRow.MatchString(l) {
				rows++
			}
		}
		if rows > 1 {
			t.Errorf("--top 1 printed %d rows:\n%s", rows, tb)
		}
	}
	if !topMalloc.MatchString(out) {
		t.Errorf("no malloc row:\n%s", out)
	}
}

// TestDBStatTop: dbstat --top N, piped, prints every interval the N
// queries with the most time, most first, with their count, total and
// average latency; -f json -o FILE writes them as run -f json's stats
// line, and dbstat's and dbslower's own -f json -o FILE are NDJSON too.
func TestDBStatTop(t *testing.T) {
	testutil.RequireRoot(t)
	pg := startPostgres(t)
	dir := t.TempDir()
	top := startUscope(t, "dbstat", "--top", "2", "-i", "0.5", "postgres")
	top.waitLine("Tracing database queries")
	topFile := dir + "/top.json"
	topJSON := startUscopeFile(t, topFile, "dbstat", "--top", "2", "-f", "json", "-o", topFile, "postgres")
	histFile := dir + "/hist.json"
	hist := startUscopeFile(t, histFile, "dbstat", "-f", "json", "-o", histFile, "postgres")
	slowFile := dir + "/slow.json"
	slow := startUscopeFile(t, slowFile, "dbslower", "-m", "50", "-f", "json", "-o", slowFile, "postgres")
	if _, err := pg.psql("SELECT pg_sleep(0.1)", "SELECT 42", "SELECT pg_sleep(0.1)", "SELECT 43", "SELECT 44"); err != nil {
		t.Fatal(err)
	}
	top.waitLine("pg_sleep")
	out := top.stop()
	for _, tr := range []*tracer{topJSON, hist, slow} {
		if o := tr.stop(); strings.Contains(o, "{") {
			t.Errorf("-o FILE: JSON on standard output:\n%s", o)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("piped --top has terminal escapes:\n%q", out)
	}
	sleeps := 0
	for _, tab := range tableRows(out, fmt.Sprintf("%8s %14s %12s  %s", "COUNT", "TOTAL(ms)", "AVG(ms)", "QUERY")) {
		if len(tab) > 2 {
			t.Errorf("--top 2: a table of %d rows\n%s", len(tab), out)
		}
		for i, r := range tab {
			if len(r) < 4 || strings.Join(r[3:], " ") != "SELECT pg_sleep(0.1)" {
				continue
			}
			n, _ := strconv.Atoi(r[0])
			total, _ := strconv.ParseFloat(r[1], 64)
			avg, _ := strconv.ParseFloat(r[2], 64)
			if i != 0 || total < 100*float64(n) || avg < 100 {
				t.Errorf("pg_sleep(0.1) row %d: %v; want the first row, at least 100 ms a query\n%s", i, r, out)
			}
			sleeps += n
		}
	}
	if sleeps != 2 {
		t.Errorf("--top counted %d pg_sleep(0.1) queries, want 2\n%s", sleeps, out)
	}

	// --top -f json: the stats() map of run -f json.
	lines := jsonLines(t, topFile)
	if lines[0]["type"] != "attached_probes" {
		t.Errorf("dbstat --top -f json: first line %v", lines[0])
	}
	jsonSleeps := 0.0
	for _, l := range lines {
		if l["type"] != "stats" {
			continue
		}
		data, _ := l["data"].(map[string]any)
		q, _ := data["@queries"].(map[string]any)
		if s, ok := q["SELECT pg_sleep(0.1)"].(map[string]any); ok {
			n, _ := s["count"].(float64)
			total, _ := s["total"].(float64)
			if total < n*100e6 {
				t.Errorf("stats %v: under 100 ms a query", s)
			}
			jsonSleeps += n
		}
	}
	if jsonSleeps != 2 {
		t.Errorf("dbstat --top -f json: %v pg_sleep(0.1) queries in @queries, want 2\n%v", jsonSleeps, lines)
	}

	// dbstat -f json -o FILE: the hist line of @latency; five queries.
	lines = jsonLines(t, histFile)
	queries := 0.0
	for _, l := range lines {
		data, _ := l["data"].(map[string]any)
		buckets, _ := data["@latency"].([]any)
		for _, b := range buckets {
			if m, ok := b.(map[string]any); ok && l["type"] == "hist" {
				c, _ := m["count"].(float64)
				queries += c
			}
		}
	}
	if lines[0]["type"] != "attached_probes" || queries < 5 {
		t.Errorf("dbstat -f json -o: %v queries in @latency hist lines, want psql's 5 at least\n%v", queries, lines)
	}

	// dbslower -m 50 -f json -o FILE: a printf line per slow query.
	lines = jsonLines(t, slowFile)
	rows := 0
	for _, l := range lines[1:] {
		if d, _ := l["data"].(string); l["type"] != "printf" || !strings.HasSuffix(d, "SELECT pg_sleep(0.1)\n") {
			t.Errorf("dbslower -f json: line %v, want a printf row of pg_sleep(0.1)", l)
		}
		rows++
	}
	if lines[0]["type"] != "attached_probes" || rows != 2 {
		t.Errorf("dbslower -f json -o: %d rows, want 2\n%v", rows, lines)
	}
}

// TestTLSTop: tls --top N, piped, prints every interval the processes
// and functions with the most bytes; over the intervals they add up to
// the calls and bytes tls's own records show for the same curl command.
// -f json -o FILE writes the summary as run -f json's stats lines.
func TestTLSTop(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, body := startTLSServer(t)
	get := fmt.Sprintf("%s -sk --http1.1 -o /dev/null https://127.0.0.1:%d/index.html", curl, port)
	type sums struct{ calls, bytes map[string]int }
	add := func(s sums, fn string, calls, bytes int) {
		dir := "read"
		if strings.Contains(strings.ToLower(fn), "write") {
			dir = "write"
		}
		s.calls[dir] += calls
		s.bytes[dir] += bytes
	}
	// The records of one run.
	file := t.TempDir() + "/tls.json"
	runOK(t, "tls", "-f", "json", "-o", file, "-c", get)
	want := sums{map[string]int{}, map[string]int{}}
	for _, o := range jsonLines(t, file) {
		l, _ := o["data"].(map[string]any)
		if o["type"] == "tls" && l["comm"] == "curl" {
			n, _ := l["len"].(float64)
			add(want, l["func"].(string), 1, int(n))
		}
	}
	if want.bytes["read"] < len(body) || want.calls["write"] == 0 {
		t.Fatalf("tls records: %v; want curl's request and the page", want)
	}

	out := runOK(t, "tls", "--top", "3", "-i", "0.2", "-c", get)
	if strings.Contains(out, "\x1b[") {
		t.Errorf("piped --top has terminal escapes:\n%q", out)
	}
	got := sums{map[string]int{}, map[string]int{}}
	tables := tableRows(out, fmt.Sprintf("%-16s %-8s %-20s %8s %12s", "COMM", "PID", "FUNC", "CALLS", "BYTES"))
	if len(tables) == 0 {
		t.Fatalf("no COMM PID FUNC CALLS BYTES table:\n%s", out)
	}
	for _, tab := range tables {
		if len(tab) > 3 {
			t.Errorf("--top 3: a table of %d rows\n%s", len(tab), out)
		}
		for _, r := range tab {
			if len(r) != 5 || r[0] != "curl" {
				t.Errorf("row %q: want curl's COMM PID FUNC CALLS BYTES", r)
				continue
			}
			calls, _ := strconv.Atoi(r[3])
			bytes, _ := strconv.Atoi(r[4])
			add(got, r[2], calls, bytes)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--top: calls %v bytes %v, want %v %v as the records\n%s", got.calls, got.bytes, want.calls, want.bytes, out)
	}

	// --top -f json -o FILE: stats lines of @tls keyed "curl,PID,FUNC".
	runOK(t, "tls", "--top", "3", "-f", "json", "-o", file, "-c", get)
	got = sums{map[string]int{}, map[string]int{}}
	lines := jsonLines(t, file)
	if lines[0]["type"] != "attached_probes" {
		t.Errorf("tls --top -f json: first line %v", lines[0])
	}
	for _, l := range lines[1:] {
		data, _ := l["data"].(map[string]any)
		m, ok := data["@tls"].(map[string]any)
		if l["type"] != "stats" || !ok {
			t.Errorf("tls --top -f json: line %v, want a stats line of @tls", l)
		}
		for k, v := range m {
			parts := strings.Split(k, ",")
			s, _ := v.(map[string]any)
			n, _ := s["count"].(float64)
			total, _ := s["total"].(float64)
			if len(parts) == 3 && parts[0] == "curl" {
				add(got, parts[2], int(n), int(total))
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--top -f json: calls %v bytes %v, want %v %v\n%v", got.calls, got.bytes, want.calls, want.bytes, lines)
	}
}

// dbslowerRow is bcc dbslower's row: "%-14.6f %-7d %8.3f %s".
var dbslowerRow = regexp.MustCompile(`^(\d+\.\d{6}) +(\d+) +(\d+\.\d{3}) (.*)$`)

// dbslowerRows returns the rows of dbslower's output, after checking its
// two header lines are bcc's.
func dbslowerRows(t *testing.T, out string, minMS string) [][]string {
	t.Helper()
	lines := stdoutLines(out)
	head := regexp.MustCompile(`^Tracing database queries for pids \d+(, \d+)* slower than ` + minMS + ` ms\.\.\.$`)
	if len(lines) < 2 || !head.MatchString(lines[0]) || lines[1] != fmt.Sprintf("%-14s %-7s %8s %s", "TIME(s)", "PID", "MS", "QUERY") {
		t.Errorf("dbslower: not bcc's header lines for %s ms\n%s", minMS, out)
		return nil
	}
	var rows [][]string
	for _, l := range lines[2:] {
		if m := dbslowerRow.FindStringSubmatch(l); m != nil {
			rows = append(rows, m[1:])
		} else if l != "" {
			t.Errorf("dbslower: row %q is not TIME(s) PID MS QUERY", l)
		}
	}
	return rows
}

// TestBCCDBExamples runs the lines of bcc's dbslower_example.txt and
// dbstat_example.txt on PostgreSQL (MySQL 8, the one Debian ships, has no
// query probes; bcc's tools take postgres the same way): the header lines,
// the row and histogram layout, and which queries each threshold and -p
// keep. pg_sleep gives queries of known least durations.
func TestBCCDBExamples(t *testing.T) {
	testutil.RequireRoot(t)
	pg := startPostgres(t)
	// A session whose backend stays: its pid is -p's.
	sess := startChild(t, filepath.Join(pgBin, "psql"), "-X", "-q", "-A", "-t", "-h", pg.dir, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "postgres")
	fmt.Fprintln(sess.stdin, "SELECT pg_backend_pid();")
	backend := sess.next()
	if _, err := strconv.Atoi(backend); err != nil {
		t.Fatalf("pg_backend_pid: %q", backend)
	}
	inSession := func(q string) {
		fmt.Fprintln(sess.stdin, q+"; SELECT 'ok';")
		for sess.next() != "ok" {
		}
	}
	slow := startUscope(t, "dbslower", "postgres")                            // dbslower mysql
	slow1000 := startUscope(t, "dbslower", "postgres", "-m", "1000")          // dbslower mysql -m 1000
	slowPID := startUscope(t, "dbslower", "postgres", "-p", backend)          // dbslower mysql -p $(pidof mysql)
	all := startUscope(t, "dbslower", "postgres", "-m", "0")                  // dbslower mysql -m 0
	stat := startUscope(t, "dbstat", "postgres")                              // dbstat mysql
	stat1000 := startUscope(t, "dbstat", "postgres", "-m", "1000")            // dbstat mysql -m 1000
	statPID := startUscope(t, "dbstat", "postgres", "-p", backend, "-i", "1") // dbstat mysql -p $(pidof mysql) -i 3
	if _, err := pg.psql("SELECT pg_sleep(0.2)", "SELECT 42", "SELECT pg_sleep(1.05)"); err != nil {
		t.Fatal(err)
	}
	inSession("SELECT pg_sleep(0.3)")
	inSession("SELECT 43")
	all.waitLine("SELECT 43")
	statPID.waitLine("[")
	sess.stdin.Close()

	queries := func(rows [][]string) []string {
		var qs []string
		for _, r := range rows {
			qs = append(qs, strings.TrimSuffix(r[3], ";")) // psql sends the session's with it
		}
		return qs
	}
	atLeast := func(tool string, rows [][]string, q string, ms float64) {
		t.Helper()
		for _, r := range rows {
			if got, _ := strconv.ParseFloat(r[2], 64); strings.TrimSuffix(r[3], ";") == q && got < ms {
				t.Errorf("%s: %s took %s ms, want at least %g", tool, q, r[2], ms)
			}
		}
	}
	// dbslower mysql: the default threshold of 1 ms keeps the sleeps.
	rows := dbslowerRows(t, slow.stop(), "1")
	for _, q := range []string{"SELECT pg_sleep(0.2)", "SELECT pg_sleep(1.05)", "SELECT pg_sleep(0.3)"} {
		if !slices.Contains(queries(rows), q) {
			t.Errorf("dbslower: no row of %s: %q", q, queries(rows))
		}
	}
	atLeast("dbslower", rows, "SELECT pg_sleep(0.2)", 200)
	// -m 1000: only the query of a second.
	rows = dbslowerRows(t, slow1000.stop(), "1000")
	if got := queries(rows); !slices.Equal(got, []string{"SELECT pg_sleep(1.05)"}) {
		t.Errorf("dbslower -m 1000: rows %q, want pg_sleep(1.05) only", got)
	}
	atLeast("dbslower -m 1000", rows, "SELECT pg_sleep(1.05)", 1050)
	// -p: the session's backend only, in the PID column.
	rows = dbslowerRows(t, slowPID.stop(), "1")
	if got := queries(rows); !slices.Equal(got, []string{"SELECT pg_sleep(0.3)"}) || rows[0][1] != backend {
		t.Errorf("dbslower -p %s: rows %q, want the session's pg_sleep(0.3) by pid %s", backend, rows, backend)
	}
	// -m 0: every query, the fast ones too.
	rows = dbslowerRows(t, all.stop(), "0")
	for _, q := range []string{"SELECT 42", "SELECT 43", "SELECT pg_sleep(0.2)"} {
		if !slices.Contains(queries(rows), q) {
			t.Errorf("dbslower -m 0: no row of %s: %q", q, queries(rows))
		}
	}

	// dbstat: bcc's header, then [HH:MM:SS] and the histogram.
	histOf := func(tool, out, minMS string) map[uint64]int {
		t.Helper()
		head := regexp.MustCompile(`(?m)^Tracing database queries for pids \d+(, \d+)* slower than ` + minMS + ` ms\.\.\.$`)
		block := regexp.MustCompile(`(?m)^\[\d\d:\d\d:\d\d\]\n     query latency \(ms\) +: count     distribution\n`)
		if !head.MatchString(out) || !block.MatchString(out) {
			t.Errorf("%s: not bcc's header, [HH:MM:SS] and 'query latency (ms)' lines\n%s", tool, out)
		}
		return bccHist(t, out)
	}
	h := histOf("dbstat", stat.stop(), "0")
	if h[128] < 1 || h[256] < 1 || h[1024] != 1 {
		t.Errorf("dbstat: buckets %v, want pg_sleep(0.2) in 128, (0.3) in 256, (1.05) in 1024", h)
	}
	h = histOf("dbstat -m 1000", stat1000.stop(), "1000")
	total := 0
	for _, n := range h {
		total += n
	}
	if h[1024] != 1 || total != 1 {
		t.Errorf("dbstat -m 1000: buckets %v, want pg_sleep(1.05) alone in 1024 -> 2047", h)
	}
	out := statPID.stop()
	histOf("dbstat -p -i 1", out, "0")
	// Each second the time, and the histogram when queries came (bcc's
	// print_log2_hist prints nothing for none).
	if n := strings.Count(out, "query latency (ms)"); n < 1 || strings.Count(out, "\n[") < n {
		t.Errorf("dbstat -i 1: %d histograms, want one a second, each after its [HH:MM:SS]\n%s", n, out)
	}
	if h := bccHist(t, out); h[256] != 1 || h[128] != 0 || h[1024] != 0 {
		t.Errorf("dbstat -p %s: buckets %v, want the session's pg_sleep(0.3) in 256 -> 511 and nothing of psql -c's", backend, h)
	}
}

// TestStatTop: stat --top N, piped, prints at most N processes an
// interval, the busiest first; here two Python processes work and --top 1
// keeps one row a table.
func TestStatTop(t *testing.T) {
	c1, _ := startPythonWork(t, 20)
	c2, _ := startPythonWork(t, 20)
	tr := startUscope(t, "stat", "--top", "1", "-l", "python", "0.3")
	goPython(t, c1)
	goPython(t, c2)
	pids := map[string]bool{strconv.Itoa(c1.pid()): true, strconv.Itoa(c2.pid()): true}
	tr.waitFor(func(l string) bool { f := strings.Fields(l); return len(f) > 0 && pids[f[0]] }, "a row of a workload")
	out := tr.stop()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("piped --top has terminal escapes:\n%q", out)
	}
	rows, tables := 0, 0
	for _, l := range stdoutLines(out) {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "PID":
			tables++
			rows = 0
		case len(f) > 0 && tables > 0 && regexp.MustCompile(`^\d+$`).MatchString(f[0]):
			if rows++; rows > 1 {
				t.Errorf("stat --top 1: a table with %d rows\n%s", rows, out)
			}
		}
	}
	if tables == 0 {
		t.Errorf("stat --top 1: no table\n%s", out)
	}
}
