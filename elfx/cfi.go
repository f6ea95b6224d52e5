package elfx

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/uscope/uscope/internal/leb128"
)

// RuleKind says how an unwinder recovers a register of the caller's frame,
// or the canonical frame address (CFA), in one row of call frame
// information (DWARF 5 section 6.4.1).
type RuleKind uint8

// The rules of a register: the first ones as DWARF names them, then the
// two forms of the CFA's rule.
const (
	// RuleSame: the register keeps its value (DW_CFA_same_value, and the
	// default of a register no instruction mentions).
	RuleSame RuleKind = iota
	// RuleUndefined: the value cannot be recovered; for the return
	// address column, the outermost frame (DW_CFA_undefined).
	RuleUndefined
	// RuleOffset: saved in memory at CFA+Offset (DW_CFA_offset).
	RuleOffset
	// RuleValOffset: the value is CFA+Offset (DW_CFA_val_offset).
	RuleValOffset
	// RuleRegister: saved in register Reg (DW_CFA_register).
	RuleRegister
	// RuleExpression: saved at the address Expr computes (DW_CFA_expression).
	RuleExpression
	// RuleValExpression: the value Expr computes (DW_CFA_val_expression).
	RuleValExpression
	// RuleCFA: the CFA is register Reg plus Offset (DW_CFA_def_cfa).
	RuleCFA
	// RuleCFAExpression: the CFA is what Expr computes
	// (DW_CFA_def_cfa_expression; PLT entries use one).
	RuleCFAExpression
)

// A Rule is one column of a frame row.
type Rule struct {
	Kind   RuleKind
	Reg    uint64 // RuleRegister, RuleCFA: a DWARF register number
	Offset int64  // RuleOffset, RuleValOffset, RuleCFA
	Expr   []byte // the expression kinds: a DWARF expression
}

// A FrameRow is the call frame information of the addresses [Start, End)
// (link-time addresses): how to find the CFA, the return address and the
// frame pointer (rbp on x86-64, x29 on arm64) of the caller.
type FrameRow struct {
	Start, End uint64
	CFA        Rule
	RA         Rule
	FP         Rule
	// Signal marks a signal frame's FDE (augmentation "S"): its return
	// address is not after a call, so it is not looked up one byte back.
	Signal bool
}

// Limits that keep a hostile section from costing much.
const (
	maxCFIRowsPerFDE = 1 << 16
	maxCFIStates     = 64
	maxCFIRegs       = 128
	maxFrameSection  = 1 << 28 // bytes of a compressed section, decompressed
)

// FrameRows calls fn with every row of the object's call frame
// information: .eh_frame's, then those of .debug_frame's FDEs that start
// at an address no .eh_frame FDE covers. Rows of one FDE come in address
// order; FDEs in section order. fn returns false to stop. An object with
// neither section has no rows (and no error).
func (f *File) FrameRows(fn func(FrameRow) bool) error {
	return f.frameRows([]string{".eh_frame", ".debug_frame"}, fn)
}

// EHFrameRows is FrameRows of .eh_frame alone: the rows of the code that
// exceptions unwind through, without the .debug_frame of a toolchain that
// describes only some registers there (Go's).
func (f *File) EHFrameRows(fn func(FrameRow) bool) error {
	return f.frameRows([]string{".eh_frame"}, fn)
}

