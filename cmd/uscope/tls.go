package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/tools"
	"github.com/uscope/uscope/proc"
)

func init() { commands = append(commands, newTLSCommand) }

// tlsSonames are the libraries traced system-wide when no process is named.
var tlsSonames = []struct {
	soname string
	lib    tools.TLSLibrary
}{
	{"libssl.so.3", tools.OpenSSL},
	{"libssl.so.1.1", tools.OpenSSL},
	{"libgnutls.so.30", tools.GnuTLS},
	{"libnspr4.so", tools.NSS},
	{"libcrypto.so.3", tools.OpenSSLBIO},
	{"libcrypto.so.1.1", tools.OpenSSLBIO},
}

// maxTLSBytes is the largest capture of one read or write.
const maxTLSBytes = 1024

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
	duration seconds
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
	c.Flags().IntVar(&f.maxBytes, "max-bytes", 256, fmt.Sprintf("capture at most `N` bytes of each read or write (at most %d)", maxTLSBytes))
	c.Flags().BoolVarP(&f.latency, "latency", "l", false, "print the time each call took")
	c.Flags().BoolVar(&f.json, "json", false, "print one JSON object per read or write")
	c.Flags().BoolVar(&f.program, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().VarP(&f.duration, "duration", "d", "stop after `SEC` seconds (or a duration: 1m)")
	return c
}

func runTLS(cmd *cobra.Command, f *tlsFlags) error {
	if f.maxBytes < 1 || f.maxBytes > maxTLSBytes {
		return toolError(cmd, fmt.Errorf("--max-bytes %d is out of range: give 1 to %d", f.maxBytes, maxTLSBytes))
	}
	targets, err := tlsTargets(f)
	if err != nil {
		return toolError(cmd, err)
	}
	tool, err := tools.TLS(tools.TLSOptions{Targets: targets, Latency: f.latency, Has: tlsHas})
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
	stderr := cmd.ErrOrStderr()
	p := &tools.TLSPrinter{Out: cmd.OutOrStdout(), Comm: f.comm, Hex: f.hex, Latency: f.latency, JSON: f.json, Start: monotonicNow(), Wall: time.Now()}
	cfg.Printf = p.Printf
	cfg.Attached = func(probes int) {
		var names []string
		for _, t := range targets {
			names = append(names, fmt.Sprintf("%s (%s)", t.Path, t.Library))
		}
		fmt.Fprintf(stderr, "Attached %d probes: TLS in %s. Ctrl-C to end.\n", probes, strings.Join(names, ", "))
		p.Header()
	}
	cfg.Report = func([]*output.Map, bool) {}
	err = runSession(cmd.Context(), cfg)
	return plainToolError(err, tools.ProgramFile("tls"))
}

// tlsTargets finds what to trace: --lib paths, or the objects of -p's
// process, or the libraries in ld.so.cache (and -c's executable).
func tlsTargets(f *tlsFlags) ([]tools.TLSTarget, error) {
	out, err := tlsFindTargets(f)
	if err != nil {
		return nil, err
	}
	return tlsKeepBIO(out), nil
}

