package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/testutil"
)

// matrixToolchains are the Go releases TestGoToolchainMatrix builds with:
// the newest patch release of every minor version from go1.21 to the newest
// the module proxy serves (go list -m -versions golang.org/toolchain), plus
// the toolchain running the test. GOTOOLCHAIN downloads each once into the
// module cache (GOMODCACHE, golang.org/toolchain@...), where later runs
// find it.
var matrixToolchains = []string{
	"go1.21.13", "go1.22.12", "go1.23.12", "go1.24.13", "go1.25.14", "go1.26.11", "go1.27.4", "",
}

// newestToolchain is the newest release of matrixToolchains.
var newestToolchain = matrixToolchains[len(matrixToolchains)-2]

// TestMatrixToolchainsAreCurrent checks matrixToolchains against the
// toolchains the module proxy serves today (go list -m -versions
// golang.org/toolchain): the newest patch release of every minor version
// from go1.21, so that a new Go release fails this test until the matrix
// builds with it.
func TestMatrixToolchainsAreCurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-versions", "golang.org/toolchain")
	cmd.Dir = t.TempDir() // outside the module: no go.mod to resolve
	out, err := cmd.CombinedOutput()
	if err != nil {
		if testutil.InCI() {
			t.Fatalf("go list -m -versions golang.org/toolchain: %v\n%s", err, out)
		}
		t.Skipf("module proxy unreachable: %v", err)
	}
	newest := map[[2]int][3]int{} // (major, minor) → newest (major, minor, patch)
	for _, v := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(v, "v0.0.1-go")
		if !ok {
			continue
		}
		rel, ok = strings.CutSuffix(rel, ".linux-amd64")
		if !ok {
			continue
		}
		var n [3]int
		parts := strings.Split(rel, ".")
		if len(parts) != 3 {
			continue // a release candidate (go1.27rc1) or a .0 without patch (go1.20)
		}
		bad := false
		for i, p := range parts {
			if n[i], err = strconv.Atoi(p); err != nil {
				bad = true
			}
		}
		if bad || n[0] != 1 || n[1] < 21 {
			continue
		}
		k := [2]int{n[0], n[1]}
		if cur, ok := newest[k]; !ok || n[2] > cur[2] {
			newest[k] = n
		}
	}
	var want []string
	for _, n := range newest {
		want = append(want, fmt.Sprintf("go%d.%d.%d", n[0], n[1], n[2]))
	}
	slices.SortFunc(want, func(a, b string) int { return gobinVersionCompare(a, b) })
	got := matrixToolchains[:len(matrixToolchains)-1]
	if !slices.Equal(got, want) {
		t.Errorf("matrixToolchains = %v;\nthe proxy serves %v (the newest patch of each minor from go1.21): update matrixToolchains", got, want)
	}
}

// gobinVersionCompare orders "go1.M.P" names by (M, P).
func gobinVersionCompare(a, b string) int {
	parse := func(s string) (m, p int) {
		fmt.Sscanf(s, "go1.%d.%d", &m, &p)
		return
	}
	am, ap := parse(a)
	bm, bp := parse(b)
	if am != bm {
		return am - bm
	}
	return ap - bp
}

// matrixBuilds are the ways each toolchain builds testdata/gomatrix.go.txt.
var matrixBuilds = []goBuild{
	{name: "plain"},
	{name: "stripped", flags: []string{"-ldflags=-s -w"}, stripped: true},
	{name: "pie", flags: []string{"-buildmode=pie"}},
	{name: "pie-stripped", flags: []string{"-buildmode=pie", "-ldflags=-s -w"}, stripped: true},
}

