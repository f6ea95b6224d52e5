package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { commands = append(commands, newManCommand) }

func newManCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "man [DIR]",
		Short: "Write a man page for every uscope command into DIR",
		Long: `Man writes the manual pages of uscope and each of its commands, in section
1, into DIR (default: the current directory), creating it if needed. The
pages are generated from the same definitions as --help. SOURCE_DATE_EPOCH,
when set, fixes the date in the pages for reproducible builds.`,
		Example: `  uscope man /usr/local/share/man/man1 && man uscope-trace
  uscope man ./man && man -l ./man/uscope.1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if err := writeManPages(cmd.Root(), dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote man pages to %s\n", dir)
			return nil
		},
	}
}

// writeManPages writes one page per available command under root into dir.
func writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	header := &doc.GenManHeader{
		Section: "1",
		Source:  "uscope " + currentVersion().Version,
		Manual:  "uscope manual",
	}
	disableAutoGenTag(root)
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}

// disableAutoGenTag drops cobra's "Auto generated" history section, which
// repeats the date, from the pages of c and its subcommands.
func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}
