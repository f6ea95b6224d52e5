package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// startLooper starts bccex L (malloc every millisecond until killed) and
// returns its pid; the test kills and reaps it.
func startLooper(t *testing.T) int {
	t.Helper()
	bin := bccexProgram(t)
	cmd := exec.Command(bin, "L")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(300 * time.Millisecond) // its libraries mapped
	return cmd.Process.Pid
}

var topMalloc = regexp.MustCompile(`(?m)^(\S*malloc\S*) +(\d+)$`)

// TestTopTerminal runs `uscope count --top 10 -p PID 'c:*alloc*'` in a
// tmux terminal, reads the screen twice and sees it redrawn in place: one
// header on the screen each time (no scrolling intervals), the malloc row
// both times, the time or the count changed.
func TestTopTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	tmux := testutil.RequireTool(t, "tmux")
	pid := startLooper(t)
	session := "uscope-top-" + strings.ReplaceAll(t.Name(), "/", "-")
	cmd := uscopeBin + " count --top 10 -i 0.3 -p " + strconv.Itoa(pid) + " 'c:*alloc*'"
	if out, err := exec.Command(tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(tmux, "kill-session", "-t", session).Run() })
	screen := func() string {
		out, _ := exec.Command(tmux, "capture-pane", "-p", "-t", session).Output()
		return string(out)
	}
	// Wait (up to 30 s) for a screen with the malloc row.
	wait := func(not string) string {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s := screen(); topMalloc.MatchString(s) && s != not {
				return s
			}
		}
		t.Fatalf("no (new) malloc row on the screen:\n%s", screen())
		return ""
	}
	first := wait("")
	second := wait(first)
	for _, s := range []string{first, second} {
		if n := strings.Count(s, "top "); n != 1 {
			t.Errorf("screen has %d headers, want one (redrawn in place):\n%s", n, s)
		}
		if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  top \d+ of \d+, every 300ms`).MatchString(s) || !strings.Contains(s, "FUNC") {
			t.Errorf("no top header:\n%s", s)
		}
	}
}

// TestTopPiped: piped, --top prints plain intervals of at most N rows.
func TestTopPiped(t *testing.T) {
	testutil.RequireRoot(t)
	pid := startLooper(t)
	out := runOK(t, "count", "--top", "1", "-i", "0.2", "-d", "1", "-p", strconv.Itoa(pid), "c:*alloc*")
	if strings.Contains(out, "\x1b[") {
		t.Errorf("piped output has terminal escapes:\n%q", out)
	}
	tables := strings.Split(out, "\nFUNC ")
	if len(tables) < 3 {
		t.Fatalf("want several intervals:\n%s", out)
	}
	for _, tb := range tables[1:] {
		rows := 0
		for _, l := range strings.Split(tb, "\n")[1:] {
			if countRow.MatchString(l) {
				rows++
			}
		}
		if rows > 1 {
			t.Errorf("--top 1 printed %d rows:\n%s", rows, tb)
		}
	}
	if !topMalloc.MatchString(out) {
		t.Errorf("no malloc row:\n%s", out)
	}
}
