package session

import (
	"errors"
	"time"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// --mode bench, as bpftrace's: each bench:NAME probe runs in a loop, after
// BEGIN and before END, and its average time per run is printed. A run is
// one run of the probe the way BEGIN runs (specials.go): a BPF test run of
// the program, or, where the kernel refuses those, a call of the trigger
// function its uprobe sits on. The time counts the system call around it.

// benchTime is how long each bench probe runs.
const benchTime = 100 * time.Millisecond

// checkBenchMode refuses bench probes without --mode bench, and the mode
// without bench probes.
func checkBenchMode(p *compile.Plan, bench bool) error {
	has := false
	for _, sp := range p.Specials {
		has = has || sp.Kind == lang.KindBench
	}
	switch {
	case has && !bench:
		return errors.New("bench:NAME probes run with --mode bench")
	case bench && !has:
		return errors.New("--mode bench needs bench:NAME probes to time")
	}
	return nil
}

// runBenches runs the bench probes one after another and prints their
// results once their records are printed.
func (s *session) runBenches() error {
	var rs []output.BenchResult
	for _, sp := range s.plan.Specials {
		if sp.Kind != lang.KindBench {
			continue
		}
		var n uint64
		start := time.Now()
		for time.Since(start) < benchTime {
			for range 64 {
				s.trigger(sp.ID)
			}
			n += 64
		}
		rs = append(rs, output.BenchResult{Name: sp.Name, Average: uint64(time.Since(start).Nanoseconds()) / n, Iters: n})
	}
	if len(rs) == 0 {
		return nil
	}
	if err := s.drainFor(0); err != nil {
		return err
	}
	if err := s.out.w.Benchmarks(rs); err != nil {
		return err
	}
	s.out.flush()
	return nil
}
