package resolve

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/testutil"
)

const goProgram = `package main

import "fmt"

type Counter struct{ n int }

//go:noinline
func (c *Counter) Add(d int) int { c.n += d; return c.n }

//go:noinline
func add(a, b int) int { return a + b }

func main() {
	c := &Counter{}
	fmt.Println(add(1, 2), c.Add(3))
}
`

// goListing returns what `uscope list -v BIN 'main.*'` shows of a Go binary:
// each main.* function's site, by name.
func goListing(t *testing.T, bin string) map[string]Site {
	t.Helper()
	r := New(Options{})
	defer r.Close()
	ts, err := r.Targets(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Site{}
	err = r.List(ts, ListOptions{Pattern: "uprobe:*:main.*", Details: true}, func(l *Listing) error {
		if len(l.Sites) != 1 {
			t.Errorf("%s: %s has %d sites", bin, l.Func, len(l.Sites))
		}
		s := l.Sites[0]
		if !s.GoBinary || s.Offset == 0 || s.Addr != s.FuncAddr {
			t.Errorf("%s: %+v", bin, s)
		}
		out[s.Func] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"main.main", "main.add", "main.(*Counter).Add"} {
		if _, ok := out[want]; !ok {
			t.Errorf("%s: %s not listed (have %v)", bin, want, out)
		}
	}
	return out
}

func TestGoBinaries(t *testing.T) {
	env := []string{"CGO_ENABLED=0"}
	plain := testutil.BuildGo(t, "gofuncs", goProgram, env)
	stripped := testutil.BuildGo(t, "gofuncs", goProgram, env, "-ldflags=-s -w")
	pie := testutil.BuildGo(t, "gofuncs", goProgram, env, "-buildmode=pie")

	f, err := elfx.Open(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if fns, _ := f.Functions(); len(fns) != 0 {
		t.Errorf("the stripped binary still has %d ELF functions", len(fns))
	}
	f.Close()

	a, b := goListing(t, plain), goListing(t, stripped)
	if len(a) != len(b) {
		t.Errorf("plain has %d main.* functions, stripped %d", len(a), len(b))
	}
	for name, s := range a {
		if b[name].Offset != s.Offset || b[name].Addr != s.Addr {
			t.Errorf("%s: plain at %#x (offset %#x), stripped at %#x (offset %#x)", name, s.Addr, s.Offset, b[name].Addr, b[name].Offset)
		}
	}
	// The PIE is laid out differently; its pclntab offsets must agree with
	// its own ELF symbols.
	p := goListing(t, pie)
	pf, err := elfx.Open(pie)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if pf.Type().String() != "ET_DYN" {
		t.Errorf("PIE type %v", pf.Type())
	}
	for name, s := range p {
		sym, ok := pf.Lookup(name)
		if !ok || sym.Offset != s.Offset {
			t.Errorf("PIE %s: listed at offset %#x, ELF symbol says %#x (%v)", name, s.Offset, sym.Offset, ok)
		}
	}
	// Resolved entry probes of Go functions sit after the stack check.
	rp := New(Options{})
	defer rp.Close()
	sites, err := rp.Resolve(&lang.AttachPoint{Kind: lang.KindUprobe, Target: pie, Func: "main.*", Raw: "uprobe:" + pie + ":main.*"})
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]Site{}
	for _, s := range sites {
		entries[s.Func] = s
		sym, ok := pf.Lookup(s.Func)
		if !ok || sym.Offset+(s.Addr-s.FuncAddr) != s.Offset || !s.GoEntry || s.GoFunc != s.Func {
			t.Errorf("PIE %s: offset %#x (function +%#x), ELF symbol says %#x (%v)", s.Func, s.Offset, s.Addr-s.FuncAddr, sym.Offset, ok)
		}
	}
	if s := entries["main.main"]; s.Addr == s.FuncAddr {
		t.Errorf("main.main: entry probe at the function's first instruction, not after its stack check")
	}

	// List shows the Go version and module path.
	r := New(Options{})
	defer r.Close()
	ts, err := r.Targets(stripped)
	if err != nil {
		t.Fatal(err)
	}
	var gi *GoInfo
	err = r.List(ts, ListOptions{Pattern: "uprobe:*:main.add"}, func(l *Listing) error {
		gi = l.Object.Go
		return nil
	})
	if err != nil || gi == nil || gi.Version != runtime.Version() || gi.Module != "gofuncs" || !gi.Stripped {
		t.Errorf("Go info = %+v, %v", gi, err)
	}
}

const cxxProgram = `
#include <cstdio>
namespace shapes {
class Circle {
public:
	__attribute__((noinline)) double area(double scale) const;
	__attribute__((noinline)) double area(int scale) const;
	double r = 2;
};
double Circle::area(double scale) const { return 3.14 * r * r * scale; }
double Circle::area(int scale) const { return 3 * r * r * scale; }
}
int main() {
	shapes::Circle c;
	std::printf("%f %f\n", c.area(1.5), c.area(2));
	return 0;
}
`

func TestCXXMatching(t *testing.T) {
	testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := filepath.Join(dir, "shapes.cc")
	bin := filepath.Join(dir, "shapes")
	if err := os.WriteFile(src, []byte(cxxProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("g++", "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	r := New(Options{})
	defer r.Close()
	tests := []struct {
		fn      string
		display []string
	}{
		{"shapes::Circle::area", []string{"shapes::Circle::area(double) const", "shapes::Circle::area(int) const"}},
		{"shapes::Circle::area(int) const", []string{"shapes::Circle::area(int) const"}},
		{"*Circle::area(double)*", []string{"shapes::Circle::area(double) const"}},
		{"_ZNK6shapes6Circle4areaEd", []string{"shapes::Circle::area(double) const"}},
	}
	for _, tt := range tests {
		sites, err := r.Resolve(&lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Func: tt.fn, Raw: "uprobe:" + bin + ":" + tt.fn})
		if err != nil {
			t.Errorf("%s: %v", tt.fn, err)
			continue
		}
		var got []string
		for _, s := range sites {
			got = append(got, s.Name()) // what func prints (Display is filled on first use)
			if !strings.HasPrefix(s.Func, "_ZNK6shapes6Circle4area") {
				t.Errorf("%s: Func %q is not the mangled name", tt.fn, s.Func)
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.display, "|") {
			t.Errorf("%s: matched %q, want %q", tt.fn, got, tt.display)
		}
	}
	var lines []string
	ts, _ := r.Targets(bin)
	err := r.List(ts, ListOptions{Pattern: "*Circle::area(int)*", Details: true}, func(l *Listing) error {
		lines = append(lines, l.Probe()+" "+l.Display)
		return nil
	})
	want := "uprobe:" + bin + ":_ZNK6shapes6Circle4areaEi shapes::Circle::area(int) const"
	if err != nil || len(lines) != 1 || lines[0] != want {
		t.Errorf("List demangled pattern = %q, %v; want %q", lines, err, want)
	}
}
