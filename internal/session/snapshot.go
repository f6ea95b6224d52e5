package session

import (
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/output"
)

// Snapshot is what a session's maps and loss counters hold at one moment:
// what exporters (Prometheus, OTLP) publish while the program runs.
type Snapshot struct {
	// Maps are every map of the program, read and merged over CPUs as
	// they are for printing.
	Maps []*output.Map
	// Lost is the number of ring-buffer records the kernel refused.
	Lost uint64
	// Full is, per map name (with its '@'), the number of updates the
	// kernel refused because the map was full.
	Full map[string]uint64
}

// Reader reads a running session's snapshot. It waits for the session's
// loop (which owns the maps) to serve it, and returns false once the
// session has ended.
type Reader func() (Snapshot, bool)

// startSnapshots makes the channel the loop serves snapshots on and hands
// a Reader to Config.Snapshots.
func (s *session) startSnapshots() {
	if s.cfg.Snapshots == nil {
		return
	}
	s.snapReq = make(chan chan Snapshot)
	s.snapEnd = make(chan struct{})
	req, end := s.snapReq, s.snapEnd
	s.cfg.Snapshots(func() (Snapshot, bool) {
		reply := make(chan Snapshot, 1)
		select {
		case req <- reply:
		case <-end:
			return Snapshot{}, false
		}
		select {
		case sn := <-reply:
			return sn, true
		case <-end:
			return Snapshot{}, false
		}
	})
}

// endSnapshots makes every later Reader call return false.
func (s *session) endSnapshots() {
	if s.snapEnd != nil {
		close(s.snapEnd)
		s.snapEnd = nil
	}
}

// snapshot reads every map and the loss counters now.
func (s *session) snapshot() Snapshot {
	sn := Snapshot{Full: map[string]uint64{}}
	for _, md := range s.plan.Maps {
		sn.Maps = append(sn.Maps, s.readMap(md, false))
	}
	if m := s.coll.Map(compile.MapLost); m != nil {
		for i := range s.plan.Programs {
			var n uint64
			_ = m.Lookup(uint32(i), &n)
			sn.Lost += n
		}
	}
	em := s.coll.Map(compile.MapErrors)
	for _, md := range s.plan.Maps {
		var n uint64
		if em != nil {
			_ = em.Lookup(uint32(md.Index), &n)
		}
		sn.Full["@"+md.Name] = n
	}
	return sn
}
