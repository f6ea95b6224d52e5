package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spf13/cobra"
)

// execRoot runs args through root and returns its output and error text.
func execRoot(root *cobra.Command, args ...string) string {
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return fmt.Sprintf("%s\nerror: %v", out.String(), err)
}

// TestFastRootSameHelp: a root with only the command named first answers
// as the whole tree does (help, usage errors), and every fastCommands
// entry is a registered command of that name.
func TestFastRootSameHelp(t *testing.T) {
	full := map[string]bool{}
	for _, c := range newRootCommand().Commands() {
		full[c.Name()] = true
	}
	for name, mk := range fastCommands {
		if got := mk().Name(); got != name {
			t.Errorf("fastCommands[%q] builds %q", name, got)
		}
		if !full[name] {
			t.Errorf("fastCommands[%q] is not a command of the root", name)
		}
		for _, args := range [][]string{{name, "--help"}, {name, "--no-such-flag"}, {name, "-d", "x"}} {
			want := execRoot(newRootCommand(), args...)
			if got := execRoot(rootFor(args), args...); got != want {
				t.Errorf("%q: fast root prints\n%s\nthe full one\n%s", args, got, want)
			}
		}
	}
	// Anything else builds the whole tree.
	for _, args := range [][]string{nil, {"help"}, {"--help"}, {"rnu"}, {"__complete", "r"}, {"-x", "run"}} {
		if got, want := len(rootFor(args).Commands()), len(newRootCommand().Commands()); got != want {
			t.Errorf("%q: root has %d commands, want %d", args, got, want)
		}
	}
}
