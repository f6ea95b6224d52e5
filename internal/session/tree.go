package session

import (
	"errors"
	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/lang"
)

// The traced process tree and the -c command's end (issue 19), kept out of
// the event loop: -p and -c follow descendants unless Config.NoFollow.

// follows reports whether the probes select a process tree.
func (s *session) follows() bool { return s.pid != 0 && !s.cfg.NoFollow }

// probePID is the kernel pid filter of probe links: none when following
// (the programs check the tree map), else the one process.
func (s *session) probePID() int {
	if s.follows() {
		return 0
	}
	return s.pid
}

// startTree starts the fork and exit tracers and puts the process in the
// tree (with -p, also its descendants so far). Call it after load.
func (s *session) startTree() error {
	if !s.follows() {
		return nil
	}
	m := treeMap(s.coll)
	if m == nil {
		return nil // a fake kernel (unit tests) has no tree to fill
	}
	t, err := attach.NewTree(m)
	if err != nil {
		return &Error{err}
	}
	s.tree = t
	if err := t.Add(s.pid); err != nil {
		return &Error{err}
	}
	if s.held == nil {
		if err := t.AddDescendants(s.pid); err != nil {
			return &Error{err}
		}
	}
	return nil
}

// endCommand stops the -c command (and its tree) if it is still running,
// reaps it, and returns how it ended (nil for status 0); then the tree's
// tracers go.
func (s *session) endCommand() error {
	var err error
	if s.held != nil {
		s.held.Stop(attach.StopGrace, s.tree)
		err = s.held.End()
		var ce *attach.CommandEnd
		if s.exitCalled && errors.As(err, &ce) && ce.Stopped {
			// The program ended tracing with exit(), which ends the
			// command as bpftrace does: uscope exits with exit()'s code.
			err = nil
		}
	}
	if s.tree != nil {
		s.tree.Close()
	}
	return err
}

// siteGroups returns the attach sites of each program (nil for specials),
// with a semaphore shared by every site on a USDT site's instruction.
func (s *session) siteGroups() [][]attach.Site {
	cookies := siteCookies(s.plan)
	groups := make([][]attach.Site, len(s.plan.Programs))
	for pi, p := range s.plan.Programs {
		if p.Special != nil {
			continue
		}
		sites := make([]attach.Site, len(p.Sites))
		for i, si := range p.Sites {
			st := s.plan.Sites[si]
			sites[i] = attach.Site{Path: st.AttachPath, Offset: st.Offset, RefCtrOffset: st.RefCtrOffset, Cookie: cookies[si]}
		}
		groups[pi] = sites
	}
	attach.ShareRefCtr(groups)
	return groups
}

// readsRetval reports whether a probe of prog reads retval (or rax), which
// a C++ function's exit by tail call or unwinding does not have.
func readsRetval(prog *lang.Program) bool {
	if prog == nil {
		return false
	}
	found := false
	for _, pr := range prog.Probes {
		lang.Inspect(pr, func(n lang.Node) bool {
			switch e := n.(type) {
			case *lang.Ident:
				found = found || e.Name == "retval"
			case *lang.Call:
				if e.Name == "reg" && len(e.Args) == 1 {
					if s, ok := e.Args[0].(*lang.StrLit); ok && (s.Value == "ax" || s.Value == "rax") {
						found = true
					}
				}
			}
			return !found
		})
	}
	return found
}
