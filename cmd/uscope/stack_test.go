package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

func TestStackPaths(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	out := runOK(t, "stack", "-c", bin, bin+":leaf")
	// Two stacks, the rarer first, innermost frame first, each ending in
	// its count and an empty line; no "comm [pid]" line with -c.
	re := regexp.MustCompile(`(?s)^Tracing 1 functions for "[^"]+"\.\.\. Hit Ctrl-C to end\.\n\n` +
		`  leaf\n  path_b\n  main\n(  [^\n]+\n)*    3\n\n` +
		`  leaf\n  path_a\n  main\n(  [^\n]+\n)*    7\n\nDetaching\.\.\.\n$`)
	if !re.MatchString(out) {
		t.Errorf("stackcount output is not the two paths with 3 and 7 calls:\n%s", out)
	}
	if strings.Contains(out, "[unknown]\n  main") {
		t.Errorf("frames of the program were not named:\n%s", out)
	}

	// Folded: comm;outer;...;inner count, one line per stack.
	out = runOK(t, "stack", "-f", "-c", bin, bin+":leaf")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("folded output has %d lines, want 2:\n%s", len(lines), out)
	}
	for i, want := range []string{";main;path_b;leaf 3", ";main;path_a;leaf 7"} {
		if !strings.HasPrefix(lines[i], "tools;") || !strings.HasSuffix(lines[i], want) {
			t.Errorf("folded line %d = %q, want tools;...%s", i, lines[i], want)
		}
	}
}
