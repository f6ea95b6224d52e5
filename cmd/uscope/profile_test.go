package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// hotC spends its CPU time in spin, called from hot_a with three times
// the work of hot_b: a profile sees main;hot_a;spin and main;hot_b;spin
// in a 3:1 ratio. -O0 keeps a frame in every function.
const hotC = `
#define NOINLINE __attribute__((noinline))
volatile unsigned long sink;
NOINLINE void spin(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i; }
NOINLINE void hot_a(void) { spin(30000); sink++; }
NOINLINE void hot_b(void) { spin(10000); sink++; }
int main(void) { for (int r = 0; r < 40000; r++) { hot_a(); hot_b(); } return 0; }
`

// checkRatio fails unless a:b is 3:1 within 5 standard deviations of a
// binomial proportion with n = a+b samples.
func checkRatio(t *testing.T, what string, a, b float64) {
	t.Helper()
	n := a + b
	if n < 100 {
		t.Fatalf("%s: only %.0f samples of hot_a and hot_b", what, n)
	}
	p := a / n
	sigma := math.Sqrt(0.75 * 0.25 / n)
	if math.Abs(p-0.75) > 5*sigma {
		t.Errorf("%s: hot_a has %.3f of the samples (%.0f:%.0f), want 0.75 ± %.3f", what, p, a, b, 5*sigma)
	}
}

// TestProfileRatio: uscope profile -c on a program with two hot paths in a
// known 3:1 ratio gives folded stacks in that ratio, and its pprof file
// opens in go tool pprof -top with the same ratio.
func TestProfileRatio(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "hot", hotC, "-O0", "-fno-omit-frame-pointer")
	out := runOK(t, "profile", "-F", "999", "-c", bin)
	re := regexp.MustCompile(`(?m)^hot;(?:[^;\n]+;)*main;(hot_a|hot_b);spin (\d+)$`)
	got := map[string]float64{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] += float64(n)
	}
	checkRatio(t, "folded", got["hot_a"], got["hot_b"])
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !regexp.MustCompile(`^hot(;[^;]+)+ \d+$`).MatchString(l) {
			t.Errorf("line %q is not folded (comm;frames count)", l)
		}
	}

	goTool := testutil.RequireTool(t, "go")
	pb := filepath.Join(t.TempDir(), "cpu.pb.gz")
	runOK(t, "profile", "-F", "999", "-c", bin, "-f", "pprof", "-o", pb)
	top, err := exec.Command(goTool, "tool", "pprof", "-top", "-unit=ms", pb).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top: %v\n%s", err, top)
	}
	// Rows: flat flat% sum% cum cum% name; the cum of hot_a and hot_b.
	cum := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\S+\s+\S+\s+\S+\s+([\d.]+)ms\s+\S+\s+(hot_a|hot_b|spin|main)$`).FindAllStringSubmatch(string(top), -1) {
		cum[m[2]], _ = strconv.ParseFloat(m[1], 64)
	}
	if cum["spin"] == 0 || cum["main"] < cum["spin"] {
		t.Errorf("pprof -top has no spin under main:\n%s", top)
	}
	checkRatio(t, "pprof", cum["hot_a"]/1.001, cum["hot_b"]/1.001) // ms of 1.001 ms samples
}

// TestProfileFlameGraphRendered renders uscope's flame graph SVG of the
// 3:1 program in headless Chromium and checks the frames as laid out: the
// tower main → hot_a, hot_b → spin, each above its parent, widths in
// proportion to their samples, labels inside their frames.
func TestProfileFlameGraphRendered(t *testing.T) {
	testutil.RequireRoot(t)
	chromium := testutil.RequireTool(t, "chromium")
	bin := testutil.BuildC(t, "hot", hotC, "-O0", "-fno-omit-frame-pointer")
	dir := t.TempDir()
	svg := filepath.Join(dir, "flame.svg")
	runOK(t, "profile", "-F", "999", "-c", bin, "-f", "svg", "-o", svg)
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	page := `<!DOCTYPE html><html><body style="margin:0">` + strings.TrimPrefix(string(data), `<?xml version="1.0" standalone="no"?>`) + `
<script>
const out = [];
for (const g of document.querySelectorAll('g.frame')) {
	const r = g.querySelector('rect').getBoundingClientRect();
	const t = g.querySelector('text');
	out.push({name: g.dataset.name, samples: +g.dataset.samples, x: r.left, y: r.top, w: r.width,
		label: t ? t.getComputedTextLength() : 0});
}
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script></body></html>`
	html := filepath.Join(dir, "page.html")
	if err := os.WriteFile(html, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--dump-dom", "file://"+html)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	m := regexp.MustCompile(`(?s)<pre id="measured">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the page did not run its measurement:\n%.2000s", dom)
	}
	raw := strings.NewReplacer("&quot;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(string(m[1]))
	var frames []struct {
		Name    string  `json:"name"`
		Samples float64 `json:"samples"`
		X       float64 `json:"x"`
		Y       float64 `json:"y"`
		W       float64 `json:"w"`
		Label   float64 `json:"label"`
	}
	if err := json.Unmarshal([]byte(raw), &frames); err != nil {
		t.Fatalf("measurement %q: %v", raw, err)
	}
	byName := map[string]int{}
	for i, f := range frames {
		if f.Label > f.W {
			t.Errorf("frame %s: label %.1fpx wider than its frame %.1fpx", f.Name, f.Label, f.W)
		}
		// A name can have several frames: a sample taken in a prologue,
		// before the frame pointer is set, loses its caller and puts
		// hot_b or spin at another depth. The tower is the largest.
		if j, ok := byName[f.Name]; !ok || f.Samples > frames[j].Samples {
			byName[f.Name] = i
		}
	}
	all, ok1 := byName["all"]
	mainI, ok2 := byName["main"]
	a, ok3 := byName["hot_a"]
	b, ok4 := byName["hot_b"]
	if !ok1 || !ok2 || !ok3 || !ok4 {
		t.Fatalf("rendered frames lack all, main, hot_a or hot_b: %+v", frames)
	}
	px := frames[all].W / frames[all].Samples // pixels per sample
	for _, i := range []int{mainI, a, b} {
		f := frames[i]
		if math.Abs(f.W-f.Samples*px) > 1 {
			t.Errorf("frame %s: %.1fpx wide for %.0f samples, want %.1fpx", f.Name, f.W, f.Samples, f.Samples*px)
		}
	}
	fa, fb, fm := frames[a], frames[b], frames[mainI]
	if fa.Y >= fm.Y || fb.Y != fa.Y || fa.X < fm.X || fb.X+fb.W > fm.X+fm.W+0.5 {
		t.Errorf("hot_a %+v and hot_b %+v are not side by side on top of main %+v", fa, fb, fm)
	}
	checkRatio(t, "rendered widths", fa.W/px, fb.W/px)
	// A picture of it for the docs, when asked.
	if shot := os.Getenv("USCOPE_FLAME_SCREENSHOT"); shot != "" {
		_ = exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+filepath.Join(dir, "profile2"),
			"--window-size=1200,200", "--screenshot="+shot, "file://"+svg).Run()
	}
}

