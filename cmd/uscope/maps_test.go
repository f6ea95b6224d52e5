package main

import (
	"context"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// mapLines returns the lines of printed maps in bpftrace's text format
// that carry data: "@name[key]: value" and the histograms' "[lo, hi) count"
// (bars left out), each prefixed by its map's name, sorted.
func mapLines(out string) []string {
	bucket := regexp.MustCompile(`^(\[[^)\]]*[)\]])\s+(\d+) \|@*\s*\|$`)
	var got []string
	current := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "@") && (strings.HasSuffix(l, ": ") || strings.HasSuffix(l, ":")):
			// A histogram's name: "@h:" (bpftrace main), "@h: " (0.17).
			current = strings.TrimSuffix(strings.TrimSuffix(l, " "), ":")
		case strings.HasPrefix(l, "@"):
			got = append(got, l)
		case bucket.MatchString(l):
			m := bucket.FindStringSubmatch(l)
			got = append(got, current+" "+m[1]+" "+m[2])
		}
	}
	slices.Sort(got)
	return got
}

// TestMapsMatchBpftrace runs one program with maps, hist() and cpid under
// uscope and under bpftrace, with -c on the same test program, and compares
// the buckets and counts they print.
func TestMapsMatchBpftrace(t *testing.T) {
	testutil.RequireRoot(t)
	bpftrace := testutil.RequireTool(t, "bpftrace")
	bin := toolsProgram(t)
	prog := `uprobe:libc:malloc /pid == cpid/ { @bytes = hist(arg0); @n[comm] = count(); }`

	ours := mapLines(runOK(t, "run", "-c", bin, "-e", prog))
	want := []string{"@bytes [16, 32) 5", "@bytes [32, 64) 0", "@bytes [512, 1K) 2", "@bytes [64, 128) 3",
		"@bytes [128, 256) 0", "@bytes [256, 512) 0", "@n[tools]: 10"}
	slices.Sort(want)
	if !slices.Equal(ours, want) {
		t.Errorf("uscope printed\n%s\nwant\n%s", strings.Join(ours, "\n"), strings.Join(want, "\n"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bpftrace, "-c", bin, "-e", prog)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bpftrace: %v\n%s\n%s", err, out, stderr.String())
	}
	theirs := mapLines(string(out))
	if !slices.Equal(ours, theirs) {
		t.Errorf("uscope and bpftrace differ\n--- uscope\n%s\n--- bpftrace\n%s\n--- bpftrace's output\n%s%s",
			strings.Join(ours, "\n"), strings.Join(theirs, "\n"), out, stderr.String())
	}
}

// TestMapFunctions checks the map statements end to end on the test
// program: per-CPU aggregations merged on read, delete, has_key in both
// spellings, clear, zero, len, print with top and divisor, and a full map
// reported rather than silently dropped.
func TestMapFunctions(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	prog := `
uprobe:` + bin + `:leaf {
	@calls = count(); @sum = sum(arg0); @avg = avg(arg0); @min = min(arg0); @max = max(arg0); @st = stats(arg0);
	@lin = lhist(arg0, 0, 10, 5);
	@seen[arg0] = 1;
	@small[arg0] = arg0 * 100;
	@gone[arg0] = 1;
	delete(@gone[arg0]);
}
uretprobe:` + bin + `:allocate {
	printf("len %d has2 %d has9 %d hasgone %d\n", len(@seen), has_key(@seen, 2), has_key(@seen[9]), has_key(@gone, 2));
	print(@small, 2, 100);
	clear(@seen);
	zero(@calls);
}`
	r := runUscope(t, "run", "--map-size", "4", "-c", bin, "-e", prog)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// leaf(x) gets 0..6 then 0..2: sum 21+3, min 0, max 6; @seen holds
	// four keys of the seven (the map holds 4).
	wantLines(t, r.stdout,
		"len 4 has2 1 has9 0 hasgone 0",
		"@avg: 2",
		"@calls: 0",
		"@lin:",
		"[0, 5)                 8 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
		"[5, 10)                2 |@@@@@@@@@@@@@                                       |",
		"@max: 6",
		"@min: 0",
		"@st: { .count = 10, .average = 2, .total = 24 }",
		"@sum: 24",
	)
	if strings.Contains(r.stdout, "@seen[") {
		t.Errorf("clear(@seen) left keys:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^@small\[\d\]: \d$\n^@small\[\d\]: \d$`).MatchString(r.stdout) {
		t.Errorf("print(@small, 2, 100) did not print the top two, divided:\n%s", r.stdout)
	}
	for _, m := range []string{"@seen", "@small"} {
		if !strings.Contains(r.stderr, "WARNING: Map full; can't update element: map "+m+" holds 4 keys, 3 updates were dropped") {
			t.Errorf("no report of the full map %s:\n%s", m, r.stderr)
		}
	}
}
