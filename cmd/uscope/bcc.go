package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/tools"
)

// bcc's funccount, funclatency and stackcount under their names, with
// bcc's flags (toolStyle says the rule), over the tools of count, latency
// and stack.

func init() {
	commands = append(commands, newFunccountCommand, newFunclatencyCommand, newStackcountCommand, newTplistCommand)
}

// cpuFlag is bcc's -c CPU: a CPU number, given or not.
type cpuFlag struct {
	n   int
	set bool
}

func (c *cpuFlag) String() string {
	if !c.set {
		return ""
	}
	return fmt.Sprint(c.n)
}

func (c *cpuFlag) Set(v string) error {
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 0 {
		return fmt.Errorf("%q is not a CPU number", v)
	}
	c.n, c.set = n, true
	return nil
}

func (c *cpuFlag) Type() string { return "CPU" }

func (c *cpuFlag) ptr() *int {
	if !c.set {
		return nil
	}
	return &c.n
}

// debugProgram prints the tool's program on standard error (bcc's -D and
// -v print the BPF program they generate; uscope's is in its language).
func debugProgram(cmd *cobra.Command, f *toolFlags, on bool, prog *lang.Program) {
	if on && !f.showProgram {
		fmt.Fprint(cmd.ErrOrStderr(), lang.Format(prog))
	}
}

func newFunccountCommand() *cobra.Command {
	var (
		f            toolFlags
		cpu          cpuFlag
		regex, debug bool
	)
	c := &cobra.Command{
		Use:   "funccount [-p PID] [-i SEC] [-d DURATION] [-T] [-r] [-D] [-c CPU] [--cmd CMD] PATTERN",
		Short: "bcc's funccount: count calls of functions or USDT probes",
		Long: `Funccount is bcc's funccount with bcc's flags: it counts the calls of every
function (or USDT probe) PATTERN matches and prints the FUNC COUNT table,
at the end or every -i seconds. PATTERN is as in 'uscope count'; with -r,
the function part is a regular expression matched from the start of each
name (c:(write|read)$). -c CPU counts calls on that CPU only; --cmd CMD
runs a command and traces it. -D prints the program (in uscope's language)
on standard error.`,
		Example: `  uscope funccount 'c:str*'
  uscope funccount -p 1442 /home/ubuntu/contentions:*
  uscope funccount -r 'c:(write|read)$'
  uscope funccount -p 1442 u:pthread:*mutex*
  uscope funccount -Ti 5 -d 10 c:malloc`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			o.CPU, o.Regexp = cpu.ptr(), regex
			tool, err := tools.Count(tools.CountOptions{Options: o, Pattern: args[0]})
			if err != nil {
				return toolError(cmd, err)
			}
			debugProgram(cmd, &f, debug, tool.Program)
			return runTool(cmd, "count", &f, tool)
		},
	}
	f.register(c, toolStyle{bcc: true, timestamp: true, durationShort: "d", top: true})
	c.Flags().VarP(&cpu, "cpu", "c", "count only calls on `CPU`")
	c.Flags().BoolVarP(&regex, "regexp", "r", false, "the function part of PATTERN is a regular expression")
	c.Flags().BoolVarP(&debug, "debug", "D", false, "print the program on standard error, then run it")
	return c
}

func newFunclatencyCommand() *cobra.Command {
	var (
		f                                toolFlags
		micro, milli, perFunction, regex bool
		verbose                          bool
		level                            int
	)
	c := &cobra.Command{
		Use:   "funclatency [-p PID] [-i SEC] [-d DURATION] [-T] [-u|-m] [-F] [-r] [-l LEVEL] [-v] [--cmd CMD] PATTERN",
		Short: "bcc's funclatency: time function calls as a histogram",
		Long: `Funclatency is bcc's funclatency with bcc's flags: the log2 histogram of
the time from each entry of the functions PATTERN matches to its return, in
nanoseconds (-u microseconds, -m milliseconds), then the average, total and
count; -F one histogram per function. Nested and recursive calls are timed
at every level; -l LEVEL times only the outermost LEVEL levels. -r makes
the function part a regular expression; --cmd CMD runs a command; -v prints
the program on standard error.`,
		Example: `  uscope funclatency c:read
  uscope funclatency pthread:pthread_mutex_lock -p $(pidof contentions)
  uscope funclatency /home/user/primes:* -p $(pidof primes) -F
  uscope funclatency -mTi 5 -d 60 c:nanosleep`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			unit, err := latencyUnit(micro, milli)
			if err != nil {
				return toolError(cmd, err)
			}
			if level < 0 {
				return toolError(cmd, fmt.Errorf("-l %d: give a positive number of levels", level))
			}
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			o.Regexp = regex
			key, funcs := "", 0
			if !regex {
				key, funcs = tools.GoKey(args[0], f.sf.pid)
			}
			tool, err := tools.Latency(tools.LatencyOptions{
				Options: o, Pattern: args[0], Unit: unit, PerFunction: perFunction,
				Key: key, Functions: funcs, Level: level,
			})
			if err != nil {
				return toolError(cmd, err)
			}
			debugProgram(cmd, &f, verbose, tool.Program)
			return runTool(cmd, "latency", &f, tool)
		},
	}
	f.register(c, toolStyle{bcc: true, timestamp: true, durationShort: "d"})
	c.Flags().BoolVarP(&micro, "microseconds", "u", false, "histogram in microseconds")
	c.Flags().BoolVarP(&milli, "milliseconds", "m", false, "histogram in milliseconds")
	c.Flags().BoolVarP(&perFunction, "function", "F", false, "one histogram per function (and process)")
	c.Flags().BoolVarP(&regex, "regexp", "r", false, "the function part of PATTERN is a regular expression")
	c.Flags().IntVarP(&level, "level", "l", 0, "time only the outermost `LEVEL` levels of nested or recursive calls")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the program on standard error, then run it")
	return c
}

