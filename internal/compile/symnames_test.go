package compile

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

// TestSymNamesTable: func and probe used as strings are typed as strings
// and read from a names table holding every site's and special probe's
// name at its id, the names the session prints for the same ids; a
// program that only prints them has no table.
func TestSymNamesTable(t *testing.T) {
	compileSrc := func(src string) *Plan {
		t.Helper()
		prog, err := lang.Parse("test", src)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Compile(prog, Options{Resolver: fakeResolver{}})
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	plan := compileSrc(`uprobe:/bin/true:f /strcontains(probe, "true")/ { print(func); } END { if (probe == "end") { print(1); } }`)
	spec := plan.Spec.Maps[symNamesMap("probe")]
	if spec == nil {
		t.Fatal("no probe names table")
	}
	if plan.Spec.Maps[symNamesMap("func")] != nil {
		t.Error("a func names table, but func is only printed")
	}
	want := []string{"uprobe:/bin/true:f", "end"}
	if int(spec.MaxEntries) != len(want) || len(spec.Contents) != len(want) {
		t.Fatalf("%d entries, %d contents; want %d", spec.MaxEntries, len(spec.Contents), len(want))
	}
	for i, kv := range spec.Contents {
		if id := binary.LittleEndian.Uint32(kv.Key.([]byte)); id != uint32(i) {
			t.Errorf("entry %d has key %d", i, id)
		}
		v := kv.Value.([]byte)
		if name := string(bytes.TrimRight(v, "\x00")); name != want[i] || name != plan.SymName("probe", uint64(i)) {
			t.Errorf("entry %d: %q, want %q", i, name, want[i])
		}
		if len(v) != int(spec.ValueSize) || v[len(v)-1] != 0 {
			t.Errorf("entry %d: %d bytes, not NUL-terminated in %d", i, len(v), spec.ValueSize)
		}
	}
	if p := compileSrc(`uprobe:/bin/true:f { printf("%s %s\n", func, probe); @[probe] = count(); }`); len(p.Spec.Maps) != len(compileSrc(`uprobe:/bin/true:f { printf("%s %s\n", comm, comm); @[comm] = count(); }`).Spec.Maps) {
		t.Error("printing func and probe made a names table")
	}
}