// FrameRowAt returns the row of the object's call frame information in
// effect at the link-time address addr: .eh_frame's, else .debug_frame's.
// It runs the instructions of the FDE that covers addr alone and reads the
// sections in place, so it is cheap where FrameRows would read every row
// for one address. ok is false when no FDE has a row for addr; err tells
// of a section that could not be read, when no other gave the row.
func (f *File) FrameRowAt(addr uint64) (row FrameRow, ok bool, err error) {
	fp, ptr := f.frameRegs()
	parse := func(data []byte, secAddr uint64, eh bool) error {
		return parseFrameRows(data, secAddr, eh, f.order, ptr, fp,
			func(lo, hi uint64) bool { return lo <= addr && addr < hi },
			func(r FrameRow) bool {
				if r.Start <= addr && addr < r.End {
					row, ok = r, true // its expressions are copies
					return false
				}
				return true
			})
	}
	for _, name := range []string{".eh_frame", ".debug_frame"} {
		eh := name == ".eh_frame"
		var serr error
		if s := f.ef.Section(name); s != nil && s.Type != elf.SHT_NOBITS && s.Flags&elf.SHF_COMPRESSED == 0 {
			serr = f.withFaults(func() error {
				b, err := f.sectionBytes(s)
				if err == nil {
					err = parse(b, s.Addr, eh)
				}
				return err
			})
		} else if data, secAddr, ferr := f.frameSection(name); ferr != nil || data != nil {
			serr = ferr
			if ferr == nil {
				serr = parse(data, secAddr, eh)
			}
		}
		if ok {
			return row, true, nil
		}
		if serr != nil && err == nil {
			err = serr
			if _, isFormat := serr.(*FormatError); !isFormat {
				err = &FormatError{Path: f.path, Msg: name + ": " + serr.Error()}
			}
		}
	}
	return FrameRow{}, false, err
}

// frameRegs gives the DWARF number of the frame pointer (FrameRow.FP) and
// the pointer size of the object's call frame information.
func (f *File) frameRegs() (fp uint64, ptr int) {
	fp, ptr = 6, 8 // rbp
	if f.Machine() == elf.EM_AARCH64 {
		fp = 29
	}
	if !f.is64 {
		ptr = 4
	}
	return fp, ptr
}

func (f *File) frameRows(sections []string, fn func(FrameRow) bool) error {
	fp, ptr := f.frameRegs()
	var covered [][2]uint64
	stopped := false
	for _, name := range sections {
		if stopped {
			break
		}
		data, addr, err := f.frameSection(name)
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		eh := name == ".eh_frame"
		if !eh {
			sort.Slice(covered, func(i, j int) bool { return covered[i][0] < covered[j][0] })
		}
		// The ranges .eh_frame covers matter only when .debug_frame follows.
		track := eh && len(sections) > 1 && f.ef.Section(".debug_frame") != nil
		err = ParseFrameRows(data, addr, eh, f.order, ptr, fp, func(r FrameRow) bool {
			if track {
				covered = append(covered, [2]uint64{r.Start, r.End})
			} else if !eh && inRanges(covered, r.Start) {
				return true
			}
			if !fn(r) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil {
			return &FormatError{Path: f.path, Msg: name + ": " + err.Error()}
		}
	}
	return nil
}

// frameSection returns the bytes and address of .eh_frame or
// .debug_frame (nil when absent); a compressed .debug_frame (a debug file's,
// -gz) is decompressed. Without section headers, .eh_frame is found through
// PT_GNU_EH_FRAME (the .eh_frame_hdr segment), and runs to the end of the
// loadable segment that holds it (the parser stops at its zero terminator).
func (f *File) frameSection(name string) ([]byte, uint64, error) {
	if s := f.ef.Section(name); s != nil {
		if s.Type == elf.SHT_NOBITS {
			return nil, 0, nil
		}
		if s.Flags&elf.SHF_COMPRESSED != 0 {
			if s.Size > maxFrameSection {
				return nil, 0, &FormatError{Path: f.path, Msg: fmt.Sprintf("%s: %d bytes decompressed, more than call frame information takes", name, s.Size)}
			}
			b, err := s.Data()
			if err != nil {
				return nil, 0, &FormatError{Path: f.path, Msg: name + ": " + err.Error()}
			}
			return b, s.Addr, nil
		}
		b, err := f.SectionData(name)
		return b, s.Addr, err
	}
	if name != ".eh_frame" {
		return nil, 0, nil
	}
	for _, p := range f.ef.Progs {
		if p.Type != elf.PT_GNU_EH_FRAME || p.Filesz < 4 || p.Filesz > 1<<30 {
			continue
		}
		hdr := make([]byte, min(p.Filesz, 64))
		if _, err := f.ReadAtAddr(hdr, p.Vaddr); err != nil {
			return nil, 0, nil
		}
		h, err := ParseEHFrameHdr(hdr, p.Vaddr, f.order)
		if err != nil {
			return nil, 0, nil
		}
		for _, seg := range f.loads {
			if h.EHFrame < seg.Vaddr || h.EHFrame >= seg.Vaddr+seg.Filesz {
				continue
			}
			n := seg.Vaddr + seg.Filesz - h.EHFrame
			if n > 1<<28 {
				n = 1 << 28
			}
			b := make([]byte, n)
			if _, err := f.ReadAtAddr(b, h.EHFrame); err != nil {
				return nil, 0, nil
			}
			return b, h.EHFrame, nil
		}
	}
	return nil, 0, nil
}

// inRanges reports whether addr lies in one of the sorted ranges rs.
func inRanges(rs [][2]uint64, addr uint64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i][1] > addr })
	return i < len(rs) && rs[i][0] <= addr
}

