package output

import (
	"math"
	"strconv"
	"strings"
)

// Fine-grained log2 histograms, bpftrace main's hist(n, k): each power of
// two [2^m, 2^(m+1)) is split into 2^k buckets of equal width, 0 <= k <= 5.
// The layout, as bpftrace's log2 function computes it: bucket 0 holds
// negative values, buckets 1 .. 2^k the values 0 .. 2^k-1 one each, then
// for a value v with its highest bit at m >= k, with l = m-k and x the k
// bits after the highest, bucket ((l+1) << k) + x + 1. hist(n) is k = 0,
// the layout of Log2Bucket.

// MaxHistBits is the largest k of hist(n, k).
const MaxHistBits = 5

// HistBuckets returns the number of buckets of hist(n, k).
func HistBuckets(k int) int { return (64-k)<<k + 1 }

// HistBucketMin returns the smallest value bucket i of hist(n, k) holds
// (math.MinInt64 for the negative bucket).
func HistBucketMin(i, k int) int64 {
	lo, _ := histBounds(i, k)
	return lo
}

// HistBucketMax returns the largest value bucket i of hist(n, k) holds:
// -1 for the negative bucket, math.MaxInt64 for the last.
func HistBucketMax(i, k int) int64 {
	_, hi := histBounds(i, k)
	return hi
}

func histBounds(i, k int) (lo, hi int64) {
	switch {
	case i <= 0:
		return math.MinInt64, -1
	case i <= 1<<k:
		return int64(i - 1), int64(i - 1)
	}
	j := min(i, HistBuckets(k)-1) - 1 // the last bucket ends at math.MaxInt64
	l := j>>k - 1
	x := int64(j & (1<<k - 1))
	lo = int64(1)<<(l+k) + x<<l
	return lo, lo + int64(1)<<l - 1
}

// numberLabel writes n as bpftrace labels histogram bounds: with a K, M,
// G ... suffix when it is a multiple of that power of 1024.
func numberLabel(n int64) string {
	const suffixes = "KMGTPE"
	if n <= 0 {
		return strconv.FormatInt(n, 10)
	}
	d := 0
	for d < len(suffixes) && n%1024 == 0 {
		n /= 1024
		d++
	}
	s := strconv.FormatInt(n, 10)
	if d > 0 {
		s += suffixes[d-1 : d]
	}
	return s
}

// histRange returns the label of bucket i of hist(n, k).
func histRange(i, k int) string {
	if k == 0 {
		return log2Range(i)
	}
	lo, hi := histBounds(i, k)
	switch {
	case i == 0:
		return "(..., 0)"
	case lo == hi:
		return "[" + numberLabel(lo) + "]"
	case hi == math.MaxInt64:
		return "[" + numberLabel(lo) + ", ...)"
	}
	return "[" + numberLabel(lo) + ", " + numberLabel(hi+1) + ")"
}

// FineHistText is HistText for hist(n, k).
func FineHistText(buckets []uint64, div uint64, k int) string {
	if div == 0 {
		div = 1
	}
	first, last, peak := usedRange(buckets)
	if first < 0 {
		return ""
	}
	var sb strings.Builder
	for i := first; i <= last; i++ {
		histRow(&sb, histRange(i, k), buckets[i], buckets[i]/div, peak)
	}
	return sb.String()
}

// histJSON returns the buckets of hist(n, k) as bpftrace's JSON: from the
// first to the last non-zero bucket, each with its bounds and its count
// divided by div.
func histJSON(buckets []uint64, div uint64, k int) string {
	if div == 0 {
		div = 1
	}
	first, last, _ := usedRange(buckets)
	if first < 0 {
		return "[]"
	}
	var sb strings.Builder
	sb.WriteByte('[')
	for i := first; i <= last; i++ {
		if i > first {
			sb.WriteString(", ")
		}
		lo, hi := histBounds(i, k)
		if i == 0 {
			sb.WriteString(`{"max": -1, `)
		} else {
			sb.WriteString(`{"min": ` + strconv.FormatInt(lo, 10) + `, "max": ` + strconv.FormatInt(hi, 10) + `, `)
		}
		sb.WriteString(`"count": ` + strconv.FormatUint(buckets[i]/div, 10) + "}")
	}
	sb.WriteByte(']')
	return sb.String()
}