// tlsFindTargets finds the objects to trace, for tlsTargets.
func tlsFindTargets(f *tlsFlags) ([]tools.TLSTarget, error) {
	var out []tools.TLSTarget
	seen := map[string]bool{}
	add := func(path string, must bool) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		libs := tlsClassifyAll(path)
		if len(libs) == 0 {
			if must {
				return fmt.Errorf("%s holds none of the TLS functions uscope traces (SSL_write, gnutls_record_send, PR_Write, crypto/tls.(*Conn).Write)", path)
			}
			return nil
		}
		out = append(out, libs...)
		return nil
	}
	if err := tlsJavaCheck(f); err != nil {
		return nil, err
	}
	if len(f.addrs) > 0 {
		return tlsAddrTarget(f)
	}
	for _, l := range f.libs {
		path := l
		if !strings.ContainsRune(l, '/') {
			if c, err := proc.ReadLDCache(proc.DefaultLDCachePath); err == nil {
				if e, ok := c.Lookup(l); ok {
					path = e.Path
				}
			}
			if path == l {
				if p, err := proc.LookPath(l); err == nil {
					path = p
				}
			}
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--lib %s: %w", l, errors.Unwrap(err))
		}
		if err := add(path, true); err != nil {
			return nil, err
		}
	}
	if len(f.libs) > 0 {
		return out, nil
	}
	if f.sf.pid != 0 {
		objs, err := proc.Objects(f.sf.pid)
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", f.sf.pid, err)
		}
		for _, o := range objs {
			if o.Deleted || o.Memfd || !strings.HasPrefix(o.Path, "/") {
				continue
			}
			add(o.Path, false)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("process %d uses none of OpenSSL, GnuTLS, NSS or Go's crypto/tls (in its mappings or its executable); name the library with --lib", f.sf.pid)
		}
		return out, nil
	}
	if f.sf.command != "" {
		words, err := splitCommand(f.sf.command)
		if err == nil && len(words) > 0 {
			if p, err := proc.LookPath(words[0]); err == nil {
				add(p, false)
			}
		}
	}
	if c, err := proc.ReadLDCache(proc.DefaultLDCachePath); err == nil {
		for _, s := range tlsSonames {
			if e, ok := c.Lookup(s.soname); ok {
				add(e.Path, false)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("found no TLS library (libssl, libgnutls, libnspr4) in the dynamic loader's cache; name one with --lib")
	}
	return out, nil
}

// tlsAddrTarget is the target of --addr: the functions of a stripped
// library, by address, in the one file --lib names.
func tlsAddrTarget(f *tlsFlags) ([]tools.TLSTarget, error) {
	if len(f.libs) != 1 || !strings.ContainsRune(f.libs[0], '/') {
		return nil, errors.New("--addr needs exactly one --lib with the path of the stripped library or program")
	}
	t := tools.TLSTarget{Path: f.libs[0], Addrs: map[string]uint64{}}
	if _, err := os.Stat(t.Path); err != nil {
		return nil, fmt.Errorf("--lib %s: %w", t.Path, errors.Unwrap(err))
	}
	for _, a := range f.addrs {
		name, num, ok := strings.Cut(a, "=")
		addr, err := strconv.ParseUint(strings.TrimPrefix(num, "0x"), 16, 64)
		if !ok || err != nil || !strings.HasPrefix(num, "0x") {
			return nil, fmt.Errorf("--addr %q: give NAME=0xADDR, e.g. SSL_write=0x3a2f0", a)
		}
		lib, ok := tools.TLSLibraryOf(name)
		if !ok {
			return nil, fmt.Errorf("--addr %q: %s is not a function uscope tls traces (%s, %s, %s)", a, name,
				strings.Join(tools.TLSFunctions(tools.OpenSSL), " "), strings.Join(tools.TLSFunctions(tools.GnuTLS), " "),
				strings.Join(tools.TLSFunctions(tools.NSS), " "))
		}
		if t.Library != "" && t.Library != lib {
			return nil, fmt.Errorf("--addr: %s is %s, but other functions given are %s", name, lib, t.Library)
		}
		t.Library = lib
		t.Addrs[name] = addr
	}
	return []tools.TLSTarget{t}, nil
}

// tlsClassify says which TLS implementation the ELF file at path holds.
func tlsClassify(path string) (tools.TLSLibrary, bool) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if b, err := gobin.OpenFile(path); err == nil {
		defer b.Close()
		if _, ok := b.FuncByName("crypto/tls.(*Conn).Write"); ok {
			return tools.GoTLS, true
		}
		return "", false
	}
	f, err := elfx.Open(path, elfx.WithoutDebugFile())
	if err != nil {
		return "", false
	}
	defer f.Close()
	for _, c := range []struct {
		sym string
		lib tools.TLSLibrary
	}{{"SSL_write", tools.OpenSSL}, {"gnutls_record_send", tools.GnuTLS}, {"PR_Write", tools.NSS}} {
		if s, ok := f.Lookup(c.sym); ok && s.IsFunc() && s.Addr != 0 {
			return c.lib, true
		}
	}
	return "", false
}

// tlsHas reports whether the target defines the function name.
func tlsHas(t tools.TLSTarget, name string) bool {
	if t.Library == tools.GoTLS {
		b, err := gobin.OpenFile(t.Path)
		if err != nil {
			return false
		}
		defer b.Close()
		_, ok := b.FuncByName(name)
		return ok
	}
	f, err := elfx.Open(t.Path, elfx.WithoutDebugFile())
	if err != nil {
		return false
	}
	defer f.Close()
	s, ok := f.Lookup(name)
	return ok && s.IsFunc() && s.Addr != 0
}

func monotonicNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// errJavaTLS is the one line `uscope tls` gives for a Java program: JSSE,
// Java's TLS, is Java code run by the JVM, with no native function that sees
// the plaintext.
func errJavaTLS(what string) error {
	return fmt.Errorf("%s is a Java program: its TLS (JSSE) is Java code compiled by the JVM, with no native function to probe; uscope tls does not support it (use -Djavax.net.debug=ssl:record:plaintext, or give --lib for a native library such as netty-tcnative's libssl)", what)
}

