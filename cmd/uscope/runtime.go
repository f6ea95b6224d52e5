package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/internal/tools"
)

// The language-runtime tools, after bcc's ugc and ucalls: programs built
// from internal/runtimes' catalog for the probes of the traced process.

func init() {
	commands = append(commands, newGCCommand, newCallsCommand, newThreadsCommand, newObjNewCommand)
}

// runtimeFlags are the flags of every language tool.
type runtimeFlags struct {
	lang        string
	showProgram bool
	fleet       fleetFlags // --prometheus, --max-series, --cgroup, --container
	// format is -f/--format, output -o (calls, stat); top is --top N.
	format, output string
	top            int
	file           *os.File // -o's file while the tool runs
	// dest is where the tool writes (set by out), json whether -f json.
	dest io.Writer
	json bool
}

// registerOutput registers -f/--format and -o/--output, and --top N when
// top is set.
func (f *runtimeFlags) registerOutput(c *cobra.Command, top bool) {
	c.Flags().StringVarP(&f.format, "format", "f", "text", "output `FORMAT`: text (the tool's own), or json (bpftrace's NDJSON, as 'run -f json')")
	c.Flags().StringVarP(&f.output, "output", "o", "", "write the output to `FILE` instead of standard output")
	if top {
		c.Flags().IntVar(&f.top, "top", 0, "show the `N` largest rows each interval (default 1s), redrawn in place on a terminal")
	}
}

// out returns where the tool writes (-o's file, opened here, or standard
// output), whether that is JSON, and whether --top redraws it (a
// terminal, text).
func (f *runtimeFlags) out(cmd *cobra.Command) (w io.Writer, json, live bool, err error) {
	switch f.format {
	case "text", "":
	case "json":
		json = true
	default:
		return nil, false, false, usageError(fmt.Errorf("--format %q: give text or json", f.format))
	}
	if f.top < 0 {
		return nil, false, false, usageError(fmt.Errorf("--top %d: give a positive number of rows", f.top))
	}
	w = cmd.OutOrStdout()
	if f.output != "" && !f.showProgram {
		file, err := os.Create(f.output)
		if err != nil {
			return nil, false, false, usageError(fmt.Errorf("-o: %w", err))
		}
		f.file, w = file, file
	}
	if f.top > 0 && !json {
		file, ok := w.(*os.File)
		live = ok && term.IsTerminal(int(file.Fd()))
	}
	f.dest, f.json = w, json
	return w, json, live, nil
}

// rows returns where a tool writes its text (see out); under -f json
// each line of it becomes run -f json's printf line.
func (f *runtimeFlags) rows(cmd *cobra.Command) (io.Writer, error) {
	w, json, _, err := f.out(cmd)
	if err != nil || !json {
		return w, err
	}
	return tools.JSONRows(w), nil
}

// outputs points a tool's hooks at -o's file, and under -f json turns
// them into run -f json's: attached_probes for the header, the named maps
// (if any) as map lines each interval and at the end, the program's own
// printf rows as printf lines.
func (f *runtimeFlags) outputs(h *session.Config, intervals bool, maps ...string) {
	if f.dest == nil {
		return
	}
	h.Out = f.dest
	if !f.json {
		return
	}
	h.JSON = true
	attached, report := tools.JSONHooks(f.dest, intervals, maps...)
	h.Attached = attached
	if len(maps) > 0 {
		h.Report = report
	}
}

func (f *runtimeFlags) register(c *cobra.Command) {
	c.Flags().StringVarP(&f.lang, "language", "l", "", "the process's language: "+strings.Join(runtimes.Languages, ", ")+" (default: detected)")
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	f.fleet.register(c)
}

// callsProcess is runtimeProcess for calls and ucalls: method returns,
// and entries too to time calls (-L).
func callsProcess(cmd *cobra.Command, f *runtimeFlags, pid string, latency bool) (*runtimes.Process, map[runtimes.Event]runtimes.Probe, error) {
	required := []runtimes.Event{runtimes.MethodReturn}
	if latency {
		required = append(required, runtimes.MethodEntry)
	}
	return runtimeProcess(cmd, f, pid, false, required, nil)
}

