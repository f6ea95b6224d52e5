package gobin

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/uscope/uscope/arch"
)

// This file reads, for the tests only, the DWARF 5 location lists the Go
// compiler emits for parameters, to check the ABI assignment against the
// compiler's own account of where each parameter is at the function entry.

// entryLoc describes a piece of a DWARF location at a function's entry:
// "rax", "xmm3", "sp+16" (the stack at entry), or "" (unknown), with a
// size (0: the whole value).
type entryLoc struct {
	where string
	size  uint64
}

// entryLocations returns, for each formal parameter of the named function
// that has a location list, its location at the function's entry.
func entryLocations(f *elf.File, fn string) (map[string][]entryLoc, error) {
	regName := dwarfRegName(f.Machine)
	// The frame base is the CFA: the stack pointer before the call, past
	// the return address on amd64; the stack pointer at entry on arm64.
	cfa := int64(8)
	if f.Machine == elf.EM_AARCH64 {
		cfa = 0
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, err
	}
	sec := f.Section(".debug_loclists")
	if sec == nil {
		return nil, fmt.Errorf("no .debug_loclists (DWARF < 5?)")
	}
	locs, err := sec.Data()
	if err != nil {
		return nil, err
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("no subprogram %s", fn)
		}
		if e.Tag != dwarf.TagSubprogram {
			continue
		}
		if name, _ := e.Val(dwarf.AttrName).(string); name != fn {
			r.SkipChildren()
			continue
		}
		out := make(map[string][]entryLoc)
		for {
			c, err := r.Next()
			if err != nil {
				return nil, err
			}
			if c == nil || c.Tag == 0 {
				return out, nil
			}
			if c.Tag != dwarf.TagFormalParameter {
				if c.Children {
					r.SkipChildren()
				}
				continue
			}
			name, _ := c.Val(dwarf.AttrName).(string)
			field := c.AttrField(dwarf.AttrLocation)
			if field == nil || field.Class != dwarf.ClassLocListPtr {
				continue
			}
			off, _ := field.Val.(int64)
			expr, ok := locAtEntry(locs, uint64(off))
			if !ok {
				continue
			}
			out[name] = decodeLocExpr(expr, regName, cfa)
		}
	}
}

// locAtEntry returns the location expression of the first range of the list
// at off that starts at offset 0 from its base. The Go compiler begins each
// list with the function's own low PC as the base.
func locAtEntry(locs []byte, off uint64) ([]byte, bool) {
	b := locs[off:]
	uleb := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0x00: // DW_LLE_end_of_list
			return nil, false
		case 0x01: // DW_LLE_base_addressx
			uleb()
		case 0x04: // DW_LLE_offset_pair
			start := uleb()
			uleb()
			n := uleb()
			if uint64(len(b)) < n {
				return nil, false
			}
			expr := b[:n]
			b = b[n:]
			if start == 0 {
				return expr, true
			}
		default:
			return nil, false
		}
	}
	return nil, false
}

// dwarfRegName returns the function naming DWARF register numbers the way
// Piece does.
func dwarfRegName(m elf.Machine) func(uint64) string {
	if m == elf.EM_AARCH64 {
		return func(n uint64) string {
			switch {
			case n <= 30:
				return fmt.Sprintf("x%d", n)
			case n >= 64 && n <= 95:
				return fmt.Sprintf("f%d", n-64)
			}
			return fmt.Sprintf("dwarf%d", n)
		}
	}
	return func(n uint64) string {
		if r, ok := arch.AMD64.DWARFReg(int(n)); ok && n <= 32 {
			return r.Name
		}
		return fmt.Sprintf("dwarf%d", n)
	}
}

// decodeLocExpr decodes the register, frame-base and piece operations of a
// location expression.
func decodeLocExpr(expr []byte, regName func(uint64) string, cfa int64) []entryLoc {
	var out []entryLoc
	cur := ""
	for len(expr) > 0 {
		op := expr[0]
		expr = expr[1:]
		switch {
		case op >= 0x50 && op <= 0x6f: // DW_OP_reg0..31
			cur = regName(uint64(op - 0x50))
		case op == 0x90: // DW_OP_regx
			v, n := binary.Uvarint(expr)
			if n <= 0 {
				return append(out, entryLoc{"?regx", 0})
			}
			expr = expr[n:]
			cur = regName(v)
		case op == 0x91: // DW_OP_fbreg: frame base is the CFA, SP at entry + 8
			v, n := sleb128(expr)
			expr = expr[n:]
			cur = fmt.Sprintf("sp+%d", v+cfa)
		case op == 0x9c: // DW_OP_call_frame_cfa
			cur = fmt.Sprintf("sp+%d", cfa)
		case op == 0x93: // DW_OP_piece
			v, n := binary.Uvarint(expr)
			if n <= 0 {
				return append(out, entryLoc{"?piece", 0})
			}
			expr = expr[n:]
			out = append(out, entryLoc{cur, v})
			cur = ""
		default:
			return append(out, entryLoc{"?" + fmt.Sprint(op), 0})
		}
	}
	if cur != "" {
		out = append(out, entryLoc{cur, 0})
	}
	return out
}

// pieceLocs renders a Param's pieces the way decodeLocExpr does.
func pieceLocs(p Param) []entryLoc {
	var out []entryLoc
	for _, pc := range p.Pieces {
		where := pc.Reg
		switch {
		case pc.OnStack:
			where = fmt.Sprintf("sp+%d", pc.StackOffset)
		case pc.Float:
			where = pc.FloatReg
		}
		out = append(out, entryLoc{where, uint64(pc.Size)})
	}
	if len(out) == 1 {
		out[0].size = 0
	}
	return out
}

func locString(l []entryLoc) string {
	var s []string
	for _, e := range l {
		if e.size == 0 {
			s = append(s, e.where)
		} else {
			s = append(s, fmt.Sprintf("%s:%d", e.where, e.size))
		}
	}
	return strings.Join(s, " ")
}

// sleb128 decodes a signed LEB128 number.
func sleb128(b []byte) (int64, int) {
	var v int64
	var shift uint
	for i, c := range b {
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, len(b)
}
