package main

import (
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newStackCommand) }

func newStackCommand() *cobra.Command {
	var (
		f              toolFlags
		folded, offset bool
	)
	c := &cobra.Command{
		Use:   "stack [-p PID] [-d DURATION] [-f] PATTERN",
		Short: "Count the user stacks that reach functions (bcc's stackcount)",
		Long: `Stack counts, in the kernel, the distinct user stacks from which the
functions (or USDT probes) PATTERN matches are reached, and prints them as bcc
stackcount does, innermost frame first, least frequent first: each stack,
the process ("comm [pid]", unless -p or -c names it) and the count. -f
prints folded stacks instead, one line each, "comm;outer;...;inner count",
the input of flame graph tools (flamegraph.pl, inferno, speedscope).

PATTERN is that of 'uscope count'. Stacks are walked with frame pointers:
compile the traced program with -fno-omit-frame-pointer (and libraries, or
their frames stop the walk; most distributions' libc has none, so a stack
taken inside libc may end at its first frame). Frames are named when printed,
from the objects the process maps; uscope keeps the process's objects known
while it runs (-p, -c), so that stacks of a process that has exited are named
too. The tool is a program in uscope's language; --program prints it.`,
		Example: `  uscope stack -p 1234 c:malloc                     # who calls malloc in process 1234
  uscope stack -d 10 -f /usr/bin/redis-server:lookupKey > out.folded
  uscope stack -c ./app ./app:slow_path             # run ./app and count its paths to slow_path
  uscope stack 'u:/usr/bin/python3.11:gc__start'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd, "folded")
			if err != nil {
				return err
			}
			tool, err := tools.Stack(tools.StackOptions{
				Options: o, Pattern: args[0],
				Folded: folded || f.format == "folded", Offset: offset, OneProcess: f.oneProcess(),
			})
			if err != nil {
				return toolError(cmd, err)
			}
			return runTool(cmd, "stack", &f, tool)
		},
	}
	f.register(c, toolStyle{timestamp: true, noFormatShort: true})
	c.Flags().BoolVarP(&folded, "folded", "f", false, "print folded stacks (comm;outer;...;inner count) for flame graphs")
	c.Flags().BoolVarP(&offset, "offset", "s", false, "print frames with their offset (sym+0xoff)")
	return c
}