// runtimeProcess finds the language of process arg (a PID) and the probes
// of the events a tool needs; every reason they cannot fire is one line.
func runtimeProcess(cmd *cobra.Command, f *runtimeFlags, arg string, cOK bool, required, optional []runtimes.Event) (*runtimes.Process, map[runtimes.Event]runtimes.Probe, error) {
	pid, err := strconv.Atoi(arg)
	if err != nil || pid <= 0 {
		return nil, nil, toolError(cmd, fmt.Errorf("%q is not a process id", arg))
	}
	if f.lang != "" && !slices.Contains(runtimes.Languages, f.lang) {
		return nil, nil, toolError(cmd, fmt.Errorf("unknown language %q; -l takes %s", f.lang, strings.Join(runtimes.Languages, ", ")))
	}
	p, err := runtimes.Detect(pid, f.lang)
	if err != nil {
		return nil, nil, usageError(err)
	}
	if p.Lang == "" {
		return nil, nil, usageError(fmt.Errorf("cannot tell the language of process %d; give it with -l", pid))
	}
	if p.Lang == "c" && cOK {
		return p, nil, nil
	}
	if p.Lang == "c" && f.lang == "" {
		return nil, nil, usageError(fmt.Errorf("process %d (%s) runs no language runtime that uscope knows; if it does, give its language with -l", pid, p.Object))
	}
	probes, notes, err := p.Probes(required, optional)
	if err != nil {
		return nil, nil, usageError(err)
	}
	for _, n := range notes {
		fmt.Fprintf(cmd.ErrOrStderr(), "uscope: note: %s\n", n)
	}
	return p, probes, nil
}

// runRuntimeTool parses and runs a tool's program on process p.
func runRuntimeTool(cmd *cobra.Command, f *runtimeFlags, name string, p *runtimes.Process, src string, hooks session.Config) error {
	prog, err := lang.Parse("uscope-"+name, src)
	if err != nil {
		return fmt.Errorf("internal error: uscope %s made a program that does not parse: %w\n%s", name, err, src)
	}
	return runRuntimeProgram(cmd, f, name, p, prog, hooks)
}

// runRuntimeProgram is runRuntimeTool for a program already parsed.
func runRuntimeProgram(cmd *cobra.Command, f *runtimeFlags, name string, p *runtimes.Process, prog *lang.Program, hooks session.Config) error {
	if f.showProgram {
		fmt.Fprint(cmd.OutOrStdout(), lang.Format(prog))
		return nil
	}
	cfg := hooks
	cfg.Program, cfg.PID = prog, p.PID
	if cfg.Out == nil {
		cfg.Out = cmd.OutOrStdout()
	}
	cfg.StrSize, cfg.MapSize = 128, 4096
	if cfg.Attached == nil {
		cfg.Attached = func(int) {}
	}
	if err := f.fleet.start(&cfg); err != nil {
		return err
	}
	if f.file != nil {
		defer f.file.Close()
	}
	return plainToolError(runSession(cmd.Context(), cfg), "uscope-"+name)
}

