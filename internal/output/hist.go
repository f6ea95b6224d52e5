package output

import (
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Log2Buckets is the number of buckets of a log2 histogram: one for
// negative values, one for 0, one for 1, and one for each [2^k, 2^(k+1))
// with k from 1 to 62.
const Log2Buckets = 65

// Log2Bucket returns the bucket of v in a log2 histogram, in bpftrace's
// layout: 0 holds negative values, 1 holds 0, 2 holds 1, and bucket i >= 3
// holds [2^(i-2), 2^(i-1)).
func Log2Bucket(v int64) int {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return 1
	}
	return bits.Len64(uint64(v)) + 1
}

// LinearBuckets returns the number of buckets of lhist(v, lo, hi, step):
// (hi-lo)/step in range, plus one below lo and one at or above hi.
func LinearBuckets(lo, hi, step int64) int {
	if step <= 0 || hi < lo {
		return 2
	}
	return int((hi-lo)/step) + 2
}

// LinearBucket returns the bucket of v in lhist(v, lo, hi, step), in
// bpftrace's layout: 0 holds values below lo, i holds
// [lo+(i-1)*step, lo+i*step), and the last bucket values at or above the
// last in-range bucket's end.
func LinearBucket(v, lo, hi, step int64) int {
	n := LinearBuckets(lo, hi, step)
	switch {
	case v < lo:
		return 0
	case v >= hi || step <= 0:
		return n - 1
	}
	return int(min(int64(n-1), (v-lo)/step+1))
}

// Log2BucketMax returns the largest value bucket i of a log2 histogram
// holds (see Log2Bucket): -1 for the negative bucket, 0, 1, then
// 2^(i-1)-1; the last bucket ends at math.MaxInt64. Exporters that need
// upper-inclusive bounds (Prometheus's le) use it.
func Log2BucketMax(i int) int64 { return HistBucketMax(i, 0) }

// LinearBucketMax returns the largest value bucket i of lhist(v, lo, hi,
// step) holds (see LinearBucket): lo-1 for the bucket below lo, the end of
// each in-range bucket less one, and math.MaxInt64 for the last.
func LinearBucketMax(i int, lo, hi, step int64) int64 {
	n := LinearBuckets(lo, hi, step)
	switch {
	case i <= 0:
		return lo - 1
	case i >= n-1:
		return math.MaxInt64
	}
	return lo + int64(i)*step - 1
}

// histBarWidth is the width of a histogram's bar column.
const histBarWidth = 52

// log2Label returns the label of 2^power with a binary suffix: 512, 1K,
// 2M, 4G, 8T, 16P, 1E. bpftrace 0.17 stops at T (printing 1024T); its
// later versions, and uscope, continue with P and E. Both agree below 2^50.
func log2Label(power int) string {
	const suffixes = "KMGTPE"
	decade := power / 10
	s := strconv.FormatUint(1<<uint(power-10*decade), 10)
	if decade > 0 {
		s += suffixes[decade-1 : decade]
	}
	return s
}

// linearLabel returns an lhist bound as bpftrace 0.17 prints it: with an
// M suffix when it is a multiple of 1048576, a K suffix when it is a
// multiple of 1024, else in decimal.
func linearLabel(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n/(1<<20), 10) + "M"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n/(1<<10), 10) + "K"
	}
	return strconv.FormatInt(n, 10)
}

// log2Range returns the label of log2 bucket i.
func log2Range(i int) string {
	switch i {
	case 0:
		return "(..., 0)"
	case 1:
		return "[0]"
	case 2:
		return "[1]"
	}
	return "[" + log2Label(i-2) + ", " + log2Label(i-1) + ")"
}

// linearRange returns the label of linear bucket i of n buckets.
func linearRange(i, n int, lo, hi, step int64) string {
	switch i {
	case 0:
		return "(..., " + linearLabel(lo) + ")"
	case n - 1:
		return "[" + linearLabel(hi) + ", ...)"
	}
	start := lo + int64(i-1)*step
	return "[" + linearLabel(start) + ", " + linearLabel(start+step) + ")"
}

