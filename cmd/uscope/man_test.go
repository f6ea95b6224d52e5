package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// availableCommands returns c and every subcommand a user can run, as the
// man pages and help list them.
func availableCommands(c *cobra.Command) []*cobra.Command {
	cmds := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			cmds = append(cmds, availableCommands(sub)...)
		}
	}
	return cmds
}

func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600") // 2026-01-01
	if _, errOut, code := inProcess(t, "man", dir); code != 0 {
		t.Fatalf("uscope man: exit %d: %s", code, errOut)
	}
	root := newRootCommand()
	root.InitDefaultHelpCmd()
	cmds := availableCommands(root)
	if len(cmds) < 5 {
		t.Fatalf("only %d commands", len(cmds))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cmds) {
		t.Errorf("%d pages for %d commands", len(entries), len(cmds))
	}
	man, haveMan := exec.LookPath("man")
	for _, c := range cmds {
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name+".1"))
			if err != nil {
				t.Fatal(err)
			}
			// Undo roff escapes to compare with the cobra source.
			page := strings.NewReplacer(`\-`, "-", `\\`, `\`).Replace(string(b))
			for _, w := range []string{
				`.TH "` + strings.ToUpper(name) + `" "1" "Jan 2026"`,
				name + " - " + c.Short,
				"uscope manual",
			} {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			if c.HasParent() && c.Example == "" {
				t.Errorf("command %q has no Example", c.CommandPath())
			}
			if c.Example != "" {
				if !strings.Contains(page, ".SH EXAMPLE") {
					t.Errorf("page lacks the EXAMPLE section")
				}
				for _, line := range strings.Split(c.Example, "\n") {
					if !strings.Contains(page, strings.TrimSpace(line)) {
						t.Errorf("page lacks example %q", strings.TrimSpace(line))
					}
				}
			}
			if haveMan == nil {
				cmd := exec.Command(man, "-l", filepath.Join(dir, name+".1"))
				cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=100")
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), "EXAMPLE") && c.Example != "" {
					t.Errorf("man -l: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestManDefaultDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, errOut, code := inProcess(t, "man"); code != 0 {
		t.Fatalf("uscope man: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "uscope.1")); err != nil {
		t.Error(err)
	}
	if _, errOut, code := inProcess(t, "man", "a", "b"); code != exitUsage {
		t.Errorf("man a b: exit %d, want %d: %s", code, exitUsage, errOut)
	}
}

// Every command a user can run documents itself with examples, so --help
// and the man pages show how to use it.
func TestEveryCommandHasExample(t *testing.T) {
	root := newRootCommand()
	for _, c := range availableCommands(root)[1:] {
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("command %q has no Example in its cobra definition", c.CommandPath())
		}
		out, _, code := inProcess(t, append(strings.Fields(c.CommandPath())[1:], "--help")...)
		// run lays its help out as bpftrace's, with EXAMPLES:.
		if code != 0 || !strings.Contains(out, "Examples:") && !strings.Contains(out, "EXAMPLES:") {
			t.Errorf("%s --help: exit %d, no Examples section:\n%s", c.CommandPath(), code, out)
		}
	}
}
