package output

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// bpftraceCase is a bpftrace program whose maps are modelled by hand: the
// test prints the model with this package and compares the bytes with what
// bpftrace itself prints, in text and in JSON.
type bpftraceCase struct {
	name    string
	program string
	// output prints the program's output (its print() calls and the maps
	// at exit) through w.
	output func(w *Writer)
	// peer0_17, when set, turns bpftrace 0.17's output into bpftrace
	// main's where the two differ (main, the reference, prints no line
	// for a map left empty at exit; 0.17 prints an empty one).
	peer0_17 func(string) string
	// avgMaps names the avg() maps of the program, after which bpftrace
	// 0.17 prints an empty line that main does not.
	avgMaps []string
}

func bpftraceCases() []bpftraceCase {
	return []bpftraceCase{
		{
			name:    "brief",
			avgMaps: []string{"@a"},
			program: `BEGIN { @h = hist(5); @h = hist(1000); @l = lhist(7, 0, 100, 10); @c["a"] = count(); @c["b"] = count(); @c["b"] = count(); @s = stats(10); @a = avg(3); @m = max(4); printf("%5d|%-5s|%x\n", 42, "ab", 255); exit(); }`,
			output: func(w *Writer) {
				f, err := ParseFormat("%5d|%-5s|%x\n")
				if err != nil {
					panic(err)
				}
				w.Printf(f, []Value{i64(42), str("ab"), i64(255)})
				w.MapsAtExit([]*Map{
					{Name: "@h", Kind: AggHist, Entries: []Entry{{Buckets: hist(5, 1000)}}},
					{Name: "@l", Kind: AggLHist, LHistMin: 0, LHistMax: 100, LHistStep: 10, Entries: []Entry{{Buckets: lhist(0, 100, 10, 7)}}},
					{Name: "@c", Kind: AggCount, Entries: []Entry{{Key: key("a"), Value: u64(1)}, {Key: key("b"), Value: u64(2)}}},
					{Name: "@s", Kind: AggStats, Entries: []Entry{avgEntry(nil, 10)}},
					{Name: "@a", Kind: AggAvg, Entries: []Entry{avgEntry(nil, 3)}},
					{Name: "@m", Kind: AggMax, Entries: []Entry{{Value: i64(4)}}},
				})
			},
		},
		{
			name:    "print",
			avgMaps: []string{"@a"},
			program: `BEGIN {
				@h[1] = hist(1); @h[1] = hist(1); @h[1] = hist(100);
				@h[2] = hist(-1);
				@h[0] = hist(8); @h[0] = hist(8); @h[0] = hist(0); @h[0] = hist(9); @h[0] = hist(3000);
				print(@h, 2); print(@h, 0, 2);
				@m[1] = 100; @m[2] = 250; @m[3] = 55; @m[4] = 1000;
				print(@m, 2); print(@m, 0, 10); print(@m, 3, 100);
				@a[1] = avg(100); @a[2] = avg(20); @a[2] = avg(22); @a[3] = avg(-7);
				print(@a); print(@a, 1, 10);
				@s["x"] = stats(100); @s["y"] = stats(20); @s["y"] = stats(21);
				print(@s, 1, 10);
				print(5); print("str"); print((1, "a")); $x = -5; print($x);
				@t = (1, "x"); print(@t);
				exit();
			}`,
			output: func(w *Writer) {
				h := &Map{Name: "@h", Kind: AggHist, Entries: []Entry{
					{Key: key(1), Buckets: hist(1, 1, 100)},
					{Key: key(2), Buckets: hist(-1)},
					{Key: key(0), Buckets: hist(8, 8, 0, 9, 3000)},
				}}
				w.Map(h, PrintOptions{Top: 2})
				w.Map(h, PrintOptions{Div: 2})
				m := &Map{Name: "@m", Kind: AggValue, Entries: []Entry{
					{Key: key(1), Value: i64(100)}, {Key: key(2), Value: i64(250)}, {Key: key(3), Value: i64(55)}, {Key: key(4), Value: i64(1000)},
				}}
				w.Map(m, PrintOptions{Top: 2})
				w.Map(m, PrintOptions{Div: 10})
				w.Map(m, PrintOptions{Top: 3, Div: 100})
				a := &Map{Name: "@a", Kind: AggAvg, Entries: []Entry{
					avgEntry(key(1), 100), avgEntry(key(2), 20, 22), avgEntry(key(3), -7),
				}}
				w.Map(a, PrintOptions{})
				w.Map(a, PrintOptions{Top: 1, Div: 10})
				s := &Map{Name: "@s", Kind: AggStats, Entries: []Entry{
					avgEntry(key("x"), 100), avgEntry(key("y"), 20, 21),
				}}
				w.Map(s, PrintOptions{Top: 1, Div: 10})
				w.Value(i64(5))
				w.Value(str("str"))
				w.Value(TupleValue(i64(1), str("a")))
				w.Value(i64(-5))
				t := &Map{Name: "@t", Kind: AggValue, Entries: []Entry{{Value: TupleValue(i64(1), str("x"))}}}
				w.Map(t, PrintOptions{})
				w.MapsAtExit([]*Map{h, m, a, s, t})
			},
		},
		{
			name: "kinds",
			peer0_17: func(s string) string {
				// 0.17 prints empty lines for the four empty maps
				// print() prints and again at exit; main nothing.
				s = strings.Replace(s, "\n\n\n\n\n\n\n\n", "\n\n", 1)
				return regexp.MustCompile(`(@c\[2, b\]: 2\n)\n+(@hb)`).ReplaceAllString(s, "$1$2")
			},
			program: `BEGIN {
				@c[1, "a"] = count(); @c[2, "b"] = count(); @c[2, "b"] = count();
				@sum["neg"] = sum(-5); @sum["pos"] = sum(7); @sum["pos"] = sum(7);
				@min = min(9); @min = min(3);
				@l = lhist(-5, 0, 100, 10); @l = lhist(0, 0, 100, 10); @l = lhist(55, 0, 100, 10); @l = lhist(100, 0, 100, 10); @l = lhist(1000, 0, 100, 10);
				@k = lhist(3000, 1024, 4096, 1024); @k = lhist(5000, 1024, 4096, 1024); @k = lhist(5, 1024, 4096, 1024);
				@w = lhist(1000000, 0, 3000000, 1000000);
				@name[1] = "one"; @name[2] = "two";
				@ea = avg(1); clear(@ea); @es[1] = stats(1); clear(@es); @eh = hist(1); clear(@eh); @ek[1] = count(); clear(@ek);
				print(@ea); print(@es); print(@eh); print(@ek);
				@hb = hist(1); @hb = hist(2); @hb = hist(2); @hb = hist(3); @hb = hist(4); @hb = hist(4); @hb = hist(4);
				@q["q\"\t"] = 1;
				exit();
			}`,
			output: func(w *Writer) {
				ea := &Map{Name: "@ea", Kind: AggAvg}
				es := &Map{Name: "@es", Kind: AggStats}
				eh := &Map{Name: "@eh", Kind: AggHist}
				ek := &Map{Name: "@ek", Kind: AggCount}
				for _, m := range []*Map{ea, es, eh, ek} {
					w.Map(m, PrintOptions{})
				}
				w.MapsAtExit([]*Map{
					{Name: "@c", Kind: AggCount, Entries: []Entry{{Key: key(1, "a"), Value: u64(1)}, {Key: key(2, "b"), Value: u64(2)}}},
					{Name: "@sum", Kind: AggSum, Entries: []Entry{{Key: key("neg"), Value: i64(-5)}, {Key: key("pos"), Value: i64(14)}}},
					{Name: "@min", Kind: AggMin, Entries: []Entry{{Value: i64(3)}}},
					{Name: "@l", Kind: AggLHist, LHistMin: 0, LHistMax: 100, LHistStep: 10, Entries: []Entry{{Buckets: lhist(0, 100, 10, -5, 0, 55, 100, 1000)}}},
					{Name: "@k", Kind: AggLHist, LHistMin: 1024, LHistMax: 4096, LHistStep: 1024, Entries: []Entry{{Buckets: lhist(1024, 4096, 1024, 3000, 5000, 5)}}},
					{Name: "@w", Kind: AggLHist, LHistMin: 0, LHistMax: 3000000, LHistStep: 1000000, Entries: []Entry{{Buckets: lhist(0, 3000000, 1000000, 1000000)}}},
					{Name: "@name", Kind: AggValue, Entries: []Entry{{Key: key(2), Value: str("two")}, {Key: key(1), Value: str("one")}}},
					ea, es, eh, ek,
					{Name: "@hb", Kind: AggHist, Entries: []Entry{{Buckets: hist(1, 2, 2, 3, 4, 4, 4)}}},
					{Name: "@q", Kind: AggValue, Entries: []Entry{{Key: key("q\"\t"), Value: i64(1)}}},
				})
			},
		},
	}
}

