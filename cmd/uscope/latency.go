package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newLatencyCommand) }

func newLatencyCommand() *cobra.Command {
	var (
		f            toolFlags
		micro, milli bool
		perFunction  bool
	)
	c := &cobra.Command{
		Use:   "latency [-p PID] [-i SEC] [-d DURATION] [-u|-m] [-F] PATTERN",
		Short: "Time function calls as a histogram (bcc's funclatency)",
		Long: `Latency times every call of the functions PATTERN matches, from entry to
return, and prints bcc funclatency's log2 histogram of the times in
nanoseconds (-u microseconds, -m milliseconds), then the average, total and
count: at the end, or every -i seconds. -F prints one histogram per function
and process.

PATTERN is that of 'uscope count' (functions only). The times are measured
in the kernel and kept per thread and call depth, so nested and recursive
calls each pair with their own return; calls already running when the probes
attach are not counted. Go functions are keyed per goroutine instead of per
thread (goroutines move between threads while a call runs), and their
returns are probed at their RET instructions, never with a uretprobe. The tool is a program in uscope's language;
--program prints it.`,
		Example: `  uscope latency c:read                    # time read() in libc, system-wide
  uscope latency -u -p 1234 'c:*printf'    # the printf family in process 1234, in microseconds
  uscope latency -m -i 5 -d 60 /usr/bin/redis-server:processCommand
  uscope latency -F '/usr/bin/redis-server:*Command'
  uscope latency -c ./app ./app:work       # run ./app and time work()`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			unit, err := latencyUnit(micro, milli)
			if err != nil {
				return toolError(cmd, err)
			}
			// Go functions pair calls by goroutine, not by thread.
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			key, funcs := tools.GoKey(args[0], f.sf.pid)
			tool, err := tools.Latency(tools.LatencyOptions{
				Options: o, Pattern: args[0], Unit: unit, PerFunction: perFunction,
				Key: key, Functions: funcs,
			})
			if err != nil {
				return toolError(cmd, err)
			}
			return runTool(cmd, "latency", &f, tool)
		},
	}
	f.register(c, toolStyle{timestamp: true})
	c.Flags().BoolVarP(&micro, "microseconds", "u", false, "histogram in microseconds")
	c.Flags().BoolVarP(&milli, "milliseconds", "m", false, "histogram in milliseconds")
	c.Flags().BoolVarP(&perFunction, "function", "F", false, "one histogram per function (and process)")
	return c
}

// latencyUnit is the unit -u and -m select, as bcc names it.
func latencyUnit(micro, milli bool) (string, error) {
	switch {
	case micro && milli:
		return "", errors.New("-u and -m exclude each other")
	case micro:
		return "usecs", nil
	case milli:
		return "msecs", nil
	}
	return "nsecs", nil
}