// EHFrameHdr is the header of .eh_frame_hdr: where .eh_frame starts and
// the number of entries of its binary search table (initial location to
// FDE address).
type EHFrameHdr struct {
	EHFrame uint64 // the address of .eh_frame
	Entries int    // the search table's entries (0: no table)
}

// ParseEHFrameHdr decodes the header of an .eh_frame_hdr section that is
// loaded at addr.
func ParseEHFrameHdr(b []byte, addr uint64, order binary.ByteOrder) (EHFrameHdr, error) {
	if len(b) < 4 || b[0] != 1 {
		return EHFrameHdr{}, errors.New("bad .eh_frame_hdr version")
	}
	r := &cfiReader{b: b, order: order, ptr: 8, secAddr: addr}
	r.off = 4
	ptr, err := r.encoded(b[1])
	if err != nil {
		return EHFrameHdr{}, err
	}
	h := EHFrameHdr{EHFrame: ptr}
	if b[2] != peOmit && b[3] != peOmit {
		n, err := r.encoded(b[2])
		if err != nil {
			return h, err
		}
		if n < 1<<24 {
			h.Entries = int(n)
		}
	}
	return h, nil
}

// Pointer encodings of .eh_frame (DW_EH_PE_*).
const (
	peAbsptr  = 0x00
	peULEB128 = 0x01
	peUdata2  = 0x02
	peUdata4  = 0x03
	peUdata8  = 0x04
	peSLEB128 = 0x09
	peSdata2  = 0x0a
	peSdata4  = 0x0b
	peSdata8  = 0x0c
	pePCRel   = 0x10
	peDataRel = 0x30
	peIndir   = 0x80
	peOmit    = 0xff
)

// cfiReader reads a section of call frame information with bounds checks:
// every read past the end sets err and returns zero.
type cfiReader struct {
	b       []byte
	off     int
	order   binary.ByteOrder
	ptr     int
	secAddr uint64
	err     error
}

var errCFIShort = errors.New("truncated call frame information")

func (r *cfiReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || r.off+n > len(r.b) || r.off+n < r.off {
		r.err = errCFIShort
		return false
	}
	return true
}

func (r *cfiReader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *cfiReader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	r.off += 2
	return r.order.Uint16(r.b[r.off-2:])
}

func (r *cfiReader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.off += 4
	return r.order.Uint32(r.b[r.off-4:])
}

func (r *cfiReader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	r.off += 8
	return r.order.Uint64(r.b[r.off-8:])
}

func (r *cfiReader) uleb() uint64 { return readLEB(r, leb128.Uint) }

func (r *cfiReader) sleb() int64 { return readLEB(r, leb128.Int) }

