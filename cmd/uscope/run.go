package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

func init() { commands = append(commands, newRunCommand) }

// sessionFlags are the flags every tracing command shares.
type sessionFlags struct {
	pid      int
	command  string
	duration time.Duration
	strSize  int
	mapSize  int
	perf     bool
	// exactEntry keeps entry probes at the first instruction.
	exactEntry bool
	// ringBufSize is --ringbuf-size as given.
	ringBufSize string
	// kernelUretprobe keeps kernel uretprobes on C++ functions.
	kernelUretprobe bool
	// noFollow traces -p/-c's process alone, not its descendants.
	noFollow bool
	// --prometheus, --max-series, --cgroup, --container (export.go).
	export fleetFlags
	// probeInline also probes the inlined copies of Go functions.
	probeInline bool
	// block is --block.
	block bool
	// debugDirs is --debuginfo DIR, repeated.
	debugDirs []string
}

func (f *sessionFlags) register(c *cobra.Command) {
	pidFlag(c, &f.pid, "trace only process `PID` and its descendants; stop when it exits")
	c.Flags().StringVarP(&f.command, "command", "c", "", "run `CMD`, traced with its descendants from its first instruction; stop when it exits.\n"+
		"If tracing ends first (Ctrl-C, SIGTERM, a duration, exit()), CMD and its descendants get SIGTERM,\n"+
		"then SIGKILL after 2s. uscope exits with CMD's status (128+N if signal N ended it) and names\n"+
		"on stderr how CMD ended when that was not status 0; after the program's exit(code), uscope exits\n"+
		"with code, as bpftrace does")
	c.Flags().BoolVar(&f.kernelUretprobe, "kernel-uretprobe", false, "put uretprobes on C++ functions on the kernel's return trampoline, which makes an exception\n"+
		"thrown through them call std::terminate, instead of on their return instructions, tail calls and landing pads")
	c.Flags().BoolVar(&f.noFollow, "no-follow", false, "with -p or -c, trace the one process, not its descendants")
	c.Flags().IntVar(&f.mapSize, "map-size", 4096, "keys per map")
	c.Flags().BoolVar(&f.perf, "perf-event", false, "attach one perf-event uprobe per site instead of uprobe_multi links")
	c.Flags().BoolVar(&f.exactEntry, "exact-entry", false, "probe C functions at their first instruction, not at the cheaper equivalent one uscope picks")
	c.Flags().BoolVar(&f.block, "block", false, "stop the traced process (-p/-c) while the event buffer is 3/4 full, instead of losing events")
	c.Flags().StringVar(&f.ringBufSize, "ringbuf-size", "", "`SIZE` of the event ring buffer, a power of two such as 64M (default 4M)")
	f.export.register(c)
	c.Flags().StringArrayVar(&f.debugDirs, "debuginfo", nil, "also look for separate debug files in `DIR` (DIR/NAME.debug, DIR/.build-id/...), as bpftrace's --debuginfo")
	c.Flags().BoolVar(&f.probeInline, "probe-inline", false, "uprobes on Go functions also fire where they were inlined (bpftrace's probe_inline config key)")
}

