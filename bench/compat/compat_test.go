package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// A file in main's format: comments, continuation lines of PROG and
// EXPECT, every kind of EXPECT, and the directives main added.
const mainFile = `# a comment before the first test
NAME first
PROG begin {
       printf("a\n");
       exit(); }
EXPECT a
EXPECT_NONE b
EXPECT_REGEX ^c+
             d$
EXPECT_REGEX_NONE e
TIMEOUT 3
BEFORE ./testprogs/uprobe_test
BEFORE ./testprogs/usdt_test
AFTER ./testprogs/syscall read
REQUIRES ls /
REQUIRES_FEATURE dwarf !btf
ENV BPFTRACE_MAX_STRLEN=9999 A=b
WILL_FAIL

NAME second
RUN {{BPFTRACE}} -e 'uprobe:./testprogs/uprobe_test:uprobeFunction1 { exit(); }'
EXPECT_FILE runtime/outputs/x.txt
SETUP true
CLEANUP true
NEW_PIDNS
SKIP_IF_ENV_HAS CI=true
# a comment inside a test
LOCALIZE_TIMESTAMPS 0

NAME only on s390x
PROG begin { exit(); }
EXPECT x
ARCH s390x|ppc64

NAME not on s390x
PROG begin { exit(); }
RETURN_CODE 3
ARCH !s390x
`

