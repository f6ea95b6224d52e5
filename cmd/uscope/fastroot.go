package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// Start-up (issue 22): building every subcommand with its flags costs
// ~9 % of a `run -e 'BEGIN { exit(); }'` (pflag registers and renders
// hundreds of defaults). A command line naming one of these commands
// first gets a root with only that command; everything else (help,
// completion, man, suggestions for a mistyped name, flags before the
// command) builds the whole tree. TestFastRootSameHelp checks that each
// entry names its command and that its help is the same either way.
var fastCommands = map[string]func() *cobra.Command{
	"run":     newRunCommand,
	"trace":   newTraceCommand,
	"count":   newCountCommand,
	"latency": newLatencyCommand,
	"stack":   newStackCommand,
	"profile": newProfileCommand,
	"flow":    newFlowCommand,
	"stat":    newStatCommand,
	"tls":     newTLSCommand,
	"list":    newListCommand,
	"version": newVersionCommand,
}

// rootFor returns the root command for args: with only the named command
// when args start with one of fastCommands, else with all of them.
func rootFor(args []string) *cobra.Command {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if mk, ok := fastCommands[args[0]]; ok {
			return newRootCommandWith([]func() *cobra.Command{mk})
		}
	}
	return newRootCommand()
}
