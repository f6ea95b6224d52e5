package cdwarf

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/uscope/uscope/arch"
)

// CFA at one address from the object's call frame information (.eh_frame,
// else .debug_frame): the minimum a DWARF location that uses
// DW_OP_call_frame_cfa needs at a probe, where a function without a frame
// pointer (-O2) moves its CFA with every push. It reads only the rule of
// the CFA (register + offset), not the registers' rules, so it is not an
// unwinder: the stacks work (issue 18) has the full .eh_frame parser, and
// the two can be merged into one (cfaAtPC is the only entry point).

// errNoCFI says that no FDE covers the address.
var errNoCFI = errors.New("no call frame information covers the address")

// cfaRule is where the CFA is: DWARF register reg + off.
type cfaRule struct {
	reg uint64
	off int64
}

// cfaAtPC returns the CFA rule in effect at pc in ef, from .eh_frame or
// .debug_frame.
func cfaAtPC(ef *elf.File, pc uint64) (cfaRule, error) {
	if ef == nil {
		return cfaRule{}, errNoCFI
	}
	var firstErr error
	for _, name := range []string{".eh_frame", ".debug_frame"} {
		s := ef.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		r, err := cfaIn(data, s.Addr, name == ".eh_frame", pc)
		if err == nil {
			return r, nil
		}
		if firstErr == nil || errors.Is(firstErr, errNoCFI) {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errNoCFI
	}
	return cfaRule{}, firstErr
}

// cie is what an FDE takes from its CIE.
type cie struct {
	codeAlign uint64
	dataAlign int64
	fdeEnc    byte
	hasAug    bool
	initial   []byte
}

// DW_EH_PE pointer encodings.
const (
	pePtr     = 0x00
	peULEB    = 0x01
	peU2      = 0x02
	peU4      = 0x03
	peU8      = 0x04
	peSLEB    = 0x09
	peS2      = 0x0a
	peS4      = 0x0b
	peS8      = 0x0c
	pePCRel   = 0x10
	peDataRel = 0x30
	peOmit    = 0xff
)

// readPtr reads a pointer in encoding enc at r, whose first byte is at
// address at (for pc-relative pointers).
func readPtr(r *reader, enc byte, at uint64) (uint64, error) {
	if enc == peOmit {
		return 0, nil
	}
	var v uint64
	switch enc & 0x0f {
	case pePtr, peU8, peS8:
		v = r.fixed(8)
	case peULEB:
		v = r.uleb()
	case peU2:
		v = r.fixed(2)
	case peU4:
		v = r.fixed(4)
	case peSLEB:
		v = uint64(r.sleb())
	case peS2:
		v = uint64(int64(int16(r.fixed(2))))
	case peS4:
		v = uint64(int64(int32(r.fixed(4))))
	default:
		return 0, fmt.Errorf("pointer encoding %#x", enc)
	}
	switch enc & 0x70 {
	case 0:
	case pePCRel:
		v += at
	default:
		return 0, fmt.Errorf("pointer encoding %#x", enc)
	}
	return v, r.err
}

// cfaIn finds the FDE covering pc in a .eh_frame (eh) or .debug_frame
// section loaded at addr and runs its CFA instructions up to pc.
func cfaIn(sec []byte, addr uint64, eh bool, pc uint64) (cfaRule, error) {
	cies := map[uint64]*cie{}
	for off := uint64(0); off+4 <= uint64(len(sec)); {
		length := uint64(binary.LittleEndian.Uint32(sec[off:]))
		off += 4
		idSize := uint64(4)
		if length == 0xffffffff {
			if off+8 > uint64(len(sec)) {
				return cfaRule{}, errTruncated
			}
			length = binary.LittleEndian.Uint64(sec[off:])
			off += 8
			idSize = 8
		}
		if length == 0 {
			if eh {
				break // the terminator
			}
			continue
		}
		if length > uint64(len(sec))-off || length < idSize {
			return cfaRule{}, errTruncated
		}
		body := sec[off : off+length]
		next := off + length
		var id uint64
		if idSize == 4 {
			id = uint64(binary.LittleEndian.Uint32(body))
		} else {
			id = binary.LittleEndian.Uint64(body)
		}
		isCIE := eh && id == 0 || !eh && (id == 0xffffffff || id == ^uint64(0))
		if isCIE {
			off = next
			continue
		}
		// An FDE: its CIE, parsed on first use.
		var cieOff uint64
		if eh {
			cieOff = off - id // relative to the id field
		} else {
			cieOff = id
		}
		if cieOff >= uint64(len(sec)) {
			return cfaRule{}, errors.New("FDE points outside the section")
		}
		c, ok := cies[cieOff]
		if !ok {
			var err error
			if c, err = parseCIE(sec, cieOff, eh); err != nil {
				return cfaRule{}, err
			}
			cies[cieOff] = c
		}
		r := &reader{b: body[idSize:]}
		fieldAt := addr + off + idSize
		lo, err := readPtr(r, c.fdeEnc, fieldAt)
		if err != nil {
			return cfaRule{}, err
		}
		fieldAt = addr + off + idSize + uint64(len(body)-int(idSize)-len(r.b))
		n, err := readPtr(r, c.fdeEnc&0x0f, fieldAt)
		if err != nil {
			return cfaRule{}, err
		}
		if pc >= lo && pc < lo+n {
			if c.hasAug {
				skip := r.uleb()
				if r.err != nil || skip > uint64(len(r.b)) {
					return cfaRule{}, errTruncated
				}
				r.b = r.b[skip:]
			}
			return runCFA(c, r.b, lo, pc)
		}
		off = next
	}
	return cfaRule{}, errNoCFI
}

// parseCIE reads the CIE at off.
func parseCIE(sec []byte, off uint64, eh bool) (*cie, error) {
	if off+4 > uint64(len(sec)) {
		return nil, errTruncated
	}
	length := uint64(binary.LittleEndian.Uint32(sec[off:]))
	off += 4
	idSize := uint64(4)
	if length == 0xffffffff {
		if off+8 > uint64(len(sec)) {
			return nil, errTruncated
		}
		length = binary.LittleEndian.Uint64(sec[off:])
		off += 8
		idSize = 8
	}
	if length > uint64(len(sec))-off || length < idSize+1 {
		return nil, errTruncated
	}
	r := &reader{b: sec[off+idSize : off+length]}
	c := &cie{fdeEnc: pePtr}
	version := r.u8()
	var aug []byte
	for len(r.b) > 0 && r.b[0] != 0 {
		aug = append(aug, r.b[0])
		r.b = r.b[1:]
	}
	r.u8()
	if !eh && version >= 4 {
		r.u8() // address size
		r.u8() // segment selector size
	}
	c.codeAlign = r.uleb()
	c.dataAlign = r.sleb()
	if version == 1 {
		r.u8()
	} else {
		r.uleb()
	}
	if len(aug) > 0 && aug[0] == 'z' {
		c.hasAug = true
		n := r.uleb()
		if r.err != nil || n > uint64(len(r.b)) {
			return nil, errTruncated
		}
		ad := &reader{b: r.b[:n]}
		r.b = r.b[n:]
		for _, a := range aug[1:] {
			switch a {
			case 'R':
				c.fdeEnc = ad.u8()
			case 'L':
				ad.u8()
			case 'P':
				enc := ad.u8()
				if _, err := readPtr(ad, enc&0x7f, 0); err != nil {
					return nil, err
				}
			case 'S', 'B':
			default:
				return nil, fmt.Errorf("CIE augmentation %q", aug)
			}
		}
	} else if len(aug) > 0 {
		return nil, fmt.Errorf("CIE augmentation %q", aug)
	}
	if r.err != nil {
		return nil, r.err
	}
	c.initial = r.b
	return c, nil
}

// DW_CFA instructions (DWARF 5, section 6.4.2).
const (
	cfaAdvanceLoc      = 0x40
	cfaOffset          = 0x80
	cfaRestore         = 0xc0
	cfaNop             = 0x00
	cfaSetLoc          = 0x01
	cfaAdvanceLoc1     = 0x02
	cfaAdvanceLoc2     = 0x03
	cfaAdvanceLoc4     = 0x04
	cfaOffsetExt       = 0x05
	cfaRestoreExt      = 0x06
	cfaUndefined       = 0x07
	cfaSameValue       = 0x08
	cfaRegister        = 0x09
	cfaRememberState   = 0x0a
	cfaRestoreState    = 0x0b
	cfaDefCFA          = 0x0c
	cfaDefCFARegister  = 0x0d
	cfaDefCFAOffset    = 0x0e
	cfaDefCFAExpr      = 0x0f
	cfaExpression      = 0x10
	cfaOffsetExtSF     = 0x11
	cfaDefCFASF        = 0x12
	cfaDefCFAOffsetSF  = 0x13
	cfaValOffset       = 0x14
	cfaValOffsetSF     = 0x15
	cfaValExpression   = 0x16
	cfaGNUArgsSize     = 0x2e
	cfaGNUNegOffsetExt = 0x2f
)

// runCFA runs the CIE's initial instructions, then the FDE's from lo, and
// returns the CFA rule at pc.
func runCFA(c *cie, fde []byte, lo, pc uint64) (cfaRule, error) {
	var cur cfaRule
	var stack []cfaRule
	loc := lo
	exec := func(b []byte, stopAtPC bool) (done bool, err error) {
		r := &reader{b: b}
		for steps := 0; len(r.b) > 0; steps++ {
			if steps > 1<<16 {
				return false, errors.New("CFA program too long")
			}
			op := r.u8()
			advance := uint64(0)
			switch {
			case op&0xc0 == cfaAdvanceLoc:
				advance = uint64(op&0x3f) * c.codeAlign
			case op&0xc0 == cfaOffset:
				r.uleb()
			case op&0xc0 == cfaRestore:
			default:
				switch op {
				case cfaNop:
				case cfaSetLoc:
					v := r.fixed(8)
					if stopAtPC && v > pc {
						return true, nil
					}
					loc = v
				case cfaAdvanceLoc1:
					advance = r.fixed(1) * c.codeAlign
				case cfaAdvanceLoc2:
					advance = r.fixed(2) * c.codeAlign
				case cfaAdvanceLoc4:
					advance = r.fixed(4) * c.codeAlign
				case cfaOffsetExt, cfaRegister, cfaValOffset:
					r.uleb()
					r.uleb()
				case cfaRestoreExt, cfaUndefined, cfaSameValue, cfaGNUArgsSize:
					r.uleb()
				case cfaRememberState:
					if len(stack) > 64 {
						return false, errors.New("CFA state stack too deep")
					}
					stack = append(stack, cur)
				case cfaRestoreState:
					if len(stack) == 0 {
						return false, errors.New("CFA restore_state without remember_state")
					}
					cur = stack[len(stack)-1]
					stack = stack[:len(stack)-1]
				case cfaDefCFA:
					cur.reg = r.uleb()
					cur.off = int64(r.uleb())
				case cfaDefCFASF:
					cur.reg = r.uleb()
					cur.off = r.sleb() * c.dataAlign
				case cfaDefCFARegister:
					cur.reg = r.uleb()
				case cfaDefCFAOffset:
					cur.off = int64(r.uleb())
				case cfaDefCFAOffsetSF:
					cur.off = r.sleb() * c.dataAlign
				case cfaDefCFAExpr:
					return false, errors.New("the CFA is a DWARF expression (DW_CFA_def_cfa_expression)")
				case cfaExpression, cfaValExpression:
					r.uleb()
					n := r.uleb()
					if n > uint64(len(r.b)) {
						return false, errTruncated
					}
					r.b = r.b[n:]
				case cfaOffsetExtSF, cfaValOffsetSF, cfaGNUNegOffsetExt:
					r.uleb()
					r.sleb()
				default:
					return false, fmt.Errorf("CFA instruction %#x", op)
				}
			}
			if r.err != nil {
				return false, r.err
			}
			if advance != 0 {
				if stopAtPC && loc+advance > pc {
					return true, nil
				}
				loc += advance
			}
		}
		return false, nil
	}
	if _, err := exec(c.initial, false); err != nil {
		return cfaRule{}, err
	}
	if _, err := exec(fde, true); err != nil {
		return cfaRule{}, err
	}
	return cur, nil
}

// cfaFromCFI is the CFA at pc as a register name and offset, from the
// code object's call frame information; "" when it has none for pc.
func (fn *Func) cfaFromCFI(pc uint64, a *arch.Arch) (string, int64) {
	rule, err := cfaAtPC(fn.f.code, pc)
	if err != nil && fn.f.ef != fn.f.code {
		rule, err = cfaAtPC(fn.f.ef, pc) // a debug file's .debug_frame
	}
	if err != nil {
		return "", 0
	}
	reg, ok := a.DWARFReg(int(rule.reg))
	if !ok || rule.reg > 1<<16 || reg.Offset < 0 {
		return "", 0
	}
	return reg.Name, rule.off
}
