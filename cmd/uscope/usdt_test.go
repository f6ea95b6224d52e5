package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/proc"
	"github.com/uscope/uscope/usdt"
)

// usdtArgsBinary builds testdata/usdtargs.c with gcc flags.
func usdtArgsBinary(t *testing.T, flags ...string) string {
	t.Helper()
	testutil.RequireFile(t, "/usr/include/x86_64-linux-gnu/sys/sdt.h")
	src, err := os.ReadFile("testdata/usdtargs.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "usdtargs", string(src), append([]string{"-Wall"}, flags...)...)
}

// usdtArgsProgram prints every argument of the argument probes of
// usdtargs.c as "got PROBE VALUES", in the formats the C program prints
// "want PROBE VALUES" with.
func usdtArgsProgram(bin string) string {
	return fmt.Sprintf(`
usdt:%[1]s:test:consts { printf("got consts %%d %%lu %%d %%u\n", arg0, arg1, arg2, arg3); }
usdt:%[1]s:test:regs { printf("got regs %%d %%u %%d %%u %%d %%u %%ld %%lu\n", arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7); }
usdt:%[1]s:test:mem { printf("got mem %%d %%d %%d\n", arg0, arg1, arg2); }
usdt:%[1]s:test:sib { printf("got sib %%d %%d %%d\n", arg0, arg1, arg2); }
usdt:%[1]s:test:sibstack { printf("got sibstack %%d\n", arg0); }
usdt:%[1]s:test:rip { printf("got rip %%d %%d %%u %%d %%d\n", arg0, arg1, arg2, arg3, arg4); }
usdt:%[1]s:test:rip2 { printf("got rip2 %%d\n", arg0); }
usdt:%[1]s:test:vec { printf("got vec %%d\n", arg1); }
`, bin)
}

// prefixed returns the lines of out that start with prefix, without it,
// sorted.
func prefixed(out, prefix string) []string {
	var l []string
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			l = append(l, rest)
		}
	}
	slices.Sort(l)
	return l
}

// operandForm names an argument's operand form, for coverage.
func operandForm(a usdt.Arg) string {
	if a.Kind == usdt.ArgMemIndex && a.Reg.Name == "" {
		return "mem-index without base"
	}
	return a.Kind.String()
}

// TestUSDTArgumentForms runs the argument probes of usdtargs.c built four
// ways, so that the compiler picks every operand form, and checks that each
// value uscope prints equals the one the program passed: negative numbers,
// every width, registers, memory through base+displacement and SIB, a
// global array without base register (non-PIE), RIP-relative globals (one
// spec at two sites), constants.
func TestUSDTArgumentForms(t *testing.T) {
	testutil.RequireRoot(t)
	variants := []struct {
		name  string
		flags []string
	}{
		{"O0", []string{"-O0"}},
		{"O2-pie", []string{"-O2", "-fPIE", "-pie"}},
		{"O2-nopie", []string{"-O2", "-fno-pie", "-no-pie"}},
		{"O3-nopie", []string{"-O3", "-fno-pie", "-no-pie"}},
	}
	forms := map[string]bool{}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			bin := usdtArgsBinary(t, v.flags...)
			sites, err := usdt.ReadSites(bin)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sites {
				for _, a := range s.Args {
					if a.Err == nil {
						forms[operandForm(a)] = true
					}
				}
			}
			r := runUscope(t, "run", "-c", bin+" args 3", "-e", usdtArgsProgram(bin))
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			want, got := prefixed(r.stderr, "want "), prefixed(r.stdout, "got ")
			if len(want) != 3*9 {
				t.Fatalf("the program reported %d probe hits, want 27\n%s", len(want), r.stderr)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("values differ\ngot:  %q\nwant: %q", got, want)
			}
			// The early probe was not asked for: its semaphore stayed 0.
			wantLines(t, r.stderr, "early semaphore 0")
		})
	}
	for _, f := range []string{"const", "reg", "mem", "mem-index", "mem-index without base", "rip"} {
		if !forms[f] {
			t.Errorf("no variant produced a %s operand; forms seen: %v", f, forms)
		}
	}
}

