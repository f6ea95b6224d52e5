package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/cgroup"
	"github.com/uscope/uscope/internal/testutil"
)

// attached starts cmd (a uscope run) and returns once it printed
// "Attached" on standard error; stop interrupts it and returns all it
// printed and how it ended.
func attached(t *testing.T, cmd *exec.Cmd) (stop func() (string, error), err error) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errs bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(errs.String(), "Attached") {
		n, rerr := stderr.Read(buf)
		errs.Write(buf[:n])
		if rerr != nil {
			cmd.Wait()
			return nil, fmt.Errorf("uscope ended before attaching:\n%s", errs.String())
		}
	}
	return func() (string, error) {
		cmd.Process.Signal(syscall.SIGINT)
		errs.ReadFrom(stderr)
		err := cmd.Wait()
		return out.String() + errs.String(), err
	}, nil
}

// TestCgroupFilter: with --cgroup (and --container, on a cgroup named as
// podman names a container's), a system-wide probe counts only the calls
// of the process inside the cgroup, and --prometheus labels the series
// with the container id.
func TestCgroupFilter(t *testing.T) {
	testutil.RequireRoot(t)
	mnt, err := cgroup.Mount()
	if err != nil {
		t.Fatal(err)
	}
	bin := fleetwork(t)
	id := fmt.Sprintf("%064x", time.Now().UnixNano())
	for _, tc := range []struct{ name, dir, flag, value string }{
		{"cgroup", fmt.Sprintf("uscope-test-%d", os.Getpid()), "--cgroup", ""},
		{"container", "libpod-" + id + ".scope", "--container", id[:12]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(mnt, tc.dir)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(dir) })
			value := tc.value
			if value == "" {
				value = tc.dir
			}
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, uscopeBin, "run", tc.flag, value, "--prometheus", addr,
				"-e", fmt.Sprintf(`uprobe:%s:work { @calls = count(); }`, bin))
			stop, err := attached(t, cmd)
			if err != nil {
				t.Fatal(err)
			}
			inside := exec.Command("sh", "-c", fmt.Sprintf("echo $$ > %s/cgroup.procs && exec %s 5", dir, bin))
			if out, err := inside.CombinedOutput(); err != nil {
				t.Fatalf("inside: %v %s", err, out)
			}
			if out, err := exec.Command(bin, "7").CombinedOutput(); err != nil {
				t.Fatalf("outside: %v %s", err, out)
			}
			m := scrapeMetrics(t, addr)
			out, err := stop()
			if err != nil || !strings.Contains(out, "@calls: 5\n") {
				t.Fatalf("%s %s: want @calls: 5 (the 7 calls outside the cgroup not counted): %v\n%s", tc.flag, value, err, out)
			}
			key := `uscope_calls_total{}`
			if tc.name == "container" {
				key = fmt.Sprintf(`uscope_calls_total{container=%q}`, id)
			}
			if m[key] != 5 {
				t.Errorf("metrics: %s = %v, want 5 (all: %v)", key, m[key], m)
			}
		})
	}
}
