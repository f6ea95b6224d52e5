package main

import (
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newFlowCommand) }

func newFlowCommand() *cobra.Command {
	var (
		f             runtimeFlags
		class, method string
	)
	c := &cobra.Command{
		Use:   "flow [-l LANG] [-M METHOD] [-C CLASS] PID",
		Short: "Print the method entries and returns of a process, indented by depth (bcc's uflow)",
		Long: `Flow prints every method entry (->) and return (<-) of process PID,
indented by the call depth of its thread: CPU PID TID TIME(us) METHOD.
-C and -M keep the methods whose class (Python: file) or name starts with
the given text.

CPython 3.11 fires no entry for Python-to-Python calls (they are inlined in
the eval loop), so those show only their return.`,
		Example: `  uscope flow -C com/example $(pgrep java)
  uscope flow -M handle_ $(pgrep -f server.py)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFlow(cmd, &f, "flow", args[0], runtimes.FlowOptions{Class: class, Method: method}, false, false)
		},
	}
	f.register(c)
	f.registerOutput(c, false)
	c.Flags().StringVarP(&class, "class", "C", "", "trace only the methods of classes (Python: files) that start with `CLASS`")
	c.Flags().StringVarP(&method, "method", "M", "", "trace only the methods whose name starts with `METHOD`")
	return c
}

// runFlow runs flow (bcc false) or uflow (bcc's layout; verbose prints the
// program on standard error) on process pid.
func runFlow(cmd *cobra.Command, f *runtimeFlags, name, pid string, o runtimes.FlowOptions, bcc, verbose bool) error {
	p, probes, err := runtimeProcess(cmd, f, pid, false, []runtimes.Event{runtimes.MethodEntry, runtimes.MethodReturn}, nil)
	if err != nil {
		return err
	}
	src := runtimes.FlowProgram(p, probes, o)
	bccVerbose(cmd, f, verbose, src)
	out, err := f.rows(cmd)
	if err != nil {
		return err
	}
	fl := tools.Flow{W: out, Lang: p.Lang, BCC: bcc}
	hooks := session.Config{
		Printf:   fl.Printf,
		Report:   func([]*output.Map, bool) {},
		Attached: func(int) { fl.Header(p.Lang, p.PID) },
	}
	f.outputs(&hooks, false)
	return runRuntimeTool(cmd, f, name, p, src, hooks)
}
