package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newTLSCommand) }

type tlsFlags struct {
	sf       sessionFlags
	libs     []string
	addrs    []string
	comm     string
	hex      bool
	maxBytes int
	latency  bool
	json     bool
	program  bool
	// format is -f/--format (text, json: --json), output -o.
	format, output string
	duration       seconds
	// top is --top N (a summary every interval -i) instead of records.
	top      int
	interval seconds
}

func newTLSCommand() *cobra.Command {
	var f tlsFlags
	c := &cobra.Command{
		Use:   "tls [-p PID] [-c CMD] [--comm NAME] [--lib PATH] [--hex] [--max-bytes N] [-l] [--json]",
		Short: "Print the plaintext of TLS reads and writes (OpenSSL, GnuTLS, NSS, Go crypto/tls)",
		Long: `Tls prints the plaintext that programs hand to their TLS library and get
back from it, one entry per call: the time (seconds since the start), the
function, the process, the thread, the length, the latency with -l, and the
data (at most --max-bytes; longer data is marked truncated with its full
length). Writes and reads are both captured when the call returns, with the
length it returned: the bytes actually written or read. A write that fails
(OpenSSL's -1 when the socket would block, for one) is one line marked
failed, without data; a write of fewer bytes than given is marked partial.
HTTP/2 (curl --http2, Go's net/http) prints frame by frame: type, stream,
length and flags, DATA as text, SETTINGS and WINDOW_UPDATE decoded, header
blocks (HPACK) escaped. Java's TLS (JSSE) is Java code with no native function to probe: uscope tls
refuses Java programs.

Libraries: OpenSSL 1.1 and 3 (SSL_write, SSL_read, SSL_write_ex, SSL_read_ex;
SSL_do_handshake: one line when a handshake ends, with the time since its
first call; and libcrypto's BIO_read, BIO_write and their _ex forms on SSL
BIOs, for programs such as openssl s_server -www that read and write
through a BIO_f_ssl chain), GnuTLS (gnutls_record_send, gnutls_record_recv, gnutls_handshake),
NSS (NSPR's PR_Write, PR_Read, PR_Send, PR_Recv) and Go's crypto/tls
((*Conn).Write and Read; the arguments from Go's register ABI, returns at
every RET instruction; plain and stripped binaries).

Where: with -p, the libraries the process has mapped and its executable
(statically linked OpenSSL or GnuTLS, or a Go program); otherwise the shared
libraries in the dynamic loader's cache, system-wide, so processes started
later are covered too; with -c, also the command's executable. --lib names a
library or executable explicitly (repeatable); the implementation is found
by its symbols. For a stripped C library or program, give the functions by
address with --addr NAME=0xADDR (link-time addresses, as a disassembler
shows them) and one --lib.`,
		Example: `  uscope tls                                  # every process using OpenSSL, GnuTLS or NSS
  uscope tls -p 1234 -l                       # one process, with latencies
  uscope tls -c 'curl -s https://127.0.0.1:8443/'
  uscope tls --lib /srv/bin/api --max-bytes 512 --json   # a Go server
  uscope tls --lib ./stripped-client --addr SSL_write=0x4a2f0 --addr SSL_read=0x4a190`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTLS(cmd, &f)
		},
	}
	f.sf.register(c)
	c.Flags().StringArrayVar(&f.libs, "lib", nil, "trace the TLS library or executable at `PATH` (repeatable)")
	c.Flags().StringArrayVar(&f.addrs, "addr", nil, "with one --lib of a stripped library: trace function `NAME=0xADDR` (e.g. SSL_write=0x3a2f0; repeatable)")
	c.Flags().StringVar(&f.comm, "comm", "", "only processes whose name (comm) is `NAME`")
	c.Flags().BoolVar(&f.hex, "hex", false, "print the data as a hex dump")
	c.Flags().IntVar(&f.maxBytes, "max-bytes", 256, fmt.Sprintf("capture at most `N` bytes of each read or write (at most %d)", tools.MaxTLSBytes))
	c.Flags().BoolVarP(&f.latency, "latency", "l", false, "print the time each call took")
	c.Flags().BoolVar(&f.json, "json", false, "print one JSON object per read or write (as -f json)")
	c.Flags().StringVarP(&f.format, "format", "f", "text", "output `FORMAT`: text, or json (one JSON object per read or write)")
	c.Flags().StringVarP(&f.output, "output", "o", "", "write the output to `FILE` instead of standard output")
	c.Flags().BoolVar(&f.program, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().VarP(&f.duration, "duration", "d", "stop after `SEC` seconds (or a duration: 1m)")
	c.Flags().IntVar(&f.top, "top", 0, "instead of each call, show the `N` processes and functions with the most bytes each interval (-i, default 1s), redrawn in place on a terminal")
	c.Flags().VarP(&f.interval, "interval", "i", "with --top: print every `SEC` seconds (or a duration: 500ms)")
	return c
}