// tlsJavaCheck refuses, whatever else is asked, a -p process or -c command
// that is a Java program, unless --lib names what to trace: such a program
// may map libssl for other reasons, and tracing it would print nothing of
// its TLS traffic.
func tlsJavaCheck(f *tlsFlags) error {
	if len(f.libs) > 0 {
		return nil
	}
	if f.sf.pid != 0 {
		if objs, err := proc.Objects(f.sf.pid); err == nil {
			for _, o := range objs {
				if filepath.Base(o.Path) == "libjvm.so" {
					return errJavaTLS(fmt.Sprintf("process %d", f.sf.pid))
				}
			}
		}
		return nil
	}
	if f.sf.command != "" {
		words, err := splitCommand(f.sf.command)
		if err != nil || len(words) == 0 {
			return nil
		}
		p, err := proc.LookPath(words[0])
		if err != nil {
			return nil
		}
		if isJavaLauncher(p) {
			return errJavaTLS(fmt.Sprintf("command %s", words[0]))
		}
	}
	return nil
}

// isJavaLauncher reports whether the executable at path is a JVM launcher
// (java, or a jpackage'd application): it links the JDK's libjli.so.
func isJavaLauncher(path string) bool {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, l := range libs {
		if l == "libjli.so" {
			return true
		}
	}
	return false
}

// tlsClassifyAll returns the TLS implementations the object at path holds:
// a library or program with SSL_write may also hold libcrypto's BIO
// functions (statically linked OpenSSL); libcrypto holds only those.
func tlsClassifyAll(path string) []tools.TLSTarget {
	var out []tools.TLSTarget
	if lib, ok := tlsClassify(path); ok {
		out = append(out, tools.TLSTarget{Library: lib, Path: path})
		if lib != tools.OpenSSL {
			return out
		}
	}
	if off, ok := bioMethodOffset(path); ok {
		out = append(out, tools.TLSTarget{Library: tools.OpenSSLBIO, Path: path, BIOMethodOffset: off})
	}
	return out
}

// tlsKeepBIO drops the BIO targets when no OpenSSL target is traced: SSL
// BIOs come from libssl, so without it there are none to see.
func tlsKeepBIO(ts []tools.TLSTarget) []tools.TLSTarget {
	for _, t := range ts {
		if t.Library == tools.OpenSSL {
			return ts
		}
	}
	var out []tools.TLSTarget
	for _, t := range ts {
		if t.Library != tools.OpenSSLBIO {
			out = append(out, t)
		}
	}
	return out
}

// bioMethodOffset finds, in the object at path, the offset of the method
// pointer in OpenSSL's struct bio_st from the code of BIO_method_type,
// which is "return b->method->type;": on amd64
//
//	mov OFF(%rdi),%rax
//	mov (%rax),%eax
//
// ok is false when the object has no BIO_write or the code is not that.
func bioMethodOffset(path string) (int, bool) {
	f, err := elfx.Open(path, elfx.WithoutDebugFile())
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if f.Machine() != elf.EM_X86_64 {
		return 0, false
	}
	if s, ok := f.Lookup("BIO_write"); !ok || !s.IsFunc() || s.Addr == 0 {
		return 0, false
	}
	s, ok := f.Lookup("BIO_method_type")
	if !ok || !s.IsFunc() || s.Addr == 0 {
		return 0, false
	}
	code := make([]byte, 32)
	n, _ := f.ReadAtAddr(code, s.Addr)
	code = code[:n]
	off := 0
	if len(code) >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa {
		off = 4 // endbr64
	}
	first, err := x86asm.Decode(code[off:], 64)
	if err != nil || first.Op != x86asm.MOV {
		return 0, false
	}
	dst, ok1 := first.Args[0].(x86asm.Reg)
	src, ok2 := first.Args[1].(x86asm.Mem)
	if !ok1 || !ok2 || src.Base != x86asm.RDI || src.Index != 0 || src.Disp < 0 || src.Disp > 256 || first.DataSize != 64 {
		return 0, false
	}
	second, err := x86asm.Decode(code[off+first.Len:], 64)
	if err != nil || second.Op != x86asm.MOV {
		return 0, false
	}
	if m, ok := second.Args[1].(x86asm.Mem); !ok || m.Base != dst || m.Disp != 0 || m.Index != 0 {
		return 0, false
	}
	return int(src.Disp), true
}
