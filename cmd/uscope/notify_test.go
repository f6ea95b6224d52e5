package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

const notifyLine = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"

// runUscopeEnv runs uscope with extra environment variables and returns
// its standard output.
func runUscopeEnv(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, uscopeBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != argsExit {
		// uscope exits with the -c command's status: args exits 3.
		t.Fatalf("uscope %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// bpftrace's runtime test runner sets __BPFTRACE_NOTIFY_PROBES_ATTACHED=1
// and waits for that word on standard output, printed once every probe is
// attached (bpftrace's src/bpftrace.cpp), before it starts a test's AFTER
// command: with -c, the notice comes before anything the traced command
// prints, and it is printed exactly once.
func TestNotifyProbesAttached(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	prog := `uprobe:` + bin + `:ret42 { @n = count(); } END { printf("end\n"); }`
	out := runUscopeEnv(t, []string{notifyLine + "=1"}, "run", "-c", bin+" 1", "-e", prog)
	if n := strings.Count(out, notifyLine+"\n"); n != 1 {
		t.Fatalf("the notice appears %d times, want once\n%s", n, out)
	}
	wantLines(t, out, notifyLine, "ret42(0) = 42", "end")

	out = runUscopeEnv(t, []string{notifyLine + "=1"}, "run", "-e", `BEGIN { printf("begin\n"); exit(); }`)
	wantLines(t, out, notifyLine, "begin")

	// Without the variable, nothing of the sort is printed.
	out = runUscopeEnv(t, nil, "run", "-e", `BEGIN { printf("begin\n"); exit(); }`)
	if strings.Contains(out, notifyLine) {
		t.Fatalf("notice printed without %s in the environment:\n%s", notifyLine, out)
	}
}