// readLEB reads a LEB128 number at r's offset with dec (leb128.Uint or
// leb128.Int).
func readLEB[T uint64 | int64](r *cfiReader, dec func([]byte) (T, int)) T {
	if !r.need(1) {
		return 0
	}
	v, n := dec(r.b[r.off:])
	if n == 0 {
		r.off, r.err = len(r.b), errCFIShort
		return 0
	}
	r.off += n
	return v
}

func (r *cfiReader) word() uint64 {
	if r.ptr == 4 {
		return uint64(r.u32())
	}
	return r.u64()
}

func (r *cfiReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) || !r.need(int(n)) {
		r.err = errCFIShort
		return nil
	}
	r.off += int(n)
	return r.b[r.off-int(n) : r.off]
}

// encoded reads a pointer in encoding enc (DW_EH_PE_*). Indirect pointers
// cannot be followed here (the target is in memory): their address is
// returned.
func (r *cfiReader) encoded(enc uint8) (uint64, error) {
	if enc == peOmit {
		return 0, nil
	}
	at := r.secAddr + uint64(r.off)
	var v uint64
	switch enc & 0x0f {
	case peAbsptr:
		v = r.word()
	case peULEB128:
		v = r.uleb()
	case peUdata2:
		v = uint64(r.u16())
	case peUdata4:
		v = uint64(r.u32())
	case peUdata8:
		v = r.u64()
	case peSLEB128:
		v = uint64(r.sleb())
	case peSdata2:
		v = uint64(int64(int16(r.u16())))
	case peSdata4:
		v = uint64(int64(int32(r.u32())))
	case peSdata8:
		v = r.u64()
	default:
		return 0, fmt.Errorf("unknown pointer encoding 0x%x", enc)
	}
	if r.err != nil {
		return 0, r.err
	}
	switch enc & 0x70 {
	case 0:
	case pePCRel:
		v += at
	case peDataRel:
		v += r.secAddr
	default:
		return 0, fmt.Errorf("unsupported pointer application 0x%x", enc&0x70)
	}
	if r.ptr == 4 {
		v = uint64(uint32(v))
	}
	return v, nil
}

// A cie is a parsed common information entry.
type cie struct {
	codeAlign uint64
	dataAlign int64
	raReg     uint64
	fdeEnc    uint8
	lsdaEnc   uint8
	hasAug    bool // "z": FDEs have an augmentation length
	signal    bool
	insns     []byte
}

// ParseFrameRows decodes a .eh_frame (eh) or .debug_frame section loaded
// at secAddr and calls fn with each FDE's rows, stopping when fn returns
// false. ptrSize is 4 or 8; fpReg is the DWARF number of the register
// reported as FrameRow.FP. Malformed input ends with an error, never a
// panic; rows already delivered stay valid.
func ParseFrameRows(sec []byte, secAddr uint64, eh bool, order binary.ByteOrder, ptrSize int, fpReg uint64, fn func(FrameRow) bool) error {
	return parseFrameRows(sec, secAddr, eh, order, ptrSize, fpReg, nil, fn)
}

