package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// Process trees and the -c command's lifecycle (issue 19).

func buildTestdata(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/" + name + ".c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, name, string(src), "-O0")
}

// TestFollowShell: the functions of a program run by a shell are counted,
// as many times as the program calls them (path_a 7, path_b 3 per run);
// --no-follow counts only the shell's own.
func TestFollowShell(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	pattern := bin + ":path_*"
	got := funcCounts(t, runOK(t, "count", "-c", fmt.Sprintf("sh -c %q", bin), pattern))
	if len(got) != 2 || got["path_a"] != 7 || got["path_b"] != 3 {
		t.Errorf(`count -c 'sh -c "BIN"': %v, want path_a 7, path_b 3`, got)
	}
	twice := fmt.Sprintf("sh -c '%s; %s'", bin, bin)
	got = funcCounts(t, runOK(t, "count", "-c", twice, pattern))
	if len(got) != 2 || got["path_a"] != 14 || got["path_b"] != 6 {
		t.Errorf("count -c %q: %v, want path_a 14, path_b 6", twice, got)
	}
	got = funcCounts(t, runOK(t, "count", "--no-follow", "-c", twice, pattern))
	if len(got) != 0 {
		t.Errorf("count --no-follow -c %q: %v, want nothing (the shell calls none)", twice, got)
	}
}

// decoy runs bin over and over until stop is closed: calls that are not
// the traced tree's, which must not be counted.
func decoy(t *testing.T, bin string) (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = exec.Command(bin).Run()
		}
	}()
	return func() { close(done); <-ended }
}

// TestFollowForks: a program that starts three children (fork, vfork,
// posix_spawn) that exec another binary is counted whole, with -c and with
// -p, while the same binary run outside the tree is not counted.
func TestFollowForks(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	forker := buildTestdata(t, "forker")
	pattern := bin + ":path_*"
	stop := decoy(t, bin)
	defer stop()

	got := funcCounts(t, runOK(t, "count", "-c", forker+" "+bin, pattern))
	if len(got) != 2 || got["path_a"] != 21 || got["path_b"] != 9 {
		t.Errorf("count -c 'forker BIN': %v, want path_a 21, path_b 9", got)
	}

	out := traceGated(t, func(pid string) []string { return []string{"count", "-p", pid, pattern} }, forker, "wait", bin)
	got = funcCounts(t, out)
	if len(got) != 2 || got["path_a"] != 21 || got["path_b"] != 9 {
		t.Errorf("count -p FORKER: %v, want path_a 21, path_b 9\n%s", got, out)
	}
}

// traceGated starts name with args, a program that waits for a byte on its
// standard input, runs uscope with uscopeArgs(its pid) until it attached,
// lets the program go, waits for it and for uscope (which ends with it),
// and returns uscope's output.
func traceGated(t *testing.T, uscopeArgs func(pid string) []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tr := startUscope(t, uscopeArgs(strconv.Itoa(cmd.Process.Pid))...)
	in.Write([]byte("go"))
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	select {
	case <-tr.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("uscope did not end with the process\n%s", tr.output())
	}
	return tr.output()
}

// TestCommandStatus: uscope exits with the -c command's status and names
// an end that is not status 0; a signal N gives 128+N, as shells report.
func TestCommandStatus(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "run", "-c", `sh -c "exit 3"`, "-e", "BEGIN{}")
	if r.code != 3 || !strings.Contains(r.stderr, "exited with status 3") {
		t.Errorf("exit 3: code %d, stderr %q", r.code, r.stderr)
	}
	r = runUscope(t, "run", "-c", `sh -c "kill -SEGV \$\$"`, "-e", "BEGIN{}")
	if r.code != 139 || !strings.Contains(r.stderr, "killed by SIGSEGV") {
		t.Errorf("SIGSEGV: code %d, stderr %q", r.code, r.stderr)
	}
	r = runUscope(t, "run", "-c", "true", "-e", "BEGIN{}")
	if r.code != 0 || strings.Contains(r.stderr, "command") {
		t.Errorf("true: code %d, stderr %q", r.code, r.stderr)
	}
}

