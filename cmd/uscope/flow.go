package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
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
			p, probes, err := runtimeProcess(cmd, &f, args[0], false, []runtimes.Event{runtimes.MethodEntry, runtimes.MethodReturn}, nil)
			if err != nil {
				return err
			}
			src := runtimes.FlowProgram(p, probes, runtimes.FlowOptions{Class: class, Method: method})
			out := &flowWriter{w: cmd.OutOrStdout(), lang: p.Lang}
			return runRuntimeTool(cmd, &f, "flow", p, src, session.Config{
				Out:    out,
				Report: func([]*output.Map, bool) {},
				Attached: func(int) {
					fmt.Fprintf(out.w, "Tracing method calls in %s process %d... Ctrl-C to quit.\n", p.Lang, p.PID)
					fmt.Fprintf(out.w, "%-3s %-7s %-7s %-10s %s\n", "CPU", "PID", "TID", "TIME(us)", "METHOD")
				},
			})
		},
	}
	f.register(c)
	c.Flags().StringVarP(&class, "class", "C", "", "trace only the methods of classes (Python: files) that start with `CLASS`")
	c.Flags().StringVarP(&method, "method", "M", "", "trace only the methods whose name starts with `METHOD`")
	return c
}

// flowWriter turns the program's lines "CPU PID TID US DEPTH ARROW CLASS
// METHOD" into uflow's columns, the method indented by its depth.
type flowWriter struct {
	w    io.Writer
	lang string
	buf  []byte
}

func (fw *flowWriter) Write(b []byte) (int, error) {
	fw.buf = append(fw.buf, b...)
	for {
		i := bytes.IndexByte(fw.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(fw.buf[:i])
		fw.buf = fw.buf[i+1:]
		f := strings.SplitN(line, " ", 8)
		if len(f) < 8 {
			fmt.Fprintln(fw.w, line)
			continue
		}
		depth, _ := strconv.Atoi(f[4])
		name := f[7]
		if f[6] != "" {
			sep := "."
			if fw.lang == "python" {
				sep = ":"
			}
			name = f[6] + sep + f[7]
		}
		fmt.Fprintf(fw.w, "%-3s %-7s %-7s %-10s %s%s %s\n", f[0], f[1], f[2], f[3], strings.Repeat("  ", min(depth, 100)), f[5], name)
	}
}
