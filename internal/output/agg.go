package output

import "encoding/binary"

// The value layout of each aggregation in its per-CPU BPF map: the
// programs uscope generates write these words, and MergeAgg reads them.
// Every word is a little-endian 64-bit integer.
//
//	count(), sum():       [0] the count or the total
//	min(), max():         [0] the value, [1] 1 once a value is set
//	avg(), stats():       [0] the number of samples, [1] their total
//	hist(), lhist():      [i] the count of bucket i (Log2Bucket's or
//	                      LinearBucket's layout)
const (
	// AggWordValue is the word of count(), sum(), min() and max().
	AggWordValue = 0
	// AggWordSet is the word of min() and max() that says a value is set.
	AggWordSet = 8
	// AggWordCount is the word of avg() and stats() that counts samples.
	AggWordCount = 0
	// AggWordSum is the word of avg() and stats() that adds them.
	AggWordSum = 8
)

// AggValueSize is the size in bytes of one CPU's value of an aggregation;
// buckets is the number of buckets of a hist() or lhist()
// (HistBuckets, LinearBuckets).
func AggValueSize(k AggKind, buckets int) int {
	switch k {
	case AggCount, AggSum:
		return 8
	case AggMin, AggMax, AggAvg, AggStats:
		return 16
	case AggHist, AggLHist:
		return 8 * buckets
	case AggTSeries:
		return 24
	}
	return 0
}

// MergeAgg reduces the per-CPU values of an aggregation, each in the
// layout above, into e.
func MergeAgg(k AggKind, vals [][]byte, e *Entry) {
	le := binary.LittleEndian
	switch k {
	case AggCount, AggSum:
		var sum int64
		for _, v := range vals {
			sum += int64(le.Uint64(v[AggWordValue:]))
		}
		e.Value = IntValue(sum, 8)
	case AggMin, AggMax:
		var best int64
		set := false
		for _, v := range vals {
			if le.Uint64(v[AggWordSet:]) == 0 {
				continue
			}
			x := int64(le.Uint64(v[AggWordValue:]))
			if !set || (k == AggMin && x < best) || (k == AggMax && x > best) {
				best, set = x, true
			}
		}
		e.Value = IntValue(best, 8)
	case AggAvg, AggStats:
		for _, v := range vals {
			e.Count += int64(le.Uint64(v[AggWordCount:]))
			e.Sum += int64(le.Uint64(v[AggWordSum:]))
		}
	case AggHist, AggLHist:
		if len(vals) == 0 {
			return
		}
		n := len(vals[0]) / 8
		e.Buckets = make([]uint64, n)
		for _, v := range vals {
			for i := 0; i < n && 8*i+8 <= len(v); i++ {
				e.Buckets[i] += le.Uint64(v[8*i:])
			}
		}
	}
}
