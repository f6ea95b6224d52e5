package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// notTools are the commands that trace nothing (or, for list, list
// probes with --json): they need no -f json -o FILE.
var notTools = []string{"agent", "completion", "demo", "demo-workload", "doctor", "help", "language", "list", "man", "version"}

// TestEveryToolHasJSONFlags: every tool takes --format json and
// --output FILE; -f and -o are their short forms except where the bcc tool
// of that name gives the letter another meaning (the one rule of
// toolStyle: stackcount's -f is folded, trace's -f the message filter,
// sslsniff's -o --no-openssl).
func TestEveryToolHasJSONFlags(t *testing.T) {
	bccLetter := map[string]string{"stackcount": "f", "trace": "f", "sslsniff": "o", "stack": "f"}
	n := 0
	for _, c := range newRootCommand().Commands() {
		if slices.Contains(notTools, c.Name()) || c.Hidden {
			continue
		}
		n++
		for _, long := range []string{"format", "output"} {
			fl := c.Flags().Lookup(long)
			if fl == nil {
				t.Errorf("%s has no --%s", c.Name(), long)
				continue
			}
			if short := long[:1]; fl.Shorthand != short && bccLetter[c.Name()] != short {
				t.Errorf("%s: --%s has short -%s, want -%s", c.Name(), long, fl.Shorthand, short)
			}
		}
	}
	if n < 29 {
		t.Errorf("only %d tools checked", n)
	}
}

// printfRows returns the data of a JSON file's printf lines, after
// checking it starts with attached_probes and holds only printf lines
// after it (run -f json's shapes for rows).
func printfRows(t *testing.T, tool, file string) []string {
	t.Helper()
	lines := jsonLines(t, file)
	if len(lines) == 0 || lines[0]["type"] != "attached_probes" {
		t.Errorf("%s: first line %v, want attached_probes", tool, lines)
		return nil
	}
	var rows []string
	for _, l := range lines[1:] {
		d, ok := l["data"].(string)
		if l["type"] != "printf" || !ok || !strings.HasSuffix(d, "\n") {
			t.Errorf("%s: line %v, want {\"type\": \"printf\", \"data\": ROW}", tool, l)
			continue
		}
		rows = append(rows, d)
	}
	return rows
}

// mapSums adds up, over a JSON file's map lines, the values of map name
// by key.
func mapSums(t *testing.T, tool, file, name string) map[string]float64 {
	t.Helper()
	lines := jsonLines(t, file)
	if len(lines) == 0 || lines[0]["type"] != "attached_probes" {
		t.Errorf("%s: first line %v, want attached_probes", tool, lines)
	}
	sums := map[string]float64{}
	for _, l := range lines {
		for k, v := range mapData(l, name) {
			n, _ := v.(float64)
			sums[k] += n
		}
	}
	return sums
}

