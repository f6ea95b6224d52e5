package main

import (
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/tools"
)

// bcc's bashreadline and gethostlatency under their names, with bcc's
// flags (toolStyle: --cmd runs a command).

func init() {
	commands = append(commands, newBashreadlineCommand, newGethostlatencyCommand)
}

func newBashreadlineCommand() *cobra.Command {
	var (
		f      toolFlags
		shared string
	)
	c := &cobra.Command{
		Use:   "bashreadline [-s SHARED] [-p PID] [--cmd CMD]",
		Short: "bcc's bashreadline: print the commands bash shells read",
		Long: `Bashreadline is bcc's bashreadline: TIME PID COMMAND for each line that a
bash shell (a thread named bash) reads with readline, from readline's return
value — system-wide, or in -p's process or --cmd's command. -s names the
library that holds readline when bash links it dynamically.`,
		Example: `  uscope bashreadline
  uscope bashreadline -s /lib/x86_64-linux-gnu/libreadline.so.8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			tool, err := tools.Bashreadline(tools.BashreadlineOptions{Options: o, Shared: shared})
			if err != nil {
				return toolError(cmd, err)
			}
			return runTool(cmd, "bashreadline", &f, tool)
		},
	}
	f.register(c, toolStyle{bcc: true})
	c.Flags().StringVarP(&shared, "shared", "s", "", "the `LIB` that holds readline (default /bin/bash)")
	return c
}

func newGethostlatencyCommand() *cobra.Command {
	var f toolFlags
	c := &cobra.Command{
		Use:   "gethostlatency [-p PID] [--cmd CMD]",
		Short: "bcc's gethostlatency: time host name lookups",
		Long: `Gethostlatency is bcc's gethostlatency: TIME PID COMM LATms HOST for each
getaddrinfo, gethostbyname and gethostbyname2 call, when it returns, with
its time in milliseconds — system-wide, or in -p's process or --cmd's
command.`,
		Example: `  uscope gethostlatency           # time getaddrinfo/gethostbyname[2] calls
  uscope gethostlatency -p 181    # only trace PID 181`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			tool, err := tools.Gethostlatency(o)
			if err != nil {
				return toolError(cmd, err)
			}
			return runTool(cmd, "gethostlatency", &f, tool)
		},
	}
	f.register(c, toolStyle{bcc: true})
	return c
}
