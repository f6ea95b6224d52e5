package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// bcc's bashreadline_example.txt and gethostlatency_example.txt, line by
// line: a system-wide line gets --cmd (only the test's process counts), a
// PID is the workload's, /lib/libreadline.so is Debian's.

const libreadline = "/lib/x86_64-linux-gnu/libreadline.so.8"

func TestBCCBashreadline(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, libreadline)
	src, err := os.ReadFile("testdata/rlbash.c")
	if err != nil {
		t.Fatal(err)
	}
	// Named bash: bashreadline keeps the threads named bash.
	rl := testutil.BuildC(t, "bash", string(src), libreadline)
	header := fmt.Sprintf("%-9s %-7s %s", "TIME", "PID", "COMMAND")
	for _, ex := range []struct{ line, cmd string }{
		{"./bashreadline", "bash --norc -i"},
		{"./bashreadline -s /lib/libreadline.so", rl},
	} {
		args := []string{"bashreadline", "--cmd", ex.cmd}
		if strings.Contains(ex.line, "-s") {
			args = append(args, "-s", libreadline)
		}
		out := runWithStdin(t, args, "echo hello world\ndf -h\nexit\n").stdout
		lines := stdoutLines(out)
		if len(lines) == 0 || lines[0] != header {
			t.Errorf("%s: first line is not %q\n%s", ex.line, header, out)
		}
		row := regexp.MustCompile(`^\d\d:\d\d:\d\d  (\d+) +(.*)$`)
		var got []string
		for _, l := range lines {
			if m := row.FindStringSubmatch(l); m != nil && len(m[1]) <= 7 && l[10:17] == fmt.Sprintf("%-7s", m[1]) {
				got = append(got, m[2])
			}
		}
		if want := "echo hello world|df -h|exit"; strings.Join(got, "|") != want {
			t.Errorf("%s: commands %q, want %q\n%s", ex.line, got, want, out)
		}
	}
}

// runWithStdin runs uscope with stdin and returns what it printed; it
// must exit 0.
func runWithStdin(t *testing.T, args []string, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osexec.CommandContext(ctx, uscopeBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("uscope %q: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return result{out.String(), errb.String(), 0}
}

func TestBCCGethostlatency(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/hostlookup.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "hostlookup", string(src))
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	want := []string{"localhost", "localhost", "localhost", "127.0.0.1", "127.0.0.1", "::1"}
	check := func(line, out, pid string) {
		t.Helper()
		lines := stdoutLines(out)
		header := fmt.Sprintf("%-9s %-7s %-16s %10s %s", "TIME", "PID", "COMM", "LATms", "HOST")
		if len(lines) == 0 || lines[0] != header {
			t.Errorf("%s: first line is not %q\n%s", line, header, out)
		}
		row := regexp.MustCompile(`^\d\d:\d\d:\d\d  ` + pid + ` +hostlookup +\d+\.\d\d (.*)$`)
		var got []string
		for _, l := range lines {
			if m := row.FindStringSubmatch(l); m != nil {
				got = append(got, m[1])
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: hosts %q, want %q\n%s", line, got, want, out)
		}
	}
	// ./gethostlatency, with --cmd.
	res := runUscope(t, "gethostlatency", "--cmd", strings.Join(append([]string{bin, "now"}, hosts...), " "))
	if res.code != 0 {
		t.Fatalf("gethostlatency: exit %d\n%s", res.code, res.stderr)
	}
	check("./gethostlatency", res.stdout, `\d+`)
	// ./gethostlatency -p 181
	c := startChild(t, bin, append([]string{"wait"}, hosts...)...)
	c.expect("ready")
	pid := strconv.Itoa(c.pid())
	tr := startUscope(t, "gethostlatency", "-p", pid)
	fmt.Fprintln(c.stdin, "go")
	c.expect("done")
	c.stdin.Close()
	check("./gethostlatency -p 181", tr.waitExit(), pid)
}
