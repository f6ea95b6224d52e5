package main

import (
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newProfileCommand) }

func newProfileCommand() *cobra.Command {
	var (
		f toolFlags
		o tools.ProfileOptions
	)
	c := &cobra.Command{
		Use:   "profile [-p PID | -c CMD] [-F HZ] [-d DURATION] [-f folded|pprof|svg] [-o FILE]",
		Short: "Sample the user stacks of a process on CPU (a CPU profile)",
		Long: `Profile samples, HZ times a second on every CPU, the user stack of whatever
the traced process (-p) or command (-c) — and their descendants — is running,
counts the stacks in the kernel, and at the end writes them: folded
("comm;outer;...;inner count", the input of flamegraph.pl, inferno,
speedscope), as a pprof profile (-f pprof -o FILE: go tool pprof, Pyroscope)
or as a flame graph SVG that uscope draws itself (-f svg -o FILE). Without -p
or -c every process is sampled. Folded stacks go to stdout, where -c's
command writes too: give -o FILE to keep them apart. It is bpftrace's
'profile:hz:99 { @[ustack] = count(); }' with the output people open.

Stacks are walked as 'uscope stack' walks them: from the call frame
information (.eh_frame) of the traced process's objects, by frame pointer in
Go code; a sample taken while the process was in the kernel walks its user
stack from the registers it left user mode with.`,
		Example: `  uscope profile -c ./app -o app.folded
  uscope profile -p 1234 -F 999 -d 10 -f svg -o flame.svg
  uscope profile -c 'python3 x.py' -f pprof -o cpu.pb.gz && go tool pprof -top cpu.pb.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd, tools.ProfileFormats...)
			if err != nil {
				return err
			}
			o.Options, o.Format, o.Path = opts, f.format, f.output
			if o.Format == "text" {
				o.Format = "folded"
			}
			tool, err := tools.Profile(o)
			if err != nil {
				return toolError(cmd, err)
			}
			return runTool(cmd, "profile", &f, tool)
		},
	}
	f.register(c, toolStyle{})
	c.Flags().IntVarP(&o.Hz, "frequency", "F", 99, "samples per second on each CPU")
	c.Flags().Lookup("format").Usage = "output `FORMAT`: folded (text, the default), json (run -f json's NDJSON), pprof or svg (both need -o FILE)"
	return c
}