// runBpftrace runs a program and returns its standard output without the
// "Attaching" line (text) or the attached_probes object and empty lines
// (JSON).
func runBpftrace(t *testing.T, bpftrace, program string, jsonMode bool) string {
	t.Helper()
	args := []string{"-e", program}
	if jsonMode {
		args = append([]string{"-f", "json"}, args...)
	}
	cmd := exec.Command(bpftrace, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bpftrace: %v\n%s", err, stderr.String())
	}
	lines := strings.SplitAfter(string(out), "\n")
	if len(lines) == 0 || !(strings.HasPrefix(lines[0], "Attaching ") || strings.Contains(lines[0], `"attached_probes"`)) {
		t.Fatalf("bpftrace printed no attach line:\n%s\n%s", out, stderr.String())
	}
	lines = lines[1:]
	if jsonMode {
		var kept []string
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				kept = append(kept, l)
			}
		}
		lines = kept
	}
	return strings.Join(lines, "")
}

// mainText turns bpftrace 0.17's text output into bpftrace main's where
// the two differ in how maps print: main puts no space after the ':' of a
// histogram's name, prints stats() as a record, and no empty line after
// avg() and stats() maps.
func mainText(s string, avgMaps []string) string {
	s = regexp.MustCompile(`(?m)^(@\S*): $`).ReplaceAllString(s, "$1:")
	s = regexp.MustCompile(`(?m): count (-?\d+), average (-?\d+), total (-?\d+)$`).ReplaceAllString(s, ": { .count = $1, .average = $2, .total = $3 }")
	s = regexp.MustCompile(`(?m)(\{ \.count = [^\n]*\}\n)\n`).ReplaceAllString(s, "$1")
	for _, name := range avgMaps {
		s = regexp.MustCompile(`(?m)(^`+regexp.QuoteMeta(name)+`(\[[^\n]*\])?: -?\d+\n)\n`).ReplaceAllString(s, "$1")
	}
	return s
}

