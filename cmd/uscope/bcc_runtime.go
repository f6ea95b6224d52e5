package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/resolve"
	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/internal/tools"
)

// bcc's language tools (tools/lib/u*.py) under their names, with bcc's
// flags and bcc's layouts, over the programs of uscope's calls, flow, gc,
// objnew, threads and stat (toolStyle's rule: under a bcc name every short
// option means what it means in bcc).

func init() {
	commands = append(commands, newUcallsCommand, newUflowCommand, newUgcCommand, newUobjnewCommand, newUthreadsCommand, newUstatCommand)
}

// bccRuntimeFlags registers the flags bcc's u* tools share: -l and -v.
func bccRuntimeFlags(c *cobra.Command, f *runtimeFlags, verbose *bool, langs string) {
	c.Flags().StringVarP(&f.lang, "language", "l", "", "the process's language: "+langs+" (default: detected)")
	c.Flags().BoolVarP(verbose, "verbose", "v", false, "print the program (in uscope's language) on standard error before tracing")
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	f.fleet.register(c)
	f.registerOutput(c, false)
}

// bccVerbose prints src on standard error (bcc's -v prints its BPF text).
func bccVerbose(cmd *cobra.Command, f *runtimeFlags, on bool, src string) {
	if on && !f.showProgram {
		fmt.Fprint(cmd.ErrOrStderr(), src)
	}
}

// bccPIDInterval checks the arguments PID [interval] of bcc's ucalls and
// uobjnew and returns the interval in milliseconds (0 when absent).
func bccPIDInterval(cmd *cobra.Command, args []string) (int64, error) {
	if pid, err := strconv.Atoi(args[0]); err != nil || pid <= 0 {
		return 0, toolError(cmd, fmt.Errorf("%q is not a process id", args[0]))
	}
	return intervalArg(cmd, args)
}

// bccSummary runs ucalls or uobjnew: bcc's header ("Tracing WHAT in
// process PID (language: LANG)... Ctrl-C to quit.", then note), and the
// tool's two maps, first and (when paired) second, laid out by write each
// interval and at the end; -f json prints them as run -f json's maps.
func bccSummary(cmd *cobra.Command, f *runtimeFlags, name, what, note string, p *runtimes.Process, src string,
	first, second string, paired bool, interval int64, write func(w io.Writer, a, b *output.Map)) error {
	out, err := f.rows(cmd)
	if err != nil {
		return err
	}
	hooks := session.Config{
		Attached: func(int) {
			fmt.Fprintf(out, "Tracing %s in process %d (language: %s)... Ctrl-C to quit.\n", what, p.PID, p.Lang)
			if note != "" {
				fmt.Fprintln(out, note)
			}
		},
		Report: tools.PairReport(first, second, paired, interval > 0, func(a, b *output.Map) { write(out, a, b) }),
	}
	f.outputs(&hooks, interval > 0, first, second)
	return runRuntimeTool(cmd, f, name, p, src, hooks)
}

func newUcallsCommand() *cobra.Command {
	var (
		f                runtimeFlags
		top              int
		latency, millis  bool
		syscalls, verbos bool
	)
	c := &cobra.Command{
		Use:   "ucalls [-l LANG] [-T TOP] [-L] [-m] [-v] PID [interval]",
		Short: "bcc's ucalls: count (and time) the method calls of a high-level language process",
		Long: `Ucalls is bcc's ucalls with bcc's flags and layout: it counts the calls of
each method of process PID (class.method; Python: file.function) and prints
METHOD, # CALLS (and with -L, TIME) at the end, or every interval seconds,
ascending, so the busiest are last; -T keeps the TOP last rows, -m prints
milliseconds. -S (syscalls) and -l none are kernel tracepoints: uscope
traces userspace, and says so. CPython 3.11 fires its entry probe only for
calls it does not inline, so calls are counted at their return there.`,
		Example: `  uscope ucalls -l java 185        # trace Java calls and print statistics on ^C
  uscope ucalls -l python 2020 1   # trace Python calls and print every second
  uscope ucalls -l ruby 1344 -T 10 # trace top 10 Ruby method calls
  uscope ucalls -l python 2020 -mL # trace Python calls including latency in ms`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if syscalls || f.lang == "none" {
				return usageError(errors.New("ucalls -S and -l none trace system calls, which are kernel tracepoints; uscope traces userspace (for a process's libc calls: uscope funccount -p PID 'c:*')"))
			}
			interval, err := bccPIDInterval(cmd, args)
			if err != nil {
				return err
			}
			p, probes, err := callsProcess(cmd, &f, args[0], latency)
			if err != nil {
				return err
			}
			src := runtimes.CallsProgram(p, probes, runtimes.CallsOptions{Latency: latency, IntervalMS: interval})
			bccVerbose(cmd, &f, verbos, src)
			note := ""
			if p.Lang == "java" {
				note = "If you do not see any results, make sure you ran java with option -XX:+ExtendedDTraceProbes"
			}
			w := tools.Calls{Lang: p.Lang, Top: top, Millis: millis, BCC: true}
			return bccSummary(cmd, &f, "ucalls", "calls", note, p, src, "@calls", "@times", latency, interval, w.Write)
		},
	}
	bccRuntimeFlags(c, &f, &verbos, "java, perl, php, python, ruby, tcl")
	c.Flags().IntVarP(&top, "top", "T", 0, "number of most frequent/slow calls to print")
	c.Flags().BoolVarP(&latency, "latency", "L", false, "record method latency from enter to exit")
	c.Flags().BoolVarP(&syscalls, "syscalls", "S", false, "record syscalls (kernel tracepoints: refused, uscope traces userspace)")
	c.Flags().BoolVarP(&millis, "milliseconds", "m", false, "report times in milliseconds (default is microseconds)")
	return c
}