// parseFrameRows is ParseFrameRows that runs only the FDEs whose range
// [lo, hi) covers reports true for (all, when covers is nil).
func parseFrameRows(sec []byte, secAddr uint64, eh bool, order binary.ByteOrder, ptrSize int, fpReg uint64, covers func(lo, hi uint64) bool, fn func(FrameRow) bool) error {
	if ptrSize != 4 && ptrSize != 8 {
		return errors.New("pointer size must be 4 or 8")
	}
	cies := map[int]*cie{}
	r := &cfiReader{b: sec, order: order, ptr: ptrSize, secAddr: secAddr}
	for r.off < len(sec) && r.err == nil {
		start := r.off
		length := uint64(r.u32())
		is64 := false
		if length == 0xffffffff {
			length = r.u64()
			is64 = true
		}
		if r.err != nil {
			return r.err
		}
		if length == 0 {
			if eh {
				return nil // the terminator
			}
			continue
		}
		body := r.off
		if length > uint64(len(sec)-body) {
			return errCFIShort
		}
		end := body + int(length)
		idAt := r.off
		var id uint64
		if is64 {
			id = r.u64()
		} else {
			id = uint64(r.u32())
		}
		isCIE := (eh && id == 0) || (!eh && (id == 0xffffffff || (is64 && id == ^uint64(0))))
		if isCIE {
			c, err := parseCIE(&cfiReader{b: sec[:end], off: r.off, order: order, ptr: ptrSize, secAddr: secAddr})
			if err != nil {
				return fmt.Errorf("CIE at 0x%x: %w", start, err)
			}
			cies[start] = c
			r.off = end
			continue
		}
		cieAt := int(id)
		if eh {
			cieAt = idAt - int(id)
		}
		c, ok := cies[cieAt]
		if !ok {
			// A CIE after its FDE, or one that failed: parse it on demand.
			if cieAt < 0 || cieAt+4 > len(sec) {
				return fmt.Errorf("FDE at 0x%x: no CIE at 0x%x", start, cieAt)
			}
			cr := &cfiReader{b: sec, off: cieAt, order: order, ptr: ptrSize, secAddr: secAddr}
			cl := uint64(cr.u32())
			if cl == 0xffffffff {
				cl = cr.u64()
				cr.u64()
			} else {
				cr.u32()
			}
			cend := uint64(cieAt) + 4 + cl
			if cr.err != nil || cl == 0 || cend > uint64(len(sec)) || cend < uint64(cieAt) {
				return fmt.Errorf("FDE at 0x%x: no CIE at 0x%x", start, cieAt)
			}
			cr.b = sec[:cend]
			var err error
			if c, err = parseCIE(cr); err != nil {
				return fmt.Errorf("CIE at 0x%x: %w", cieAt, err)
			}
			cies[cieAt] = c
		}
		fr := &cfiReader{b: sec[:end], off: r.off, order: order, ptr: ptrSize, secAddr: secAddr}
		enc := uint8(peAbsptr)
		if eh {
			enc = c.fdeEnc
		}
		pcBegin, err := fr.encoded(enc)
		if err != nil {
			return fmt.Errorf("FDE at 0x%x: %w", start, err)
		}
		pcRange, err := fr.encoded(enc & 0x0f)
		if err != nil {
			return fmt.Errorf("FDE at 0x%x: %w", start, err)
		}
		if c.hasAug {
			n := fr.uleb()
			fr.bytes(n)
		}
		if fr.err != nil {
			return fmt.Errorf("FDE at 0x%x: %w", start, fr.err)
		}
		r.off = end
		if pcRange == 0 || pcBegin+pcRange < pcBegin {
			continue // an empty or discarded FDE (linkers zero them)
		}
		if covers != nil && !covers(pcBegin, pcBegin+pcRange) {
			continue
		}
		if !runCFI(c, fr.b[fr.off:end], pcBegin, pcBegin+pcRange, order, ptrSize, fpReg, fn) {
			return nil
		}
	}
	return r.err
}

