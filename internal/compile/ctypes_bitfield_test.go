package compile

import (
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

// Bit-fields are laid out as gcc lays out C on x86_64 (SysV): a field
// takes the next bits unless it would straddle a unit of its type, so
// bpftrace's runtime test bitfield_access_2 (testprogs/bitfield_test.c,
// struct Bar) reads 1 217 5 1 500 31117 1 2 27. The layout is main's
// (commit d555e28); this branch's own copy was dropped for the merge, so
// this test passes once merged.
func TestBitFieldLayout(t *testing.T) {
	src := `struct Bar { short a:4, b:8, c:3, d:1; int e:9, f:15, g:1, h:2, i:5 }
struct C { char x:5, y:5; int z; }
struct P { char x:5, y:5; } __attribute__((packed))
uprobe:/bin/true:f { $b = (struct Bar *)arg0; $c = (struct C *)arg0; $p = (struct P *)arg0; printf("%d %d %d\n", $b->e, $c->y, $p->y); }`
	prog, err := lang.Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(prog, Options{Resolver: fakeResolver{}}); err != nil {
		t.Fatal(err)
	}
	c := &compiler{prog: prog}
	c.structTypes(prog.Structs)
	if len(c.errs) > 0 {
		t.Fatal(c.errs)
	}
	type at struct{ off, bitOff, bits, read int }
	for name, want := range map[string]struct {
		size   int
		fields map[string]at
	}{
		// e shares the first int with the shorts' 16 bits; f (15 bits
		// from bit 25) would straddle it, so the second int starts.
		"struct Bar": {8, map[string]at{"a": {0, 0, 4, 2}, "b": {0, 4, 8, 2}, "c": {0, 12, 3, 2}, "d": {0, 15, 1, 2},
			"e": {0, 16, 9, 4}, "f": {4, 0, 15, 4}, "g": {4, 15, 1, 4}, "h": {4, 16, 2, 4}, "i": {4, 18, 5, 4}}},
		// A char bit-field that would straddle a byte starts the next
		// one (gcc: y = 31 sets byte 1 to 0x1f).
		"struct C": {8, map[string]at{"x": {0, 0, 5, 1}, "y": {1, 0, 5, 1}}},
		// Packed, y takes bits 5-9 (gcc: y = 31 sets bytes e0 03): it
		// crosses its char, so it is read as the two bytes that hold it.
		"struct P": {2, map[string]at{"x": {0, 0, 5, 1}, "y": {0, 5, 5, 2}}},
	} {
		st := c.structs[name]
		if st == nil {
			t.Fatalf("%s not laid out", name)
		}
		if st.size != want.size {
			t.Errorf("%s: size %d, want %d", name, st.size, want.size)
		}
		for _, f := range st.fields {
			w, ok := want.fields[f.name]
			if !ok {
				continue
			}
			if got := (at{f.off, f.t.bitOff, f.t.bits, f.t.size}); got != w {
				t.Errorf("%s.%s: %+v, want %+v", name, f.name, got, w)
			}
		}
	}
}
