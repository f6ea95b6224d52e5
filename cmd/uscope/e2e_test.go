package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/testutil"
)

// uscopeBin is the uscope binary the end-to-end tests run, built once.
var uscopeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "uscope-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	uscopeBin = filepath.Join(dir, "uscope")
	cmd := exec.Command("go", "build", "-o", uscopeBin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build uscope: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one uscope invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// runUscope runs the uscope binary with a time limit and returns its output.
func runUscope(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, uscopeBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("uscope %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("uscope %q did not finish within 60s\nstdout:\n%s\nstderr:\n%s", args, out.String(), errb.String())
	}
	return result{out.String(), errb.String(), code}
}

// wantLines checks that each wanted line appears in out, in order.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			t.Fatalf("output lacks line %q (in order)\n--- output:\n%s", w, out)
		}
		i++
	}
}

// argsExit is the status testdata/args.c exits with; uscope -c exits with
// the command's status.
const argsExit = 3

// argsProgram builds testdata/args.c once per test.
func argsProgram(t *testing.T, flags ...string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/args.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "args", string(src), append([]string{"-O0", "-fno-omit-frame-pointer"}, flags...)...)
}

func TestRunArguments(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	prog := fmt.Sprintf(`
uprobe:%[1]s:widths { printf("w %%d %%u %%d %%u %%d %%u %%ld %%lu\n", (int8)arg0, (uint8)arg1, (int16)arg2, (uint16)arg3, (int32)arg4, (uint32)arg5, (int64)arg6, arg7); }
uprobe:%[1]s:strs { printf("s %%s %%s %%s\n", str(arg0), str(arg1, arg2), str(arg1)); }
uretprobe:%[1]s:ret42 { printf("r %%d\n", retval); }
uprobe:%[1]s:deref { printf("d %%d %%d\n", *(int64*)arg0, *(int32*)(arg0 + 8)); }
`, bin)
	r := runUscope(t, "run", "-c", bin+" 2", "-e", prog)
	if r.code != argsExit {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w := "w -5 250 -1234 65000 -100000 4000000000 -5000000000 18000000000000000000"
	wantLines(t, r.stdout, w, w)
	wantLines(t, r.stdout, "s hello world world-and-more", "s hello world world-and-more")
	wantLines(t, r.stdout, "r 42", "r 44")
	wantLines(t, r.stdout, "d 77 -3", "d 77 -3")
	// The program's own output passes through untouched.
	wantLines(t, r.stdout, "ret42(0) = 42", "ret42(1) = 44", "done")
}

func TestRunOffsetAndAddress(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var addr uint64
	for _, s := range syms {
		if s.Name == "ret42" {
			addr = s.Value
		}
	}
	if addr == 0 {
		t.Fatal("ret42 not in the symbol table")
	}
	stripped := filepath.Join(t.TempDir(), "args-stripped")
	if out, err := exec.Command("strip", "-s", "-o", stripped, bin).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v\n%s", err, out)
	}
	// -O0 with frame pointers: ret42 starts with push %rbp (1 byte), so +1
	// is the next instruction, where the argument is still in %rdi.
	prog := fmt.Sprintf(`uprobe:%s:ret42+1 { printf("off %%d\n", arg0); }`, bin)
	r := runUscope(t, "run", "-c", bin, "-e", prog)
	if r.code != argsExit {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "off 0")
	// The stripped copy is another file: run it too.
	r = runUscope(t, "run", "-c", stripped+" 3", "-e", fmt.Sprintf(`uprobe:%s:0x%x { printf("addr %%d\n", arg0); }`, stripped, addr))
	if r.code != argsExit {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "addr 0", "addr 1", "addr 2")
}

func TestRunBadInput(t *testing.T) {
	bin := argsProgram(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"syntax", []string{"run", "-e", "uprobe:" + bin + ":main { printf(\"x\" }"}, 1, "stdin:1:"},
		{"unknown builtin", []string{"run", "-e", "uprobe:" + bin + ":main { printf(\"%d\", nope); }"}, 1, "unknown identifier"},
		{"no program", []string{"run"}, 1, "no program"},
		{"missing file", []string{"run", "-e", "uprobe:/no/such/file:f { }"}, 1, "/no/such/file"},
		{"no function", []string{"run", "-e", "uprobe:" + bin + ":no_such_function_xyz { }"}, 1, "no_such_function_xyz"},
		{"offset inside an instruction", []string{"run", "-e", "uprobe:" + bin + ":ret42+2 { }"}, 1, "ret42+2 is inside an instruction"},
		{"address outside code", []string{"run", "-e", "uprobe:" + bin + ":0x1 { }"}, 1, "not in an executable segment"},
		{"retval at entry", []string{"run", "-e", "uprobe:" + bin + ":main { printf(\"%d\", retval); }"}, 1, "retval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runUscope(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit code %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("stderr %q lacks %q", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "panic") {
				t.Fatalf("panic: %s", r.stderr)
			}
		})
	}
}

// TestTraceUserStack prints the user stack below each trace row (-U).
func TestTraceUserStack(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	r := runUscope(t, "trace", "-U", "--cmd", bin, fmt.Sprintf(`p:%s:ret42 "x=%%d" arg1`, bin))
	if r.code != argsExit {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "PID     TID     COMM            FUNC             -")
	if !strings.Contains(r.stdout, "ret42            x=0") ||
		!strings.Contains(r.stdout, "        ret42+0x0 [args]") || !strings.Contains(r.stdout, "        main+0x") {
		t.Fatalf("no symbolized stack\n%s", r.stdout)
	}
}

