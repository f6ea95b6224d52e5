package main

import (
	"context"
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

// readmeExample is one runnable shell block of README.md: a ```sh block
// with at least one "# expect: TEXT" line.
type readmeExample struct {
	line   int
	script string
	expect []string
}

func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeExample
	var cur *readmeExample
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(l) == "```sh":
			cur = &readmeExample{line: i + 1}
		case cur != nil && strings.TrimSpace(l) == "```":
			if len(cur.expect) > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			if e, ok := strings.CutPrefix(l, "# expect: "); ok {
				cur.expect = append(cur.expect, e)
				continue
			}
			cur.script += l + "\n"
		}
	}
	return out
}

// TestReadmeExamples runs every runnable example of the README with the
// uscope binary under test first on PATH, and checks that it exits 0 and
// prints what the README says it prints, so the README cannot rot.
func TestReadmeExamples(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tool := range []string{"redis-server", "redis-cli", "bash", "ls"} {
		testutil.RequireTool(t, tool)
	}
	testutil.RequireFile(t, "/usr/bin/python3.11")
	examples := readmeExamples(t)
	if len(examples) < 6 {
		t.Fatalf("found %d runnable README examples; the parser or the README broke", len(examples))
	}
	binDir := filepath.Dir(uscopeBin)
	otelcol := otelcolBinary(t) // the fleet section's OTLP example
	for _, ex := range examples {
		t.Run("README.md:"+strconv.Itoa(ex.line), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", ex.script)
			// The block and what it starts in the background are one
			// process group: a timeout, or the end of the block, kills
			// them all, so that none holds the output pipe open.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.WaitDelay = 5 * time.Second
			defer func() {
				if cmd.Process != nil {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
			}()
			src, _ := filepath.Abs("../..")
			cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "USCOPE_SRC="+src, "OTELCOL="+otelcol)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("example at README.md:%d failed: %v\n%s\n--- output:\n%s", ex.line, err, ex.script, out)
			}
			for _, want := range ex.expect {
				if !strings.Contains(string(out), want) {
					t.Fatalf("example at README.md:%d: output lacks %q\n--- output:\n%s", ex.line, want, out)
				}
			}
		})
	}
}