func newGCCommand() *cobra.Command {
	var (
		f      runtimeFlags
		millis bool
		minMS  float64
	)
	c := &cobra.Command{
		Use:   "gc [-l LANG] [-m] [-M MSEC] PID",
		Short: "Print the garbage collections of a Java, Python, Ruby or Node process (bcc's ugc)",
		Long: `Gc prints each garbage collection of process PID when it ends: the
seconds since tracing started, how long it took, and what it was (for
Python the generation and the number of objects collected; for the JVM
whether it was a full collection).

The language is detected from the process (its executable and the runtime
libraries it maps); -l overrides it. A runtime built without probes says so.`,
		Example: `  uscope gc $(pgrep -f myscript.py)
  uscope gc -m -M 10 $(pgrep java)    # collections of 10 ms or more`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, probes, err := runtimeProcess(cmd, &f, args[0], false, []runtimes.Event{runtimes.GCStart, runtimes.GCDone}, nil)
			if err != nil {
				return err
			}
			src := runtimes.GCProgram(p, probes, runtimes.GCOptions{Millis: millis, MinNanos: int64(minMS * 1e6)})
			unit := "us"
			if millis {
				unit = "ms"
			}
			out, err := f.rows(cmd)
			if err != nil {
				return err
			}
			hooks := session.Config{Report: func([]*output.Map, bool) {}, Attached: func(int) {
				fmt.Fprintf(out, "Tracing garbage collections in %s process %d... Ctrl-C to quit.\n", p.Lang, p.PID)
				fmt.Fprintf(out, "%-8s %-12s %s\n", "START", "TIME ("+unit+")", "DESCRIPTION")
			}}
			f.outputs(&hooks, false)
			return runRuntimeTool(cmd, &f, "gc", p, src, hooks)
		},
	}
	f.register(c)
	f.registerOutput(c, false)
	c.Flags().BoolVarP(&millis, "milliseconds", "m", false, "print durations in milliseconds (default microseconds)")
	c.Flags().Float64VarP(&minMS, "minimum", "M", 0, "print only collections that took at least `MSEC` milliseconds")
	return c
}

func newCallsCommand() *cobra.Command {
	var (
		f       runtimeFlags
		top     int
		latency bool
		millis  bool
	)
	c := &cobra.Command{
		Use:   "calls [-l LANG] [-T TOP] [-L] [-m] PID [interval]",
		Short: "Count the method calls of a Java, Python, Ruby, PHP, Perl or Tcl process (bcc's ucalls)",
		Long: `Calls counts the calls of each method (class.method; for Python
file.function) of process PID, in the kernel, and prints them at Ctrl-C, or
every interval seconds. With -L it also sums the time spent in each.

Java needs -XX:+ExtendedDTraceProbes (JDK 20 and later:
-XX:+DTraceMethodProbes) on the java command line; PHP needs
USE_ZEND_DTRACE=1 in its environment; CPython 3.12 to 3.14 have no call
probes. uscope says so instead of printing nothing.`,
		Example: `  uscope calls $(pgrep -f myscript.py)
  uscope calls -L -T 10 $(pgrep java) 5`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			interval, err := intervalArg(cmd, args)
			if err != nil {
				return err
			}
			p, probes, err := callsProcess(cmd, &f, args[0], latency)
			if err != nil {
				return err
			}
			out, json, live, err := f.out(cmd)
			if err != nil {
				return err
			}
			if f.top > 0 {
				top = f.top
				if interval == 0 {
					interval = 1000
				}
			}
			src := runtimes.CallsProgram(p, probes, runtimes.CallsOptions{Latency: latency, IntervalMS: interval})
			hooks := session.Config{
				Attached: func(int) {
					fmt.Fprintf(out, "Tracing calls in %s process %d... Ctrl-C to quit.\n", p.Lang, p.PID)
				},
				Report: tools.PairReport("@calls", "@times", latency, interval > 0, func(calls, times *output.Map) {
					tools.Calls{Lang: p.Lang, Top: top, Millis: millis, Live: live}.Write(out, calls, times)
				}),
			}
			if json {
				hooks.Attached, hooks.Report = tools.JSONHooks(out, interval > 0, "@calls", "@times")
			}
			return runRuntimeTool(cmd, &f, "calls", p, src, hooks)
		},
	}
	f.register(c)
	f.registerOutput(c, true)
	c.Flags().IntVarP(&top, "top-rows", "T", 0, "print only the `TOP` methods with the most calls (or time, with -L)")
	c.Flags().BoolVarP(&latency, "latency", "L", false, "also time each call")
	c.Flags().BoolVarP(&millis, "milliseconds", "m", false, "print times in milliseconds (default microseconds)")
	return c
}