func newUflowCommand() *cobra.Command {
	var (
		f             runtimeFlags
		class, method string
		verbose       bool
	)
	c := &cobra.Command{
		Use:   "uflow [-l LANG] [-M METHOD] [-C CLASS] [-v] PID",
		Short: "bcc's uflow: print method entries and returns, indented by depth",
		Long: `Uflow is bcc's uflow with bcc's flags and layout: every method entry (->)
and return (<-) of process PID, as CPU PID TID TIME(us) METHOD, the method
indented by its thread's call depth; TIME is the seconds since tracing
began, as bcc prints it. -M and -C keep the methods, or the classes, whose
name starts with the given text.`,
		Example: `  uscope uflow -l java 185                # trace Java method calls in process 185
  uscope uflow -l ruby 134                # trace Ruby method calls in process 134
  uscope uflow -M indexOf -l java 185     # trace only 'indexOf'-prefixed methods
  uscope uflow -C '<stdin>' -l python 180 # trace only REPL-defined methods`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFlow(cmd, &f, "uflow", args[0], runtimes.FlowOptions{Class: class, Method: method}, true, verbose)
		},
	}
	bccRuntimeFlags(c, &f, &verbose, "java, perl, php, python, ruby, tcl")
	c.Flags().StringVarP(&method, "method", "M", "", "trace only calls to methods starting with this prefix")
	c.Flags().StringVarP(&class, "class", "C", "", "trace only calls to classes starting with this prefix")
	return c
}

func newUgcCommand() *cobra.Command {
	var (
		f               runtimeFlags
		millis, verbose bool
		minMS           int
		filter          string
	)
	c := &cobra.Command{
		Use:   "ugc [-l LANG] [-v] [-m] [-M MINIMUM] [-F FILTER] PID",
		Short: "bcc's ugc: print the garbage collections of a high-level language process",
		Long: `Ugc is bcc's ugc with bcc's flags and layout: each garbage collection of
process PID when it ends, as START (seconds since tracing began), TIME (us,
or ms with -m) and DESCRIPTION. -M keeps collections of at least MINIMUM
milliseconds, -F those whose description contains FILTER.`,
		Example: `  uscope ugc -l java 185        # trace Java GCs in process 185
  uscope ugc -l ruby 1344 -m    # trace Ruby GCs reporting in ms
  uscope ugc -M 10 -l java 185  # trace only Java GCs longer than 10ms`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if minMS < 0 {
				return toolError(cmd, fmt.Errorf("-M %d: give a number of milliseconds, 0 or more", minMS))
			}
			p, probes, err := runtimeProcess(cmd, &f, args[0], false, []runtimes.Event{runtimes.GCStart, runtimes.GCDone}, nil)
			if err != nil {
				return err
			}
			src := runtimes.GCFieldsProgram(p, probes, int64(minMS)*1e6, tools.GCPrefix)
			bccVerbose(cmd, &f, verbose, src)
			out, err := f.rows(cmd)
			if err != nil {
				return err
			}
			g := tools.GC{W: out, Millis: millis, Filter: filter}
			hooks := session.Config{
				Printf:   g.Printf,
				Report:   func([]*output.Map, bool) {},
				Attached: func(int) { g.Header(p.Lang, p.PID) },
			}
			f.outputs(&hooks, false)
			return runRuntimeTool(cmd, &f, "ugc", p, src, hooks)
		},
	}
	bccRuntimeFlags(c, &f, &verbose, "java, python, ruby, node")
	c.Flags().BoolVarP(&millis, "milliseconds", "m", false, "report times in milliseconds (default is microseconds)")
	c.Flags().IntVarP(&minMS, "minimum", "M", 0, "display only GCs longer than this many milliseconds")
	c.Flags().StringVarP(&filter, "filter", "F", "", "display only GCs whose description contains this text")
	return c
}