func TestParseMain(t *testing.T) {
	tests, other, err := Parse("file", mainFile, FormatMain, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 3 || len(other) != 1 || other[0].Name != "only on s390x" {
		t.Fatalf("got %d tests and %d for other architectures", len(tests), len(other))
	}
	a := tests[0]
	if a.Prog != "begin {\n  printf(\"a\\n\");\n  exit(); }" { // 5 = len("PROG ") blanks dropped
		t.Errorf("PROG continuation: %q", a.Prog)
	}
	wantExp := []Expect{{ExpectText, "a"}, {ExpectTextNone, "b"}, {ExpectRegex, "^c+\nd$"}, {ExpectRegexNone, "e"}}
	if !reflect.DeepEqual(a.Expects, wantExp) {
		t.Errorf("expects %q, want %q", a.Expects, wantExp)
	}
	if a.Timeout != 3 || !a.WillFail || a.After != "./testprogs/syscall read" || a.Line != 2 {
		t.Errorf("timeout %d will_fail %v after %q line %d", a.Timeout, a.WillFail, a.After, a.Line)
	}
	if !reflect.DeepEqual(a.Befores, []string{"./testprogs/uprobe_test", "./testprogs/usdt_test"}) {
		t.Errorf("befores %q", a.Befores)
	}
	if !reflect.DeepEqual(a.Features, []string{"dwarf"}) || !reflect.DeepEqual(a.NegFeatures, []string{"btf"}) {
		t.Errorf("features %q, !%q", a.Features, a.NegFeatures)
	}
	if a.Env["BPFTRACE_MAX_STRLEN"] != "9999" || a.Env["A"] != "b" || len(a.Requires) != 1 {
		t.Errorf("env %v requires %q", a.Env, a.Requires)
	}
	b := tests[1]
	if !b.HasExactExpect || b.Timeout != 5 || !b.NewPIDNS || b.Setup != "true" || b.Cleanup != "true" ||
		b.SkipIfEnvHas != [2]string{"CI", "true"} || b.LocalizeTS != 0 || !b.hasLocalizeTS {
		t.Errorf("second test: %+v", b)
	}
	if c := tests[2]; c.ReturnCode != 3 || len(c.Expects) != 0 {
		t.Errorf("RETURN_CODE without EXPECT: %+v", c)
	}
}

// In v0.17.0's format an item's words are joined by single spaces, the
// last EXPECT (a regex) and the last BEFORE win, and TIMEOUT is required.
func TestParseV017(t *testing.T) {
	f := "NAME a\nPROG BEGIN {  exit();  }\nEXPECT first\nEXPECT Attaching   1 probe\nBEFORE one\nBEFORE two\nTIMEOUT 5\n"
	tests, _, err := Parse("file", f, FormatV017, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	x := tests[0]
	if x.Prog != "BEGIN { exit(); }" || !reflect.DeepEqual(x.Expects, []Expect{{ExpectRegex, "Attaching 1 probe"}}) ||
		!reflect.DeepEqual(x.Befores, []string{"two"}) {
		t.Errorf("%+v", x)
	}
	if _, _, err := Parse("file", "NAME a\nPROG BEGIN {}\nEXPECT x\n", FormatV017, "x86_64"); err == nil {
		t.Error("no TIMEOUT accepted in v0.17 format")
	}
	if _, _, err := Parse("file", "NAME a\nPROG BEGIN {}\nEXPECT x\nTIMEOUT 1\nSETUP true\n", FormatV017, "x86_64"); err == nil {
		t.Error("SETUP accepted in v0.17 format")
	}
}

func TestParseErrors(t *testing.T) {
	for _, f := range []string{
		"PROG begin {}\nEXPECT x\n",                  // no NAME
		"NAME a\nEXPECT x\n",                         // no PROG/RUN
		"NAME a\nPROG x\nRUN y\nEXPECT x\n",          // both
		"NAME a\nPROG x\n",                           // no EXPECT
		"NAME a\nPROG x\nEXPECT_FILE f\nEXPECT y\n",  // exact + other
		"NAME a\nPROG x\nEXPECT y\nBOGUS z\n",        // unknown field
		"NAME a\nPROG x\nWILL_FAIL\nRETURN_CODE 2\n", // both
		"NAME a\nPROG x\nEXPECT y\nTIMEOUT soon\n",   // bad number
	} {
		if _, _, err := Parse("file", f, FormatMain, "x86_64"); err == nil {
			t.Errorf("accepted:\n%s", f)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		prog, run string
		want      Scope
	}{
		{prog: `begin { printf("kprobe:x\n"); exit(); }`, want: ScopeSpecial},
		{prog: `config = { max_strlen = 5 } begin { exit() }`, want: ScopeSpecial},
		{prog: `i:ms:1 { exit(); }`, want: ScopeSpecial},
		{prog: `uprobe:./testprogs/uprobe_test:uprobeFunction1 { exit(); }`, want: ScopeUser},
		{prog: `usdt:./testprogs/usdt_test:tracetest:testprobe { exit(); }`, want: ScopeUser},
		{prog: `ur:./testprogs/uprobe_test:f, k:vfs_read { exit(); }`, want: ScopeKernel},
		{prog: "t:syscalls:sys_enter_openat { exit(); }", want: ScopeKernel},
		{prog: "fentry:vfs_read { exit(); }", want: ScopeKernel},
		{prog: "begin { print(kstack); exit(); }", want: ScopeKernel},
		{prog: "begin { $t = curtask; exit(); }", want: ScopeKernel},
		{prog: "profile:hz:99 { exit(); }", want: ScopeProfile},
		{prog: "struct Foo { int x; } begin { exit(); }", want: ScopeSpecial},
		{run: `{{BPFTRACE}} -l 'uprobe:./testprogs/syscall:*'`, want: ScopeUser},
		{run: `{{BPFTRACE}} -l "interval:*"`, want: ScopeSpecial},
		{run: `{{BPFTRACE}} -l | grep tracepoint`, want: ScopeKernel},
		{run: `{{BPFTRACE}} -l "*ware:*"`, want: ScopeKernel},
		{run: `{{BPFTRACE}} -lv 'struct task_struct'`, want: ScopeKernel},
		{run: `{{BPFTRACE}} --version`, want: ScopeSpecial},
		{run: `unshare --fork bash -c "./x & {{BPFTRACE}} -e 'uprobe:./testprogs/uprobe_loop:f { exit(); }'"`, want: ScopeUser},
		{run: `{{BPFTRACE}} -e 'tracepoint:syscalls:sys_enter_nanosleep { exit(); }' -c './testprogs/syscall nanosleep 1e8'`, want: ScopeKernel},
	} {
		tt := &Test{Prog: c.prog, Run: c.run}
		if got := Classify(tt, "/nonexistent"); got.Scope != c.want {
			t.Errorf("%q%q: %s (%v %s), want %s", c.prog, c.run, got.Scope, got.Kinds, got.Why, c.want)
		}
	}
}

func TestTranslate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // joined by |, or "!" + what uscope lacks
	}{
		{"-e|begin { exit(); }", "run|-e|begin { exit(); }"},
		{"-q|-f|json|-e|P", "run|-q|-f|json|-e|P"},
		{"-f|json|-e|P", "run|-f|json|-e|P"},
		{"-fjson|-eP", "run|-f|json|-e|P"},
		{"--verify-llvm-ir|-e|P|-c|./prog 1", "run|-c|./prog 1|-e|P"},
		{"-e|P|--pid|42", "run|-p|42|-e|P"},
		{"--pi=42|-e|P", "run|-p|42|-e|P"},
		{"-l|uprobe:./x:*", "list|uprobe:./x:*"},
		{"-lv|usdt:*", "list|-v|usdt:*"},
		{"-l|-p|7|usdt:*", "list|-p|7|usdt:*"},
		{"-l|-e|P", "!listing the probes of a program (-l -e)"},
		{"--version", "run|--version"},
		{"-V", "run|--version"},
		{"--dry-run|-e|P", "run|--dry-run|-e|P"},
		{"-h", "run|--help"},
		{"file.bt", "run|file.bt"},
		{"-e|P|0", "run|-e|P|--|0"},
		{"-e|P|--|--x=1", "run|-e|P|--|--x=1"},
		{"-", "run|-"},
		{"--unsafe|-e|P", "run|--unsafe|-e|P"},
		{"-k|-e|P", "run|-k|-e|P"},
		{"-idonotexist", "run|-idonotexist"}, // bpftrace rejects it: so does uscope
	} {
		got, err := Translate(strings.Split(c.in, "|"))
		s := strings.Join(got, "|")
		if err != nil {
			s = "!" + err.(*UnsupportedError).What
		}
		if s != c.want {
			t.Errorf("%q: %q, want %q", c.in, s, c.want)
		}
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords(`{{BPFTRACE}} -e 'a "b" c' "x \"y\" $z" w\ v -c "./p 1"`)
	want := []string{"{{BPFTRACE}}", "-e", `a "b" c`, `x "y" $z`, "w v", "-c", "./p 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestExpects(t *testing.T) {
	out := "Attached 1 probe\n  @x: 5  \nhello world\n"
	for _, c := range []struct {
		x    Expect
		want bool
	}{
		{Expect{ExpectText, "@x: 5"}, true}, // surrounding blanks ignored
		{Expect{ExpectText, "@x: 50"}, false},
		{Expect{ExpectText, "hello"}, false}, // a whole line
		{Expect{ExpectTextNone, "hello"}, true},
		{Expect{ExpectRegex, "^hello w.rld$"}, true},
		{Expect{ExpectRegex, `@x: \d+\s*\nhello`}, true},
		{Expect{ExpectRegexNone, "^world"}, true},
		{Expect{ExpectText, "a.b"}, false}, // text is not a regex
	} {
		if got := checkExpect(&Test{}, &c.x, out, "."); got != c.want {
			t.Errorf("%s %q: %v, want %v", c.x.Mode, c.x.Text, got, c.want)
		}
	}
	if !jsonEqual(`{"a": 1, "b": [1.0, "x"]}`, `{"b":[1,"x"],"a":1.0}`) || jsonEqual(`{"a": 1}`, `{"a": 2}`) {
		t.Error("jsonEqual")
	}
	if !jsonEqual(`18446744073709551615`, `18446744073709551615`) || jsonEqual(`18446744073709551615`, `18446744073709551614`) {
		t.Error("jsonEqual of big integers")
	}
}

func TestGeneralise(t *testing.T) {
	for in, want := range map[string]string{
		`uscope: -e:1:1: unknown probe type "begin": uscope traces userspace; use uprobe`:   `unknown probe type "begin": uscope traces userspace`,
		`uscope: -e:1:14: invalid number "1s"; write integers as 123`:                       `invalid number "…"`,
		`stdin:1:1-10: ERROR: profile probe type requires 2 arguments`:                      `profile probe type requires N arguments`,
		`uscope: no function matches "*" in /usr/bin/true`:                                  `no function matches "*" in PATH`,
		`uscope: runtime/scripts/a.bt:3:5: config blocks are not supported; set options on`: `config blocks are not supported`,
	} {
		if got := generalise(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestVersionLess(t *testing.T) {
	if !versionLess("5.15.0", "6.12") || versionLess("6.18.44-fc", "6.12") || !versionLess("6.12", "6.12.1") {
		t.Error("versionLess")
	}
}

// FuzzParse: no input makes the parser panic.
func FuzzParse(f *testing.F) {
	f.Add(mainFile)
	f.Add("NAME a\nPROG x\nEXPECT y\nTIMEOUT 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		Parse("f", s, FormatMain, "x86_64")
		Parse("f", s, FormatV017, "x86_64")
	})
}

// Two tests of one name in a file are both counted, each against its own
// twin of the other run.
func TestTable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		d := dir + "/" + name
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d+"/results.tsv", []byte("test\tsuite\tscope\tstatus\treason\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	us := write("us", "f.a\tf\tuserspace\tpass\t\nf.a\tf\tuserspace\tfail\tx\nf.b\tf\tprobe-less\tpass\t\nf.k\tf\tkernel-only\tfail\t\n")
	bt := write("bt", "f.a\tf\tuserspace\tfail\t\nf.a\tf\tuserspace\tpass\t\nf.b\tf\tprobe-less\tpass\t\nf.k\tf\tkernel-only\tpass\t\n")
	var b strings.Builder
	if err := tableMain(us, bt, &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| f | 3 | 2 | 2 | 1 |") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestRewriteBeginEnd(t *testing.T) {
	got := rewriteBeginEnd([]string{"run", "-c", "./x begin", "-e", "begin,end { $end = 1; } end /1/ { @begin = 1 }\nuprobe:./a:begin { }"})
	want := []string{"run", "-c", "./x begin", "-e", "BEGIN,END { $end = 1; } END /1/ { @begin = 1 }\nuprobe:./a:begin { }"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

// FuzzTranslate: no command line makes the option parser, the translation
// or the RUN-line splitter panic.
func FuzzTranslate(f *testing.F) {
	f.Add("-e|begin { exit(); }|-c|./x 1|--pid=3|-lv|--|x")
	f.Add(`{{BPFTRACE}} -e 'a "b"' "c \"d" e\ f -`)
	f.Fuzz(func(t *testing.T, s string) {
		Translate(strings.Split(s, "|"))
		shellWords(s)
		Classify(&Test{Run: s}, "/nonexistent")
	})
}
