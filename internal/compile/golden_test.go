package compile

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestListingGolden pins the generated instructions of small programs, so
// that a change to code generation shows up in review.
func TestListingGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.bt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden programs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := lang.Parse(filepath.Base(f), string(src))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compile(prog, Options{Resolver: fakeResolver{}, TriggerArgOffset: 80})
			if err != nil {
				t.Fatal(err)
			}
			got := plan.Listing()
			golden := strings.TrimSuffix(f, ".bt") + ".listing"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("listing changed; run go test ./internal/compile -update and review\n--- got:\n%s", got)
			}
		})
	}
}

// TestCompileErrors checks the messages of programs the compiler rejects:
// each names the problem and points at the offending text.
func TestCompileErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`uprobe:/bin/true:f { printf("%d\n", nope); }`, `t:1:37: ERROR: unknown identifier "nope"`},
		{`uprobe:/bin/true:f { printf("%d\n", retval); }`, `retval is only available in uretprobe probes`},
		{`uretprobe:/bin/true:f { printf("%d\n", arg0); }`, `arg0 is not available in a uretprobe`},
		{`uprobe:/bin/true:f { printf("%d %d\n", arg0); }`, `format has 2 directive(s) but 1 argument(s) follow`},
		{`uprobe:/bin/true:f { printf("%d\n", str(arg0)); }`, `this directive needs an integer`},
		{`uprobe:/bin/true:f { @x = count(); @x = 1; }`, `map @x holds count()`},
		{`uprobe:/bin/true:f { @x[1] = 1; @x["a"] = 1; }`, `map @x is used with keys`},
		{`uprobe:/bin/true:f { $x = 1; $x = "a"; }`, `$x holds int64`},
		{`uprobe:/bin/true:f { printf("%d\n", *arg0); }`, `cannot dereference`},
		{`uprobe:/bin/true:f { @h = lhist(arg0, 10, 0, 1); }`, `lhist() needs min < max`},
		{`uprobe:/bin/true:f { printf("%d\n", @c); @c = hist(1); }`, `cannot be read in a probe`},
		{`uprobe:/bin/true:f { print(@nope); }`, `map @nope is never assigned`},
		{`uprobe:/bin/true:f { foo(); }`, `unknown function foo()`},
		{`BEGIN, uprobe:/bin/true:f { }`, `BEGIN cannot share a block`},
	}
	for _, tc := range cases {
		prog, err := lang.Parse("t", tc.src)
		if err != nil {
			t.Errorf("%s: parse: %v", tc.src, err)
			continue
		}
		_, err = Compile(prog, Options{Resolver: fakeResolver{}})
		if err == nil {
			t.Errorf("%s: compiled, want error %q", tc.src, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q", tc.src, err, tc.want)
		}
		if le, ok := err.(*lang.Error); !ok || !le.Pos.IsValid() {
			t.Errorf("%s: error %q has no position", tc.src, err)
		}
	}
}

// TestSourceOf maps instructions back to the source they came from, which
// is how verifier rejections point at an expression.
func TestSourceOf(t *testing.T) {
	src := "uprobe:/bin/true:f {\n  $x = arg0;\n  printf(\"%s\\n\", str($x));\n}"
	prog, err := lang.Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(prog, Options{Resolver: fakeResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	name := plan.Programs[0].Name
	lines := map[int]bool{}
	off := 0
	for _, ins := range plan.Spec.Programs[name].Instructions {
		if pos, ok := plan.SourceOf(name, off); ok {
			lines[pos.Line] = true
			if ins.IsBuiltinCall() && ins.Constant == 114 && pos.Line != 3 { // probe_read_user_str
				t.Errorf("str() call attributed to line %d", pos.Line)
			}
		}
		off += int(ins.Size() / 8)
	}
	if !lines[2] || !lines[3] {
		t.Fatalf("lines with instructions: %v, want 2 and 3", lines)
	}
}
