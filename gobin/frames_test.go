package gobin

import (
	"os"
	"testing"
)

// TestSPDeltas: in the running test binary, a function's SP table starts
// at depth 0 at its entry, covers the function, and the assembly runtime
// functions that keep no frame pointer (asmcgocall on the system stack,
// gogo) are told from ordinary ones.
func TestSPDeltas(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, name := range []string{"runtime.mallocgc", "os.ReadFile", "runtime.gogo"} {
		fn, ok := b.FuncByName(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		ds, err := b.SPDeltas(fn)
		if err != nil || len(ds) == 0 {
			t.Fatalf("%s: %v %v", name, ds, err)
		}
		if ds[0].Start != fn.Entry || ds[0].Delta != 0 {
			t.Errorf("%s: first range %+v, entry %#x", name, ds[0], fn.Entry)
		}
		for i := 1; i < len(ds); i++ {
			if ds[i].Start != ds[i-1].End || ds[i].Delta < 0 {
				t.Errorf("%s: range %d %+v after %+v", name, i, ds[i], ds[i-1])
			}
		}
		if last := ds[len(ds)-1]; last.End > fn.End {
			t.Errorf("%s: ends at %#x past %#x", name, last.End, fn.End)
		}
	}
	mg, _ := b.FuncByName("runtime.mallocgc")
	if !b.SavesFramePointer(mg) {
		t.Error("runtime.mallocgc keeps a frame pointer")
	}
	gogo, _ := b.FuncByName("runtime.gogo")
	if b.SavesFramePointer(gogo) {
		t.Error("runtime.gogo (NOFRAME) keeps no frame pointer")
	}
}