func (f *sessionFlags) config(prog *lang.Program) (session.Config, error) {
	cfg := session.Config{
		Program:         prog,
		PID:             f.pid,
		Duration:        f.duration,
		StrSize:         f.strSize,
		MapSize:         f.mapSize,
		ForcePerfEvent:  f.perf,
		ExactEntry:      f.exactEntry,
		NoFollow:        f.noFollow,
		KernelUretprobe: f.kernelUretprobe,
		ProbeInline:     f.probeInline,
	}
	cfg.Block = f.block
	cdwarf.DebugDirs = f.debugDirs
	if f.ringBufSize != "" {
		n, err := parseRingBufSize(f.ringBufSize)
		if err != nil {
			return cfg, usageError(err)
		}
		cfg.RingBufSize = n
	}
	if f.command != "" {
		words, err := splitCommand(f.command)
		if err != nil {
			return cfg, usageError(fmt.Errorf("-c %q: %w", f.command, err))
		}
		cfg.Command = words
	}
	if err := f.export.start(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newRunCommand() *cobra.Command {
	var (
		sf      sessionFlags
		expr    string
		format  string
		outFile string
		debug   bool
		// bpftrace's own flags, with its meaning.
		quiet, unsafe, noWarnings, helperErrors bool
		dryRun, showVersion                     bool
		usdtFileActivation                      bool
		probeFilter, mode                       string
		includes                                []string
	)
	c := &cobra.Command{
		Use:   "run [flags] (-e PROGRAM | FILE) [ARG...]",
		Short: "Run a program in uscope's probe language (bpftrace syntax)",
		Long: `Run compiles a program written in bpftrace's language for userspace probes
(uprobe, uretprobe, usdt, BEGIN, END, interval) to BPF, attaches it, and
prints what it reports. Maps are printed when the program ends.

In Go functions, args.NAME reads a parameter by name from DWARF (fields
through pointers: args.r.URL.Path; str(args.s), len(args.sl), args.sl[i];
print(args) prints them all), goarg(N) and argN read the N-th register of
Go's ABI (rax rbx rcx rdi rsi r8 r9 r10 r11; stripped binaries), goid is the
goroutine id. A uretprobe on a Go function probes its RET instructions, where
retval and args (the results) are available.`,
		Example: `  uscope run -e 'uprobe:libc:malloc { @bytes = hist(arg0); }' --duration 5s
  uscope run -e 'uretprobe:/bin/bash:readline { printf("%s\n", str(retval)); }'
  uscope run -c ./app -e 'uprobe:./app:work { @[arg0] = count(); }'
  uscope run -p 1234 -e 'uprobe:/srv/app:main.handler { printf("%d %s\n", goid, str(args.r.URL.Path)); }'
  uscope run -p 1234 -e 'usdt::python:function__entry { printf("%s\n", str(arg1)); }'
  uscope run trace.bt`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				fmt.Fprintln(cmd.OutOrStdout(), bpftraceVersionLine())
				return nil
			}
			// A one-liner is named "stdin" in messages, as bpftrace names it.
			file, src := "stdin", expr
			// The words after the program are its positional parameters
			// ($1, $2 ...), as bpftrace's: run FILE 42 foo, -e PROG -- 42.
			params := args
			switch {
			case expr == "" && len(args) == 0:
				return usageError(errors.New("no program: give -e 'PROGRAM' or a FILE; see 'uscope run --help'"))
			case expr == "" && args[0] == "-":
				// run -: the program from standard input, as bpftrace reads it.
				b, err := io.ReadAll(os.Stdin)
				if err != nil {
					return usageError(fmt.Errorf("read the program from standard input: %w", err))
				}
				file, src, params = "stdin", string(b), args[1:]
			case expr == "":
				b, err := os.ReadFile(args[0])
				if err != nil {
					// bpftrace's words, with C's text of the errno.
					return usageError(fmt.Errorf("failed to open file '%s': %s", args[0], output.Strerror(err)))
				}
				file, src, params = args[0], string(b), args[1:]
			}
			prog, err := lang.ParseParams(file, src, compile.PositionalParams(params))
			if err != nil {
				return usageError(err)
			}
			if probeFilter != "" {
				if err := filterProbes(prog, probeFilter); err != nil {
					return usageError(err)
				}
			}
			cfg, err := sf.config(prog)
			if err != nil {
				return err
			}
			cfg.Params = params
			switch mode {
			case "run":
			case "bench":
				cfg.Bench = true
			default:
				return usageError(fmt.Errorf("unknown --mode %q; use run or bench", mode))
			}
			if cfg.Defines, err = compile.IncludeDefines(includes); err != nil {
				return usageError(err)
			}
			cfg.Quiet, cfg.Unsafe, cfg.NoWarnings = quiet, unsafe, noWarnings
			cfg.BpftraceLabels, cfg.DryRun, cfg.HelperErrors = true, dryRun, helperErrors
			switch format {
			case "text":
			case "json":
				cfg.JSON = true
			default:
				return usageError(&hintError{fmt.Sprintf("Invalid output format %q", format), "use -f text or -f json"})
			}
			out := cmd.OutOrStdout()
			if outFile != "" {
				f, err := os.Create(outFile)
				if err != nil {
					return usageError(fmt.Errorf("open output file: %w", err))
				}
				defer f.Close()
				out = f
			}
			cfg.Out = out
			if debug {
				cfg.Debug = cmd.ErrOrStderr()
			}
			return runSession(cmd.Context(), cfg)
		},
	}
	c.SetUsageTemplate(runUsage + `
OPTIONS:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}

EXAMPLES:
{{.Example}}
`)
	c.Flags().StringVarP(&expr, "expr", "e", "", "the program `PROGRAM` to run")
	c.Flags().StringVarP(&format, "format", "f", "text", "output format: text or json (one JSON object per line)")
	c.Flags().StringVarP(&outFile, "output", "o", "", "write output to `FILE`")
	c.Flags().BoolVarP(&debug, "debug", "d", false, "print the program, its types and the generated BPF instructions")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print the line that says how many probes are attached")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "compile and attach the program, then stop before BEGIN runs (bpftrace's --dry-run)")
	c.Flags().BoolVarP(&showVersion, "version", "V", false, "print the version of bpftrace's language run implements, and uscope's")
	c.Flags().BoolVar(&unsafe, "unsafe", false, "allow system(), which runs commands, and uprobes at an address of a file that is not ELF")
	c.Flags().BoolVar(&noWarnings, "no-warnings", false, "do not print warnf() lines nor warnings about the program")
	c.Flags().BoolVarP(&helperErrors, "helper-errors", "k", false, "warn (once, at its place) where a map is read at a key it does not hold, as bpftrace's -k")
	c.Flags().BoolVar(&usdtFileActivation, "usdt-file-activation", false, "accepted for bpftrace's flag: uscope always enables a USDT probe's semaphore in every process\n"+
		"that maps the file, through the kernel's reference counter")
	c.Flags().StringVar(&mode, "mode", "run", "run the program, or bench: time each bench:NAME probe in a loop, as bpftrace's --mode bench")
	c.Flags().StringVar(&probeFilter, "probe-filter", "", "attach only the attach points that match `REGEX` (BEGIN and END are kept), as bpftrace's")
	c.Flags().StringArrayVar(&includes, "include", nil, "take the constants of system `HEADER` (errno.h: EPERM, signal.h: SIGINT; stdint.h's types are built in)")
	c.Flags().DurationVar(&sf.duration, "duration", 0, "stop after `DURATION` (e.g. 10s)")
	c.Flags().IntVar(&sf.strSize, "str-size", 64, "bytes read by str(), including the terminating NUL")
	sf.register(c)
	return c
}

// runUsage is run's synopsis, in bpftrace's layout: run takes bpftrace's
// command line, and its help and its usage errors look like bpftrace's.
const runUsage = `USAGE:
    uscope run [options] FILE [ARG...]
    uscope run [options] - [ARG...]            (the program on standard input)
    uscope run [options] -e 'PROGRAM' [-- ARG...]
`

// runFlagError is a mistake on run's command line: a bad -p in bpftrace's
// words, else the mistake and run's synopsis, as bpftrace prints them.
func runFlagError(err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) && iv.GetFlag().Name == "pid" {
		return iv.Unwrap()
	}
	return &runUsageError{err}
}

