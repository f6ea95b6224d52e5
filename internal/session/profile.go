package session

import (
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/compile"
)

// profiler is the part of attach.Set that opens profile probes' perf
// events.
type profiler interface {
	AttachProfile(prog *ebpf.Program, hz, periodNanos uint64) error
}

// attachProfile opens the perf events of a profile program
// (attach.Set.AttachProfile).
func (s *session) attachProfile(p *compile.Program) error {
	pl, ok := s.links.(profiler)
	if !ok {
		return &Error{fmt.Errorf("attach %s: profile probes need the kernel backend", p.Kind)}
	}
	if err := pl.AttachProfile(s.coll.Program(p.Name), p.Profile.Hz, p.Profile.PeriodNanos); err != nil {
		return &Error{err}
	}
	return nil
}
