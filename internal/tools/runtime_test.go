package tools

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/output"
)

func str(s string) output.Value { return output.Value{Kind: output.KindString, Str: s} }
func num(v int64) output.Value  { return output.Value{Kind: output.KindInt, Signed: true, Int: v} }

func pad40(s string) string { return s + strings.Repeat(" ", 40-len(s)) }

func TestFlowRows(t *testing.T) {
	for _, c := range []struct {
		lang, format string
		args         []output.Value
		bcc          bool
		want         string
	}{
		{"java", "%d %d %d %d %d -> %s %s\n", []output.Value{num(1), num(10), num(11), num(500), num(0), str("A"), str("main")}, false, "1   10      11      500        -> A.main\n"},
		{"java", "%d %d %d %d %d <- %s %s\n", []output.Value{num(1), num(10), num(11), num(501), num(2), str("A"), str("step")}, false, "1   10      11      501            <- A.step\n"},
		{"python", "%d %d %d %d %d -> %s %s\n", []output.Value{num(0), num(5), num(5), num(7), num(1), str("/t/w.py"), str("leaf")}, false, "0   5       5       7            -> /t/w.py:leaf\n"},
		{"tcl", "%d %d %d %d %d -> %s %s\n", []output.Value{num(0), num(5), num(5), num(7), num(0), str(""), str("proc")}, false, "0   5       5       7          -> proc\n"},
		// bcc's uflow: "%-3d %-6d %-6d %-8.3f %-40s", seconds, class.method.
		{"ruby", "%d %d %d %d %d <- %s %s\n", []output.Value{num(3), num(27245), num(27245), num(4536000), num(0), str("IO"), str("gets")}, true, "3   27245  27245  4.536    " + pad40("<- IO.gets") + "\n"},
		{"python", "%d %d %d %d %d -> %s %s\n", []output.Value{num(3), num(27245), num(27245), num(4536000), num(1), str("<stdin>"), str("fibo")}, true, "3   27245  27245  4.536    " + pad40("  -> <stdin>.fibo") + "\n"},
	} {
		var b strings.Builder
		Flow{W: &b, Lang: c.lang, BCC: c.bcc}.Printf(c.format, c.args)
		if b.String() != c.want {
			t.Errorf("%s %v: got %q, want %q", c.lang, c.args, b.String(), c.want)
		}
	}
}

func TestCallsTable(t *testing.T) {
	calls := &output.Map{Name: "@calls", Entries: []output.Entry{
		{Key: []output.Value{str("A"), str("f")}, Value: num(3)},
		{Key: []output.Value{str("A"), str("g")}, Value: num(9)},
		{Key: []output.Value{str("B"), str("h")}, Value: num(1)},
	}}
	times := &output.Map{Name: "@times", Entries: []output.Entry{
		{Key: []output.Value{str("A"), str("f")}, Value: num(5000)},
		{Key: []output.Value{str("A"), str("g")}, Value: num(1000)},
		{Key: []output.Value{str("B"), str("h")}, Value: num(2500)},
	}}
	for _, c := range []struct {
		name  string
		times *output.Map
		top   int
		rows  []string
	}{
		{"counts ascending", nil, 0, []string{"B.h 1", "A.f 3", "A.g 9"}},
		{"top 1", nil, 1, []string{"A.g 9"}},
		{"by time", times, 0, []string{"A.g 9 1.00", "B.h 1 2.50", "A.f 3 5.00"}},
	} {
		for _, bcc := range []bool{false, true} {
			var b strings.Builder
			Calls{Lang: "java", Top: c.top, BCC: bcc}.Write(&b, calls, c.times)
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")[1:]
			var got []string
			for _, l := range lines {
				got = append(got, strings.Join(strings.Fields(l), " "))
			}
			if strings.Join(got, "|") != strings.Join(c.rows, "|") {
				t.Errorf("%s (bcc %v): got %q, want %q", c.name, bcc, got, c.rows)
			}
		}
	}
	// ucalls -L's header and row as ucalls_example.txt has them.
	var b strings.Builder
	Calls{Lang: "java", BCC: true}.Write(&b, &output.Map{Entries: calls.Entries[2:]}, &output.Map{Entries: []output.Entry{{Key: []output.Value{str("B"), str("h")}, Value: num(7000)}}})
	want := "\nMETHOD                                              # CALLS TIME (us)\nB.h                                                       1   7.00\n"
	if b.String() != want {
		t.Errorf("ucalls -L table %q, want %q", b.String(), want)
	}
}

func TestGCRows(t *testing.T) {
	var b strings.Builder
	g := GC{W: &b}
	g.Header("node", 30012)
	g.Printf(GCPrefix+"gen %d GC collected %d objects\n", []output.Value{num(1500000000), num(1181000), num(0), num(12)})
	g.Filter = "gen 2"
	g.Printf(GCPrefix+"gen %d GC collected %d objects\n", []output.Value{num(1500000000), num(1181000), num(0), num(12)})
	want := "Tracing garbage collections in node process 30012... Ctrl-C to quit.\n" +
		"START    TIME (us) DESCRIPTION                             \n" +
		"1.500    1181.00  gen 0 GC collected 12 objects\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
