package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newArgdistCommand) }

func newArgdistCommand() *cobra.Command {
	var (
		f             toolFlags
		counts, hists []string
		number, top   int
		tid           int
		cumulative    bool
		verbose       bool
		includes      []string
	)
	c := &cobra.Command{
		Use:   "argdist [-p PID] [-t TID] [-c] [-i SEC] [-d DURATION] [-n COUNT] [-T TOP] [-z SIZE] [--cmd CMD] (-C SPEC | -H SPEC)...",
		Short: "Count or histogram function arguments and return values (bcc's argdist)",
		Long: `Argdist collects the values of expressions over a function's arguments,
return value and latency, in the kernel, and prints them every -i seconds
(default 1) as bcc argdist does: -C counts each distinct value (COUNT EVENT),
-H makes a log2 histogram. Each SPEC is bcc's:

  {p,r,u}:[LIB]:FUNC(SIGNATURE)[:TYPE[,TYPE...]:EXPR[,EXPR...][:FILTER]][#LABEL]

  p, r, u    function entry, function return, USDT probe
  LIB        a library (c, ssl), a program on PATH or a path; empty with -p
             for the process's executable
  SIGNATURE  the parameters as in C, so that EXPR and FILTER can name them
  TYPE       how to keep each value: u64, int, size_t, ... or char* (a string)
  EXPR       C expressions; in r: specs also $retval, $latency (nanoseconds
             since the entry) and $entry(PARAM) (a parameter's value at the
             entry); $PID is the process id; USDT arguments are arg1..argN
  FILTER     only values for which it is true are collected
  LABEL      the heading printed instead of the spec

Without TYPE:EXPR, a p: spec counts calls and an r: spec its return values.
argdist is a bcc name, so its short options are bcc's: -c keeps the counts
across intervals (cumulative), -T is the top N; --cmd CMD runs a command.
The tool is a program in uscope's language; --program (or -v, which also
runs it) prints it.`,
		Example: `  uscope argdist -p 1234 -C 'p:c:malloc(size_t size):size_t:size'
  uscope argdist -H 'p:c:malloc(size_t size):size_t:size#allocation sizes'
  uscope argdist -C 'p:c:write(int fd, char *buf, size_t n):int:fd' -T 5
  uscope argdist -H 'r:c:read(int fd, void *buf, size_t count):size_t:$entry(count):$latency > 1000000'
  uscope argdist -C 'r:c:malloc():u64:$retval' -n 3
  uscope argdist -p 1234 -c -C 'p:c:malloc(size_t size):size_t:size'
  uscope argdist --cmd ./app -C 'p:c:malloc(size_t size):size_t:size:size > 100'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.interval.set || f.interval.d == 0 {
				f.interval.d = time.Second // argdist prints every second
			}
			if len(includes) > 0 {
				return toolError(cmd, fmt.Errorf("-I %s: uscope reads types from the traced program's DWARF, not from C headers; drop -I", includes[0]))
			}
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			o.Cumulative = cumulative
			if number > 0 {
				o.Ticks = number
			}
			tool, err := tools.Argdist(tools.ArgdistOptions{
				Options: o, Counts: counts, Hists: hists, Top: top, StrSize: f.sf.strSize,
			})
			if err != nil {
				return toolError(cmd, err)
			}
			tools.TraceFilter{TID: tid, UID: -1}.Apply(tool.Program)
			if verbose && !f.showProgram {
				fmt.Fprint(cmd.ErrOrStderr(), lang.Format(tool.Program))
			}
			return runTool(cmd, "argdist", &f, tool)
		},
	}
	f.register(c, toolStyle{bcc: true, durationShort: "d"}) // argdist's -T is --top; it prints the time anyway
	c.Flags().StringArrayVarP(&counts, "count", "C", nil, "count each distinct value of `SPEC`")
	c.Flags().StringArrayVarP(&hists, "histogram", "H", nil, "log2 histogram of the value of `SPEC`")
	c.Flags().IntVarP(&number, "number", "n", 0, "stop after `COUNT` outputs")
	c.Flags().IntVarP(&top, "top", "T", 0, "print only the `TOP` most frequent values of each -C spec")
	c.Flags().BoolVarP(&cumulative, "cumulative", "c", false, "keep counting across intervals instead of starting again")
	c.Flags().IntVarP(&tid, "tid", "t", 0, "trace only thread `TID`")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the program in uscope's language on standard error, then run it")
	c.Flags().StringArrayVarP(&includes, "include", "I", nil, "bcc's C header to include (refused: uscope reads types from DWARF)")
	c.Flags().IntVarP(&f.sf.strSize, "string-size", "z", 80, "bytes read for char* values")
	return c
}