// TestUSDTProbeNames covers how USDT probes are named: the short U:, the
// provider left out, '*' in the name and the provider, bcc's trace spec
// u:LIB:[PROVIDER:]NAME, the target left out (with -c: the objects mapped
// at exec); and the errors: an ambiguous name, an argument in an SSE
// register (an error only when the program reads it), no such probe.
func TestUSDTProbeNames(t *testing.T) {
	testutil.RequireRoot(t)
	bin := usdtArgsBinary(t, "-O2")
	cases := []struct {
		name    string
		args    []string
		code    int
		stdout  []string // lines, in order
		errWant []string // substrings of stderr
	}{
		{name: "short U:", args: []string{"run", "-e", `U:` + bin + `:test:consts { printf("c %d\n", arg0); }`},
			stdout: []string{"c -5", "c -5"}},
		{name: "provider omitted", args: []string{"run", "-e", `usdt:` + bin + `:sibstack { printf("s %d\n", arg0); }`},
			stdout: []string{"s -40", "s -39"}},
		{name: "target omitted", args: []string{"run", "-e", `usdt::test:sibstack { printf("s %d\n", arg0); }`},
			stdout: []string{"s -40", "s -39"}},
		{name: "target omitted, library probe", args: []string{"run", "-e", `usdt::libstdcxx:throw { }`},
			code: 1, errWant: []string{`no USDT probe matches "libstdcxx:throw" in any object mapped in process`, "with -c, libraries are not loaded yet"}},
		{name: "glob in name", args: []string{"run", "-e", `usdt:` + bin + `:test:rip* { @[probe] = count(); }`},
			stdout: []string{"@[usdt:" + bin + ":test:rip]: 2", "@[usdt:" + bin + ":test:rip2]: 4"}},
		{name: "glob in provider", args: []string{"run", "-e", `usdt:` + bin + `:*:dup { @[probe] = count(); }`},
			stdout: []string{"@[usdt:" + bin + ":prova:dup]: 2", "@[usdt:" + bin + ":provb:dup]: 2"}},
		{name: "bcc trace", args: []string{"trace", `u:` + bin + `:test:regs "%d %d", arg1, arg7`},
			stdout: []string{"regs             -1 -5000000000", "regs             -2 -5000000001"}},
		{name: "bcc trace, provider omitted", args: []string{"trace", `u:` + bin + `:consts "%d", arg3`},
			stdout: []string{"consts           -1", "consts           -1"}},
		{name: "SSE argument unused", args: []string{"run", "-e", `usdt:` + bin + `:test:vec { printf("v %d\n", arg1); }`},
			stdout: []string{"v -70", "v -71"}},
		{name: "SSE argument used", args: []string{"run", "-e", `usdt:` + bin + `:test:vec { printf("v %d\n", arg0); }`},
			code: 1, errWant: []string{"arg0 of USDT probe test:vec cannot be fetched at its site 0x", "in " + bin, "SSE register"}},
		{name: "ambiguous name", args: []string{"run", "-e", `usdt:` + bin + `:dup { }`},
			code: 1, errWant: []string{`USDT probe "dup" is defined by 2 providers in ` + bin + ": prova, provb", "usdt:" + bin + ":prova:dup"}},
		{name: "no such probe", args: []string{"run", "-e", `usdt:` + bin + `:test:nope { }`},
			code: 1, errWant: []string{`no USDT probe matches "test:nope" in ` + bin}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.args[0], "--command", bin + " args 2"}, tc.args[1:]...)
			r := runUscope(t, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.errWant {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q\n%s", w, r.stderr)
				}
			}
			if len(tc.stdout) == 0 {
				return
			}
			// Trace rows start with PID TID COMM; compare from FUNC on.
			var lines []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if tc.args[0] == "trace" {
					if f := strings.Fields(l); len(f) > 3 && f[0] != "PID" {
						_, l, _ = strings.Cut(l, f[2]+" ")
						l = strings.TrimLeft(l, " ")
					}
				}
				lines = append(lines, l)
			}
			wantLines(t, strings.Join(lines, "\n"), tc.stdout...)
		})
	}
}

