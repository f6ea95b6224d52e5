package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/testutil"
)

// TestLanguageReference checks that every builtin of the compiler's table
// reaches the user: `uscope language` prints it, the man page of that
// command holds it, and shell completion offers it (the table itself, its
// checkers, emitters and hints are checked by internal/compile's
// TestBuiltinsTable).
func TestLanguageReference(t *testing.T) {
	out, errOut, code := inProcess(t, "language")
	if code != 0 {
		t.Fatalf("uscope language: exit %d: %s", code, errOut)
	}
	comp, errOut, code := inProcess(t, "__complete", "language", "")
	if code != 0 {
		t.Fatalf("completion: exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	if _, errOut, code := inProcess(t, "man", dir); code != 0 {
		t.Fatalf("uscope man: exit %d: %s", code, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "uscope-language.1"))
	if err != nil {
		t.Fatal(err)
	}
	completions := map[string]bool{}
	for _, l := range strings.Split(comp, "\n") {
		name, _, _ := strings.Cut(l, "\t")
		completions[name] = true
	}
	for _, b := range compile.Builtins() {
		shown := b.Name
		if b.Call {
			shown = b.Usage
		}
		if !strings.Contains(out, shown) || !strings.Contains(out, b.Help) {
			t.Errorf("uscope language does not show %s (%s)", b.Name, shown)
		}
		if !strings.Contains(string(page), b.Name) {
			t.Errorf("the man page uscope-language.1 lacks %s", b.Name)
		}
		if !completions[b.Name] {
			t.Errorf("completion does not offer %s", b.Name)
		}
	}
	if _, _, code := inProcess(t, "language", "nosuch"); code != 1 {
		t.Errorf("uscope language nosuch: exit %d, want 1", code)
	}
}

// TestProbeAndFuncAsStrings: bpftrace's func and probe are strings, so a
// program compares and searches them in the kernel (bpftrace main's
// probe_builtin_string_compare); uscope reads them from a table of the
// attached sites' names.
func TestProbeAndFuncAsStrings(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	out := runOK(t, "run", "-c", bin, "-e", `uprobe:`+bin+`:path_* { if (strcontains(probe, "path_b")) { print(probe); exit(); } }`)
	if first, _, _ := strings.Cut(out, "\n"); first != "uprobe:"+bin+":path_b" {
		t.Errorf("print(probe) after strcontains(probe, \"path_b\"): %q, want uprobe:%s:path_b\n%s", first, bin, out)
	}
	out = runOK(t, "run", "-c", bin, "-e", `uprobe:`+bin+`:path_*, uprobe:`+bin+`:leaf /func == "path_b" || strncmp(func, "lea", 3) == 0/ { @[func] = count(); }
		END { printf("%s %d\n", probe, probe == "end"); }`)
	for _, want := range []string{"@[path_b]: 3\n", "@[leaf]: 10\n", "end 1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "path_a") {
		t.Errorf("path_a counted, though func == \"path_b\" is false there:\n%s", out)
	}
}

// TestFloatMembers: a struct may hold float and double members (laid out
// with C's sizes); printed, they have no value, null in JSON, as
// bpftrace's "none" type (main's json-output.none type, whose program this
// is); read alone they are an error that says so.
func TestFloatMembers(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "struct_with_union", `union N { int i; float f; };
struct Foo { int m; union N n; };
void func(struct Foo *foo) { (void)foo; }
int main(void) { struct Foo f = { .m = 2, .n = { .i = 5 } }; func(&f); return 0; }
`, "-O0")
	prog := `union N { int i; float f; }; struct Foo { int m; union N n; }; uprobe:` + bin + `:func { print(*((struct Foo *) arg0)); exit(); }`
	r := runUscope(t, "run", "-q", "-f", "json", "-c", bin, "-e", prog)
	if want := `{"type": "value", "data": {"m": 2, "n": {"i": 5, "f": null}}}` + "\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, want %s in:\n%s\n%s", r.code, want, r.stdout, r.stderr)
	}
	r = runUscope(t, "run", "-e", `struct S { char c; double d; float f; }; BEGIN { print(sizeof(struct S)); exit(); }`)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "24\n") {
		t.Errorf("sizeof(struct { char; double; float; }): exit %d, %q, want 24", r.code, r.stdout)
	}
	r = runUscope(t, "run", "-c", bin, "-e", `union N { int i; float f; }; uprobe:`+bin+`:func { $x = ((union N *) arg0)->f; }`)
	if r.code != 1 || !strings.Contains(r.stderr, "union N.f is floating-point, which uscope does not read") {
		t.Errorf("reading a float member: exit %d\n%s", r.code, r.stderr)
	}
}