func runTLS(cmd *cobra.Command, f *tlsFlags) error {
	if f.maxBytes < 1 || f.maxBytes > tools.MaxTLSBytes {
		return toolError(cmd, fmt.Errorf("--max-bytes %d is out of range: give 1 to %d", f.maxBytes, tools.MaxTLSBytes))
	}
	targets, err := tools.FindTLSTargets(f.find())
	if err != nil {
		return toolError(cmd, err)
	}
	if f.top != 0 {
		return runTLSTop(cmd, f, targets)
	}
	tool, err := tools.TLS(tools.TLSOptions{Targets: targets, Latency: f.latency, Has: tools.TLSHas})
	if err != nil {
		return toolError(cmd, err)
	}
	if f.program {
		return runTool(cmd, "tls", &toolFlags{showProgram: true}, tool)
	}
	cfg, err := f.sf.config(tool.Program)
	if err != nil {
		return err
	}
	cfg.StrSize = f.maxBytes
	if f.duration.set {
		cfg.Duration = max(f.duration.d, time.Nanosecond)
	}
	out, closeOut, err := f.outputs(cmd)
	if err != nil {
		return err
	}
	defer closeOut()
	stderr := cmd.ErrOrStderr()
	p := &tools.TLSPrinter{Out: out, Comm: f.comm, Hex: f.hex, Latency: f.latency, JSON: f.json, Start: monotonicNow(), Wall: time.Now()}
	cfg.Printf = p.Printf
	cfg.Attached = func(probes int) {
		fmt.Fprintf(stderr, "Attached %d probes: TLS in %s. Ctrl-C to end.\n", probes, tlsTargetNames(targets))
		p.Header()
	}
	cfg.Report = func([]*output.Map, bool) {}
	err = runSession(cmd.Context(), cfg)
	return plainToolError(err, tools.ProgramFile("tls"))
}

// outputs reads -f (setting json) and opens -o's file: where tls and
// sslsniff write, and how to close it.
func (f *tlsFlags) outputs(cmd *cobra.Command) (io.Writer, func(), error) {
	switch f.format {
	case "text", "":
	case "json":
		f.json = true
	default:
		return nil, nil, usageError(fmt.Errorf("--format %q: give text or json", f.format))
	}
	if f.output == "" {
		return cmd.OutOrStdout(), func() {}, nil
	}
	file, err := os.Create(f.output)
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("--output: %w", err))
	}
	return file, func() { file.Close() }, nil
}

// runTLSTop runs tls --top N: the summary tools.TLS keeps with Top set,
// through the flags and the running of the other tools.
func runTLSTop(cmd *cobra.Command, f *tlsFlags, targets []tools.TLSTarget) error {
	tf := &toolFlags{sf: f.sf, interval: f.interval, duration: f.duration, showProgram: f.program,
		format: f.format, output: f.output, top: f.top}
	if f.json {
		tf.format = "json"
	}
	o, err := tf.options(cmd)
	if err != nil {
		return err
	}
	tool, err := tools.TLS(tools.TLSOptions{Targets: targets, Has: tools.TLSHas, Options: o})
	if err != nil {
		return toolError(cmd, err)
	}
	attached, stderr := tool.Attached, cmd.ErrOrStderr()
	tool.Attached = func(probes int) {
		fmt.Fprintf(stderr, "Attached %d probes: TLS in %s. Ctrl-C to end.\n", probes, tlsTargetNames(targets))
		attached(probes)
	}
	return runTool(cmd, "tls", tf, tool)
}

// tlsTargetNames lists the traced objects with their library.
func tlsTargetNames(targets []tools.TLSTarget) string {
	var names []string
	for _, t := range targets {
		names = append(names, fmt.Sprintf("%s (%s)", t.Path, t.Library))
	}
	return strings.Join(names, ", ")
}

func monotonicNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// find is where the flags say to look for TLS libraries.
func (f *tlsFlags) find() tools.TLSFind {
	t := tools.TLSFind{Libs: f.libs, Addrs: f.addrs, PID: f.sf.pid}
	if words, err := splitCommand(f.sf.command); err == nil && len(words) > 0 {
		t.Exe = words[0]
	}
	return t
}
