package unwind

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/testutil"
)

// TestLoaderSelf loads the tables of the test process itself: its
// mappings are listed sorted, each object's rows land in the rows map, and
// a second Sync with unchanged mappings writes nothing.
func TestLoaderSelf(t *testing.T) {
	testutil.RequireRoot(t)
	rows, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	procs, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: ProcValueSize, MaxEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer procs.Close()
	l := NewLoader(rows, procs, func(s string) { t.Error(s) })
	start := time.Now()
	if err := l.Sync(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	t.Logf("Sync took %v, %d rows", time.Since(start), l.next)
	var v []byte
	v, err = procs.LookupBytes(uint32(os.Getpid()))
	if err != nil || v == nil {
		t.Fatalf("no entry: %v", err)
	}
	le := binary.LittleEndian
	n := int(le.Uint32(v))
	if n == 0 || n > MaxMappings {
		t.Fatalf("%d mappings", n)
	}
	var last uint64
	for i := 0; i < n; i++ {
		m := v[8+i*MappingSize:]
		start, end := le.Uint64(m[MapStart:]), le.Uint64(m[MapEnd:])
		if start < last || end <= start {
			t.Errorf("mapping %d [%#x, %#x) after %#x", i, start, end, last)
		}
		last = end
		first, count := le.Uint32(m[MapRowStart:]), le.Uint32(m[MapRowCount:])
		if count > 0 {
			var r uint64
			if err := rows.Lookup(first+count-1, &r); err != nil || RowKind(r) != KindFP {
				t.Errorf("mapping %d: last row %#x (%v): a table ends with a frame-pointer row", i, r, err)
			}
		}
	}
	// The test binary is Go: its process keeps frame pointers only if it
	// maps no C library without them; a static Go binary has no C at all.
	next := l.next
	if err := l.Sync(os.Getpid()); err != nil || l.next != next {
		t.Errorf("second Sync: %v, rows %d -> %d", err, next, l.next)
	}
}