// TestProfileNodeJIT: Node run with --perf-basic-prof writes
// /tmp/perf-PID.map; the frames of its JIT-compiled JavaScript are named
// from it ("JS:*hotLeaf FILE:LINE:COL", V8's name), so the hot JavaScript
// functions show in the profile (TurboFan may inline hotLeaf into
// hotOuter: either name counts).
func TestProfileNodeJIT(t *testing.T) {
	testutil.RequireRoot(t)
	node := testutil.RequireTool(t, "node")
	dir := t.TempDir()
	js := filepath.Join(dir, "hot.js")
	src := `function hotLeaf(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }
function hotOuter() { let t = 0; for (let k = 0; k < 10000; k++) t += hotLeaf(20000); return t; }
hotOuter();
`
	if err := os.WriteFile(js, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	folded := filepath.Join(dir, "node.folded")
	// V8 writes its log beside the map: keep it in dir. The map itself is
	// /tmp/perf-PID.map; remove the one this run wrote.
	t.Cleanup(func() {
		maps, _ := filepath.Glob("/tmp/perf-*.map")
		for _, m := range maps {
			if b, err := os.ReadFile(m); err == nil && strings.Contains(string(b), js) {
				os.Remove(m)
			}
		}
	})
	runOK(t, "profile", "-F", "499", "-o", folded, "-c",
		node+" --perf-basic-prof --logfile="+filepath.Join(dir, "v8.log")+" --no-logfile-per-isolate "+js)
	data, err := os.ReadFile(folded)
	if err != nil {
		t.Fatal(err)
	}
	jit := regexp.MustCompile(`(^|;)(JS|LazyCompile):[*~^+]?hot(Leaf|Outer) [^;]*hot\.js:[12]:`)
	var all, hot int
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		i := strings.LastIndexByte(l, ' ')
		n, err := strconv.Atoi(l[i+1:])
		if err != nil {
			t.Fatalf("line %q is not folded", l)
		}
		all += n
		if jit.MatchString(l[:i]) {
			hot += n
		}
	}
	// Most of the CPU time is in the JavaScript; Node's start takes some.
	if all == 0 || hot*2 < all {
		t.Errorf("%d of %d samples name hotLeaf or hotOuter from the perf map, want at least half:\n%.3000s", hot, all, data)
	}
}

// TestProfileProbeName: probe in a profile program is the probe as
// bpftrace names it, and the samples are the traced command's only (the
// tree filter): every sample's pid is the command's.
func TestProfileProbeName(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "hot", hotC, "-O0", "-fno-omit-frame-pointer")
	out := runOK(t, "run", "-c", bin, "-e", `profile:hz:199 { @[probe] = count(); @c[comm] = count(); }`)
	if !regexp.MustCompile(`(?m)^@\[profile:hz:199\]: \d+$`).MatchString(out) {
		t.Errorf("no @[profile:hz:199] count:\n%s", out)
	}
	comms := regexp.MustCompile(`(?m)^@c\[(.*)\]: \d+$`).FindAllStringSubmatch(out, -1)
	if len(comms) != 1 || comms[0][1] != "hot" {
		t.Errorf("samples of other processes than the command's: %q\n%s", comms, out)
	}
}

// TestProfileOrder: two profile probes of one rate fire in source order
// on each CPU, the first's timer being opened first (bpftrace main's
// probe.profile_order, whose script this is).
func TestProfileOrder(t *testing.T) {
	testutil.RequireRoot(t)
	out := runOK(t, "run", "-e", `profile:ms:100 { printf("first"); } profile:ms:100 { printf(" second\n"); exit(); }`)
	if !regexp.MustCompile(`^(first)+ second\n`).MatchString(out) {
		t.Errorf("want (first)+ second:\n%q", out)
	}
}
