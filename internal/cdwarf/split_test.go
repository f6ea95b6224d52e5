package cdwarf

import (
	"encoding/binary"
	"testing"
)

// TestParseCUIndex reads a version 5 index of two units, two columns.
func TestParseCUIndex(t *testing.T) {
	le := binary.LittleEndian
	b := make([]byte, 16+4*8+4*4+2*4+2*2*4+2*2*4)
	le.PutUint16(b, 5)
	le.PutUint32(b[4:], 2)  // columns
	le.PutUint32(b[8:], 2)  // units
	le.PutUint32(b[12:], 4) // slots
	le.PutUint64(b[16+8*1:], 0xaaaa)
	le.PutUint64(b[16+8*3:], 0xbbbb)
	idx := 16 + 4*8
	le.PutUint32(b[idx+4*1:], 2) // 0xaaaa: row 2
	le.PutUint32(b[idx+4*3:], 1) // 0xbbbb: row 1
	cols := idx + 4*4
	le.PutUint32(b[cols:], 1)   // info
	le.PutUint32(b[cols+4:], 3) // abbrev
	offs := cols + 2*4
	sizes := offs + 2*2*4
	for i, v := range []uint32{0, 0, 100, 40} { // row 1, row 2 offsets
		le.PutUint32(b[offs+4*i:], v)
	}
	for i, v := range []uint32{100, 40, 80, 30} {
		le.PutUint32(b[sizes+4*i:], v)
	}
	u, err := parseCUIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := u[0xaaaa][".debug_info.dwo"]; got != [2]uint32{100, 80} {
		t.Errorf("0xaaaa info %v", got)
	}
	if got := u[0xbbbb][".debug_abbrev.dwo"]; got != [2]uint32{0, 40} {
		t.Errorf("0xbbbb abbrev %v", got)
	}
	if len(u) != 2 {
		t.Errorf("%d units", len(u))
	}
	if _, err := parseCUIndex(b[:40]); err == nil {
		t.Error("a truncated index parsed")
	}
}

func FuzzCUIndex(f *testing.F) {
	f.Add([]byte{5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseCUIndex(b)
	})
}
