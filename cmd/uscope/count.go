package main

import (
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newCountCommand) }

func newCountCommand() *cobra.Command {
	var f toolFlags
	c := &cobra.Command{
		Use:   "count [-p PID] [-i SEC] [-d DURATION] PATTERN",
		Short: "Count calls of functions or USDT probes (bcc's funccount)",
		Long: `Count counts the calls of every function (or USDT probe) that PATTERN
matches, in the kernel, and prints bcc funccount's FUNC COUNT table, sorted by
count: at the end, or every -i seconds (the counts start again each time).

PATTERN is funccount's:

  [p:]LIB:FUNC        functions of a library (c, ssl, libssl.so.3), a program
                      on PATH or the file at a path (/usr/bin/redis-server:*)
  u:LIB:[PROV:]PROBE  USDT probes
  FUNC                functions of the process given with -p

FUNC and PROBE may hold '*' wildcards. All the functions of a pattern are
attached as one uprobe_multi link, so that thousands attach and detach in
well under a second. The tool is a program in uscope's language; --program
prints it.`,
		Example: `  uscope count 'c:str*'                       # string functions of libc, system-wide
  uscope count -p 1234 -i 1 'c:malloc'         # malloc calls of process 1234, every second
  uscope count -d 10 '/usr/bin/redis-server:*' # every function of redis-server, for 10 s
  uscope count 'u:/usr/bin/python3.11:function__*'
  uscope count -c ./app './app:handle_*'       # run ./app and count its handlers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			tool, err := tools.Count(tools.CountOptions{Options: o, Pattern: args[0]})
			if err != nil {
				return toolError(cmd, err)
			}
			return runTool(cmd, "count", &f, tool)
		},
	}
	f.register(c, toolStyle{timestamp: true, top: true})
	return c
}