// TestDemo runs `uscope demo` as a new user would: it must exit 0 and show
// events from every probe kind and the histogram.
func TestDemo(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "demo", "--requests", "40")
	checkDemo(t, r)
	// `go run` builds without DWARF: the demo then reads arguments by
	// position. Check that build too.
	stripped := filepath.Join(t.TempDir(), "uscope-nodwarf")
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", stripped, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(stripped, "demo", "--requests", "40")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	checkDemo(t, result{out.String(), errb.String(), code})
}

func checkDemo(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"  usdt       request__start  path=/api/users n=0",
		"  uprobe     main.demoHandle(path=/api/users, size=64)",
		"  uretprobe  main.demoHandle returned 200",
		"  uretprobe  main.demoHandle returned 304",
		"@latency_us:",
		"@requests[/api/users]: 10",
		"Traced 40 requests",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("demo output lacks %q\n%s", want, r.stdout)
		}
	}
}

// TestTracedProgramUnchanged checks that a program traced with -p prints
// exactly what it prints untraced and exits with the same code.
func TestTracedProgramUnchanged(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	run := func(traced bool) (string, int) {
		cmd := exec.Command(bin, "3", "wait")
		stdin, _ := cmd.StdinPipe()
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		var tr *tracer
		if traced {
			tr = startUscope(t, "run", "-p", fmt.Sprint(cmd.Process.Pid), "-e", fmt.Sprintf(
				`uprobe:%[1]s:widths,uprobe:%[1]s:strs { @[func] = count(); } uretprobe:%[1]s:ret42 { @r = sum(retval); }`, bin))
		}
		stdin.Write([]byte("go\n"))
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if traced {
			<-tr.done
			wantLines(t, tr.output(), "@[strs]: 3", "@[widths]: 3", "@r: 132")
		}
		return out.String(), code
	}
	plainOut, plainCode := run(false)
	tracedOut, tracedCode := run(true)
	if plainCode != 3 || tracedCode != plainCode || tracedOut != plainOut {
		t.Fatalf("untraced: exit %d, %q\ntraced: exit %d, %q", plainCode, plainOut, tracedCode, tracedOut)
	}
}

// TestCodeReadsIgnoreBreakpoints checks that code read for decoding (entry
// placement, instruction boundaries, Go RET sites) is the file's, not a
// mapping into which the kernel wrote the int3 of a registered uprobe.
func TestCodeReadsIgnoreBreakpoints(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t)
	addr := testutil.SymbolValue(t, bin, "ret42")
	tr := startUscope(t, "run", "--exact-entry", "-e", fmt.Sprintf(`uprobe:%s:ret42 { }`, bin))
	f, err := elfx.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAtAddr(b[:], addr); err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x55 { // push %rbp, as gcc -O0 starts ret42
		t.Fatalf("ret42 starts with %#x through elfx while probed, want 0x55", b[0])
	}
	tr.stop()
}

// TestUstackFrames prints a user stack, whole and limited with ustack(N).
func TestUstackFrames(t *testing.T) {
	testutil.RequireRoot(t)
	bin := argsProgram(t, "-g")
	r := runUscope(t, "run", "-c", bin, "-e", fmt.Sprintf(`uprobe:%s:ret42 { print(ustack(1)); print(ustack); }`, bin))
	if r.code != argsExit {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "        ret42+0", "", "", "        ret42+0")
	if !strings.Contains(r.stdout, "        main+") {
		t.Fatalf("whole stack lacks main\n%s", r.stdout)
	}
	if i := strings.Index(r.stdout, "ret42+0"); strings.Contains(r.stdout[i:strings.Index(r.stdout[i:], "\n\n")+i], "main+") {
		t.Fatalf("ustack(1) printed more than one frame\n%s", r.stdout)
	}
}

// burstSrc calls hit() 300000 times as fast as it can.
const burstSrc = `
__attribute__((noinline)) void hit(long i) { __asm__ volatile("" ::: "memory"); }
int main(void) {
	for (long i = 0; i < 300000; i++)
		hit(i);
	return 0;
}
`

// TestLostEvents overflows the ring buffer on purpose: every event is
// either printed or counted in "Lost N events", exactly.
func TestLostEvents(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "burst", burstSrc, "-O1")
	r := runUscope(t, "run", "-c", bin, "-e",
		fmt.Sprintf(`uprobe:%s:hit { printf("%%d %%r\n", arg0, buf(arg0, 200)); }`, bin))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// Events are the non-empty lines (a run ends with two empty lines).
	printed := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		if l != "" {
			printed++
		}
	}
	var lost int
	for _, l := range strings.Split(r.stdout, "\n") {
		if n, err := fmt.Sscanf(l, "Lost %d events", &lost); err == nil && n == 1 {
			printed-- // the report's own line
			break
		}
	}
	if lost == 0 {
		t.Logf("no event lost: the reader kept up with %d events", printed)
	}
	if printed+lost != 300000 {
		t.Fatalf("printed %d + lost %d = %d events, want 300000", printed, lost, printed+lost)
	}
}