func newStackcountCommand() *cobra.Command {
	var (
		f                                            toolFlags
		cpu                                          cpuFlag
		regex, offset, perPID, kernel, user, verbose bool
		delimiter, folded, debug                     bool
	)
	c := &cobra.Command{
		Use:   "stackcount [-p PID] [-c CPU] [-i SEC] [-D DURATION] [-T] [-r] [-s] [-P] [-U] [-v] [-d] [-f] [--cmd CMD] PATTERN",
		Short: "bcc's stackcount: count the user stacks that reach functions",
		Long: `Stackcount is bcc's stackcount with bcc's flags: the distinct user stacks
from which the functions (or USDT probes) PATTERN matches are reached, each
printed innermost frame first with its count, least frequent first. Without
-P the stacks of all processes add up; -P keeps them apart and names each
process ("comm [pid]") unless -p gives it. -d prints bcc's "--" delimiter
between the kernel stack (a uprobe has none) and the user stack, -s frames
with offsets, -v with addresses, -f folded lines for flame graphs. -D is the
duration here, as in bcc; --cmd CMD runs a command. -K (kernel stacks) is
refused: uscope traces userspace.`,
		Example: `  uscope stackcount -p 4902 c:malloc
  uscope stackcount -P -p $(pidof parprimes) u:pthread:pthread_create
  uscope stackcount -P -d -p 1234 c:malloc
  uscope stackcount -P -Tdi 1 -D 5 c:malloc`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kernel {
				return toolError(cmd, errors.New("-K: kernel stacks are not traced; uscope traces userspace (the user stacks are what it prints, as with -U)"))
			}
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			o.CPU, o.Regexp = cpu.ptr(), regex
			tool, err := tools.Stack(tools.StackOptions{
				Options: o, Pattern: args[0], Folded: folded, Offset: offset,
				// As bcc: the stacks of all processes add up without -P,
				// and -p (not --cmd, which follows descendants) names no
				// process.
				OneProcess: f.sf.pid != 0, Merge: !perPID && f.sf.pid == 0,
				Delimiter: delimiter && !user, Addresses: verbose,
			})
			if err != nil {
				return toolError(cmd, err)
			}
			debugProgram(cmd, &f, debug, tool.Program)
			return runTool(cmd, "stack", &f, tool)
		},
	}
	f.register(c, toolStyle{bcc: true, timestamp: true, durationShort: "D", noFormatShort: true})
	c.Flags().VarP(&cpu, "cpu", "c", "count only stacks on `CPU`")
	c.Flags().BoolVarP(&regex, "regexp", "r", false, "the function part of PATTERN is a regular expression")
	c.Flags().BoolVarP(&offset, "offset", "s", false, "print frames with their offset (sym+0xoff)")
	c.Flags().BoolVarP(&perPID, "perpid", "P", false, "count stacks per process")
	c.Flags().BoolVarP(&kernel, "kernel-stacks-only", "K", false, "kernel stacks only (refused: uscope traces userspace)")
	c.Flags().BoolVarP(&user, "user-stacks-only", "U", false, "user stacks only (what uscope prints anyway)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each frame's address before it")
	c.Flags().BoolVarP(&delimiter, "delimited", "d", false, "print a \"--\" delimiter between the kernel and the user stack")
	c.Flags().BoolVarP(&folded, "folded", "f", false, "print folded stacks (comm;outer;...;inner count) for flame graphs")
	c.Flags().BoolVar(&debug, "debug", false, "print the program on standard error, then run it")
	return c
}

func newTplistCommand() *cobra.Command {
	var (
		pid             int
		lib             string
		verbose         int
		format, outFile string
	)
	c := &cobra.Command{
		Use:   "tplist [-p PID] [-l LIB] [-v] [FILTER]",
		Short: "bcc's tplist: list the USDT probes of a library, program or process",
		Long: `Tplist is bcc's tplist for userspace: the USDT probes of the library or
program -l names (a path, a program on PATH or a short name: c, pthread), or
of every object process -p maps, one "PATH provider:name" line each. FILTER
is a shell pattern over provider:name ('*loop_iter'). -v adds the semaphore
and the numbers of locations and arguments; -vv every location and how each
argument is fetched. Kernel tracepoints (tplist without -l or -p) are not
listed: uscope traces userspace. 'uscope list' lists every probe, uprobes
too, in names that paste into programs.`,
		Example: `  uscope tplist -l basic_usdt
  uscope tplist '*loop_iter' -l basic_usdt -v
  uscope tplist -l /usr/bin/python3 -vv 'python:function__*'
  uscope tplist -p 1234`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := toolFlags{format: format, output: outFile}
			f.sf.pid = pid
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			if f.file != nil {
				defer f.file.Close()
			}
			to := tools.TplistOptions{Options: o, Lib: lib, Verbose: verbose}
			if len(args) == 1 {
				to.Filter = args[0]
			}
			if err := tools.Tplist(to); err != nil {
				return toolError(cmd, err)
			}
			return nil
		},
	}
	pidFlag(c, &pid, "list the probes of every object process `PID` maps")
	c.Flags().StringVarP(&lib, "lib", "l", "", "list the probes of `LIB`: a path, a program on PATH or a library short name")
	c.Flags().CountVarP(&verbose, "verbose", "v", "-v: semaphore and counts; -vv: every location and argument")
	c.Flags().StringVarP(&format, "format", "f", "text", "output `FORMAT`: text or json (one usdt_probe object a line)")
	c.Flags().StringVarP(&outFile, "output", "o", "", "write the list to `FILE`")
	return c
}