func parseCIE(r *cfiReader) (*cie, error) {
	c := &cie{fdeEnc: peAbsptr, lsdaEnc: peOmit}
	version := r.u8()
	if version != 1 && version != 3 && version != 4 {
		return nil, fmt.Errorf("CIE version %d", version)
	}
	aug := r.b[r.off:]
	n := bytes.IndexByte(aug, 0)
	if n < 0 {
		return nil, errCFIShort
	}
	augStr := string(aug[:n])
	r.off += n + 1
	if augStr == "eh" {
		r.word() // GCC 2's eh_ptr
	}
	if version == 4 {
		r.u8() // address_size
		r.u8() // segment_selector_size
	}
	c.codeAlign = r.uleb()
	c.dataAlign = r.sleb()
	if version == 1 {
		c.raReg = uint64(r.u8())
	} else {
		c.raReg = r.uleb()
	}
	if len(augStr) > 0 && augStr[0] == 'z' {
		c.hasAug = true
		l := r.uleb()
		if r.err != nil || l > uint64(len(r.b)-r.off) {
			return nil, errCFIShort
		}
		augEnd := r.off + int(l)
	aug:
		for _, a := range augStr[1:] {
			switch a {
			case 'L':
				c.lsdaEnc = r.u8()
			case 'P':
				pe := r.u8()
				if _, err := r.encoded(pe &^ peIndir); err != nil {
					return nil, err
				}
			case 'R':
				c.fdeEnc = r.u8()
			case 'S':
				c.signal = true
			case 'B', 'G':
			default:
				break aug // unknown: the length skips the rest
			}
		}
		r.off = augEnd
	} else if augStr != "" && augStr != "eh" {
		return nil, fmt.Errorf("unknown CIE augmentation %q", augStr)
	}
	if r.err != nil {
		return nil, r.err
	}
	c.insns = r.b[r.off:]
	return c, nil
}

// cfiState is the row being built: the CFA's rule and every register's.
type cfiState struct {
	cfa  Rule
	regs map[uint64]Rule
}

func (s cfiState) clone() cfiState {
	m := make(map[uint64]Rule, len(s.regs))
	for k, v := range s.regs {
		m[k] = v
	}
	return cfiState{cfa: s.cfa, regs: m}
}