// usedRange returns the first and last non-zero bucket and the largest
// count, or first == -1 when every bucket is zero.
func usedRange(buckets []uint64) (first, last int, peak uint64) {
	first, last = -1, -1
	for i, c := range buckets {
		if c == 0 {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
		peak = max(peak, c)
	}
	return first, last, peak
}

// histRow writes one histogram line: the range left-aligned in 16
// columns, the count right-aligned in 8, and the bar between '|'s. The bar
// is count/peak*52 computed in single precision and truncated, as bpftrace
// computes it.
func histRow(sb *strings.Builder, label string, raw, shown, peak uint64) {
	sb.WriteString(label)
	for n := len(label); n < 16; n++ {
		sb.WriteByte(' ')
	}
	c := strconv.FormatUint(shown, 10)
	for n := len(c); n < 8; n++ {
		sb.WriteByte(' ')
	}
	sb.WriteString(c)
	sb.WriteString(" |")
	ratio := float32(float32(raw) / float32(peak))
	bar := int(float32(ratio * float32(histBarWidth)))
	bar = max(0, min(bar, histBarWidth))
	sb.WriteString(strings.Repeat("@", bar))
	sb.WriteString(strings.Repeat(" ", histBarWidth-bar))
	sb.WriteString("|\n")
}

// HistText returns the lines of a log2 histogram (see Log2Bucket for the
// layout of buckets) from its first to its last non-zero bucket, or "" when
// all are zero. Counts are divided by div (print's divisor; 0 means 1)
// while the bars use the undivided counts, as bpftrace 0.17 does.
func HistText(buckets []uint64, div uint64) string { return FineHistText(buckets, div, 0) }

// LHistText returns the lines of a linear histogram lhist(v, lo, hi,
// step) (see LinearBucket for the layout of buckets) from its first to its
// last non-zero bucket, or "" when all are zero. bpftrace 0.17 applies no
// divisor to linear histograms, and neither does this.
func LHistText(buckets []uint64, lo, hi, step int64) string {
	first, last, peak := usedRange(buckets)
	if first < 0 {
		return ""
	}
	n := LinearBuckets(lo, hi, step)
	var sb strings.Builder
	for i := first; i <= last; i++ {
		histRow(&sb, linearRange(i, max(n, i+1), lo, hi, step), buckets[i], buckets[i], peak)
	}
	return sb.String()
}

// Hist writes one log2 histogram of a map in bpftrace's text format: the
// line "name[key]: " (key is the already formatted key, "" for none) and
// the histogram's lines.
func Hist(w io.Writer, name, key string, buckets []uint64) error {
	_, err := io.WriteString(w, histHeader(name, key)+HistText(buckets, 1))
	return err
}

// LHist writes one linear histogram of a map in bpftrace's text format,
// like Hist.
func LHist(w io.Writer, name, key string, lo, hi, step int64, buckets []uint64) error {
	_, err := io.WriteString(w, histHeader(name, key)+LHistText(buckets, lo, hi, step))
	return err
}

func histHeader(name, key string) string {
	if key != "" {
		return name + "[" + key + "]: \n"
	}
	return name + ": \n"
}

// lhistJSON returns a linear histogram as bpftrace's JSON array.
func lhistJSON(buckets []uint64, lo, hi, step int64) string {
	first, last, _ := usedRange(buckets)
	if first < 0 {
		return "[]"
	}
	n := max(LinearBuckets(lo, hi, step), last+1)
	var sb strings.Builder
	sb.WriteByte('[')
	for i := first; i <= last; i++ {
		if i > first {
			sb.WriteString(", ")
		}
		switch i {
		case 0:
			sb.WriteString(`{"max": ` + strconv.FormatInt(lo-1, 10) + `, `)
		case n - 1:
			sb.WriteString(`{"min": ` + strconv.FormatInt(hi, 10) + `, `)
		default:
			sb.WriteString(`{"min": ` + strconv.FormatInt(LinearBucketMax(i-1, lo, hi, step)+1, 10) + `, "max": ` + strconv.FormatInt(LinearBucketMax(i, lo, hi, step), 10) + `, `)
		}
		sb.WriteString(`"count": ` + strconv.FormatUint(buckets[i], 10) + "}")
	}
	sb.WriteByte(']')
	return sb.String()
}