func newThreadsCommand() *cobra.Command {
	var f runtimeFlags
	c := &cobra.Command{
		Use:   "threads [-l LANG] PID",
		Short: "Print the thread starts and stops of a Java or C process (bcc's uthreads)",
		Long: `Threads prints each thread that process PID starts or stops: for the JVM
its Java name and native thread id (hotspot thread__start/stop), for C and
every other process (-l c) the start routine given to pthread_create, by
name.`,
		Example: `  uscope threads $(pgrep java)
  uscope threads -l c $(pgrep myserver)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, probes, err := runtimeProcess(cmd, &f, args[0], true, []runtimes.Event{runtimes.ThreadStart}, []runtimes.Event{runtimes.ThreadStop})
			if err != nil {
				return err
			}
			out, err := f.rows(cmd)
			if err != nil {
				return err
			}
			hooks := session.Config{
				Report: func([]*output.Map, bool) {},
				Attached: func(int) {
					fmt.Fprintf(out, "Tracing thread events in %s process %d... Ctrl-C to quit.\n", p.Lang, p.PID)
					fmt.Fprintf(out, "%-10s %-8s %s\n", "TID", "TYPE", "DESCRIPTION")
				},
			}
			f.outputs(&hooks, false)
			return runRuntimeTool(cmd, &f, "threads", p, runtimes.ThreadsProgram(p, probes), hooks)
		},
	}
	f.register(c)
	f.registerOutput(c, false)
	return c
}

func newObjNewCommand() *cobra.Command {
	var (
		f        runtimeFlags
		topCount int
		topBytes int
	)
	c := &cobra.Command{
		Use:   "objnew [-l LANG] [-C TOP] [-S TOP] PID [interval]",
		Short: "Count the allocations of a Java or C process by type (bcc's uobjnew)",
		Long: `Objnew counts the objects process PID allocates and their bytes: by class
for the JVM (hotspot object__alloc; needs -XX:+ExtendedDTraceProbes, on JDK
20 and later -XX:+DTraceAllocProbes; counts only, as the probe's size
argument is unreliable), by requested size of malloc for C (-l c). It prints at Ctrl-C, or every interval seconds.`,
		Example: `  uscope objnew -C 10 $(pgrep java)
  uscope objnew -l c $(pgrep myserver) 5`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			interval, err := intervalArg(cmd, args)
			if err != nil {
				return err
			}
			p, probes, err := runtimeProcess(cmd, &f, args[0], true, []runtimes.Event{runtimes.ObjNew}, nil)
			if err != nil {
				return err
			}
			out, err := f.rows(cmd)
			if err != nil {
				return err
			}
			hooks := session.Config{
				Attached: func(int) {
					fmt.Fprintf(out, "Tracing allocations in %s process %d... Ctrl-C to quit.\n", p.Lang, p.PID)
				},
				Report: tools.PairReport("@objs", "@bytes", runtimes.ObjNewBytes(p, probes), interval > 0, func(objs, bytes *output.Map) {
					tools.ObjNew{Lang: p.Lang, TopCount: topCount, TopBytes: topBytes}.Write(out, objs, bytes)
				}),
			}
			f.outputs(&hooks, interval > 0, "@objs", "@bytes")
			return runRuntimeTool(cmd, &f, "objnew", p, runtimes.ObjNewProgram(p, probes, interval), hooks)
		},
	}
	f.register(c)
	f.registerOutput(c, false)
	c.Flags().IntVarP(&topCount, "top-count", "C", 0, "print only the `TOP` types with the most allocations")
	c.Flags().IntVarP(&topBytes, "top-size", "S", 0, "print only the `TOP` types with the most bytes")
	return c
}

// intervalArg reads the optional second argument of the runtime tools, an
// interval in seconds, as milliseconds (0 when absent).
func intervalArg(cmd *cobra.Command, args []string) (int64, error) {
	if len(args) < 2 {
		return 0, nil
	}
	var s seconds
	if err := s.Set(args[1]); err != nil || s.d <= 0 {
		return 0, toolError(cmd, fmt.Errorf("interval %q must be a positive number of seconds", args[1]))
	}
	return max(1, s.d.Milliseconds()), nil
}