func newUobjnewCommand() *cobra.Command {
	var (
		f                  runtimeFlags
		topCount, topBytes int
		verbose            bool
	)
	c := &cobra.Command{
		Use:   "uobjnew [-l LANG] [-C TOP_COUNT] [-S TOP_SIZE] [-v] PID [interval]",
		Short: "bcc's uobjnew: summarize the object allocations of a process",
		Long: `Uobjnew is bcc's uobjnew with bcc's flags and layout: the objects process PID
allocates, by type (C: malloc's block size), with their number and bytes,
at the end or every interval seconds, ascending by bytes (-C: by count);
-C and -S keep the TOP last rows.`,
		Example: `  uscope uobjnew -l java 145         # summarize Java allocations in process 145
  uscope uobjnew -l c 2020 1         # grab malloc() sizes and print every second
  uscope uobjnew -l ruby 6712 -C 10  # top 10 Ruby types by number of allocations
  uscope uobjnew -l ruby 6712 -S 10  # top 10 Ruby types by total size`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			interval, err := bccPIDInterval(cmd, args)
			if err != nil {
				return err
			}
			p, probes, err := runtimeProcess(cmd, &f, args[0], true, []runtimes.Event{runtimes.ObjNew}, nil)
			if err != nil {
				return err
			}
			src := runtimes.ObjNewProgram(p, probes, interval)
			bccVerbose(cmd, &f, verbose, src)
			w := tools.ObjNew{Lang: p.Lang, TopCount: topCount, TopBytes: topBytes, BCC: true}
			return bccSummary(cmd, &f, "uobjnew", "allocations", "", p, src, "@objs", "@bytes", runtimes.ObjNewBytes(p, probes), interval, w.Write)
		},
	}
	bccRuntimeFlags(c, &f, &verbose, "c, java, ruby, tcl")
	c.Flags().IntVarP(&topCount, "top-count", "C", 0, "number of most frequently allocated types to print")
	c.Flags().IntVarP(&topBytes, "top-size", "S", 0, "number of largest types by allocated bytes to print")
	return c
}

func newUthreadsCommand() *cobra.Command {
	var (
		f       runtimeFlags
		verbose bool
	)
	c := &cobra.Command{
		Use:   "uthreads [-l LANG] [-v] PID",
		Short: "bcc's uthreads: print the thread starts (and JVM thread stops) of a process",
		Long: `Uthreads is bcc's uthreads with bcc's flags and layout: TIME (seconds since
tracing began), ID, TYPE, DESCRIPTION for each thread process PID starts:
every pthread, with its start routine as "name [module]" (-l none or c: only
those), and for the JVM each Java thread's start and stop, with its runtime
and native ids (R=ID/N=TID) and name. A pthread is seen in the new thread
(its ID is the thread's), named after the routine the process last passed
to pthread_create.`,
		Example: `  uscope uthreads -l java 185    # trace Java threads in process 185
  uscope uthreads -l none 12245  # trace only pthreads in process 12245`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shown := f.lang
			if f.lang == "none" {
				f.lang = "c"
			}
			p, probes, err := runtimeProcess(cmd, &f, args[0], true, []runtimes.Event{runtimes.ThreadStart}, []runtimes.Event{runtimes.ThreadStop})
			if err != nil {
				return err
			}
			src := runtimes.ThreadsFieldsProgram(p, probes)
			bccVerbose(cmd, &f, verbose, src)
			r := resolve.New(resolve.Options{PID: p.PID})
			defer r.Close()
			out, err := f.rows(cmd)
			if err != nil {
				return err
			}
			th := tools.Threads{W: out, Symbolize: tools.ModuleSymbolizer(r, p.PID)}
			hooks := session.Config{
				Printf: th.Printf,
				Report: func([]*output.Map, bool) {},
				Attached: func(int) {
					if shown == "" {
						shown = p.Lang
					}
					th.Header(shown, p.PID)
				},
			}
			f.outputs(&hooks, false)
			return runRuntimeTool(cmd, &f, "uthreads", p, src, hooks)
		},
	}
	bccRuntimeFlags(c, &f, &verbose, "c, java, none")
	return c
}

