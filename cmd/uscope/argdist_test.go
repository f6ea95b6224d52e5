package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

var argdistRow = regexp.MustCompile(`^\t(\d+) +(.+)$`)

// argdistCounts parses argdist -C output: the count of each EVENT under
// the heading label, added up over every interval.
func argdistCounts(t *testing.T, out, label string) map[string]int {
	t.Helper()
	got := map[string]int{}
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == label:
			in = true
		case in && l == "\tCOUNT      EVENT":
		case in && argdistRow.MatchString(l):
			m := argdistRow.FindStringSubmatch(l)
			n, _ := strconv.Atoi(m[1])
			got[m[2]] += n
		default:
			in = false
		}
	}
	return got
}

func TestArgdistMallocSizes(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	spec := "p:c:malloc(size_t size):size_t:size"
	out := runOK(t, "argdist", "--cmd", bin, "-C", spec, "-C", "r:c:malloc():u64:$retval != 0#non-null")
	if !regexp.MustCompile(`(?m)^\[\d\d:\d\d:\d\d\]$`).MatchString(out) {
		t.Errorf("no [HH:MM:SS] line:\n%s", out)
	}
	got := argdistCounts(t, out, spec)
	want := map[string]int{"size = 24": 5, "size = 77": 3, "size = 1000": 2}
	if len(got) != len(want) {
		t.Errorf("sizes %v, want %v\n%s", got, want, out)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d\n%s", k, got[k], n, out)
		}
	}
	if got := argdistCounts(t, out, "non-null"); got["$retval != 0 = 1"] != 10 || len(got) != 1 {
		t.Errorf("return values %v, want 10 non-null\n%s", got, out)
	}
}

func TestArgdistHistogramAndEntry(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	out := runOK(t, "argdist", "--cmd", bin,
		"-H", "p:c:malloc(size_t size):size_t:size",
		"-C", "r:"+bin+":leaf(int x):int:$entry(x):$entry(x) >= 5#late leaves",
		"-C", "p:"+bin+":path_b()")
	if !strings.Contains(out, "     size                : count     distribution\n") {
		t.Errorf("no histogram headed by the expression:\n%s", out)
	}
	if got := bccHist(t, out); len(got) != 3 || got[16] != 5 || got[64] != 3 || got[512] != 2 {
		t.Errorf("size buckets %v, want 16:5 64:3 512:2\n%s", got, out)
	}
	// leaf(x) is called with 0..6 from path_a and 0..2 from path_b.
	if got := argdistCounts(t, out, "late leaves"); len(got) != 2 || got["$entry(x) = 5"] != 1 || got["$entry(x) = 6"] != 1 {
		t.Errorf("$entry(x) counts %v\n%s", got, out)
	}
	if got := argdistCounts(t, out, "p:"+bin+":path_b()"); got["total calls"] != 3 {
		t.Errorf("path_b calls %v, want total calls 3\n%s", got, out)
	}
}