// TestMatchesBpftrace prints maps and values modelled on bpftrace programs
// and compares the bytes with bpftrace's own output.
func TestMatchesBpftrace(t *testing.T) {
	testutil.RequireRoot(t)
	bpftrace := testutil.RequireTool(t, "bpftrace")
	for _, c := range bpftraceCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []Mode{Text, JSON} {
				want := runBpftrace(t, bpftrace, c.program, mode == JSON)
				if mode == Text {
					want = mainText(want, c.avgMaps)
					if c.peer0_17 != nil {
						want = c.peer0_17(want)
					}
				}
				var b bytes.Buffer
				w := NewWriter(&b, mode)
				c.output(w)
				if w.Err() != nil {
					t.Fatal(w.Err())
				}
				if got := b.String(); got != want {
					t.Errorf("mode %d: uscope prints\n%s\nbpftrace prints\n%s", mode, got, want)
				}
			}
		})
	}
}

// TestBpftraceCasesGolden keeps the outputs compared with bpftrace in
// golden files, so that machines without bpftrace still check them.
func TestBpftraceCasesGolden(t *testing.T) {
	for _, c := range bpftraceCases() {
		for _, mode := range []Mode{Text, JSON} {
			var b bytes.Buffer
			w := NewWriter(&b, mode)
			c.output(w)
			name := "bpftrace_" + c.name + "_text"
			if mode == JSON {
				name = "bpftrace_" + c.name + "_json"
				checkJSONLines(t, c.name, b.Bytes())
			}
			golden(t, name, b.Bytes())
		}
	}
}