// ustatSorts are ustat's -S fields, in its columns' order.
var ustatSorts = []string{"method", "gc", "objnew", "cload", "excp", "thread"}

func newUstatCommand() *cobra.Command {
	var (
		f              runtimeFlags
		noClear, debug bool
		sortField      string
		rows           int
	)
	c := &cobra.Command{
		Use:   "ustat [-l LANG] [-C] [-S FIELD] [-r MAXROWS] [-d] [interval [count]]",
		Short: "bcc's ustat: activity of every high-level language process, top-like",
		Long: `Ustat is bcc's ustat with bcc's flags and layout: every interval (default 1)
seconds, count times, the time and /proc/loadavg, then per process of the
languages (-l, default all) the method calls, garbage collections, object
allocations, class loads, exceptions and thread starts per second. The
screen is cleared before each table on a terminal unless -C; -S sorts by a
field (descending; default by PID), -r prints at most MAXROWS processes,
-d prints the program on standard error.`,
		Example: `  uscope ustat              # stats for all languages, 1 second refresh
  uscope ustat -C           # don't clear the screen
  uscope ustat -l java      # Java processes only
  uscope ustat 5            # 5 second summaries
  uscope ustat 5 10         # 5 second summaries, 10 times only`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			interval, count := 1, 0
			for i, a := range args {
				n, err := strconv.Atoi(a)
				if err != nil || n <= 0 {
					return toolError(cmd, fmt.Errorf("%s %q must be a positive whole number", []string{"interval", "count"}[i], a))
				}
				if i == 0 {
					interval = n
				} else {
					count = n
				}
			}
			sortIdx := -1
			if sortField != "" {
				for i, s := range ustatSorts {
					if strings.EqualFold(s, sortField) {
						sortIdx = i
					}
				}
				if sortIdx < 0 {
					return toolError(cmd, fmt.Errorf("-S %q: sort by one of %s", sortField, strings.Join(ustatSorts, ", ")))
				}
			}
			var langs []string
			if f.lang != "" {
				langs = []string{f.lang}
			}
			st, err := tools.BuildStat(langs, float64(interval), count)
			if err != nil {
				return usageError(err)
			}
			bccVerbose(cmd, &f, debug, st.Src)
			out, err := f.rows(cmd)
			if err != nil {
				return err
			}
			file, isFile := out.(*os.File)
			w := tools.Stat{W: out, Columns: st.Cols, Interval: float64(interval), SortIdx: sortIdx, Rows: rows, BCC: true, Cmdlines: st.Cmdlines,
				Clear: !noClear && isFile && term.IsTerminal(int(file.Fd()))}
			hooks := session.Config{
				Attached: func(int) {
					fmt.Fprintf(out, "Tracing... Output every %d secs. Hit Ctrl-C to end\n", interval)
				},
				Report: st.Report(w.Write),
			}
			var maps []string
			for _, m := range st.Maps {
				maps = append(maps, "@"+m)
			}
			f.outputs(&hooks, true, maps...)
			err = runRuntimeTool(cmd, &f, "ustat", &runtimes.Process{Lang: f.lang}, st.Src, hooks)
			if !f.showProgram && !f.json {
				fmt.Fprintln(out, "Detaching...")
			}
			return err
		},
	}
	c.Flags().StringVarP(&f.lang, "language", "l", "", "language to trace: java, node, perl, php, python, ruby, tcl (default: all languages)")
	c.Flags().BoolVarP(&noClear, "noclear", "C", false, "don't clear the screen")
	c.Flags().StringVarP(&sortField, "sort", "S", "", "sort by this `FIELD` (descending order): "+strings.Join(ustatSorts, ", "))
	c.Flags().IntVarP(&rows, "maxrows", "r", 20, "maximum rows to print, default 20")
	c.Flags().BoolVarP(&debug, "debug", "d", false, "print the program (in uscope's language) on standard error")
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	f.fleet.register(c)
	f.registerOutput(c, false)
	return c
}
