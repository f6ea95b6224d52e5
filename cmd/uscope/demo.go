package main

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/stapsdt"
)

func init() { commands = append(commands, newDemoCommand, newDemoWorkloadCommand) }

// demoProgram is what `uscope demo` runs against its workload; %[1]s is the
// workload's executable.
const demoProgram = `usdt::uscope_demo:request__start /@shown[1] < 3/ {
  @shown[1]++;
  printf("  usdt       request__start  path=%%s n=%%d\n", str(arg0), arg1);
}
uprobe:%[1]s:main.demoHandle /@shown[2] < 3/ {
  @shown[2]++;
  printf("  uprobe     main.demoHandle(path=%%s, size=%%d)\n", %[2]s);
}
uretprobe:%[1]s:main.demoHandle /@shown[3] < 3/ {
  @shown[3]++;
  printf("  uretprobe  main.demoHandle returned %%d\n", retval);
}
usdt::uscope_demo:request__done {
  @latency_us = hist(arg1);
  @requests[str(arg0)] = count();
}
END { clear(@shown); }
`

func newDemoCommand() *cobra.Command {
	var rounds int
	c := &cobra.Command{
		Use:   "demo",
		Short: "Trace a bundled workload: uprobes, Go return probes, USDT and a histogram",
		Long: `Demo starts a small workload (uscope itself, re-executed as a child: a Go
program that declares USDT probes at run time with package stapsdt), traces it
for a few seconds with one uscope program, and explains what it saw. It needs
root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) and nothing else.`,
		Example: `  sudo uscope demo
  go run ./cmd/uscope demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), rounds)
		},
	}
	c.Flags().IntVar(&rounds, "requests", 300, "requests the workload serves")
	return c
}

func runDemo(ctx context.Context, out io.Writer, rounds int) error {
	if ctx == nil {
		ctx = context.Background()
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find uscope's own executable: %w", err)
	}
	child := exec.Command(exe, "__demo-workload", "--requests", strconv.Itoa(rounds))
	stdin, err := child.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return fmt.Errorf("start the demo workload: %w", err)
	}
	defer func() {
		stdin.Close()
		child.Process.Kill()
		child.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		return errors.New("the demo workload did not start")
	}
	pid := child.Process.Pid
	// Arguments by name need DWARF; `go run` builds without it, and then
	// the demo reads them by position in Go's register ABI instead.
	args := "str(args.path), args.size"
	if !hasDWARF(exe) {
		args = "str(goarg(0), goarg(1)), goarg(2)"
	}
	src := fmt.Sprintf(demoProgram, exe, args)
	prog, err := lang.Parse("demo", src)
	if err != nil {
		return fmt.Errorf("demo program: %w", err)
	}

	fmt.Fprintf(out, "uscope demo: tracing a bundled Go workload (pid %d) as it serves %d requests.\n\n", pid, rounds)
	fmt.Fprintf(out, "The program, as you would run it yourself:\n\n  uscope run -p %d -e '\n", pid)
	for _, l := range strings.Split(strings.TrimRight(src, "\n"), "\n") {
		fmt.Fprintf(out, "  %s\n", l)
	}
	fmt.Fprintf(out, "  '\n\nWhat each probe is:\n")
	fmt.Fprintf(out, "  usdt       a USDT probe the Go workload declared at run time (package stapsdt, no cgo);\n")
	fmt.Fprintf(out, "             its semaphore is switched on by the kernel while uscope is attached\n")
	fmt.Fprintf(out, "  uprobe     entry of a Go function, after its stack check; arguments placed by Go's\n")
	fmt.Fprintf(out, "             register ABI, by name when the binary has DWARF (a string is a pointer\n")
	fmt.Fprintf(out, "             and a length: goarg(0), goarg(1))\n")
	fmt.Fprintf(out, "  uretprobe  return of a Go function, probed at each RET instruction: never a kernel\n")
	fmt.Fprintf(out, "             uretprobe, which crashes Go programs when their stacks move\n")
	fmt.Fprintf(out, "  hist()     request latency from the usdt probe's argument, aggregated in the kernel;\n")
	fmt.Fprintf(out, "             maps print when the program ends: @latency_us in µs, @requests per path\n\n")
	fmt.Fprintf(out, "Events (the first three of each kind):\n")

	cfg := session.Config{Program: prog, PID: pid, Out: out}
	cfg.Ready = func() {
		// Let the workload start serving once everything is attached.
		fmt.Fprintln(stdin, "go")
	}
	start := time.Now()
	if err := runSession(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintf(out, "Traced %d requests in %.1fs. Try your own: uscope list -p PID, uscope run --help.\n",
		rounds, time.Since(start).Seconds())
	return nil
}

func newDemoWorkloadCommand() *cobra.Command {
	var rounds int
	c := &cobra.Command{
		Use:    "__demo-workload",
		Short:  "The workload `uscope demo` traces",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demoWorkload(os.Stdin, os.Stdout, rounds)
		},
	}
	c.Flags().IntVar(&rounds, "requests", 300, "requests to serve")
	return c
}

// demoWorkload declares two USDT probes, says "ready", waits for a line on
// stdin, then serves requests: each fires request__start, calls demoHandle
// and fires request__done with its latency in microseconds.
func demoWorkload(in io.Reader, out io.Writer, rounds int) error {
	p, err := stapsdt.NewProvider("uscope_demo")
	if err != nil {
		return err
	}
	startProbe, err := p.AddProbe("request__start", stapsdt.String, stapsdt.Int64)
	if err != nil {
		return err
	}
	doneProbe, err := p.AddProbe("request__done", stapsdt.String, stapsdt.Int64)
	if err != nil {
		return err
	}
	if err := p.Load(); err != nil {
		return err
	}
	defer p.Unload()
	fmt.Fprintln(out, "ready")
	bufio.NewReader(in).ReadString('\n')
	paths := []string{"/api/users", "/api/orders", "/static/logo.png", "/api/search"}
	for i := 0; i < rounds; i++ {
		path := paths[i%len(paths)]
		if startProbe.Enabled() {
			startProbe.Fire(path, int64(i))
		}
		t0 := time.Now()
		demoHandle(path, 64*(i%8+1))
		if doneProbe.Enabled() {
			doneProbe.Fire(path, time.Since(t0).Microseconds())
		}
	}
	return nil
}

// demoHandle stands for a request handler: it takes longer for larger
// sizes and answers with an HTTP status.
//
//go:noinline
func demoHandle(path string, size int) int {
	time.Sleep(time.Duration(size) * 20 * time.Microsecond)
	if strings.HasPrefix(path, "/static/") {
		return 304
	}
	return 200
}

// hasDWARF reports whether the executable at path carries DWARF.
func hasDWARF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Section(".debug_info") != nil
}