// runCFI runs the CIE's initial instructions, then the FDE's, and delivers
// the rows for [lo, hi). It returns false when fn asked to stop.
func runCFI(c *cie, fde []byte, lo, hi uint64, order binary.ByteOrder, ptrSize int, fpReg uint64, fn func(FrameRow) bool) bool {
	st := cfiState{regs: map[uint64]Rule{}}
	initial := st
	loc := lo
	rows := 0
	emit := func(to uint64) bool {
		if to > hi {
			to = hi
		}
		if to <= loc {
			return true
		}
		rows++
		row := FrameRow{Start: loc, End: to, CFA: st.cfa, RA: st.regs[c.raReg], FP: st.regs[fpReg], Signal: c.signal}
		if _, ok := st.regs[c.raReg]; !ok {
			row.RA = Rule{Kind: RuleSame}
		}
		return fn(row)
	}
	var stack []cfiState
	exec := func(insns []byte, isCIE bool) cfiEnd {
		r := &cfiReader{b: insns, order: order, ptr: ptrSize}
		for r.off < len(insns) && r.err == nil {
			op := r.u8()
			var advance uint64
			hasAdvance := false
			switch op >> 6 {
			case 1: // DW_CFA_advance_loc
				advance, hasAdvance = uint64(op&0x3f)*c.codeAlign, true
			case 2: // DW_CFA_offset
				st.regs[uint64(op&0x3f)] = Rule{Kind: RuleOffset, Offset: int64(r.uleb()) * c.dataAlign}
			case 3: // DW_CFA_restore
				restoreReg(&st, initial, uint64(op&0x3f))
			default:
				switch op {
				case 0x00: // nop
				case 0x01: // set_loc
					v := r.word()
					if v >= loc {
						advance, hasAdvance = v-loc, true
					}
				case 0x02:
					advance, hasAdvance = uint64(r.u8())*c.codeAlign, true
				case 0x03:
					advance, hasAdvance = uint64(r.u16())*c.codeAlign, true
				case 0x04:
					advance, hasAdvance = uint64(r.u32())*c.codeAlign, true
				case 0x05: // offset_extended
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleOffset, Offset: int64(r.uleb()) * c.dataAlign}
				case 0x06: // restore_extended
					restoreReg(&st, initial, r.uleb())
				case 0x07: // undefined
					st.regs[r.uleb()] = Rule{Kind: RuleUndefined}
				case 0x08: // same_value
					st.regs[r.uleb()] = Rule{Kind: RuleSame}
				case 0x09: // register
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleRegister, Reg: r.uleb()}
				case 0x0a: // remember_state
					if len(stack) >= maxCFIStates {
						return cfiBad
					}
					stack = append(stack, st.clone())
				case 0x0b: // restore_state
					if len(stack) == 0 {
						return cfiBad
					}
					st = stack[len(stack)-1]
					stack = stack[:len(stack)-1]
				case 0x0c: // def_cfa
					reg := r.uleb()
					st.cfa = Rule{Kind: RuleCFA, Reg: reg, Offset: int64(r.uleb())}
				case 0x0d: // def_cfa_register
					st.cfa = Rule{Kind: RuleCFA, Reg: r.uleb(), Offset: st.cfa.Offset}
				case 0x0e: // def_cfa_offset
					st.cfa = Rule{Kind: RuleCFA, Reg: st.cfa.Reg, Offset: int64(r.uleb())}
				case 0x0f: // def_cfa_expression
					st.cfa = Rule{Kind: RuleCFAExpression, Expr: bytes.Clone(r.bytes(r.uleb()))}
				case 0x10: // expression
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleExpression, Expr: bytes.Clone(r.bytes(r.uleb()))}
				case 0x11: // offset_extended_sf
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleOffset, Offset: r.sleb() * c.dataAlign}
				case 0x12: // def_cfa_sf
					reg := r.uleb()
					st.cfa = Rule{Kind: RuleCFA, Reg: reg, Offset: r.sleb() * c.dataAlign}
				case 0x13: // def_cfa_offset_sf
					st.cfa = Rule{Kind: RuleCFA, Reg: st.cfa.Reg, Offset: r.sleb() * c.dataAlign}
				case 0x14: // val_offset
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleValOffset, Offset: int64(r.uleb()) * c.dataAlign}
				case 0x15: // val_offset_sf
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleValOffset, Offset: r.sleb() * c.dataAlign}
				case 0x16: // val_expression
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleValExpression, Expr: bytes.Clone(r.bytes(r.uleb()))}
				case 0x2e: // GNU_args_size
					r.uleb()
				case 0x2f: // GNU_negative_offset_extended
					reg := r.uleb()
					st.regs[reg] = Rule{Kind: RuleOffset, Offset: -int64(r.uleb()) * c.dataAlign}
				default:
					return cfiBad // unknown opcode: the rest cannot be read
				}
			}
			if len(st.regs) > maxCFIRegs || r.err != nil {
				return cfiBad
			}
			if hasAdvance && !isCIE {
				if loc+advance < loc || rows >= maxCFIRowsPerFDE {
					return cfiBad
				}
				if !emit(loc + advance) {
					return cfiStop
				}
				loc += advance
				if loc >= hi {
					return cfiDone
				}
			}
		}
		if r.err != nil {
			return cfiBad
		}
		return cfiDone
	}
	if exec(c.insns, true) != cfiDone {
		return true // a CIE that cannot be read: no rows for its FDEs
	}
	initial = st.clone()
	switch exec(fde, false) {
	case cfiStop:
		return false
	case cfiBad:
		return true // the rows delivered so far are right; the rest unknown
	}
	return emit(hi)
}

// cfiEnd is how a run of CFA instructions ended.
type cfiEnd uint8

const (
	cfiDone cfiEnd = iota // all read
	cfiStop               // the caller's fn asked to stop
	cfiBad                // malformed: stop reading this FDE
)

// restoreReg gives reg its rule from the CIE's initial instructions.
func restoreReg(st *cfiState, initial cfiState, reg uint64) {
	if r, ok := initial.regs[reg]; ok {
		st.regs[reg] = r
		return
	}
	delete(st.regs, reg)
}
