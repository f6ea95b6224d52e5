package attach

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// heldSource prints its argv[0], a line of stdin and argc, then exits 3, or
// dies of SIGTERM when its first argument is "signal".
const heldSource = `#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	char buf[64] = "none\n";
	if (fgets(buf, sizeof buf, stdin) == NULL)
		strcpy(buf, "none\n");
	printf("out %s %s", argv[0], buf);
	fprintf(stderr, "err %d\n", argc);
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "signal") == 0)
		kill(getpid(), SIGTERM);
	return 3;
}
`

// TestStartHeld runs a program held at its exec, attaches a uprobe on its
// main while it is held, and checks the probe fired once and the program's
// output and exit status equal those of an untraced run.
func TestStartHeld(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "held", heldSource, "-O1")
	mainOff := funcOffset(t, bin, "main")
	// argv[0] is found through PATH, as a shell would.
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))

	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		signaled bool
	}{
		{name: "exit 3", args: []string{"held", "x"}, stdin: "hello\n", wantCode: 3},
		{name: "no stdin", args: []string{"held"}, wantCode: 3},
		{name: "killed by SIGTERM", args: []string{"held", "signal"}, stdin: "bye\n", wantCode: 128 + int(syscall.SIGTERM), signaled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The untraced reference run.
			ref := exec.Command(tc.args[0], tc.args[1:]...)
			var refOut, refErr bytes.Buffer
			ref.Stdin, ref.Stdout, ref.Stderr = strings.NewReader(tc.stdin), &refOut, &refErr
			_ = ref.Run()
			refCode := ref.ProcessState.ExitCode()
			if ws := ref.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
				refCode = 128 + int(ws.Signal())
			}
			if refCode != tc.wantCode {
				t.Fatalf("untraced run exited %d, want %d", refCode, tc.wantCode)
			}

			var out, errOut bytes.Buffer
			h, err := StartHeld(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.Kill(); _, _ = h.Wait() })
			// Held: stopped by ptrace, already the new program.
			if st, err := procState(h.Pid); err != nil || st != 't' {
				t.Errorf("held process state = %q (%v), want 't' (tracing stop)", st, err)
			}
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", h.Pid)); exe != bin {
				t.Errorf("held process runs %q, want %q", exe, bin)
			}

			opts := Options{PID: h.Pid}
			c := newCounter(t, opts, 1)
			s := newSet(t)
			if err := s.Attach(c.prog, []Site{{Path: bin, Offset: mainOff}}, opts); err != nil {
				t.Fatal(err)
			}
			if err := h.Release(); err != nil {
				t.Fatal(err)
			}
			code, err := h.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if code != refCode {
				t.Errorf("exit code %d, untraced %d", code, refCode)
			}
			if got := h.Cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled(); got != tc.signaled {
				t.Errorf("signaled = %v, want %v", got, tc.signaled)
			}
			if out.String() != refOut.String() || errOut.String() != refErr.String() {
				t.Errorf("output %q / %q, untraced %q / %q", out.String(), errOut.String(), refOut.String(), refErr.String())
			}
			if got := c.get(t, 0); got != 1 {
				t.Errorf("probe on main fired %d times, want 1", got)
			}
		})
	}
}

// TestHeldKill kills a program while it is held: it never runs.
func TestHeldKill(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "held", heldSource, "-O1")
	var out bytes.Buffer
	h, err := StartHeld([]string{bin}, strings.NewReader("x\n"), &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Kill(); err != nil {
		t.Fatal(err)
	}
	code, err := h.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if code != 128+int(syscall.SIGKILL) || out.Len() != 0 {
		t.Errorf("killed held program: code %d, output %q; want %d and nothing", code, out.String(), 128+int(syscall.SIGKILL))
	}
	if err := h.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
	if err := h.Release(); err != nil {
		t.Errorf("Release after Kill: %v", err)
	}
}

// TestStartHeldErrors checks the failures to start.
func TestStartHeldErrors(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		contains string
	}{
		{"empty", nil, "no command given"},
		{"not found", []string{"uscope-no-such-command"}, `cannot run "uscope-no-such-command"`},
		{"not executable", []string{"/etc/hostname"}, "cannot run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := StartHeld(tc.argv, nil, nil, nil)
			if err == nil {
				_ = h.Kill()
				_, _ = h.Wait()
				t.Fatal("StartHeld succeeded")
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not contain %q", err, tc.contains)
			}
		})
	}
}

// funcOffset returns the file offset of a function symbol.
func funcOffset(t testing.TB, bin, name string) uint64 {
	t.Helper()
	bi := inspectFuncs(t, bin)
	off, ok := bi[name]
	if !ok {
		t.Fatalf("%s: no function %s", bin, name)
	}
	return off
}
