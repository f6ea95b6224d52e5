package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/testutil"
)

// listRun runs `uscope list ARGS` in-process, as run() does, and returns
// its output and exit code.
func listRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"list"}, args...))
	err := root.Execute()
	if err != nil {
		fmt.Fprintln(&errb, "uscope: "+errorText(err))
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errb.String(), code
}

const listProgram = `
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <unistd.h>
__extension__ unsigned short app_request_semaphore __attribute__((unused)) __attribute__((section(".probes")));
long counter;
int __attribute__((noinline)) handle(int fd, long len) { STAP_PROBE2(app, request, fd, len); counter += len; return fd; }
static int __attribute__((noinline)) helper(int x) { return handle(x, 8) + 1; }
int main(void) {
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0) {}
	return helper(3) > 100;
}
`

func listProgramBinary(t *testing.T) string {
	t.Helper()
	testutil.RequireFile(t, "/usr/include/x86_64-linux-gnu/sys/sdt.h")
	return testutil.BuildC(t, "listapp", listProgram, "-O1")
}

func TestListPlain(t *testing.T) {
	bin := listProgramBinary(t)
	out, errOut, code := listRun(t, bin)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	wantLines(t, out,
		"uprobe:"+bin+":handle",
		"uprobe:"+bin+":helper",
		"uprobe:"+bin+":main",
		"usdt:"+bin+":app:request",
	)
	// Every line is an attach point the language accepts, naming what it
	// was listed for.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		p, err := lang.Parse("-e", line+" { }")
		if err != nil {
			t.Errorf("listed line %q does not parse: %v", line, err)
			continue
		}
		ap := p.Probes[0].Points[0]
		if ap.Target != bin || ap.Func == "" {
			t.Errorf("listed line %q parses as target %q func %q", line, ap.Target, ap.Func)
		}
	}
	// Same output for the same input: sorted deterministically.
	again, _, _ := listRun(t, bin)
	if again != out {
		t.Errorf("two listings differ")
	}
}

func TestListPatterns(t *testing.T) {
	bin := listProgramBinary(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{bin, "usdt:*"}, []string{"usdt:" + bin + ":app:request"}},
		{[]string{bin, "*request*"}, []string{"usdt:" + bin + ":app:request"}},
		{[]string{bin, "h*"}, []string{"uprobe:" + bin + ":handle", "uprobe:" + bin + ":helper"}},
		{[]string{"uprobe:" + bin + ":hand*"}, []string{"uprobe:" + bin + ":handle"}},
		{[]string{"u:" + bin + ":hand*"}, []string{"uprobe:" + bin + ":handle"}},
		{[]string{bin, "uretprobe:*:handle"}, []string{"uretprobe:" + bin + ":handle"}},
		{[]string{bin, "*:nothing*"}, nil},
	}
	for _, tt := range tests {
		out, errOut, code := listRun(t, tt.args...)
		if tt.want == nil {
			// Nothing matches: exit 1 and say so, as grep does (issue 19).
			if code != 1 || out != "" || !strings.Contains(errOut, "no probe matches") {
				t.Errorf("list %q: exit %d, stdout %q, stderr %q; want exit 1 and no probe matches", tt.args, code, out, errOut)
			}
			continue
		}
		if code != 0 {
			t.Errorf("list %q: exit %d: %s", tt.args, code, errOut)
			continue
		}
		got := strings.Fields(out)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("list %q = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestListVerbose(t *testing.T) {
	bin := listProgramBinary(t)
	out, _, code := listRun(t, "-v", bin, "*a*")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	// readelf-independent checks: the facts are there, in the documented
	// shape.
	for _, want := range []string{
		"uprobe:" + bin + ":handle\n    addr 0x",
		"usdt:" + bin + ":app:request\n    site addr 0x",
		" semaphore 0x",
		"      arg0: s32 ",
		"      arg1: s64 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-v output lacks %q:\n%s", want, out)
		}
	}
}

func TestListJSON(t *testing.T) {
	bin := listProgramBinary(t)
	out, _, code := listRun(t, "--json", bin)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	seen := map[string]listJSON{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var j listJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen[j.Probe] = j
	}
	h, ok := seen["uprobe:"+bin+":handle"]
	if !ok || h.Kind != "uprobe" || h.Target != bin || h.Name != "handle" || len(h.Sites) != 1 ||
		h.Sites[0].Addr == 0 || h.Sites[0].Offset == 0 || h.Sites[0].Size == nil || *h.Sites[0].Size == 0 {
		t.Errorf("handle: %+v", h)
	}
	u, ok := seen["usdt:"+bin+":app:request"]
	if !ok || u.Provider != "app" || u.Name != "request" || len(u.Sites) != 1 || u.Sites[0].Semaphore == 0 ||
		u.Sites[0].SemaphoreOffset == 0 || len(u.Sites[0].Args) != 2 || u.Sites[0].ArgsRaw == nil {
		t.Errorf("usdt: %+v", u)
	}
}

func TestListErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte("not an elf\n"), 0o644)
	trunc := filepath.Join(dir, "trunc")
	if b, err := os.ReadFile("/usr/bin/true"); err == nil {
		os.WriteFile(trunc, b[:200], 0o755)
	}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "uscope: list needs a TARGET or -p PID; see 'uscope list --help'"},
		{[]string{filepath.Join(dir, "missing")}, "uscope: " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{text}, "uscope: " + text + " is not an ELF file; give an executable or a shared library"},
		{[]string{trunc}, "uscope: " + trunc + ": truncated or damaged ELF file"},
		{[]string{"sssl"}, `uscope: unknown library "sssl": not in /etc/ld.so.cache (nor a program on PATH); give a path`},
		{[]string{"-p", "8388608"}, `uscope: invalid argument "8388608" for "-p, --pid" flag: Pid out of range: 8388608`},
		{[]string{"-p", "-5"}, "uscope: --pid -5: a process id is a positive number"},
		{[]string{"a", "b", "c"}, "uscope: too many arguments"},
		{[]string{"--bogus"}, "uscope: unknown flag: --bogus"},
		{[]string{"usdt:*"}, `uscope: pattern "usdt:*" needs a TARGET or -p PID`},
	}
	for _, tt := range tests {
		out, errOut, code := listRun(t, tt.args...)
		if code != exitUsage || out != "" {
			t.Errorf("list %q: exit %d, stdout %q; want exit 1 and no output", tt.args, code, out)
		}
		if !strings.HasPrefix(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("list %q: stderr %q, want one line starting %q", tt.args, errOut, tt.want)
		}
	}
}

func TestListProcess(t *testing.T) {
	bin := listProgramBinary(t)
	cmd := exec.Command(bin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	br := bufio.NewReader(stdout)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, br)
	pid := fmt.Sprint(cmd.Process.Pid)

	out, errOut, code := listRun(t, "-p", pid)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var libc bool
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "uprobe:") && strings.Contains(line, "/libc.so.6:malloc") {
			libc = true
		}
	}
	if !strings.Contains(out, "uprobe:"+bin+":handle\n") || !strings.Contains(out, "usdt:"+bin+":app:request\n") || !libc {
		t.Errorf("list -p lacks the executable's or libc's probes")
	}
	out, _, code = listRun(t, "-p", pid, "usdt:*")
	if code != 0 || strings.TrimSpace(out) != "usdt:"+bin+":app:request" {
		t.Errorf("list -p PID usdt:* = %q", out)
	}
	out, _, code = listRun(t, "-p", pid, "c", "malloc")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "/libc.so.6:malloc") || strings.Count(out, "\n") != 1 {
		t.Errorf("list -p PID c malloc = %q", out)
	}
}

// TestListLabels: zero-sized symbols such as runtime.etext mark addresses,
// they are not functions: list leaves them out unless --labels is given.
func TestListLabels(t *testing.T) {
	bin := goProgram(t, goBuilds[0])
	plain := runUscope(t, "list", bin, "runtime.*text")
	labels := runUscope(t, "list", "--labels", bin, "runtime.*text")
	if plain.code != 0 || labels.code != 0 {
		t.Fatalf("exit %d, %d\n%s%s", plain.code, labels.code, plain.stderr, labels.stderr)
	}
	etext := "uprobe:" + bin + ":runtime.etext"
	if strings.Contains(plain.stdout, etext+"\n") {
		t.Errorf("list offers the label runtime.etext:\n%s", plain.stdout)
	}
	if !strings.Contains(labels.stdout, etext+"\n") {
		t.Errorf("list --labels lacks runtime.etext:\n%s", labels.stdout)
	}
	// The functions are the same, labels aside.
	var kept []string
	for _, l := range strings.Split(labels.stdout, "\n") {
		if l != etext {
			kept = append(kept, l)
		}
	}
	if strings.Join(kept, "\n") != plain.stdout || plain.stdout == "" {
		t.Errorf("list:\n%s\nlist --labels:\n%s\nwant the same functions", plain.stdout, labels.stdout)
	}
}
