package gobin

import (
	"debug/dwarf"
	"slices"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// inlineProg inlines small into a loop and into main, and big nowhere.
const inlineProg = `package main

import (
	"fmt"
	"os"
)

var total int

func small(x int) int {
	if x%7 == 3 {
		total++
	}
	return x*3 + 1
}

//go:noinline
func big(x int) int { return x + 2 }

//go:noinline
func loop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += small(i)
	}
	return s
}

func main() {
	s := loop(len(os.Args) * 1000)
	s += small(len(os.Args)) + big(s)
	fmt.Println(s, total)
}
`

// dwarfInlined returns the lowest address of each DW_TAG_inlined_subroutine
// whose abstract origin is the function name.
func dwarfInlined(t *testing.T, b *Binary, name string) []uint64 {
	t.Helper()
	x, err := b.dwarfData()
	if err != nil {
		t.Fatal(err)
	}
	origin, ok := x.abstract[name]
	if !ok {
		t.Fatalf("no abstract subprogram %s in DWARF", name)
	}
	var out []uint64
	r := x.d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagInlinedSubroutine {
			continue
		}
		if o, _ := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); o != origin {
			continue
		}
		ranges, err := x.d.Ranges(e)
		if err != nil || len(ranges) == 0 {
			t.Fatalf("inlined %s at %#x: ranges %v, %v", name, e.Offset, ranges, err)
		}
		low := ranges[0][0]
		for _, rg := range ranges {
			low = min(low, rg[0])
		}
		out = append(out, low)
	}
	slices.Sort(out)
	return out
}

// TestInlinedCopies checks the copies read from pclntab's inline trees
// against DWARF's inlined subroutines, and that a stripped build finds the
// same ones.
func TestInlinedCopies(t *testing.T) {
	t.Parallel()
	plain := testutil.BuildGo(t, "inl", inlineProg, nil)
	stripped := testutil.BuildGo(t, "inl", inlineProg, nil, "-ldflags=-s -w")
	b := openBinary(t, plain)
	cs, err := b.InlinedCopies("main.small")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []uint64
	outers := map[string]bool{}
	for _, c := range cs {
		if c.Func != "main.small" {
			t.Errorf("copy %+v of another function", c)
		}
		addrs = append(addrs, c.Addr)
		outers[c.Outer] = true
		if fn, ok := b.FuncAt(c.Addr); !ok || fn.Name != c.Outer {
			t.Errorf("copy %+v: the address is in %s", c, fn.Name)
		}
	}
	if want := dwarfInlined(t, b, "main.small"); !slices.Equal(addrs, want) {
		t.Errorf("pclntab: copies at %#x, DWARF %#x", addrs, want)
	}
	if len(cs) != 2 || !outers["main.loop"] || !outers["main.main"] {
		t.Errorf("copies %+v, want one in main.loop and one in main.main", cs)
	}
	if bc, err := b.InlinedCopies("main.big"); err != nil || len(bc) != 0 {
		t.Errorf("main.big (noinline): copies %+v, %v", bc, err)
	}
	if !slices.Contains(b.InlinedNames(), "main.small") {
		t.Errorf("InlinedNames lacks main.small")
	}
	s := openBinary(t, stripped)
	scs, err := s.InlinedCopies("main.small")
	if err != nil || !slices.Equal(scs, cs) {
		t.Errorf("stripped: %+v, %v; want %+v", scs, err, cs)
	}
}
