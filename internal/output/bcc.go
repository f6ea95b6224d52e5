package output

import (
	"fmt"
	"strconv"
	"strings"
)

// This file holds the text formats of bcc's classic tools, which uscope's
// count, latency, argdist and stack commands print: funccount's FUNC COUNT
// table, the log2 histograms of bcc's table.print_log2_hist (funclatency,
// argdist -H), argdist's COUNT EVENT table and stackcount's stacks.

// bccStarsMax is the width of bcc's histogram bar column.
const bccStarsMax = 40

// BCCLog2Counts converts the buckets of a log2 histogram in Log2Bucket's
// layout into bcc's: index 0 is unused, index 1 holds 0 and 1, and index
// i >= 2 holds [2^(i-1), 2^i - 1]. Negative values have no bcc bucket and
// are dropped.
func BCCLog2Counts(buckets []uint64) []uint64 {
	out := make([]uint64, 65)
	for j, c := range buckets {
		switch {
		case j == 0 || c == 0:
		case j == 1 || j == 2:
			out[1] += c
		case j-1 < len(out):
			out[j-1] += c
		}
	}
	return out
}

// bccStars returns the bar of bcc's _stars: floor(width*val/max) stars,
// at most width.
func bccStars(val, peak uint64, width int) string {
	if peak == 0 {
		return ""
	}
	n := int(float64(width) * float64(val) / float64(peak))
	n = min(max(n, 0), width)
	return strings.Repeat("*", n)
}

// BCCLog2Hist returns a log2 histogram (buckets in Log2Bucket's layout) as
// bcc's print_log2_hist prints it, with valType ("nsecs", "usecs", an
// expression) heading the value column:
//
//	  nsecs               : count     distribution
//	      0 -> 1          : 0        |                                        |
//	1048576 -> 2097151    : 1        |****************************************|
//
// Rows run from bucket 1 to the last non-zero bucket; histograms whose
// values reach 2^32 use bcc's wide layout. An empty histogram is "".
func BCCLog2Hist(buckets []uint64, valType string) string {
	vals := BCCLog2Counts(buckets)
	idxMax := -1
	var peak uint64
	for i, v := range vals {
		if v > 0 {
			idxMax = i
		}
		peak = max(peak, v)
	}
	if idxMax <= 0 {
		return ""
	}
	var sb strings.Builder
	header, lowW, stars := "     %-19s : count     distribution\n", 10, bccStarsMax
	if idxMax > 32 {
		header, lowW, stars = "               %-29s : count     distribution\n", 20, bccStarsMax/2
	}
	fmt.Fprintf(&sb, header, valType)
	for i := 1; i <= idxMax; i++ {
		var low, high uint64
		if i == 64 {
			low, high = 1<<63, ^uint64(0)
		} else {
			low, high = (uint64(1)<<i)>>1, (uint64(1)<<i)-1
		}
		if low == high {
			low--
		}
		fmt.Fprintf(&sb, "%*d -> %-*d : %-8d |%-*s|\n", lowW, low, lowW, high, vals[i], stars, bccStars(vals[i], peak, stars))
	}
	return sb.String()
}

// BCCTracing is the line funccount, funclatency and stackcount print once
// their probes are attached.
func BCCTracing(functions int, pattern string) string {
	return "Tracing " + strconv.Itoa(functions) + " functions for \"" + pattern + "\"... Hit Ctrl-C to end.\n"
}

// BCCTimestamp is the "%-8s" HH:MM:SS line the tools print with -T.
func BCCTimestamp(hms string) string { return fmt.Sprintf("%-8s\n", hms) }

// Count is one row of a table of counts.
type Count struct {
	Name  string
	Count uint64
}

// BCCFuncCount returns funccount's table: the FUNC COUNT header and one
// row per function with a non-zero count, in the order given (funccount
// sorts by ascending count).
func BCCFuncCount(rows []Count) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-36s %8s\n", "FUNC", "COUNT")
	for _, r := range rows {
		if r.Count == 0 {
			continue
		}
		fmt.Fprintf(&sb, "%-36s %8d\n", r.Name, r.Count)
	}
	return sb.String()
}

// BCCArgdistCounts returns argdist -C's output for one probe: its label
// (or spec), the COUNT EVENT header and one tab-indented row per event,
// in the order given (argdist sorts by ascending count).
func BCCArgdistCounts(label string, rows []Count) string {
	var sb strings.Builder
	sb.WriteString(label + "\n")
	fmt.Fprintf(&sb, "\t%-10s %s\n", "COUNT", "EVENT")
	for _, r := range rows {
		fmt.Fprintf(&sb, "\t%-10s %s\n", strconv.FormatUint(r.Count, 10), r.Name)
	}
	return sb.String()
}

// BCCFrame formats a user stack frame as bcc's BPF.sym does: the symbol,
// "[unknown]" when the address is in no known function, and with offset
// "sym+0xOFF".
func BCCFrame(f Frame, offset bool) string {
	if f.Sym == "" {
		return "[unknown]"
	}
	if offset {
		return f.Sym + "+0x" + strconv.FormatUint(f.Off, 16)
	}
	return f.Sym
}

// BCCStack returns one stack of stackcount's output: the frames (innermost
// first, already formatted) indented by two spaces, "    comm [pid]" when
// comm is not empty, and the count, followed by an empty line.
func BCCStack(frames []string, comm string, pid int, count uint64) string {
	var sb strings.Builder
	for _, f := range frames {
		sb.WriteString("  " + f + "\n")
	}
	if comm != "" {
		sb.WriteString("    " + comm + " [" + strconv.Itoa(pid) + "]\n")
	}
	sb.WriteString("    " + strconv.FormatUint(count, 10) + "\n\n")
	return sb.String()
}
