package output

import (
	"math"
	"testing"
)

// The bucket maxima agree with the bucket functions: v falls in bucket i
// exactly when max(i-1) < v <= max(i).
func TestBucketMax(t *testing.T) {
	var vals []int64
	for k := 0; k < 63; k++ {
		p := int64(1) << uint(k)
		vals = append(vals, p-1, p, p+1, -p)
	}
	vals = append(vals, math.MaxInt64, math.MinInt64, 0, 7, 99, 100, 101, 250, 999, 1000, 1001)
	check := func(name string, bucket func(int64) int, max func(int) int64) {
		for _, v := range vals {
			i := bucket(v)
			if v > max(i) || (i > 0 && v <= max(i-1)) {
				t.Errorf("%s: %d is in bucket %d, but the bucket's max is %d and the previous one's %d", name, v, i, max(i), max(i-1))
			}
		}
	}
	check("log2", Log2Bucket, Log2BucketMax)
	for _, r := range [][3]int64{{0, 100, 10}, {0, 1000, 7}, {-50, 50, 25}, {10, 11, 1}, {0, 1 << 20, 1024}} {
		lo, hi, step := r[0], r[1], r[2]
		check("lhist", func(v int64) int { return LinearBucket(v, lo, hi, step) },
			func(i int) int64 { return LinearBucketMax(i, lo, hi, step) })
	}
	if got := Log2BucketMax(Log2Buckets - 1); got != math.MaxInt64 {
		t.Errorf("last log2 bucket ends at %d", got)
	}
}
