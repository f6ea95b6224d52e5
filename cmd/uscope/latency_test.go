package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

var bccHistRow = regexp.MustCompile(`^\s+(\d+) -> (\d+)\s+: (\d+)\s+\|\**\s*\|$`)

// bccHist parses bcc's log2 histograms in out: the count of each bucket
// by its low bound, added up over every histogram.
func bccHist(t *testing.T, out string) map[uint64]int {
	t.Helper()
	got := map[uint64]int{}
	for _, l := range strings.Split(out, "\n") {
		if m := bccHistRow.FindStringSubmatch(l); m != nil {
			lo, _ := strconv.ParseUint(m[1], 10, 64)
			n, _ := strconv.Atoi(m[3])
			if n > 0 {
				got[lo] += n
			}
		}
	}
	return got
}

// bucketOf is the low bound of the bcc bucket holding v.
func bucketOf(v uint64) uint64 {
	lo := uint64(1)
	for lo*2 <= v {
		lo *= 2
	}
	if lo == 1 {
		return 0
	}
	return lo
}

func TestLatencyBuckets(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	out := runOK(t, "latency", "-c", bin+" l", bin+":nap")
	if !strings.Contains(out, "     nsecs               : count     distribution\n") {
		t.Errorf("no funclatency header:\n%s", out)
	}
	got := bccHist(t, out)
	// A nap of d takes at least d: its call is in d's bucket, or, when the
	// machine is busy and the nap overshoots a power of two, in the next.
	for _, d := range []uint64{1e6, 1e7, 1e8} {
		b := bucketOf(d)
		if got[b]+got[2*b] == 0 {
			t.Errorf("no call of %d ns in bucket %d or %d: %v\n%s", d, b, 2*b, got, out)
		}
	}
	total := 0
	for _, n := range got {
		total += n
	}
	if total != 3 {
		t.Errorf("%d calls in the histogram, want 3\n%s", total, out)
	}
	if !regexp.MustCompile(`\navg = \d+ nsecs, total: \d+ nsecs, count: 3\n`).MatchString(out) {
		t.Errorf("no average line for 3 calls:\n%s", out)
	}
}

func TestLatencyRecursion(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	// nest(3) holds 1.5 ms at each of three nested levels: 4.5, 3 and
	// 1.5 ms. Keyed on the thread alone, the inner calls' start times
	// would overwrite the outer ones.
	out := runOK(t, "latency", "-u", "-F", "-c", bin+" l", bin+":nest")
	if !regexp.MustCompile(`\n\nFunction = nest \[\d+\]\n     usecs `).MatchString(out) {
		t.Errorf("no -F section for nest:\n%s", out)
	}
	// Each level lasts at least its nominal time (a busy machine makes it
	// longer, maybe into the next bucket): three calls, none below the
	// inner 1.5 ms's bucket, the outer one in 4.5 ms's or above. Mispaired
	// recursion would give the outer calls the inner call's short time.
	got := bccHist(t, out)
	total, hasOuter := 0, false
	for b, n := range got {
		total += n
		if b < bucketOf(1500) {
			t.Errorf("a call in bucket %d, below the innermost 1.5 ms\n%s", b, out)
		}
		hasOuter = hasOuter || b >= bucketOf(4500)
	}
	if total != 3 || !hasOuter || got[bucketOf(1500)] > 1 {
		t.Errorf("buckets %v: want 3 calls, one of 4.5 ms or more, at most one in the 1.5 ms bucket\n%s", got, out)
	}
}
