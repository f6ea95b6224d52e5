// Package unwind compiles call frame information (.eh_frame,
// .debug_frame) into the compact tables the BPF stack walker reads, and
// keeps the tables of the traced processes' objects loaded in its maps.
//
// A table is a sorted array of 8-byte rows, one per address range of an
// object (link-time addresses), each saying how to find the caller's frame
// from the registers at an address of the range (x86-64):
//
//	bits  0-31  the first address of the range (its end is the next row's)
//	bits 32-47  the CFA offset (KindSP, KindBP) or PLT threshold (KindPLT)
//	bits 48-55  the kind
//	bits 56-63  where rbp is saved: at CFA - 8*N; 0 when rbp is unchanged
//
// The return address is at CFA-8 in every row (the x86-64 call pushes it
// there); a row whose return address is elsewhere, or whose CFA needs a
// DWARF expression other than a PLT's, is KindFP: the walker uses the
// frame pointer there, as it does where an object has no call frame
// information at all (Go functions, JIT code).
package unwind

import (
	"sort"

	"github.com/uscope/uscope/elfx"
)

// Row kinds (bits 48-55 of a row); the BPF walker switches on them.
const (
	KindFP  = 0 // no usable CFI: follow the frame pointer (CFA = rbp+16)
	KindSP  = 1 // CFA = rsp + offset
	KindBP  = 2 // CFA = rbp + offset
	KindPLT = 3 // a PLT entry: CFA = rsp + 8, +8 when (rip & 15) >= threshold
	KindEnd = 4 // the outermost frame (the return address is undefined)
)

// DWARF register numbers of x86-64.
const (
	regRBP = 6
	regRSP = 7
)

// Row packs one row (see the package comment).
func Row(pc uint32, kind uint8, off uint16, rbpSlot uint8) uint64 {
	return uint64(pc) | uint64(off)<<32 | uint64(kind)<<48 | uint64(rbpSlot)<<56
}

// RowPC, RowKind, RowOffset and RowRBP unpack a row.
func RowPC(r uint64) uint32     { return uint32(r) }
func RowKind(r uint64) uint8    { return uint8(r >> 48) }
func RowOffset(r uint64) uint16 { return uint16(r >> 32) }
func RowRBP(r uint64) uint8     { return uint8(r >> 56) }

// A Table is one object's compiled call frame information.
type Table struct {
	// Rows are sorted by address; the gaps between FDEs are KindFP rows.
	Rows []uint64
	// FramePointers says the object keeps a frame pointer chain: most of
	// its functions define their CFA from rbp (code built with
	// -fno-omit-frame-pointer). A process whose objects all have one is
	// walked by the kernel's frame-pointer walk, the fast path.
	FramePointers bool
	// FDEs counts the functions with call frame information.
	FDEs int
}

// compileRow turns one row of call frame information into a packed row's
// kind, offset and rbp slot.
func compileRow(r elfx.FrameRow) (kind uint8, off uint16, rbp uint8) {
	if r.RA.Kind == elfx.RuleUndefined {
		return KindEnd, 0, 0
	}
	if r.RA.Kind != elfx.RuleOffset || r.RA.Offset != -8 {
		return KindFP, 0, 0
	}
	switch r.FP.Kind {
	case elfx.RuleOffset:
		if r.FP.Offset < 0 && r.FP.Offset%8 == 0 && -r.FP.Offset/8 < 256 {
			rbp = uint8(-r.FP.Offset / 8)
		} else {
			return KindFP, 0, 0
		}
	case elfx.RuleSame, elfx.RuleUndefined:
	default:
		return KindFP, 0, 0
	}
	switch r.CFA.Kind {
	case elfx.RuleCFA:
		if r.CFA.Offset < 0 || r.CFA.Offset > 0xffff {
			return KindFP, 0, 0
		}
		switch r.CFA.Reg {
		case regRSP:
			return KindSP, uint16(r.CFA.Offset), rbp
		case regRBP:
			return KindBP, uint16(r.CFA.Offset), rbp
		}
	case elfx.RuleCFAExpression:
		if k, ok := pltThreshold(r.CFA.Expr); ok {
			return KindPLT, uint16(k), rbp
		}
	}
	return KindFP, 0, 0
}

// pltThreshold recognizes the CFA expression of a lazy-binding PLT entry,
// rsp + 8 + ((rip & 15) >= K) << 3: DW_OP_breg7 8, DW_OP_breg16 0,
// DW_OP_lit15, DW_OP_and, DW_OP_litK, DW_OP_ge, DW_OP_lit3, DW_OP_shl,
// DW_OP_plus.
func pltThreshold(e []byte) (int, bool) {
	if len(e) != 11 || e[0] != 0x77 || e[1] != 8 || e[2] != 0x80 || e[3] != 0 ||
		e[4] != 0x3f || e[5] != 0x1a || e[6] < 0x30 || e[6] > 0x4f || e[7] != 0x2a ||
		e[8] != 0x33 || e[9] != 0x24 || e[10] != 0x22 {
		return 0, false
	}
	return int(e[6] - 0x30), true
}

