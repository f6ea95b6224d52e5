//go:build linux

package stapsdt_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/stapsdt/stapsdttest"
)

// runBpftrace runs a bpftrace program against the firer and returns its
// standard output. bpftrace 0.17 needs -p to resolve the memfd's probes and
// prints %d as a 32-bit int, so the programs use %ld and %lu.
func runBpftrace(t *testing.T, bpftrace string, pid int, prog string) string {
	t.Helper()
	// The deadline only guards against a hang; the program exits by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bpftrace, "-p", strconv.Itoa(pid), "-e", prog)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bpftrace -e %q: %v\nstdout:\n%s\nstderr:\n%s", prog, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestBpftrace attaches bpftrace to the probes of a CGO_ENABLED=0 Go
// program and checks that it reads exactly the values fired, and that the
// program's Enabled() is true while bpftrace is attached and false after.
func TestBpftrace(t *testing.T) {
	testutil.RequireRoot(t)
	bpftrace := testutil.RequireTool(t, "bpftrace")
	bin := stapsdttest.Build(t)

	reqRE := regexp.MustCompile(`^` + regexp.QuoteMeta(stapsdttest.RequestPathPrefix) + `(\d+) (\d+)$`)
	ta := stapsdttest.TypesArgs
	tests := []struct {
		probe string
		body  string
		check func(line string) error
	}{
		{stapsdttest.ProbeRequestStart, `printf("%s %ld\n", str(arg0), arg1);`, func(line string) error {
			m := reqRE.FindStringSubmatch(line)
			if m == nil || m[1] != m[2] {
				return fmt.Errorf("want %q followed by the same number twice", stapsdttest.RequestPathPrefix)
			}
			return nil
		}},
		{stapsdttest.ProbeTypes, `printf("%ld %ld %ld %ld %ld %ld\n", arg0, arg1, arg2, arg3, arg4, arg5);`, func(line string) error {
			if want := fmt.Sprintf("%d %d %d %d %d %d", ta[0], ta[1], ta[2], ta[3], ta[4], ta[5]); line != want {
				return fmt.Errorf("want %q", want)
			}
			return nil
		}},
		{stapsdttest.ProbeWide, `printf("%ld %lu 0x%lx %s %ld %ld\n", arg0, arg1, arg2, str(arg3), arg4, arg5);`, func(line string) error {
			f := strings.Fields(line)
			want := []string{
				strconv.FormatInt(stapsdttest.WideInt64, 10),
				strconv.FormatUint(stapsdttest.WideUint64, 10),
				fmt.Sprintf("%#x", stapsdttest.WidePointer),
				"", // a prefix of WideString, as long as bpftrace's string limit
				strconv.FormatInt(stapsdttest.WideInt32, 10),
				strconv.FormatInt(stapsdttest.WideUint8, 10),
			}
			if len(f) != len(want) {
				return fmt.Errorf("want %d fields", len(want))
			}
			for i := range want {
				if i == 3 {
					if len(f[i]) < 32 || !strings.HasPrefix(stapsdttest.WideString, f[i]) {
						return fmt.Errorf("field %d: want a prefix of at least 32 bytes of the 300-byte string", i)
					}
				} else if f[i] != want[i] {
					return fmt.Errorf("field %d: want %s", i, want[i])
				}
			}
			return nil
		}},
	}
	f := stapsdttest.Start(t, bin)
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			prog := fmt.Sprintf(`usdt:%s:%s:%s { %s exit(); }`, f.Path, stapsdttest.Provider, tt.probe, tt.body)
			out := runBpftrace(t, bpftrace, f.PID, prog)
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				if l != "" && !strings.HasPrefix(l, "Attaching ") {
					lines = append(lines, l)
				}
			}
			if len(lines) == 0 {
				t.Fatalf("bpftrace printed no event:\n%s", out)
			}
			if err := tt.check(lines[0]); err != nil {
				t.Errorf("bpftrace printed %q: %v", lines[0], err)
			}
			// bpftrace only saw an event because the probe was enabled:
			// the program must have reported it, and must report the
			// semaphore dropping back once bpftrace has detached.
			f.WaitEnabled(t, tt.probe, true)
			f.WaitEnabled(t, tt.probe, false)
		})
	}
	f.Stop(t)
}

// TestBpftraceList checks that bpftrace lists the probes of a running
// program by PID.
func TestBpftraceList(t *testing.T) {
	testutil.RequireRoot(t)
	bpftrace := testutil.RequireTool(t, "bpftrace")
	f := stapsdttest.Start(t, stapsdttest.Build(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bpftrace, "-p", strconv.Itoa(f.PID), "-l", "usdt:*").Output()
	if err != nil {
		t.Fatalf("bpftrace -l: %v\n%s", err, out)
	}
	for _, p := range []string{stapsdttest.ProbeRequestStart, stapsdttest.ProbeTypes, stapsdttest.ProbeWide} {
		want := fmt.Sprintf("usdt:%s:%s:%s", f.Path, stapsdttest.Provider, p)
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("bpftrace -p %d -l 'usdt:*' does not list %s:\n%s", f.PID, want, out)
		}
	}
	f.Stop(t)
}
