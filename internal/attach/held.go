package attach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

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
	held     bool // stopped under ptrace, not yet released or killed
	waitOnce sync.Once
	done     chan struct{} // closed once the command was reaped
	code     int           // exit code as a shell reports it, set before done
	werr     error
	stopped  bool          // Stop signalled it
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

	h := &Held{Cmd: cmd, held: true, requests: make(chan func()), tracer: make(chan struct{}), done: make(chan struct{})}
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
	<-h.Done()
	return h.code, h.werr
}

// Done returns a channel closed once the command exited and was reaped. It
// starts the one goroutine that reaps it; call it after Release or Kill.
func (h *Held) Done() <-chan struct{} {
	h.waitOnce.Do(func() { go h.reap() })
	return h.done
}

func (h *Held) reap() {
	defer close(h.done)
	werr := h.Cmd.Wait()
	ps := h.Cmd.ProcessState
	if ps == nil {
		h.code, h.werr = -1, fmt.Errorf("waiting for %s (pid %d): %w", h.Cmd.Path, h.Pid, werr)
		return
	}
	h.code = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		h.code = 128 + int(ws.Signal())
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		h.werr = fmt.Errorf("waiting for %s (pid %d): %w", h.Cmd.Path, h.Pid, werr)
	}
}

// StopGrace is how long [Held.Stop] waits after SIGTERM before SIGKILL.
const StopGrace = 2 * time.Second

// Stop ends a command that is still running when tracing ends for another
// reason than its exit (Ctrl-C, SIGTERM, --duration, exit(), an error):
// SIGTERM to the command and to every process of tree (nil: the command
// alone), SIGKILL to whatever is left after grace, and the command is
// reaped. Processes of the tree are not uscope's children: their parents
// (or init) reap them. A command that already exited, or that is still
// held, is only reaped (a held one is killed first).
func (h *Held) Stop(grace time.Duration, tree *Tree) {
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	if held {
		_ = h.Kill()
		<-h.Done()
		return
	}
	select {
	case <-h.Done():
		return
	default:
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.signalAll(unix.SIGTERM, tree)
	if h.waitGone(grace, tree) {
		return
	}
	h.signalAll(unix.SIGKILL, tree)
	h.waitGone(grace, tree)
}

func (h *Held) signalAll(sig unix.Signal, tree *Tree) {
	select {
	case <-h.done:
	default:
		_ = h.Cmd.Process.Signal(sig)
	}
	if tree != nil {
		tree.Signal(sig, h.Pid)
	}
}

// waitGone waits up to d for the command to be reaped and the tree to be
// empty, and reports whether both happened.
func (h *Held) waitGone(d time.Duration, tree *Tree) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-h.done:
			if tree == nil || len(tree.others(h.Pid)) == 0 {
				return true
			}
		default:
		}
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		case <-h.done:
		}
	}
}

// CommandEnd is how a -c command ended when it did not exit 0; uscope exits
// with Code.
type CommandEnd struct {
	Command string
	Code    int    // the status, or 128+N for signal N, as shells report it
	How     string // "exited with status 3", "was killed by SIGSEGV (segmentation fault)"
	// Stopped is set when uscope stopped the command because tracing ended.
	Stopped bool
}

func (e *CommandEnd) Error() string { return fmt.Sprintf("the command %q %s", e.Command, e.How) }

// End returns how the reaped command ended: nil for status 0, else a
// [*CommandEnd]. Call it after Done is closed.
func (h *Held) End() error {
	select {
	case <-h.done:
	default:
		return nil
	}
	if h.werr != nil {
		return h.werr
	}
	if h.code == 0 {
		return nil
	}
	e := &CommandEnd{Command: strings.Join(h.Cmd.Args, " "), Code: h.code}
	ws, _ := h.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	h.mu.Lock()
	stopped := h.stopped
	h.mu.Unlock()
	e.Stopped = stopped
	switch {
	case ws.Signaled():
		sig := ws.Signal()
		e.How = fmt.Sprintf("was killed by %s (%s)", unix.SignalName(sig), sig)
		if ws.CoreDump() {
			e.How += ", core dumped"
		}
		if stopped && (sig == unix.SIGTERM || sig == unix.SIGKILL) {
			e.How += ", sent by uscope when tracing ended"
		}
	default:
		e.How = fmt.Sprintf("exited with status %d", h.code)
		if stopped {
			e.How += " after uscope stopped it when tracing ended"
		}
	}
	return e
}