// span is one compiled row before packing, with its end.
type span struct {
	start, end uint64
	kind       uint8
	off        uint16
	rbp        uint8
}

// Build compiles the call frame information of an object. Objects whose
// addresses do not fit 32 bits get no rows (the walker uses frame
// pointers there).
func Build(f *elfx.File) (*Table, error) {
	spans := make([]span, 0, 4096)
	if s := f.Section(".eh_frame"); s != nil {
		spans = make([]span, 0, s.Size/8) // about a row per 8 bytes of CFI
	}
	// FDEs are told apart by a row that does not start where the last
	// one ended (rows of one FDE are contiguous).
	fdes, byRBP := 0, 0
	usesRBP := false
	rows := f.FrameRows
	if isGo(f) {
		// Go's .debug_frame has the CFA of Go functions but not where
		// rbp is saved: Go functions are walked by frame pointer or SP
		// table (AddFrameless), C code by its .eh_frame.
		rows = f.EHFrameRows
	}
	err := rows(func(r elfx.FrameRow) bool {
		if r.End > 1<<32 {
			return true
		}
		if len(spans) == 0 || spans[len(spans)-1].end != r.Start {
			if usesRBP {
				byRBP++
			}
			usesRBP = false
			fdes++
		}
		k, off, rbp := compileRow(r)
		if k == KindBP {
			usesRBP = true
		}
		spans = append(spans, span{r.Start, r.End, k, off, rbp})
		return true
	})
	if usesRBP {
		byRBP++
	}
	if err != nil && len(spans) == 0 {
		return nil, err
	}
	t := &Table{FDEs: fdes, FramePointers: fdes > 0 && byRBP*10 >= fdes*8}
	t.Rows = pack(spans)
	return t, nil
}

// isGo reports whether f is a Go binary (it has a pclntab).
func isGo(f *elfx.File) bool {
	return f.Section(".gopclntab") != nil || f.Section(".data.rel.ro.gopclntab") != nil
}

// pack sorts spans, fills the gaps between them with KindFP rows and
// merges neighbours with the same rule.
func pack(spans []span) []uint64 {
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var rows []uint64
	var end uint64
	last := ^uint64(0)
	add := func(start uint64, kind uint8, off uint16, rbp uint8) {
		r := Row(uint32(start), kind, off, rbp)
		if last != ^uint64(0) && r>>32 == last>>32 {
			return // the same rule continues
		}
		rows = append(rows, r)
		last = r
	}
	for i, s := range spans {
		if s.start < end {
			continue // overlapping FDEs: the first one wins
		}
		if i > 0 && s.start > end {
			add(end, KindFP, 0, 0)
		}
		add(s.start, s.kind, s.off, s.rbp)
		end = s.end
	}
	if len(spans) > 0 {
		add(end, KindFP, 0, 0)
	}
	return rows
}

// AddFrameless adds rows for functions that have no call frame
// information and that a frame-pointer walk gets wrong (Go's leaf
// functions, NOFRAME assembly, crosscall2): ranges whose CFA is rsp plus
// the stack depth + 8. Ranges already covered are left alone.
func (t *Table) AddFrameless(ranges []FramelessRange) {
	if len(ranges) == 0 {
		return
	}
	var spans []span
	for i, r := range t.Rows {
		s := span{start: uint64(RowPC(r)), kind: RowKind(r), off: RowOffset(r), rbp: RowRBP(r)}
		s.end = 1 << 32
		if i+1 < len(t.Rows) {
			s.end = uint64(RowPC(t.Rows[i+1]))
		}
		if s.kind == KindFP {
			continue // a gap: the new ranges may fill it
		}
		spans = append(spans, s)
	}
	for _, r := range ranges {
		if r.End > 1<<32 || r.End <= r.Start || r.Depth < 0 || r.Depth+8 > 0xffff {
			continue
		}
		spans = append(spans, span{r.Start, r.End, KindSP, uint16(r.Depth + 8), r.RBPSlot})
	}
	t.Rows = pack(spans)
}

// A FramelessRange is code walked by its stack depth: the stack pointer
// is Depth bytes below the return address's slot, and rbp is saved at
// CFA - 8*RBPSlot (0: rbp unchanged).
type FramelessRange struct {
	Start, End uint64
	Depth      int64
	RBPSlot    uint8
}
