package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// tracer is a uscope process running in the background, its output
// collected line by line.
type tracer struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	err   strings.Builder
	done  chan struct{}
}

// startUscope starts uscope and waits until it reports that its probes are
// attached (the stderr line "Attached N probes", or the trace header).
func startUscope(t *testing.T, args ...string) *tracer {
	t.Helper()
	tr := launchUscope(t, args...)
	tr.waitFor(func(l string) bool {
		return strings.HasPrefix(l, "uscope-stderr: Attached") || strings.HasPrefix(l, "uscope-stderr: Waiting for ") || strings.HasPrefix(l, "PID ") || strings.HasPrefix(l, "TIME ") || strings.HasPrefix(l, "Tracing ") || strings.HasPrefix(l, `{"type": "attached_probes"`)
	}, "attached")
	return tr
}

// launchUscope starts uscope, collecting its output, without waiting.
func launchUscope(t *testing.T, args ...string) *tracer {
	t.Helper()
	tr := &tracer{t: t, cmd: exec.Command(uscopeBin, args...), done: make(chan struct{})}
	stdout, err := tr.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := tr.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.stop() })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); tr.collect(stdout, false) }()
	go func() { defer wg.Done(); tr.collect(stderr, true) }()
	go func() { wg.Wait(); tr.cmd.Wait(); close(tr.done) }()
	return tr
}

func (tr *tracer) collect(r io.Reader, isErr bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := sc.Text()
		tr.mu.Lock()
		if isErr {
			tr.err.WriteString(l + "\n")
			l = "uscope-stderr: " + l
		}
		tr.lines = append(tr.lines, l)
		tr.mu.Unlock()
	}
}

// waitFor waits until a line satisfies ok; it fails the test if uscope
// exits first or nothing comes within 30 s.
func (tr *tracer) waitFor(ok func(string) bool, what string) {
	tr.t.Helper()
	seen := func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return slices.ContainsFunc(tr.lines, ok)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if seen() {
			return
		}
		select {
		case <-tr.done:
			// The line may have come in with uscope's last output,
			// after the scan above.
			if seen() {
				return
			}
			tr.t.Fatalf("uscope exited before %s\n%s", what, tr.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	tr.t.Fatalf("no %s within 30s\n%s", what, tr.output())
}

func (tr *tracer) waitLine(substr string) {
	tr.t.Helper()
	tr.waitFor(func(l string) bool { return strings.Contains(l, substr) }, fmt.Sprintf("line containing %q", substr))
}

func (tr *tracer) output() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.lines, "\n")
}

// stop ends uscope with SIGINT, as Ctrl-C would, and waits for it.
func (tr *tracer) stop() string {
	if tr.cmd.ProcessState == nil {
		tr.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-tr.done:
		case <-time.After(30 * time.Second):
			tr.cmd.Process.Kill()
			<-tr.done
		}
	}
	return tr.output()
}

