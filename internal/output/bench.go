package output

import (
	"fmt"
	"strings"
)

// BenchResult is the measurement of one bench:NAME probe (--mode bench):
// its average time per run and how many runs it took.
type BenchResult struct {
	Name    string
	Average uint64 // nanoseconds
	Iters   uint64
}

// Benchmarks writes the results of --mode bench as bpftrace does: a table
// in text mode,
//
//	Benchmark                                Time(ns)       Iterations
//	------------------------------------------------------------------
//	a                                        1043           95872
//
// and one {"type": "benchmark_result", "data": {"a": {"average": N,
// "iters": N}}} per probe in JSON mode.
func (o *Writer) Benchmarks(rs []BenchResult) error {
	var sb strings.Builder
	if o.mode == JSON {
		for _, r := range rs {
			fmt.Fprintf(&sb, `{"type": "benchmark_result", "data": {%s: {"average": %d, "iters": %d}}}`+"\n", jsonString(r.Name), r.Average, r.Iters)
		}
		return o.write(sb.String())
	}
	fmt.Fprintf(&sb, "%-41s%-15s%s\n%s\n", "Benchmark", "Time(ns)", "Iterations", strings.Repeat("-", 66))
	for _, r := range rs {
		fmt.Fprintf(&sb, "%-41s%-15d%d\n", r.Name, r.Average, r.Iters)
	}
	return o.write(sb.String())
}
