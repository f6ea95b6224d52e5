package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/compile"
)

func init() { commands = append(commands, newLanguageCommand) }

// newLanguageCommand prints the reference of the language's builtins, from
// the compiler's builtins table (so --help, the man page and completion
// always list what the compiler accepts).
func newLanguageCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "language [BUILTIN...]",
		Short: "The builtins of uscope's language (bpftrace's), with their types",
		Long: `Language prints the builtins of the language uscope run takes, which is
bpftrace's: the identifiers a probe can read, the functions it can call and
the aggregations a map can hold, each with its type, where it is valid and
one line of help. Names marked [uscope] are what uscope adds to bpftrace.
With names, only those.

` + languageReference(nil),
		Example: `  uscope language
  uscope language str printf hist`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, b := range compile.Builtins() {
				names = append(names, b.Name+"\t"+b.Help)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				for _, a := range args {
					if !isBuiltin(a) {
						return usageError(fmt.Errorf("%q is not a builtin; 'uscope language' lists them", a))
					}
				}
			}
			_, err := io.WriteString(cmd.OutOrStdout(), languageReference(args))
			return err
		},
	}
}

func isBuiltin(name string) bool {
	for _, b := range compile.Builtins() {
		if b.Name == strings.TrimSuffix(name, "()") {
			return true
		}
	}
	return false
}

// languageReference renders the builtins table, or the rows named.
func languageReference(only []string) string {
	want := map[string]bool{}
	for _, n := range only {
		want[strings.TrimSuffix(n, "()")] = true
	}
	var b strings.Builder
	section := ""
	for _, bi := range compile.Builtins() {
		if len(want) > 0 && !want[bi.Name] {
			continue
		}
		s := "Identifiers"
		switch {
		case bi.Call && bi.Result == "aggregation":
			s = "Aggregations (assigned to a map)"
		case bi.Call:
			s = "Functions"
		}
		if s != section {
			if section != "" {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s:\n", s)
			section = s
		}
		name := bi.Name
		if bi.Call {
			name = bi.Usage
		}
		ext := ""
		if bi.Extension {
			ext = " [uscope]"
		}
		fmt.Fprintf(&b, "  %-34s %s%s\n  %-34s %s; in %s\n", name, bi.Help, ext, "", bi.Result, bi.Where)
	}
	return b.String()
}
