package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/tools"
)

// The flags and the running shared by count, latency, argdist and stack,
// the tools after bcc's funccount, funclatency, argdist and stackcount.

// seconds is a flag value in seconds, as bcc's tools take it ("5"), or a
// Go duration ("1.5s", "500ms"). It remembers whether it was given, so
// that -d 0 (stop as soon as everything is attached) differs from no -d.
type seconds struct {
	d   time.Duration
	set bool
}

func (s *seconds) String() string {
	if !s.set {
		return ""
	}
	return s.d.String()
}

func (s *seconds) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("%q is out of range", v)
		}
		s.d, s.set = time.Duration(n*float64(time.Second)), true
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is neither seconds nor a duration like 500ms", v)
	}
	s.d, s.set = d, true
	return nil
}

func (s *seconds) Type() string { return "seconds" }

// toolFlags are the flags every tool takes.
type toolFlags struct {
	sf          sessionFlags
	interval    seconds
	duration    seconds
	timestamp   bool
	showProgram bool
	// format is -f/--format (text, json; stack also folded), output -o.
	format, output string
	style          toolStyle
	// top is --top N (count, funccount).
	top int

	file *os.File // -o's file while the tool runs
}

// toolStyle says what a tool's short options mean. This is the one place
// the rule lives (README "bcc's tools and uscope's"): uscope's own names
// (count, latency, stack) keep uscope's -c CMD, -d DURATION and -f FORMAT;
// bcc's names (funccount, funclatency, stackcount, argdist) give every
// short option bcc's meaning (-c CPU, -c cumulative, -d delimiter, -f
// folded) and run a command with --cmd CMD. Long options mean the same
// everywhere: --format, --output, --duration, --interval, --cmd/--command.
type toolStyle struct {
	// bcc is a bcc name: no -c for the command, --cmd instead.
	bcc bool
	// timestamp registers -T/--timestamp.
	timestamp bool
	// durationShort is the short option of --duration: "d", or "D" for
	// stackcount, whose -d is the delimiter.
	durationShort string
	// top registers --top N: a live view on a terminal.
	top bool
	// noFormatShort leaves -f to the tool (stackcount's and stack's
	// folded output); --format still works.
	noFormatShort bool
}

func (f *toolFlags) register(c *cobra.Command, style toolStyle) {
	f.style = style
	if style.bcc {
		f.sf.registerBCC(c)
	} else {
		f.sf.register(c)
	}
	c.Flags().VarP(&f.interval, "interval", "i", "print every `SEC` seconds (or a duration: 500ms), and clear the counts")
	if style.timestamp {
		c.Flags().BoolVarP(&f.timestamp, "timestamp", "T", false, "print the time before each output")
	}
	short := style.durationShort
	if short == "" && !style.bcc {
		short = "d"
	}
	c.Flags().VarP(&f.duration, "duration", short, "stop after `SEC` seconds (or a duration: 1m); 0 stops once everything is attached")
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	fshort := "f"
	if style.noFormatShort {
		fshort = ""
	}
	c.Flags().StringVarP(&f.format, "format", fshort, "text", "output `FORMAT`: text (the tool's own), or json (bpftrace's NDJSON, as 'run -f json')")
	c.Flags().StringVarP(&f.output, "output", "o", "", "write the output to `FILE` instead of standard output")
	completeTool(c, &f.sf.pid)
	if style.top {
		c.Flags().IntVar(&f.top, "top", 0, "show the `N` largest counts each interval (-i, default 1s), redrawn in place on a terminal")
	}
}

// registerBCC registers the session's flags under a bcc name: --cmd in
// place of -c/--command (-c is bcc's meaning there).
func (f *sessionFlags) registerBCC(c *cobra.Command) {
	scratch := &cobra.Command{}
	f.register(scratch)
	scratch.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "command" {
			fl.Name, fl.Shorthand = "cmd", ""
			fl.Usage = strings.Replace(fl.Usage, "run `CMD`", "run `CMD` (-c is bcc's meaning here)", 1)
		}
		c.Flags().AddFlag(fl)
	})
	c.Flags().SetNormalizeFunc(cmdAlias)
}

