package attach

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// procPollInterval is how often WaitExit looks at /proc when the kernel has
// no pidfd_open (before Linux 5.3).
const procPollInterval = 50 * time.Millisecond

// WaitExit returns a channel that is closed when process pid exits (or is
// already gone), for `-p PID` sessions that end with their target. A zombie
// counts as exited. It uses a pidfd watched by Go's poller, so no thread
// waits; without pidfd_open it polls /proc/PID every 50 ms. The watch ends
// only when the process exits.
func WaitExit(pid int) <-chan struct{} {
	ch := make(chan struct{})
	if pid <= 0 {
		close(ch)
		return ch
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		close(ch)
		return ch
	}
	if err != nil {
		go pollProcExit(pid, procPollInterval, ch)
		return ch
	}
	go func() {
		f := os.NewFile(uintptr(fd), "pidfd")
		defer f.Close()
		if err := waitPidfd(f); err != nil {
			pollProcExit(pid, procPollInterval, ch)
			return
		}
		close(ch)
	}()
	return ch
}

// waitPidfd blocks until the pidfd becomes readable, which the kernel
// signals when the process exits.
func waitPidfd(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		if err != nil && !errors.Is(err, unix.EINTR) {
			perr = err
			return true
		}
		return n > 0
	})
	if err != nil {
		return err
	}
	return perr
}

// pollProcExit closes ch once /proc/PID is gone or shows a zombie.
func pollProcExit(pid int, every time.Duration, ch chan struct{}) {
	defer close(ch)
	for {
		st, err := procState(pid)
		if err != nil || st == 'Z' || st == 'X' {
			return
		}
		time.Sleep(every)
	}
}
