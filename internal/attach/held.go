package attach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Held is a command started by [StartHeld] and stopped at its exec, before
// its first instruction, until [Held.Release].
type Held struct {
	// Cmd is the running command; Cmd.Path is the resolved executable, and
	// Cmd.ProcessState is set once Wait returned.
	Cmd *exec.Cmd
	// Pid is the process id.
	Pid int

	mu       sync.Mutex
	held     bool          // stopped under ptrace, not yet released or killed
	requests chan func()   // run on the tracer thread; closed when done
	tracer   chan struct{} // closed when the tracer goroutine ended
}

// StartHeld starts argv (argv[0] looked up in PATH) with the given standard
// streams, stopped right after its execve, so probes and semaphores can be
// attached before it runs. *os.File streams are passed to the program as
// they are (a terminal stays a terminal); other readers and writers are
// copied through pipes, and nil means /dev/null.
//
// The stop uses ptrace: the child asks to be traced before exec and the
// kernel stops it with SIGTRAP once the new image is loaded. Every later
// ptrace request comes from the same locked OS thread. If uscope dies while
// the program is held, the kernel kills the program (PTRACE_O_EXITKILL)
// rather than let it run untraced.
func StartHeld(argv []string, stdin io.Reader, stdout, stderr io.Writer) (*Held, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("no command given to run; pass -c 'PROGRAM ARGS...'")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("cannot run %q: %w; check the name or give a path", argv[0], err)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0] // the program sees argv[0] as typed, as from a shell
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}

	h := &Held{Cmd: cmd, held: true, requests: make(chan func()), tracer: make(chan struct{})}
	started := make(chan error)
	go h.trace(started)
	if err := <-started; err != nil {
		return nil, err
	}
	h.Pid = cmd.Process.Pid
	return h, nil
}

// trace runs on its own locked OS thread, which becomes the tracer: it
// starts the command, waits for the exec stop, then serves requests until
// the channel is closed. The thread exits with the goroutine (it is never
// unlocked), which is harmless once the tracee was detached.
func (h *Held) trace(started chan<- error) {
	defer close(h.tracer)
	runtime.LockOSThread()
	cmd := h.Cmd
	if err := cmd.Start(); err != nil {
		started <- fmt.Errorf("cannot run %s: %w", cmd.Path, err)
		return
	}
	pid := cmd.Process.Pid
	if err := waitExecStop(pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		started <- fmt.Errorf("cannot hold %s before it runs: %w", cmd.Path, err)
		return
	}
	if err := unix.PtraceSetOptions(pid, unix.PTRACE_O_EXITKILL); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		started <- fmt.Errorf("cannot hold %s before it runs: ptrace options: %w", cmd.Path, err)
		return
	}
	started <- nil
	for f := range h.requests {
		f()
	}
}

// waitExecStop waits until the traced child pid stops with the SIGTRAP that
// follows its execve. Signals that arrive before it are passed on.
func waitExecStop(pid int) error {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for the exec stop: %w", err)
		}
		switch {
		case ws.Exited():
			return fmt.Errorf("the program exited with status %d before it started", ws.ExitStatus())
		case ws.Signaled():
			return fmt.Errorf("the program was killed by %v before it started", ws.Signal())
		case ws.Stopped() && ws.StopSignal() == unix.SIGTRAP:
			return nil
		case ws.Stopped():
			// A signal arrived before the exec completed: deliver it and
			// keep waiting.
			if err := unix.PtraceCont(pid, int(ws.StopSignal())); err != nil {
				return fmt.Errorf("passing on %v: %w", ws.StopSignal(), err)
			}
		}
	}
}

// onTracer runs f on the tracer thread and returns its error.
func (h *Held) onTracer(f func() error) error {
	done := make(chan error, 1)
	h.requests <- func() { done <- f() }
	return <-done
}

// Release lets the program run: ptrace detaches without delivering the exec
// SIGTRAP, so from here on it runs exactly as it would untraced. Release is
// idempotent and returns nil after Kill.
func (h *Held) Release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.held {
		return nil
	}
	h.held = false
	err := h.onTracer(func() error { return unix.PtraceDetach(h.Pid) })
	close(h.requests)
	<-h.tracer
	if err != nil && !errors.Is(err, unix.ESRCH) { // ESRCH: it died while held
		return fmt.Errorf("cannot release %s (pid %d) to run: %w", h.Cmd.Path, h.Pid, err)
	}
	return nil
}

// Kill kills the program with SIGKILL, held or running. Call Wait afterwards
// to reap it.
func (h *Held) Kill() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.Cmd.Process.Kill()
	if h.held {
		// A SIGKILLed tracee dies even while stopped; the tracer thread can go.
		h.held = false
		close(h.requests)
		<-h.tracer
	}
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot kill %s (pid %d): %w", h.Cmd.Path, h.Pid, err)
	}
	return nil
}

// Wait releases the program if it is still held, waits for it to exit and
// returns its exit code as a shell reports it: the status it exited with, or
// 128+N when signal N killed it (Cmd.ProcessState has the details). err is
// only for failures of waiting itself or of copying non-file streams.
func (h *Held) Wait() (exitCode int, err error) {
	if err := h.Release(); err != nil {
		return -1, err
	}
	werr := h.Cmd.Wait()
	ps := h.Cmd.ProcessState
	if ps == nil {
		return -1, fmt.Errorf("waiting for %s (pid %d): %w", h.Cmd.Path, h.Pid, werr)
	}
	code := ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		return code, fmt.Errorf("waiting for %s (pid %d): %w", h.Cmd.Path, h.Pid, werr)
	}
	return code, nil
}