// child is a test program running in the background, its standard output
// read line by line.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startChild starts a program whose output the test reads; it is killed
// and reaped at the end of the test.
func startChild(t *testing.T, name string, args ...string) *child {
	t.Helper()
	c := &child{t: t, cmd: exec.Command(name, args...), lines: make(chan string, 1000)}
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// next returns the next line the program prints; it fails the test if the
// program ends first or prints nothing for 30 s.
func (c *child) next() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("%s exited", c.cmd.Path)
		}
		return l
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s printed nothing for 30s", c.cmd.Path)
	}
	return ""
}

// expect reads the next line and checks it.
func (c *child) expect(want string) {
	c.t.Helper()
	if got := c.next(); got != want {
		c.t.Fatalf("%s printed %q, want %q", c.cmd.Path, got, want)
	}
}

// poke sends the guarded-mode program of usdtargs.c a line and checks its
// answer ("fired K" or "skipped K").
func (c *child) poke(want string) {
	c.t.Helper()
	fmt.Fprintln(c.stdin, "x")
	c.expect(want)
}

// semaphoreAddr returns the runtime address of symbol sym of bin, the
// executable of process pid.
func semaphoreAddr(t *testing.T, pid int, bin, sym string) uint64 {
	t.Helper()
	link := testutil.SymbolValue(t, bin, sym)
	objs, err := proc.Objects(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Exe {
			return o.RuntimeAddr(link)
		}
	}
	t.Fatalf("process %d: executable not among its mappings", pid)
	return 0
}

// readSemaphore reads the 2-byte semaphore at addr in process pid, through
// /proc/PID/mem as a tracer without kernel ref_ctr would.
func readSemaphore(t *testing.T, pid int, addr uint64) uint16 {
	t.Helper()
	return testutil.ReadUint16(t, pid, addr)
}

// waitExit waits until uscope exits by itself.
func (tr *tracer) waitExit() string {
	tr.t.Helper()
	select {
	case <-tr.done:
	case <-time.After(30 * time.Second):
		tr.t.Fatalf("uscope did not exit within 30s after its process ended\n%s", tr.output())
	}
	return tr.output()
}