// completeTool completes -p with PIDs and their commands, and the
// pattern argument from the target binary's functions or USDT probes.
func completeTool(c *cobra.Command, pid *int) {
	_ = c.RegisterFlagCompletionFunc("pid", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return tools.CompletePIDs(toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	if c.ValidArgsFunction == nil {
		c.ValidArgsFunction = func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			if got := tools.CompletePattern(toComplete, *pid); len(got) > 0 {
				return got, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveDefault
		}
	}
}

// cmdAlias lets --command, uscope's long name, mean --cmd under bcc's
// names.
func cmdAlias(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if name == "command" {
		name = "cmd"
	}
	return pflag.NormalizedName(name)
}

// timing turns -i and -d into a tool's timing: with both, the program
// itself ends after the interval that reaches the duration, so that the
// last interval is printed whole and once.
func (f *toolFlags) timing() tools.Timing {
	t := tools.Timing{Interval: f.interval.d, Timestamp: f.timestamp}
	if f.interval.d > 0 && f.duration.set && f.duration.d > 0 {
		t.Ticks = int((f.duration.d + f.interval.d - 1) / f.interval.d)
	}
	return t
}

// options returns the options every tool takes, opening -o's file.
func (f *toolFlags) options(cmd *cobra.Command, formats ...string) (tools.Options, error) {
	if f.top < 0 {
		return tools.Options{}, usageError(fmt.Errorf("--top %d: give a positive number of rows", f.top))
	}
	if f.top > 0 && f.interval.d == 0 {
		f.interval = seconds{d: time.Second, set: true}
	}
	o := tools.Options{Out: cmd.OutOrStdout(), Timing: f.timing(), PID: f.sf.pid}
	switch f.format {
	case "text", "":
	case "json":
		o.JSON = true
	default:
		if !slices.Contains(formats, f.format) {
			return o, usageError(fmt.Errorf("--format %q: give text or json%s", f.format, extraFormats(formats)))
		}
	}
	if f.output != "" && f.file == nil && !f.showProgram {
		file, err := os.Create(f.output)
		if err != nil {
			return o, usageError(fmt.Errorf("-o: %w", err))
		}
		f.file = file
	}
	if f.file != nil {
		o.Out = f.file
	}
	if f.top > 0 {
		o.Top = f.top
		// Redrawn only on a terminal; piped or to a file, plain intervals.
		out, ok := o.Out.(*os.File)
		o.Live = ok && !o.JSON && term.IsTerminal(int(out.Fd()))
	}
	return o, nil
}

func extraFormats(fs []string) string {
	if len(fs) == 0 {
		return ""
	}
	return " (or " + strings.Join(fs, ", ") + ")"
}

// oneProcess reports whether the tool traces one process (-p or -c).
func (f *toolFlags) oneProcess() bool { return f.sf.pid != 0 || f.sf.command != "" }

// runTool runs a tool's program in a session, or prints it (--program).
func runTool(cmd *cobra.Command, name string, f *toolFlags, tool *tools.Tool) error {
	if f.showProgram {
		fmt.Fprint(cmd.OutOrStdout(), lang.Format(tool.Program))
		return nil
	}
	cfg, err := f.sf.config(tool.Program)
	if err != nil {
		return err
	}
	cfg.Out = cmd.OutOrStdout()
	if f.file != nil {
		cfg.Out = f.file
		defer f.file.Close()
	}
	cfg.Attached, cfg.Report, cfg.Frame, cfg.Printf = tool.Attached, tool.Report, tool.Frame, tool.Printf
	if cfg.Attached == nil {
		cfg.Attached = func(int) {}
	}
	switch {
	case !f.duration.set:
	case f.duration.d == 0:
		cfg.Duration = time.Nanosecond // stop once attached
	case f.timing().Ticks > 0:
		// The program exits after its last interval; the timer is only a
		// backstop.
		cfg.Duration = f.duration.d + f.interval.d + time.Second
	default:
		cfg.Duration = f.duration.d
	}
	return plainToolError(runSession(cmd.Context(), cfg), tools.ProgramFile(name))
}

// plainToolError drops the caret and the source line of errors that point
// into a tool's generated program: the user did not write it, and the
// message (a function that does not exist, say) stands on its own.
func plainToolError(err error, file string) error {
	var le *lang.Error
	if err == nil || !errors.As(err, &le) || le.File != file {
		return err
	}
	plain := *le
	plain.File, plain.Pos, plain.Source = "", lang.Pos{}, ""
	var ee *exitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.code, err: &plain}
	}
	return usageError(&plain)
}

// toolError marks an error in a tool's arguments (exit 1). Errors that
// point into a spec the user wrote keep their caret; others get a pointer
// to --help.
func toolError(cmd *cobra.Command, err error) error {
	var le *lang.Error
	if !errors.As(err, &le) {
		err = fmt.Errorf("%w; see 'uscope %s --help'", err, cmd.Name())
	}
	return usageError(err)
}