// matrixProgram is the probe program for one build of gomatrix: by
// parameter name with DWARF, by register (goarg) without. Both print the
// lines the program announces with "passed".
func matrixProgram(bin string, stripped bool) string {
	if stripped {
		return fmt.Sprintf(`
uprobe:%[1]s:"main.Sum[go.shape.int]" { printf("sum %%d %%d %%d\n", goarg(2), goarg(3), *(int64*)goarg(1)); }
uretprobe:%[1]s:"main.Sum[go.shape.int]" { printf("sumret %%d\n", retval); }
uprobe:%[1]s:"main.(*Box[go.shape.int]).Set" { printf("set %%#lx %%d %%s\n", goarg(0), goarg(2), str(goarg(3), goarg(4))); }
uretprobe:%[1]s:"main.(*Box[go.shape.int]).Set" { printf("setret %%d\n", retval); }
uprobe:%[1]s:main.Sq.Area { printf("area %%d\n", goarg(0)); }
uretprobe:%[1]s:main.Sq.Area { printf("arearet %%d\n", retval); }
uprobe:%[1]s:"main.(*Acc).Add" { printf("add %%#lx %%d\n", goarg(0), goarg(1)); }
uretprobe:%[1]s:"main.(*Acc).Add" { printf("addret %%d\n", retval); }
uprobe:%[1]s:main.variadic { printf("variadic %%s %%d %%d %%d\n", str(goarg(0), goarg(1)), goarg(3), *(int64*)goarg(2), *(int64*)(goarg(2) + 16)); }
uretprobe:%[1]s:main.variadic { printf("variadicret %%d\n", retval); }
uprobe:%[1]s:main.iface { printf("iface %%#lx %%#lx %%#lx %%#lx %%d\n", goarg(0), goarg(1), goarg(2), goarg(3), *(int64*)goarg(1)); }
uretprobe:%[1]s:main.iface { printf("ifaceret %%d\n", retval); }
uprobe:%[1]s:main.makeAdder.func1 { printf("closure %%d\n", goarg(0)); }
uretprobe:%[1]s:main.makeAdder.func1 { printf("closureret %%d\n", retval); }
uprobe:%[1]s:main.work { printf("goid %%d\n", goid); }
`, bin)
	}
	return fmt.Sprintf(`
uprobe:%[1]s:"main.Sum[go.shape.int]" { printf("sum %%d %%d %%d\n", args.xs.len, args.xs.cap, args.xs[0]); printf("psum "); print(args); }
uretprobe:%[1]s:"main.Sum[go.shape.int]" { printf("sumret %%d\n", retval); }
uprobe:%[1]s:"main.(*Box[go.shape.int]).Set" { printf("set %%#lx %%d %%s\n", args.b, args.v, str(args.tag)); }
uretprobe:%[1]s:"main.(*Box[go.shape.int]).Set" { printf("setret %%d\n", retval); }
uprobe:%[1]s:main.Sq.Area { printf("area %%d\n", args.s.S); }
uretprobe:%[1]s:main.Sq.Area { printf("arearet %%d\n", retval); }
uprobe:%[1]s:"main.(*Acc).Add" { printf("add %%#lx %%d\n", args.a, args.x); }
uretprobe:%[1]s:"main.(*Acc).Add" { printf("addret %%d\n", retval); }
uprobe:%[1]s:main.variadic { printf("variadic %%s %%d %%d %%d\n", str(args.prefix), args.xs.len, args.xs[0], args.xs[2]); }
uretprobe:%[1]s:main.variadic { printf("variadicret %%d\n", retval); }
uprobe:%[1]s:main.iface { printf("iface %%#lx %%#lx %%#lx %%#lx %%d\n", args.s.type, args.s.data, args.e.type, args.e.data, *(int64*)args.s.data); }
uprobe:%[1]s:main.iface { printf("ifacetype %%s %%s\n", args.s.type, args.e.type); }
uretprobe:%[1]s:main.iface { printf("ifaceret %%d\n", retval); }
uprobe:%[1]s:main.makeAdder.func1 { printf("closure %%d\n", args.n); }
uretprobe:%[1]s:main.makeAdder.func1 { printf("closureret %%d\n", retval); }
uprobe:%[1]s:main.work { printf("goid %%d\n", goid); }
`, bin)
}

