package main

import (
	"fmt"
	"slices"

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
		Use:   "stack [-p PID] [-d DURATION] [-f [folded|pprof|svg]] [-o FILE] PATTERN",
		Short: "Count the user stacks that reach functions (bcc's stackcount)",
		Long: `Stack counts, in the kernel, the distinct user stacks from which the
functions (or USDT probes) PATTERN matches are reached, and prints them as bcc
stackcount does, innermost frame first, least frequent first: each stack,
the process ("comm [pid]", unless -p or -c names it) and the count. -f
prints folded stacks instead, one line each, "comm;outer;...;inner count",
the input of flame graph tools (flamegraph.pl, inferno, speedscope);
-f pprof -o FILE writes a pprof profile (calls/count: go tool pprof,
Pyroscope) and -f svg -o FILE a flame graph, as 'uscope profile' does.

PATTERN is that of 'uscope count'. Stacks of the traced process (-p, -c) are
walked in the kernel with the call frame information of its objects
(.eh_frame), so code built without frame pointers (most distributions'
libraries and programs) gives whole stacks; Go code and code without call
frame information are walked by frame pointer. Frames are named when printed,
from the objects the process maps; uscope keeps the process's objects known
while it runs (-p, -c), so that stacks of a process that has exited are named
too. The tool is a program in uscope's language; --program prints it.`,
		Example: `  uscope stack -p 1234 c:malloc                     # who calls malloc in process 1234
  uscope stack -d 10 -f /usr/bin/redis-server:lookupKey > out.folded
  uscope stack -c ./app ./app:slow_path             # run ./app and count its paths to slow_path
  uscope stack -f svg -o flame.svg -c ./app ./app:slow_path
  uscope stack 'u:/usr/bin/python3.11:gc__start'`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// -f is stackcount's folded switch; -f FORMAT names a format
			// (the word after -f is then the first of two arguments).
			if len(args) == 2 {
				if !folded || !slices.Contains([]string{"folded", "pprof", "svg"}, args[0]) {
					return usageError(fmt.Errorf("stack takes one PATTERN (got %q and %q); a format goes after -f: -f folded, pprof or svg", args[0], args[1]))
				}
				f.format, args = args[0], args[1:]
			}
			o, err := f.options(cmd, "folded", "pprof", "svg")
			if err != nil {
				return err
			}
			file := slices.Contains(tools.StackFormats, f.format)
			so := tools.StackOptions{
				Options: o, Pattern: args[0],
				Folded: folded || f.format == "folded" || file, Offset: offset, OneProcess: f.oneProcess(),
			}
			if file {
				so.Format, so.Path = f.format, f.output
			}
			tool, err := tools.Stack(so)
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
