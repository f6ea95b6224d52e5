package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/session"
)

func init() { commands = append(commands, newTraceCommand) }

func newTraceCommand() *cobra.Command {
	var (
		sf      sessionFlags
		tid     int
		ts      bool
		clock   bool
		maxEv   int
		verbose bool
		ustack  bool
		asJSON  bool
		// bcc trace's flags beyond those (bcc.go's rule: bcc's short
		// options, --cmd for the command).
		b traceBCCFlags
	)
	c := &cobra.Command{
		Use:   "trace [flags] SPEC...",
		Short: "Print an event per call, with bcc trace's spec syntax",
		Long: `Trace attaches a probe per SPEC and prints one row per event, as bcc's
trace tool does. SPEC is

  [p|r|u]:[LIB]:FUNC[+OFF] [(FILTER)] ["FORMAT"[, ARGS...]]

p: is an entry probe (the default: a bare LIB:FUNC means p:), r: a return
probe, u: a USDT probe (u:LIB:[PROVIDER:]NAME). Arguments are bcc's 1-based
arg1..argN; retval, $pid (thread id), $tgid, $uid, $gid, $cpu are available.
%s reads a string from the traced process (up to -Z bytes).

trace is a bcc name, so its short options are bcc's: -c is the cgroup path,
-f the message filter, -n the command-name filter, -u Unix timestamps with
-t, -a addresses in -U stacks, -b the buffer in pages per CPU; --cmd CMD
runs a command, --format json prints NDJSON. -K, -I, -s and -B are refused
in one line (kernel stacks, C headers, build-id stacks, byte strings), and
-C prints the CPU column; -A (with -M) counts identical rows and prints
each once at the end, most frequent first, as "-->COUNT N".`,
		Example: `  uscope trace '/usr/bin/redis-server:createStringObject "%s" arg1'
  uscope trace 'r:/bin/bash:readline "%s" retval'
  uscope trace -p 1234 'c:malloc "size=%d" arg1'
  uscope trace 'p:c:open (STRCMP("/etc/passwd", arg1)) "opened by %d" $tgid'
  uscope trace 'u:/usr/bin/python3.11:function__entry "%s %s" arg2, arg1'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prog, err := lang.ParseTraceSpecs(args, lang.TraceOptions{StrSize: sf.strSize})
			if err != nil {
				return usageError(err)
			}
			if err := b.apply(prog, &sf, tid); err != nil {
				return toolError(cmd, err)
			}
			switch b.format {
			case "text", "":
			case "json":
				asJSON = true
			default:
				return toolError(cmd, fmt.Errorf("--format %q: give text or json", b.format))
			}
			cfg, err := sf.config(prog)
			if err != nil {
				return err
			}
			cfg.Out = cmd.OutOrStdout()
			if b.output != "" {
				file, err := os.Create(b.output)
				if err != nil {
					return usageError(fmt.Errorf("-o: %w", err))
				}
				defer file.Close()
				cfg.Out = file
			}
			cfg.JSON = asJSON
			cfg.Trace = session.TraceOptions{Timestamp: ts, Time: clock, MaxEvents: maxEv, UserStack: ustack,
				UnixTimestamp: b.unix, Address: b.addresses, MsgFilter: b.msgFilter, CPU: b.cpu, Aggregate: b.aggregate}
			if b.aggregate && maxEv == 0 {
				return toolError(cmd, errors.New("-A: give the number of events to aggregate with -M EVENTS, as bcc's trace asks"))
			}
			if verbose {
				cfg.Debug = cmd.ErrOrStderr()
			}
			return runSession(cmd.Context(), cfg)
		},
	}
	b.register(c, &sf)
	c.Flags().IntVarP(&tid, "tid", "L", 0, "trace only thread `TID`")
	c.Flags().BoolVarP(&ts, "timestamp", "t", false, "print seconds since the first event")
	c.Flags().BoolVarP(&clock, "time", "T", false, "print the wall-clock time of each event")
	c.Flags().IntVarP(&maxEv, "max-events", "M", 0, "stop after `N` events")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the translated program and the generated BPF")
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per event")
	c.Flags().BoolVarP(&ustack, "user-stack", "U", false, "print the user stack of each event (the target needs frame pointers)")
	c.Flags().IntVarP(&sf.strSize, "string-size", "Z", 80, "bytes read for %s arguments")
	c.Flags().DurationVarP(&sf.duration, "duration", "d", 0, "stop after `DURATION`")
	return c
}
