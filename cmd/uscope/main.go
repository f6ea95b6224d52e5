// Command uscope traces userspace programs with eBPF: uprobes, uretprobes and
// USDT probes, from one static binary. This package wires the command line to
// the library packages and internal/session; it holds no tracing logic.
package main

import (
	"errors"
	"fmt"
	"github.com/uscope/uscope/internal/session"
	"os"
	"runtime"

	"github.com/spf13/cobra"
)

// Exit codes, as the CLI contract in ARCHITECTURE.md fixes them.
const (
	exitOK     = 0
	exitUsage  = 1 // usage or program error
	exitAttach = 2 // attach or kernel error
)

// exitError carries the exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as the user's mistake (exit 1).
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitUsage, err: err}
}

// attachError marks err as a failure of the kernel side (exit 2).
func attachError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitAttach, err: err}
}

// commands registers each subcommand's constructor; every command file adds
// itself from an init function, so files stay independent.
var commands []func() *cobra.Command

func newRootCommand() *cobra.Command { return newRootCommandWith(commands) }

// newRootCommandWith is the root command with the subcommands of mks.
func newRootCommandWith(mks []func() *cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "uscope",
		Short: "Trace userspace programs with eBPF: uprobes, uretprobes and USDT",
		Long: `uscope traces any userspace program on Linux with eBPF: uprobes,
uretprobes and USDT probes, from one static binary. Programs in a
bpftrace-compatible language and bcc trace specs are compiled to BPF at run
time; no clang, LLVM or kernel headers are needed.`,
		Example: `  sudo uscope demo                                  # a guided first run
  uscope list /usr/bin/python3.11 'usdt:*'          # every probe of a binary
  uscope trace '/usr/bin/redis-server:createStringObject "%s" arg1'
  uscope run -e 'uprobe:libc:malloc { @bytes = hist(arg0); }' --duration 5s
  uscope count -p 1234 'c:str*'`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Numeric flags are checked once for every command (validate.go).
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			if err := checkFileCaps(c.Name()); err != nil {
				return err
			}
			return validateFlags(c)
		},
		Version: currentVersion().Version,
	}
	root.SetVersionTemplate("uscope {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c.Name() == "run" && c.Parent() == root {
			return usageError(runFlagError(err))
		}
		return usageError(fmt.Errorf("%w; see 'uscope %s --help'", err, c.Name()))
	})
	for _, mk := range mks {
		root.AddCommand(mk())
	}
	return root
}

// init keeps the main goroutine on the process's first thread, so that
// BEGIN and END, run on the thread that starts them, see tid == pid as in
// bpftrace (a single-threaded program there).
func init() { runtime.LockOSThread() }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := rootFor(args)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var code session.ExitCode
	if errors.As(err, &code) {
		return int(code) // the program's exit(code): nothing went wrong
	}
	err = unknownCommand(root, args, err)
	if cmd != nil && cmd.Name() == "run" && cmd.Parent() == root {
		fmt.Fprintln(os.Stderr, bpftraceText(err))
	} else {
		fmt.Fprintln(os.Stderr, "uscope: "+errorText(err))
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

// bpftraceText renders err as bpftrace labels its messages, for run, the
// command that takes bpftrace's command line: "ERROR: msg", a mistake in
// the program at its place ("stdin:1:5-9: ERROR: msg") with the text
// underlined, and what to try on a "HINT:" line.
func bpftraceText(err error) string {
	var b interface{ Bpftrace() string }
	if errors.As(err, &b) {
		return b.Bpftrace()
	}
	return "ERROR: " + err.Error()
}

// hintError is a mistake and what to try instead, kept apart so that run
// can print the hint on bpftrace's "HINT:" line.
type hintError struct{ msg, hint string }

func (e *hintError) Error() string    { return e.msg + "; " + e.hint }
func (e *hintError) Bpftrace() string { return "ERROR: " + e.msg + "\nHINT: " + e.hint }

// errorText renders err for the terminal; errors that carry a source caret
// print it on the lines after the message.
func errorText(err error) string {
	var d interface{ Detail() string }
	if errors.As(err, &d) {
		return d.Detail()
	}
	return err.Error()
}