// requireMatrixToolchain skips (fails under CI=true) when GOTOOLCHAIN
// cannot provide version v.
func requireMatrixToolchain(t *testing.T, v string) {
	t.Helper()
	if err := goToolchainErr(v); err != nil {
		if testutil.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestGoToolchainMatrix builds gomatrix with every toolchain of
// matrixToolchains, plain and stripped, PIE and not, and on each build
// checks that the goid offset derived from the machine code agrees with
// DWARF (and the version table where it has the release), and that a
// probe on each kind of function (generic function and method, value and
// pointer receiver, variadic, interface arguments, closure) prints the
// values the program passed, its goid, and its return value.
func TestGoToolchainMatrix(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("-short: builds with eight Go toolchains")
	}
	src, err := os.ReadFile("testdata/gomatrix.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range matrixToolchains {
		name := v
		if name == "" {
			name = "host"
		}
		t.Run(name, func(t *testing.T) {
			var env []string
			if v != "" {
				requireMatrixToolchain(t, v)
				env = []string{"GOTOOLCHAIN=" + v}
			}
			var dwarfGoid int
			for _, b := range matrixBuilds {
				t.Run(b.name, func(t *testing.T) {
					bin := testutil.BuildGo(t, "gomatrix", string(src), env, b.flags...)
					gb, err := gobin.OpenFile(bin)
					if err != nil {
						t.Fatal(err)
					}
					gi := gb.GoidSources()
					gb.Close()
					if v != "" && gb.GoVersion != v {
						t.Errorf("GoVersion %s, built with %s", gb.GoVersion, v)
					}
					if gi.CodeErr != nil {
						t.Errorf("%s: goid offset from the code: %v", gb.GoVersion, gi.CodeErr)
					}
					if b.stripped {
						if gi.DWARFErr == nil {
							t.Errorf("stripped build has DWARF")
						}
						if dwarfGoid != 0 && gi.Code != dwarfGoid {
							t.Errorf("%s stripped: goid offset %#x from the code, DWARF of the plain build %#x", gb.GoVersion, gi.Code, dwarfGoid)
						}
					} else {
						if gi.DWARFErr != nil || gi.Code != gi.DWARF {
							t.Errorf("%s: goid offset %#x from the code, %#x from DWARF (%v)", gb.GoVersion, gi.Code, gi.DWARF, gi.DWARFErr)
						}
						dwarfGoid = gi.DWARF
					}
					if gi.TableErr == nil && gi.Table != gi.Code {
						t.Errorf("%s: version table says goid at %#x, the code %#x", gb.GoVersion, gi.Table, gi.Code)
					}
					r := runUscope(t, "run", "-c", bin, "-e", matrixProgram(bin, b.stripped))
					if r.code != 0 {
						t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
					}
					var want []string
					for _, w := range passed(r.stdout) {
						// print(args) and the dynamic type names need DWARF.
						if !b.stripped || !strings.HasPrefix(w, "psum ") && !strings.HasPrefix(w, "ifacetype ") {
							want = append(want, w)
						}
					}
					n := 17
					if b.stripped {
						n = 15
					}
					if len(want) != n {
						t.Fatalf("the program reported %d values, want %d\n%s", len(want), n, r.stdout)
					}
					wantAll(t, r.stdout, want)
					checkTypeNames(t, bin, r.stdout)
				})
			}
		})
	}
}

// checkTypeNames: gobin's dynamic type names of the interface values
// gomatrix reports (a Shape holding main.Sq, an error from errors.New, an
// any holding *main.Acc) are what the program's %T prints.
func checkTypeNames(t *testing.T, bin, out string) {
	t.Helper()
	var f []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "typeinfo "); ok {
			f = strings.Fields(rest)
		}
	}
	if len(f) != 7 {
		t.Fatalf("no typeinfo line in the program's output:\n%s", out)
	}
	num := func(s string) uint64 {
		v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	gb, err := gobin.OpenFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Close()
	fn, ok := gb.FuncByName("main.work")
	if !ok {
		t.Fatal("no main.work")
	}
	bias := num(f[0]) - fn.Entry
	for i, empty := range []bool{false, false, true} {
		got, err := gb.InterfaceTypeName(num(f[1+i])-bias, empty)
		if err != nil || got != f[4+i] {
			t.Errorf("%s: dynamic type of interface %d: %q (%v), want %q", gb.GoVersion, i, got, err, f[4+i])
		}
	}
}
