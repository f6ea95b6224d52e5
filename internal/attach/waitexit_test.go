package attach

import (
	"os/exec"
	"testing"
	"time"
)

// TestWaitExit checks that the channel closes when a process exits, through
// the pidfd and through the /proc polling fallback, and at once for a
// process that does not exist.
func TestWaitExit(t *testing.T) {
	tests := []struct {
		name  string
		watch func(pid int) <-chan struct{}
	}{
		{"pidfd", WaitExit},
		{"proc polling", func(pid int) <-chan struct{} {
			ch := make(chan struct{})
			go pollProcExit(pid, time.Millisecond, ch)
			return ch
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// cat runs until its stdin closes.
			cmd := exec.Command("cat")
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
			ch := tc.watch(cmd.Process.Pid)
			// cat is blocked reading: it cannot have exited yet.
			select {
			case <-ch:
				t.Fatal("channel closed while the process runs")
			default:
			}
			in.Close()
			<-ch // exits (a zombie until reaped, which counts)

			// A pid that is gone.
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			<-tc.watch(cmd.Process.Pid)
		})
	}
	<-WaitExit(0)
	<-WaitExit(-1)
}