// treePids waits until the lingerer's three processes wrote their pids.
func treePids(t *testing.T, file string) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		if f := strings.Fields(string(b)); len(f) == 3 {
			var pids []int
			for _, s := range f {
				p, _ := strconv.Atoi(s)
				pids = append(pids, p)
			}
			return pids
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the lingerer did not start its three processes")
	return nil
}

// alive reports whether pid runs (a zombie has ended).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// TestCommandStopped: when uscope ends before the command (SIGINT,
// SIGTERM, --duration, exit()), no process of the command's tree is alive
// afterwards, and uscope exits with the command's status: 143 (SIGTERM),
// or 137 when the tree ignores SIGTERM and needs SIGKILL; after the
// program's exit(code), with the code, as bpftrace does.
func TestCommandStopped(t *testing.T) {
	testutil.RequireRoot(t)
	lingerer := buildTestdata(t, "lingerer")
	for _, tc := range []struct {
		name   string
		signal syscall.Signal // sent to uscope; 0: --duration or exit() ends it
		ignore bool
		code   int
		flags  []string
		prog   string // added to the program
	}{
		{"SIGINT", syscall.SIGINT, false, 143, nil, ""},
		{"SIGTERM", syscall.SIGTERM, false, 143, nil, ""},
		{"duration", 0, false, 143, []string{"--duration", "1s"}, ""},
		{"exit", 0, false, 0, nil, "interval:s:1 { exit(); }"},
		{"exit-code", 0, false, 7, nil, "interval:s:1 { exit(7); }"},
		{"SIGINT-ignored", syscall.SIGINT, true, 137, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "pids")
			command := lingerer + " " + file
			if tc.ignore {
				command += " ignore"
			}
			args := append([]string{"run", "-c", command, "-e", "uprobe:" + lingerer + ":main { } " + tc.prog}, tc.flags...)
			tr := startUscope(t, args...)
			pids := treePids(t, file)
			t.Cleanup(func() {
				for _, p := range pids {
					syscall.Kill(p, syscall.SIGKILL)
				}
			})
			if tc.signal != 0 {
				tr.cmd.Process.Signal(tc.signal)
			}
			select {
			case <-tr.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("uscope did not end\n%s", tr.output())
			}
			for _, p := range pids {
				// The grandchild's parent was killed: init reaps it, maybe a
				// moment later, but it must not run.
				if alive(p) {
					t.Errorf("process %d of the command's tree is alive after uscope ended", p)
				}
			}
			if code := tr.cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", code, tc.code, tr.output())
			}
			said := strings.Contains(tr.err.String(), "sent by uscope when tracing ended")
			if exited := tc.prog != ""; said == exited {
				t.Errorf("stderr says uscope stopped the command: %v, want %v:\n%s", said, !exited, tr.err.String())
			}
		})
	}
}

// TestTLSGrandchild: `tls -c` shows the plaintext of a client that does TLS
// in a grandchild of uscope (sh forks curl, as git forks git-remote-https).
func TestTLSGrandchild(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, body := startTLSServer(t)
	// "; true" keeps sh from exec'ing curl in its own process.
	cmd := fmt.Sprintf("sh -c '%s -sk https://127.0.0.1:%d/index.html; true'", curl, port)
	r := runUscope(t, "tls", "--json", "-c", cmd)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	es := tlsEntries(r.stdout)
	if got := tlsData(es, "curl", "read"); !strings.Contains(got, body) {
		t.Errorf("curl's reads %q lack the page %q\n%s", got, body, r.stdout)
	}
	if got := tlsData(es, "curl", "write"); !strings.Contains(got, "GET /index.html HTTP/1.1\r\n") {
		t.Errorf("curl's writes %q lack the request", got)
	}
	// The one process (sh) does no TLS.
	r = runUscope(t, "tls", "--json", "--no-follow", "-c", cmd)
	if r.code != 0 || len(tlsEntries(r.stdout)) != 0 {
		t.Errorf("--no-follow: exit %d, entries %v", r.code, tlsEntries(r.stdout))
	}
}