type runUsageError struct{ err error }

func (e *runUsageError) Error() string { return e.err.Error() + "; see 'uscope run --help'" }
func (e *runUsageError) Unwrap() error { return e.err }
func (e *runUsageError) Bpftrace() string {
	return "ERROR: " + e.err.Error() + "\n" + strings.TrimRight(runUsage, "\n")
}

// runSession runs a session until Ctrl-C, SIGTERM or its own end, and
// classifies its error for the exit code.
func runSession(ctx context.Context, cfg session.Config) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.DetachOnExit = true // uscope exits when the session ends
	err := session.Run(ctx, cfg)
	if err == nil {
		return nil
	}
	if ce := commandEnd(err); ce != nil {
		return &exitError{code: ce.Code, err: ce}
	}
	var code session.ExitCode
	if errors.As(err, &code) {
		return code
	}
	var se *session.Error
	var ae *attach.Error
	if errors.As(err, &se) || errors.As(err, &ae) {
		return attachError(err)
	}
	return usageError(err)
}

// commandEnd returns how the -c command ended when that is the session's
// only error: tracing succeeded and uscope exits with the command's status.
func commandEnd(err error) *attach.CommandEnd {
	if ce, ok := err.(*attach.CommandEnd); ok {
		return ce
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var found *attach.CommandEnd
		for _, e := range j.Unwrap() {
			ce, ok := e.(*attach.CommandEnd)
			switch {
			case ok:
				found = ce
			case e != nil:
				return nil
			}
		}
		return found
	}
	return nil
}

// filterProbes keeps the attach points that match --probe-filter's
// regular expression (searched in the attach point as written), and BEGIN
// and END; it fails when no other attach point is left.
func filterProbes(prog *lang.Program, filter string) error {
	re, err := regexp.Compile(filter)
	if err != nil {
		return fmt.Errorf("Invalid --probe-filter regex %q: %v", filter, err)
	}
	var kept []*lang.Probe
	others := 0
	for _, p := range prog.Probes {
		var points []*lang.AttachPoint
		for _, ap := range p.Points {
			switch {
			case ap.Kind == lang.KindBegin || ap.Kind == lang.KindEnd:
				points = append(points, ap)
			case re.MatchString(ap.Raw):
				points = append(points, ap)
				others++
			}
		}
		if len(points) > 0 {
			p.Points = points
			kept = append(kept, p)
		}
	}
	if others == 0 {
		return fmt.Errorf("No probes to attach: --probe-filter %q matches no attach point of the program", filter)
	}
	prog.Probes = kept
	return nil
}