// TestUSDTSemaphores checks the kernel's ref_ctr semaphores end to end: a
// semaphore-guarded probe attached by path fires in a process that was
// running before and one started after the attach; the counters, read from
// /proc/PID/mem, are 1 while attached and 0 again after uscope exits; -p
// enables only that process's; -c enables them before the first
// instruction; a conflicting uprobe from another tracer gives a clear error.
func TestUSDTSemaphores(t *testing.T) {
	testutil.RequireRoot(t)
	bin := usdtArgsBinary(t, "-O2", "-fPIE", "-pie")
	const sema = "test_guarded_semaphore"
	prog := fmt.Sprintf(`usdt:%s:test:guarded { printf("guarded %%d %%d\n", arg0, arg1); }`, bin)

	t.Run("system-wide", func(t *testing.T) {
		a := startChild(t, bin, "guarded")
		a.expect(fmt.Sprintf("ready %d", a.pid()))
		semA := semaphoreAddr(t, a.pid(), bin, sema)
		if v := readSemaphore(t, a.pid(), semA); v != 0 {
			t.Fatalf("semaphore %d before attach", v)
		}
		a.poke("skipped 1")

		tr := startUscope(t, "run", "-e", prog)
		if v := readSemaphore(t, a.pid(), semA); v != 1 {
			t.Fatalf("semaphore of the running process is %d while attached, want 1", v)
		}
		b := startChild(t, bin, "guarded")
		b.expect(fmt.Sprintf("ready %d", b.pid()))
		semB := semaphoreAddr(t, b.pid(), bin, sema)
		if v := readSemaphore(t, b.pid(), semB); v != 1 {
			t.Fatalf("semaphore of a process started after attach is %d, want 1", v)
		}
		a.poke("fired 2")
		b.poke("fired 1")
		tr.waitLine(fmt.Sprintf("guarded %d 2", a.pid()))
		tr.waitLine(fmt.Sprintf("guarded %d 1", b.pid()))
		tr.stop()
		if va, vb := readSemaphore(t, a.pid(), semA), readSemaphore(t, b.pid(), semB); va != 0 || vb != 0 {
			t.Fatalf("semaphores after uscope exited: %d and %d, want 0", va, vb)
		}
		a.poke("skipped 3")
		b.poke("skipped 2")

		// -p --no-follow: only that process's semaphore goes up (the
		// kernel's pid filter). Following descendants, the default, attaches
		// to the file for every process and filters in the program.
		tr = startUscope(t, "run", "--no-follow", "-p", strconv.Itoa(b.pid()), "-e", prog)
		if va, vb := readSemaphore(t, a.pid(), semA), readSemaphore(t, b.pid(), semB); va != 0 || vb != 1 {
			t.Fatalf("with -p %d: semaphores %d (other process) and %d (traced), want 0 and 1", b.pid(), va, vb)
		}
		a.poke("skipped 4")
		b.poke("fired 3")
		tr.waitLine(fmt.Sprintf("guarded %d 3", b.pid()))
		out := tr.stop()
		if strings.Contains(out, fmt.Sprintf("guarded %d ", a.pid())) {
			t.Fatalf("traced another process\n%s", out)
		}
		if vb := readSemaphore(t, b.pid(), semB); vb != 0 {
			t.Fatalf("semaphore %d after uscope -p exited, want 0", vb)
		}
	})

	t.Run("command", func(t *testing.T) {
		// main reads the semaphore of "early" as its first statement.
		r := runUscope(t, "run", "-c", bin+" args 0", "-e",
			fmt.Sprintf(`usdt:%s:test:early { printf("early %%d %%d\n", arg0, arg1); }`, bin))
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		wantLines(t, r.stdout, "early 3 1")
		wantLines(t, r.stderr, "early semaphore 1")
	})

	t.Run("conflicting tracer", func(t *testing.T) {
		sites, err := usdt.ReadSites(bin)
		if err != nil {
			t.Fatal(err)
		}
		var site usdt.Site
		for _, s := range sites {
			if s.Name == "guarded" {
				site = s
			}
		}
		if site.SemaphoreOffset == 0 {
			t.Fatalf("no semaphore on test:guarded: %+v", site)
		}
		// Another tracer puts a plain uprobe (no semaphore) on the site.
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type: ebpf.Kprobe, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ex, err := link.OpenExecutable(bin)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ex.Uprobe("", p, &link.UprobeOptions{Address: site.FileOffset})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r := runUscope(t, "run", "-e", prog)
		if r.code != 2 {
			t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, w := range []string{"another tracer", "ref_ctr_offset mismatch", fmt.Sprintf("%s+%#x", bin, site.FileOffset)} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q\n%s", w, r.stderr)
			}
		}
		t.Logf("uscope: %s", r.stderr)
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
			t.Errorf("the error is %d lines, want one\n%s", n+1, r.stderr)
		}
	})
}

// TestUSDTDynamicProbe traces a probe that a process creates at run time
// (testdata/dynprobe.c: an ELF object with a stapsdt note written into a
// memfd and mapped, its semaphore included): `list -p` shows it, and run -p
// attaches through /proc/PID/map_files, both as usdt::PROVIDER:NAME and by
// the pasted listing line. The values printed equal those passed.
func TestUSDTDynamicProbe(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/dynprobe.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "dynprobe", string(src), "-O1", "-Wall")
	const listed = `usdt:"/memfd:uscope-dyn":uscope_dyn:hit`
	for _, ap := range []string{"usdt::uscope_dyn:hit", listed} {
		t.Run(ap, func(t *testing.T) {
			c := startChild(t, bin, "5")
			c.expect(fmt.Sprintf("ready %d", c.pid()))
			pid := strconv.Itoa(c.pid())
			r := runUscope(t, "list", "-p", pid, "usdt:*")
			if r.code != 0 || strings.TrimSpace(r.stdout) != listed {
				t.Fatalf("list -p %s 'usdt:*': exit %d\n%s%s", pid, r.code, r.stdout, r.stderr)
			}
			tr := startUscope(t, "run", "-p", pid, "-e", ap+` { printf("got %d %s %d\n", arg0, str(arg1), arg2); }`)
			var fired []string
			for range 5 {
				l := c.next()
				rest, ok := strings.CutPrefix(l, "fired ")
				if !ok {
					t.Fatalf("program printed %q", l)
				}
				fired = append(fired, rest)
			}
			out := tr.waitExit()
			slices.Sort(fired)
			if got := prefixed(out, "got "); !slices.Equal(got, fired) {
				t.Fatalf("got %q, want %q\n%s", got, fired, out)
			}
		})
	}
}