// freePort returns a loopback TCP port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts a redis-server on loopback for one test.
func startRedis(t *testing.T) (pid int, cli func(args ...string) string) {
	t.Helper()
	server := testutil.RequireTool(t, "redis-server")
	client := testutil.RequireTool(t, "redis-cli")
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	cli = func(args ...string) string {
		out, err := exec.Command(client, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for i := 0; ; i++ {
		out, _ := exec.Command(client, "-h", "127.0.0.1", "-p", port, "ping").CombinedOutput()
		if strings.TrimSpace(string(out)) == "PONG" {
			break
		}
		if i == 200 {
			t.Fatalf("redis-server did not answer: %s", out)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return cmd.Process.Pid, cli
}

// TestTraceRedis is the founding example: bcc's trace spec, verbatim, on a
// real redis-server while redis-cli sets and gets a key.
func TestTraceRedis(t *testing.T) {
	testutil.RequireRoot(t)
	pid, cli := startRedis(t)
	tr := startUscope(t, "trace", "-p", strconv.Itoa(pid), `/usr/bin/redis-server:createStringObject "%s" arg1`)
	if got := cli("set", "octi", "fest"); got != "OK" {
		t.Fatalf("set: %s", got)
	}
	if got := cli("get", "octi"); got != "fest" {
		t.Fatalf("get: %s", got)
	}
	tr.waitLine("createStringObject get")
	out := tr.stop()
	for _, want := range []string{"createStringObject set", "createStringObject octi", "createStringObject fest", "createStringObject get"} {
		if !strings.Contains(out, fmt.Sprintf("%d", pid)) || !strings.Contains(out, want) {
			t.Fatalf("trace output lacks %q\n%s", want, out)
		}
	}
	// The obvious improvement: pointer and length give clean strings.
	tr = startUscope(t, "run", "-p", strconv.Itoa(pid), "-e",
		`uprobe:/usr/bin/redis-server:createStringObject { printf("<%s>\n", str(arg0, arg1)); }`)
	cli("set", "octi", "fest")
	tr.waitLine("<fest>")
	out = tr.stop()
	wantLines(t, out, "<set>", "<octi>", "<fest>")
}

// TestReadlineReturn prints what a scripted interactive bash reads.
func TestReadlineReturn(t *testing.T) {
	testutil.RequireRoot(t)
	cmd := exec.Command(uscopeBin, "trace", "--cmd", "/bin/bash --norc --noprofile -i", `r:/bin/bash:readline "%s" retval`)
	cmd.Stdin = strings.NewReader("echo hello-from-bash\nexit 0\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"readline         echo hello-from-bash", "readline         exit 0"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("output lacks %q\n%s", want, out)
		}
	}
}

// mallocSrc allocates 100 bytes for every line it reads, then 1000 bytes
// once at end of input.
const mallocSrc = `
#include <stdio.h>
#include <stdlib.h>
int main(void) {
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		void *volatile p = malloc(100);
		free(p);
		printf("ok\n");
		fflush(stdout);
	}
	void *volatile q = malloc(1000);
	free(q);
	return 0;
}
`

// TestMallocPID counts libc malloc calls of one process only, with -p: the
// counts equal the program's calls exactly.
func TestMallocPID(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "mallocs", mallocSrc)
	prog := exec.Command(bin)
	stdin, _ := prog.StdinPipe()
	stdout, _ := prog.StdoutPipe()
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Process.Kill(); prog.Wait() })
	rd := bufio.NewReader(stdout)
	// A decoy that must not be counted.
	decoy := exec.Command(bin)
	decoyIn, _ := decoy.StdinPipe()
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { decoy.Process.Kill(); decoy.Wait() })
	tr := startUscope(t, "run", "-p", strconv.Itoa(prog.Process.Pid), "-e",
		`uprobe:libc:malloc /arg0 == 100 || arg0 == 1000/ { @calls[pid, arg0] = count(); @bytes = hist(arg0); }`)
	for i := 0; i < 20; i++ {
		fmt.Fprintln(stdin, "x")
		fmt.Fprintln(decoyIn, "x")
		if _, err := rd.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	stdin.Close()
	if err := prog.Wait(); err != nil {
		t.Fatal(err)
	}
	// The session ends by itself when the traced process exits.
	<-tr.done
	out := tr.output()
	wantLines(t, out, fmt.Sprintf("@calls[%d, 1000]: 1", prog.Process.Pid), fmt.Sprintf("@calls[%d, 100]: 20", prog.Process.Pid))
	if strings.Count(out, "@calls[") != 2 {
		t.Fatalf("counted another process\n%s", out)
	}
	if !strings.Contains(out, "[64, 128)             20 |") || !strings.Contains(out, "[512, 1K)              1 |") {
		t.Fatalf("histogram buckets wrong\n%s", out)
	}
}

// TestWildcardAttach attaches hundreds of redis-server functions with one
// wildcard and detaches them again.
func TestWildcardAttach(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "run", "--duration", "100ms", "-e", `uprobe:/usr/bin/redis-server:*Command { @[func] = count(); }`)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var n int
	if _, err := fmt.Sscanf(r.stderr, "Attached %d probes", &n); err != nil || n < 150 {
		t.Fatalf("attached %d probes (%v)\n%s", n, err, r.stderr)
	}
}