// TestUprobeFlatBinary: with --unsafe, a uprobe at an address of a file
// that is not ELF (code a process maps and runs) attaches at that file
// offset, 0 included (bpftrace main's probe.uprobe_flat_binary); without
// --unsafe it is refused in one line saying so.
func TestUprobeFlatBinary(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	code := map[string][]byte{
		"amd64": {0xb8, 0x2a, 0, 0, 0, 0xc3},                      // mov $42, %eax; ret
		"arm64": {0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6}, // mov w0, #42; ret
	}[runtime.GOARCH]
	flat := filepath.Join(dir, "flat.bin")
	if err := os.WriteFile(flat, code, 0o644); err != nil {
		t.Fatal(err)
	}
	runner := testutil.BuildC(t, "mmap_exec", `#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int fd = open(argv[1], O_RDONLY);
	int (*fn)(void) = (int (*)(void))mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (fd < 0 || fn == MAP_FAILED) return 1;
	usleep(300000); /* the tracer attaches in the meantime */
	return fn() == 42 ? 0 : 2;
}
`, "-O0")
	prog := `uprobe:` + flat + `:0x0 { printf("SUCCESS %d\n", pid); exit(); }`
	r := runUscope(t, "run", "--unsafe", "-c", runner+" "+flat, "-e", prog)
	if r.code != 0 || !regexp.MustCompile(`(?m)^SUCCESS \d+$`).MatchString(r.stdout) {
		t.Errorf("--unsafe: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runUscope(t, "run", "-c", runner+" "+flat, "-e", prog)
	if r.code != 1 || !strings.Contains(r.stderr, "is not an ELF file; with --unsafe, 0x0 is taken as a file offset in it") {
		t.Errorf("without --unsafe: exit %d\n%s", r.code, r.stderr)
	}
}

// TestLongStrings: max_strlen goes past 1024 (bpftrace main's
// call.str_big_read sets 9999): a 5000-byte user string is read whole.
func TestLongStrings(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "longstr", `#include <string.h>
__attribute__((noinline)) void take(const char *s) { __asm__ volatile("" :: "r"(s)); }
int main(void) { static char s[5001]; memset(s, 'x', 5000); take(s); return 0; }
`, "-O0")
	t.Setenv("BPFTRACE_MAX_STRLEN", "9999")
	out := runOK(t, "run", "-e", `begin { @s = str(0); @ss = @s; print("success!"); exit() }`)
	if !strings.HasPrefix(out, "success!\n") {
		t.Errorf("str_big_read: %q", out)
	}
	out = runOK(t, "run", "-c", bin, "-e", `uprobe:`+bin+`:take { $s = str(arg0); printf("%d %s\n", strlen($s), $s); }`)
	if want := "5000 " + strings.Repeat("x", 5000) + "\n"; !strings.HasPrefix(out, want) {
		t.Errorf("a 5000-byte string with max_strlen 9999: %.80q...", out)
	}
}

// TestAssert: assert(cond, msg) is main's stdlib macro: when cond is false,
// errorf("assert failed: %s", msg) and exit(1) (stdlib.assert_macro; its
// message names the call's place in the program, where bpftrace's names
// the macro's line in its stdlib file).
func TestAssert(t *testing.T) {
	testutil.RequireRoot(t)
	r := runUscope(t, "run", "-e", `BEGIN { assert(false, "My error message"); }`)
	if r.code != 1 || !strings.Contains(r.stderr, "stdin:1:9-42: ERROR: assert failed: My error message\n") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestUprobeZeroSize: a uprobe on a symbol of size 0 (_init), which may not
// be code, is refused without --unsafe, as bpftrace refuses it
// (probe.uprobe_zero_size); with --unsafe it attaches
// (probe.uprobe_zero_size_unsafe); a wildcard takes such symbols.
func TestUprobeZeroSize(t *testing.T) {
	testutil.RequireRoot(t)
	bin := toolsProgram(t)
	prog := `uprobe:` + bin + `:_init { printf("arg0: %d\n", arg0); exit(); }`
	r := runUscope(t, "run", "-c", bin, "-e", prog)
	if r.code != 1 || !strings.Contains(r.stderr, "ERROR: Could not determine boundary for _init (symbol has size 0); use --unsafe") {
		t.Errorf("without --unsafe: exit %d\n%s", r.code, r.stderr)
	}
	if out := runOK(t, "run", "--unsafe", "-c", bin, "-e", prog); !regexp.MustCompile(`(?m)^arg0: \d+$`).MatchString(out) {
		t.Errorf("--unsafe: %q", out)
	}
	if out := runOK(t, "run", "-c", bin, "-e", `uprobe:`+bin+`:_ini* { printf("%s\n", func); exit(); }`); !strings.HasPrefix(out, "_init\n") {
		t.Errorf("wildcard: %q", out)
	}
}
