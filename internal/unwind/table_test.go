package unwind

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/uscope/uscope/elfx"
)

// TestBuildLibc: libc's table covers its functions with sorted rows,
// nearly all of them walkable without frame pointers (libc has none), and
// its PLT entries are recognized.
func TestBuildLibc(t *testing.T) {
	const path = "/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no libc")
	}
	f, err := elfx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := Build(f)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[uint8]int{}
	for i, r := range tab.Rows {
		kinds[RowKind(r)]++
		if i > 0 && RowPC(r) <= RowPC(tab.Rows[i-1]) {
			t.Fatalf("row %d at %#x after %#x", i, RowPC(r), RowPC(tab.Rows[i-1]))
		}
	}
	t.Logf("%d rows, %d FDEs, kinds %v, frame pointers %v", len(tab.Rows), tab.FDEs, kinds, tab.FramePointers)
	if tab.FramePointers {
		t.Error("Debian's libc is built without frame pointers")
	}
	if kinds[KindSP] < len(tab.Rows)/2 || kinds[KindPLT] == 0 || kinds[KindEnd] == 0 {
		t.Errorf("kinds %v: want mostly rsp-based rows, PLT rows and an outermost frame (_start, clone)", kinds)
	}
	// qsort_r's first instruction: CFA = rsp+8, rbp unchanged.
	for _, s := range mustSyms(t, f, "qsort_r") {
		r := rowAt(tab.Rows, s)
		if RowKind(r) != KindSP || RowOffset(r) != 8 || RowRBP(r) != 0 {
			t.Errorf("qsort_r at %#x: kind %d off %d rbp %d, want rsp+8", s, RowKind(r), RowOffset(r), RowRBP(r))
		}
	}
}

func mustSyms(t *testing.T, f *elfx.File, name string) []uint64 {
	t.Helper()
	s, ok := f.Lookup(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return []uint64{s.Addr}
}

// rowAt is the walker's search: the last row at or below pc.
func rowAt(rows []uint64, pc uint64) uint64 {
	lo, hi := 0, len(rows)
	for lo < hi {
		mid := (lo + hi) / 2
		if uint64(RowPC(rows[mid])) > pc {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == 0 {
		return Row(0, KindFP, 0, 0)
	}
	return rows[lo-1]
}

// TestPackGaps: gaps between FDEs become frame-pointer rows, rows with the
// same rule merge, and frameless ranges fill only gaps.
func TestPackGaps(t *testing.T) {
	rows := pack([]span{
		{start: 0x1010, end: 0x1020, kind: KindSP, off: 16},
		{start: 0x1000, end: 0x1008, kind: KindSP, off: 8},
		{start: 0x1008, end: 0x1010, kind: KindSP, off: 8},
	})
	want := []uint64{Row(0x1000, KindSP, 8, 0), Row(0x1010, KindSP, 16, 0), Row(0x1020, KindFP, 0, 0)}
	if len(rows) != len(want) {
		t.Fatalf("rows %x, want %x", rows, want)
	}
	for i := range rows {
		if rows[i] != want[i] {
			t.Errorf("row %d %x, want %x", i, rows[i], want[i])
		}
	}
	tab := &Table{Rows: rows}
	tab.AddFrameless([]FramelessRange{{Start: 0x1020, End: 0x1030, Depth: 0}, {Start: 0x1010, End: 0x1018, Depth: 40}})
	if got := rowAt(tab.Rows, 0x1024); RowKind(got) != KindSP || RowOffset(got) != 8 {
		t.Errorf("gap row %x, want rsp+8", got)
	}
	if got := rowAt(tab.Rows, 0x1012); RowOffset(got) != 16 {
		t.Errorf("covered row %x changed", got)
	}
	if got := rowAt(tab.Rows, 0x1034); RowKind(got) != KindFP {
		t.Errorf("after the ranges %x, want a frame-pointer row", got)
	}
}

// BenchmarkBuild compiles libc's table, or $BUILD_OBJ's.
func BenchmarkBuild(b *testing.B) {
	obj := os.Getenv("BUILD_OBJ")
	if obj == "" {
		obj = "/lib/x86_64-linux-gnu/libc.so.6"
	}
	f, err := elfx.Open(obj)
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	for i := 0; i < b.N; i++ {
		if _, err := Build(f); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCompile runs arbitrary call frame information through the row
// compiler: packed tables are sorted and every row's kind is known.
func FuzzCompile(f *testing.F) {
	f.Add([]byte("\x14\x00\x00\x00\x00\x00\x00\x00\x01zR\x00\x01\x78\x10\x01\x1b\x0c\x07\x08\x90\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var spans []span
		_ = elfx.ParseFrameRows(b, 0, true, binary.LittleEndian, 8, 6, func(r elfx.FrameRow) bool {
			if r.End <= 1<<32 {
				k, off, rbp := compileRow(r)
				spans = append(spans, span{r.Start, r.End, k, off, rbp})
			}
			return len(spans) < 10000
		})
		rows := pack(spans)
		for i, r := range rows {
			if RowKind(r) > KindEnd {
				t.Fatalf("row %x: kind %d", r, RowKind(r))
			}
			if i > 0 && RowPC(r) <= RowPC(rows[i-1]) {
				t.Fatalf("rows not sorted: %x after %x", r, rows[i-1])
			}
		}
	})
}
