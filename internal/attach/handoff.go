package attach

import (
	"syscall"

	"github.com/cilium/ebpf/link"
)

// handOffProgram is the child that takes the links in CloseOnExit: a
// program that exits at once. The kernel detaches the links it inherited
// in its exit.
const handOffProgram = "/bin/true"

// maxHandOff bounds the descriptors handed to one child (a perf-event
// fallback has one link per site); the rest are closed by the caller.
const maxHandOff = 256

// CloseOnExit detaches everything the Set attached, for a caller that is
// about to exit, without making it wait for the kernel: the links'
// descriptors go to a child process (/bin/true), the caller's copies are
// closed at once, and the kernel unregisters the uprobes in the child's
// exit. Unregistering waits for grace periods (a uprobe_multi link takes
// ~10 ms on Linux 6.18, in synchronize_rcu_tasks_trace), which would
// otherwise delay the caller's exit after its answer was printed.
//
// Until the child is gone the probes still fire, into maps and buffers
// nobody reads: callers must not use it when a probe can stop or slow a
// traced process (session.Config.Block). Links that hold USDT semaphores
// up are detached here, as Close does, so that a traced program's
// semaphores are off when the caller exits. Links whose descriptor cannot be
// handed over, and every link when the child cannot start, are closed here
// as [Set.Close] closes them. The child is reaped in the background.
func (s *Set) CloseOnExit() error {
	s.mu.Lock()
	links, sems := s.links, s.semaphores
	s.links, s.probes, s.semaphores = nil, 0, nil
	s.mu.Unlock()
	if len(links) == 0 {
		return nil
	}
	var give []link.Link
	for _, l := range links {
		if !sems[l] {
			give = append(give, l)
		}
	}
	if pid, ok := handOff(give); ok {
		go func() {
			var ws syscall.WaitStatus
			for {
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
					return
				}
			}
		}()
	}
	// The child holds what it was given: these closes only drop this
	// process's references.
	if err := closeLinks(links); err != nil {
		return &Error{Msg: "detaching uprobes failed; some may stay until uscope exits", Err: err}
	}
	return nil
}

// handOff starts handOffProgram with the descriptors of links as its
// descriptors 3 and up (standard input, output and error closed, so that
// nothing waiting on uscope's output waits on it), and returns its pid.
func handOff(links []link.Link) (int, bool) {
	fds := []uintptr{^uintptr(0), ^uintptr(0), ^uintptr(0)}
	for _, l := range links {
		if len(fds)-3 == maxHandOff {
			break
		}
		if f, ok := l.(interface{ FD() int }); ok && f.FD() >= 0 {
			fds = append(fds, uintptr(f.FD()))
		}
	}
	if len(fds) == 3 {
		return 0, false
	}
	pid, err := syscall.ForkExec(handOffProgram, []string{"true"}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{},
		Files: fds,
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, false
	}
	return pid, true
}
