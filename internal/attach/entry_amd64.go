package attach

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// runToEntry runs the stopped tracee pid to entry with an int3 there.
func runToEntry(pid int, entry uint64) error {
	var orig [8]byte
	if _, err := unix.PtracePeekData(pid, uintptr(entry), orig[:]); err != nil {
		return fmt.Errorf("read the entry point: %w", err)
	}
	trap := orig
	trap[0] = 0xcc
	if _, err := unix.PtracePokeData(pid, uintptr(entry), trap[:]); err != nil {
		return fmt.Errorf("set a breakpoint at the entry point: %w", err)
	}
	restore := func() error {
		_, err := unix.PtracePokeData(pid, uintptr(entry), orig[:])
		return err
	}
	sig := 0
	for {
		if err := unix.PtraceCont(pid, sig); err != nil {
			return err
		}
		// WNOWAIT: an exit is left for Cmd.Wait to reap.
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT, nil); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		var ws unix.WaitStatus
		var regs unix.PtraceRegs
		if unix.PtraceGetRegs(pid, &regs) != nil {
			return nil // it exited (or is exiting): nothing to restore
		}
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			return err
		}
		if !ws.Stopped() {
			return nil
		}
		if ws.StopSignal() == unix.SIGTRAP && regs.Rip == entry+1 {
			regs.Rip = entry
			if err := restore(); err != nil {
				return err
			}
			return unix.PtraceSetRegs(pid, &regs)
		}
		sig = int(ws.StopSignal()) // a signal before the entry: pass it on
	}
}
