package output

import (
	"math"
	"testing"
)

// bucketOf is bpftrace's log2(n, k), written out as its codegen comment
// gives it, to check the layout against.
func bucketOf(n int64, k int) int {
	if n < 0 {
		return 0
	}
	mask := int64(1)<<k - 1
	if n <= mask {
		return int(n + 1)
	}
	n0, l := n, 0
	for i := 5; i >= 0; i-- {
		if n >= int64(1)<<(1<<i) || (i == 5 && n < 0) {
			n >>= 1 << i
			l += 1 << i
		}
	}
	l -= k
	x := (n0 >> l) & mask
	return int((int64(l+1) << k) + x + 1)
}

// TestFineHistBounds: every value falls in the bucket whose bounds hold
// it, for every k; k = 0 is hist()'s layout.
func TestFineHistBounds(t *testing.T) {
	for k := 0; k <= MaxHistBits; k++ {
		for _, v := range []int64{-5, 0, 1, 2, 3, 7, 15, 16, 17, 18, 31, 32, 100, 1000, 1023, 1024, 1 << 40, 1<<62 + 12345, math.MaxInt64} {
			i := bucketOf(v, k)
			if i >= HistBuckets(k) {
				t.Fatalf("k=%d: %d in bucket %d of %d", k, v, i, HistBuckets(k))
			}
			if lo, hi := HistBucketMin(i, k), HistBucketMax(i, k); v < lo || v > hi {
				t.Errorf("k=%d: %d in bucket %d, which holds [%d, %d]", k, v, i, lo, hi)
			}
			if k == 0 && i != Log2Bucket(v) {
				t.Errorf("k=0: %d in bucket %d, Log2Bucket says %d", v, i, Log2Bucket(v))
			}
		}
	}
	if HistBuckets(0) != Log2Buckets {
		t.Errorf("HistBuckets(0) = %d", HistBuckets(0))
	}
	// bpftrace's hist_2args.json: k = 3 splits [16, 32) into 8 buckets.
	if lo, hi := HistBucketMin(17, 3), HistBucketMax(17, 3); lo != 16 || hi != 17 {
		t.Errorf("k=3 bucket 17: [%d, %d], want [16, 17]", lo, hi)
	}
	if got := histRange(17, 3); got != "[16, 18)" {
		t.Errorf("label %q", got)
	}
}