// TestRuntimeToolsJSONFiles: objnew, threads, uobjnew and uthreads on
// the C workload (3 mallocs of 4242 bytes, 2 of 4343, 4 threads) with -f
// json -o FILE write run -f json's NDJSON: the allocation maps with those
// counts, one printf row per thread.
func TestRuntimeToolsJSONFiles(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "runtime_c", mustRead(t, "testdata/runtime_c.c"), "-pthread")
	c := startChild(t, bin)
	c.expect("ready")
	pid := strconv.Itoa(c.pid())
	dir := t.TempDir()
	file := func(tool string) string { return filepath.Join(dir, tool+".json") }
	var trs []*tracer
	for _, args := range [][]string{
		{"objnew", "-l", "c", pid},
		{"uobjnew", "-l", "c", pid, "1"},
		{"threads", "-l", "c", pid},
		{"uthreads", "-l", "none", pid},
	} {
		full := append([]string{args[0], "-f", "json", "-o", file(args[0])}, args[1:]...)
		trs = append(trs, startUscopeFile(t, file(args[0]), full...))
	}
	tids := goC(t, c)
	for _, tool := range []string{"threads", "uthreads"} {
		for deadline := 0; deadline < 1500; deadline++ {
			if b, _ := os.ReadFile(file(tool)); strings.Count(string(b), "uscope_worker") >= len(tids) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.stdin.Close()
	for _, tr := range trs {
		if out := tr.waitExit(); strings.Contains(out, "{") {
			t.Errorf("-o FILE: JSON on standard output\n%s", out)
		}
	}
	for _, tool := range []string{"objnew", "uobjnew"} {
		objs, bytes := mapSums(t, tool, file(tool), "@objs"), mapSums(t, tool, file(tool), "@bytes")
		if objs["4242"] != 3 || objs["4343"] != 2 || bytes["4242"] != 12726 || bytes["4343"] != 8686 {
			t.Errorf("%s -f json: @objs %v @bytes %v; want 4242: 3 blocks, 12726 bytes, 4343: 2, 8686", tool, objs, bytes)
		}
	}
	for tool, row := range map[string]string{
		"threads":  `^\d+ +create +uscope_worker\n$`,
		"uthreads": `^\d+\.\d{3} +(\d+) +pthread +uscope_worker \[runtime_c\] *\n$`,
	} {
		re := regexp.MustCompile(row)
		rows := printfRows(t, tool, file(tool))
		n := 0
		for _, r := range rows {
			if re.MatchString(r) {
				n++
			}
		}
		if n != len(tids) {
			t.Errorf("%s -f json: %d rows of uscope_worker, want %d\n%q", tool, n, len(tids), rows)
		}
	}
}

// TestPythonToolsJSONFiles: flow, uflow, gc, ugc, ucalls and ustat on the
// Python workload with -f json -o FILE: rows as printf lines (the
// entries of outer and leaf, the three collections), maps as map lines
// (the calls of outer and leaf).
func TestPythonToolsJSONFiles(t *testing.T) {
	const n = 3
	c, script := startPythonWork(t, n)
	pid := strconv.Itoa(c.pid())
	dir := t.TempDir()
	file := func(tool string) string { return filepath.Join(dir, tool+".json") }
	var trs []*tracer
	for _, args := range [][]string{
		{"flow", "-C", script, pid},
		{"uflow", "-C", script, "-l", "python", pid},
		{"gc", pid},
		{"ugc", "-l", "python", pid},
		{"ucalls", "-l", "python", pid},
		{"ustat", "-l", "python", "1", "4"},
	} {
		full := append([]string{args[0], "-f", "json", "-o", file(args[0])}, args[1:]...)
		trs = append(trs, startUscopeFile(t, file(args[0]), full...))
	}
	collected := goPython(t, c)
	for _, tr := range trs {
		if out := tr.waitExit(); strings.Contains(out, "{") {
			t.Errorf("-o FILE: JSON on standard output\n%s", out)
		}
	}
	for _, tool := range []string{"flow", "uflow"} {
		entries := map[string]int{}
		for _, r := range printfRows(t, tool, file(tool)) {
			for _, fn := range []string{"outer", "leaf"} {
				if regexp.MustCompile(`-> ` + regexp.QuoteMeta(script) + `[.:]` + fn + `\n$`).MatchString(r) {
					entries[fn]++
				}
			}
		}
		if entries["outer"] == 0 || entries["leaf"] == 0 {
			t.Errorf("%s -f json: entries %v, want rows '-> %s.outer' and '.leaf'", tool, entries, script)
		}
	}
	for _, tool := range []string{"gc", "ugc"} {
		rows := printfRows(t, tool, file(tool))
		for g, objs := range collected {
			found := false
			for _, r := range rows {
				if strings.HasSuffix(r, fmt.Sprintf(" gen %d GC collected %d objects\n", g, objs)) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s -f json: no row of the generation %d collection (%d objects)\n%q", tool, g, objs, rows)
			}
		}
	}
	calls := mapSums(t, "ucalls", file("ucalls"), "@calls")
	if calls[script+",outer"] != n+1 || calls[script+",leaf"] != n+1 {
		t.Errorf("ucalls -f json: @calls %v, want %s,outer and leaf %d", calls, script, n+1)
	}
	gcs := 0.0
	for _, l := range jsonLines(t, file("ustat")) {
		if v, ok := mapData(l, "@gc")[pid].(float64); ok {
			gcs += v
		}
	}
	if gcs < float64(len(collected)) {
		t.Errorf("ustat -f json: %v collections of %s in @gc, want %d at least", gcs, pid, len(collected))
	}
}

// TestEventToolsJSONFiles: trace, bashreadline, gethostlatency,
// sslsniff, tplist and profile with -f json (or --format) and -o FILE (or
// --output) write NDJSON.
func TestEventToolsJSONFiles(t *testing.T) {
	testutil.RequireRoot(t)
	bin := bccexProgram(t)
	dir := t.TempDir()

	// trace: one object per event, the three writes to fd 1.
	f := filepath.Join(dir, "trace.json")
	if out := runOK(t, "trace", "--format", "json", "-o", f, "--cmd", bin+" w", `p:c:write (arg1 == 1) "n %d", arg3`); strings.Contains(out, "{") {
		t.Errorf("trace -o: JSON on standard output\n%s", out)
	}
	n := 0
	for _, l := range jsonLines(t, f) {
		if strings.Contains(fmt.Sprint(l), "n 10") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("trace --format json -o: %d events 'n 10', want 3\n%v", n, jsonLines(t, f))
	}

	// gethostlatency: a printf row per lookup.
	host := testutil.BuildC(t, "hostlookup", mustRead(t, "testdata/hostlookup.c"))
	f = filepath.Join(dir, "gethostlatency.json")
	runOK(t, "gethostlatency", "-f", "json", "-o", f, "--cmd", host+" now localhost 127.0.0.1 ::1")
	rows := printfRows(t, "gethostlatency", f)
	if len(rows) != 6 || !strings.HasSuffix(rows[0], " localhost\n") || !strings.HasSuffix(rows[4], " 127.0.0.1\n") || !strings.HasSuffix(rows[5], " ::1\n") {
		t.Errorf("gethostlatency -f json: rows %q, want six lookups (3 of localhost, 2 of 127.0.0.1, 1 of ::1)", rows)
	}

	// bashreadline: a printf row per line read.
	if _, err := os.Stat(libreadline); err == nil {
		rl := testutil.BuildC(t, "bash", mustRead(t, "testdata/rlbash.c"), libreadline)
		f = filepath.Join(dir, "bashreadline.json")
		runWithStdin(t, []string{"bashreadline", "-f", "json", "-o", f, "--cmd", rl, "-s", libreadline}, "echo hi\nexit\n")
		rows := printfRows(t, "bashreadline", f)
		if len(rows) != 2 || !strings.HasSuffix(rows[0], " echo hi\n") || !strings.HasSuffix(rows[1], " exit\n") {
			t.Errorf("bashreadline -f json: rows %q, want 'echo hi' and 'exit'", rows)
		}
	}

	// tplist: one usdt_probe object per probe of the library, as many
	// as the text lists.
	usdt := testutil.BuildC(t, "usdtargs", mustRead(t, "testdata/usdtargs.c"), "-O0")
	f = filepath.Join(dir, "tplist.json")
	runOK(t, "tplist", "-f", "json", "-o", f, "-l", usdt)
	probes := strings.Count(runOK(t, "tplist", "-l", usdt), "\n")
	lines := jsonLines(t, f)
	for _, l := range lines {
		if l["type"] != "usdt_probe" {
			t.Errorf("tplist -f json: line %v, want usdt_probe", l)
		}
	}
	if len(lines) != probes || probes == 0 {
		t.Errorf("tplist -f json -o: %d objects, want %d (the probes tplist lists)", len(lines), probes)
	}

	// profile: the map line of @stacks, bccex's spinning in it.
	f = filepath.Join(dir, "profile.json")
	// nest(3) runs 4.5 ms: at 4999 Hz some 20 samples land in it (at the
	// default 99 Hz, often none).
	runOK(t, "profile", "-F", "4999", "-f", "json", "-o", f, "-c", bin+" l")
	stacks := mapSums(t, "profile", f, "@stacks")
	found := false
	for k := range stacks {
		found = found || (strings.HasPrefix(k, "bccex,") && strings.Contains(k, "nest"))
	}
	if !found {
		t.Errorf("profile -f json: no bccex stack through nest in @stacks: %v", stacks)
	}
}

// TestSslsniffJSONFile: sslsniff -f json --output FILE (-o is bcc's
// --no-openssl) writes tls -f json's objects: curl's request and the page.
func TestSslsniffJSONFile(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, body := startTLSServer(t)
	f := filepath.Join(t.TempDir(), "sslsniff.json")
	runOK(t, "sslsniff", "-f", "json", "--output", f, "--cmd", fmt.Sprintf("%s -sk --http1.1 -o /dev/null https://127.0.0.1:%d/index.html", curl, port))
	wantCurlTLS(t, f, body)
}

// TestUnknownToolOneLine: a mistyped tool name is one line (exit 1) with
// the nearest names, bcc's among them.
func TestUnknownToolOneLine(t *testing.T) {
	for name, want := range map[string]string{"funcount": "did you mean funccount?", "stackcont": "did you mean stackcount?", "zzzzzz": "see 'uscope --help'"} {
		r := runUscope(t, name, "c:malloc")
		if msg := strings.TrimSpace(r.stderr); r.code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, `unknown command "`+name+`"`) || !strings.Contains(msg, want) {
			t.Errorf("uscope %s: exit %d, stderr %q; want exit 1 and one line with %q", name, r.code, r.stderr, want)
		}
	}
}
