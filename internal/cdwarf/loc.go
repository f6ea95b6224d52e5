package cdwarf

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/internal/leb128"
)

// ErrOptimizedOut says that DWARF gives a value no location at an address.
var ErrOptimizedOut = errors.New("optimized out")

// PieceKind says where one piece of a value is.
type PieceKind int

// The kinds of pieces.
const (
	// InReg: the value is the register Reg.
	InReg PieceKind = iota
	// InMem: the value is in memory at Reg+Off (Reg "" : at address Off).
	InMem
	// IsValue: the value is Reg+Off (Reg "": the constant Off).
	IsValue
	// Unavailable: this piece has no location (optimized out).
	Unavailable
)

// Piece is a part of a value's location.
type Piece struct {
	Kind PieceKind
	// Reg is the register's name in the arch table ("rdi", "rsp").
	Reg string
	Off int64
	// Size is the piece's size in bytes; 0 for a value in one piece.
	Size int
}

// Location is where a value is: one piece, or several (DW_OP_piece).
type Location struct {
	Pieces []Piece
}

func (l Location) String() string {
	s := ""
	for i, p := range l.Pieces {
		if i > 0 {
			s += " "
		}
		switch p.Kind {
		case InReg:
			s += "%" + p.Reg
		case InMem:
			s += fmt.Sprintf("[%%%s%+d]", p.Reg, p.Off)
		case IsValue:
			if p.Reg == "" {
				s += fmt.Sprintf("$%d", p.Off)
			} else {
				s += fmt.Sprintf("%%%s%+d", p.Reg, p.Off)
			}
		case Unavailable:
			s += "<optimized out>"
		}
		if p.Size > 0 && len(l.Pieces) > 1 {
			s += fmt.Sprintf(":%d", p.Size)
		}
	}
	return s
}

// EvalContext is what evaluating an expression needs to know of the place
// it is evaluated at.
type EvalContext struct {
	Arch *arch.Arch
	PC   uint64
	// AtEntry: PC is the function's first instruction (or an instruction
	// placement moved the probe to, that changed neither the stack pointer
	// nor an argument register): the CFA is SP+8 and registers still hold
	// their entry values.
	AtEntry bool
	// FrameBase is the function's DW_AT_frame_base expression.
	FrameBase []byte
	// CFAReg+CFAOff is the call frame address away from the entry, when
	// known (CFAReg "" : unknown).
	CFAReg string
	CFAOff int64
	// Addrx resolves DW_OP_addrx and DW_OP_constx: entry i of the unit's
	// .debug_addr (nil: not supported).
	Addrx func(i uint64) (uint64, bool)
}

// DWARF expression operators used here (DWARF 5, section 7.7.1).
const (
	opAddr          = 0x03
	opDeref         = 0x06
	opConst1u       = 0x08
	opConst1s       = 0x09
	opConst2u       = 0x0a
	opConst2s       = 0x0b
	opConst4u       = 0x0c
	opConst4s       = 0x0d
	opConst8u       = 0x0e
	opConst8s       = 0x0f
	opConstu        = 0x10
	opConsts        = 0x11
	opDup           = 0x12
	opMinus         = 0x1c
	opPlus          = 0x22
	opPlusUconst    = 0x23
	opLit0          = 0x30
	opLit31         = 0x4f
	opReg0          = 0x50
	opReg31         = 0x6f
	opBreg0         = 0x70
	opBreg31        = 0x8f
	opRegx          = 0x90
	opFbreg         = 0x91
	opBregx         = 0x92
	opPiece         = 0x93
	opNop           = 0x96
	opCallFrameCFA  = 0x9c
	opImplicitValue = 0x9e
	opStackValue    = 0x9f
	opEntryValue    = 0xa3
	opGNUEntryValue = 0xf3
	opGNUUninit     = 0xf0
)

// sval is a value on the evaluation stack: reg+off ("" reg: a constant).
type sval struct {
	reg string
	off int64
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) u8() byte {
	if len(r.b) < 1 {
		r.err = errTruncated
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) fixed(n int) uint64 {
	if len(r.b) < n {
		r.err = errTruncated
		r.b = nil
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(r.b[i])
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uleb() uint64 { return readLEB(r, leb128.Uint) }

func (r *reader) sleb() int64 { return readLEB(r, leb128.Int) }

// readLEB reads a LEB128 number from r with dec (leb128.Uint or
// leb128.Int).
func readLEB[T uint64 | int64](r *reader, dec func([]byte) (T, int)) T {
	v, n := dec(r.b)
	if n == 0 {
		r.b, r.err = nil, errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

var errTruncated = errors.New("truncated DWARF expression")

// Eval evaluates a location expression. It handles what compilers emit for
// parameters and variables: registers (DW_OP_reg*, regx), addresses from
// registers (breg*, bregx, fbreg through the frame base, call_frame_cfa at
// entry), constants and arithmetic on them, stack values, implicit values,
// DW_OP_entry_value of a register at the entry, and pieces.
func Eval(expr []byte, ctx EvalContext) (Location, error) {
	return eval(expr, ctx, 0)
}

func eval(expr []byte, ctx EvalContext, depth int) (Location, error) {
	if depth > 2 {
		return Location{}, errors.New("DWARF expression nests too deep")
	}
	if ctx.Arch == nil {
		ctx.Arch = arch.AMD64
	}
	var loc Location
	var stack []sval
	r := &reader{b: expr}
	// cur is the location of the current piece when it is a register or a
	// value (set by reg, stack_value, implicit_value).
	var cur *Piece
	regName := func(n uint64) (string, error) {
		reg, ok := ctx.Arch.DWARFReg(int(n))
		if !ok || n > 1<<16 {
			return "", fmt.Errorf("DWARF register %d is not known on %s", n, ctx.Arch.Name)
		}
		if reg.Offset < 0 {
			return "", fmt.Errorf("in %s, which uprobes cannot read", reg.Name)
		}
		return reg.Name, nil
	}
	pop := func() (sval, error) {
		if len(stack) == 0 {
			return sval{}, errors.New("DWARF expression pops an empty stack")
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, nil
	}
	push := func(v sval) error {
		if len(stack) >= 64 {
			return errors.New("DWARF expression stack overflow")
		}
		stack = append(stack, v)
		return nil
	}
	finish := func(size int) error {
		var p Piece
		switch {
		case cur != nil:
			p = *cur
		case len(stack) > 0:
			v := stack[len(stack)-1]
			p = Piece{Kind: InMem, Reg: v.reg, Off: v.off}
		default:
			p = Piece{Kind: Unavailable}
		}
		p.Size = size
		loc.Pieces = append(loc.Pieces, p)
		cur, stack = nil, stack[:0]
		return nil
	}
	for len(r.b) > 0 {
		if len(loc.Pieces) > 64 {
			return Location{}, errors.New("DWARF expression has too many pieces")
		}
		op := r.u8()
		var err error
		switch {
		case op >= opLit0 && op <= opLit31:
			err = push(sval{off: int64(op - opLit0)})
		case op >= opReg0 && op <= opReg31:
			var n string
			if n, err = regName(uint64(op - opReg0)); err == nil {
				cur = &Piece{Kind: InReg, Reg: n}
			}
		case op == opRegx:
			var n string
			if n, err = regName(r.uleb()); err == nil {
				cur = &Piece{Kind: InReg, Reg: n}
			}
		case op >= opBreg0 && op <= opBreg31:
			off := r.sleb()
			var n string
			if n, err = regName(uint64(op - opBreg0)); err == nil {
				err = push(sval{reg: n, off: off})
			}
		case op == opBregx:
			reg := r.uleb()
			off := r.sleb()
			var n string
			if n, err = regName(reg); err == nil {
				err = push(sval{reg: n, off: off})
			}
		case op == opFbreg:
			off := r.sleb()
			var fb sval
			if fb, err = frameBase(ctx, depth); err == nil {
				err = push(sval{reg: fb.reg, off: fb.off + off})
			}
		case op == opCallFrameCFA:
			if !ctx.AtEntry && ctx.CFAReg != "" {
				err = push(sval{reg: ctx.CFAReg, off: ctx.CFAOff})
				break
			}
			if !ctx.AtEntry {
				return Location{}, fmt.Errorf("needs the call frame address at %#x, which the object's call frame information does not give", ctx.PC)
			}
			err = push(sval{reg: ctx.Arch.SP, off: 8})
		case op == opAddr:
			// A link-time address: in a position-independent object it
			// moves by the load bias. The probe's own address is known at
			// link time (PC) and at run time (the instruction pointer, set
			// to the probed address while uprobe handlers run), so the
			// address is the instruction pointer plus addr-PC, whatever
			// the bias.
			v := r.fixed(8)
			if ctx.PC == 0 {
				return Location{}, errors.New("at a link-time address (DW_OP_addr) with no probe address to relocate it by")
			}
			err = push(sval{reg: ctx.Arch.PC, off: int64(v - ctx.PC)})
		case op == opAddrx, op == opConstx:
			i := r.uleb()
			if ctx.Addrx == nil {
				return Location{}, errors.New("DW_OP_addrx without .debug_addr")
			}
			v, ok := ctx.Addrx(i)
			if !ok {
				return Location{}, fmt.Errorf("address index %d not in .debug_addr", i)
			}
			if op == opConstx {
				err = push(sval{off: int64(v)})
				break
			}
			if ctx.PC == 0 {
				return Location{}, errors.New("at a link-time address (DW_OP_addrx) with no probe address to relocate it by")
			}
			err = push(sval{reg: ctx.Arch.PC, off: int64(v - ctx.PC)})
		case op == opGNUUninit:
			// The value is where the rest says, not yet initialized.
		case op == opConst1u:
			err = push(sval{off: int64(r.fixed(1))})
		case op == opConst1s:
			err = push(sval{off: int64(int8(r.fixed(1)))})
		case op == opConst2u:
			err = push(sval{off: int64(r.fixed(2))})
		case op == opConst2s:
			err = push(sval{off: int64(int16(r.fixed(2)))})
		case op == opConst4u:
			err = push(sval{off: int64(r.fixed(4))})
		case op == opConst4s:
			err = push(sval{off: int64(int32(r.fixed(4)))})
		case op == opConst8u, op == opConst8s:
			err = push(sval{off: int64(r.fixed(8))})
		case op == opConstu:
			err = push(sval{off: int64(r.uleb())})
		case op == opConsts:
			err = push(sval{off: r.sleb()})
		case op == opDup:
			var v sval
			if v, err = pop(); err == nil {
				_ = push(v)
				err = push(v)
			}
		case op == opPlusUconst:
			n := r.uleb()
			var v sval
			if v, err = pop(); err == nil {
				v.off += int64(n)
				err = push(v)
			}
		case op == opPlus, op == opMinus:
			b, e1 := pop()
			a, e2 := pop()
			if err = errors.Join(e1, e2); err != nil {
				break
			}
			if b.reg != "" && (op == opMinus || a.reg != "") {
				return Location{}, errors.New("DWARF expression computes with two registers")
			}
			if op == opPlus {
				if a.reg == "" {
					a.reg = b.reg
				}
				a.off += b.off
			} else {
				a.off -= b.off
			}
			err = push(a)
		case op == opStackValue:
			var v sval
			if v, err = pop(); err == nil {
				cur = &Piece{Kind: IsValue, Reg: v.reg, Off: v.off}
			}
		case op == opImplicitValue:
			n := r.uleb()
			if n > 8 || uint64(len(r.b)) < n {
				return Location{}, fmt.Errorf("implicit value of %d bytes", n)
			}
			var v uint64
			for i := int(n) - 1; i >= 0; i-- {
				v = v<<8 | uint64(r.b[i])
			}
			r.b = r.b[n:]
			cur = &Piece{Kind: IsValue, Off: int64(v)}
		case op == opEntryValue, op == opGNUEntryValue:
			n := r.uleb()
			if n > uint64(len(r.b)) {
				return Location{}, errTruncated
			}
			sub := r.b[:n]
			r.b = r.b[n:]
			if !ctx.AtEntry {
				return Location{}, fmt.Errorf("%w at %#x: only its value at the function's entry is known (DW_OP_entry_value)", ErrOptimizedOut, ctx.PC)
			}
			in, e := eval(sub, ctx, depth+1)
			if e != nil {
				return Location{}, e
			}
			if len(in.Pieces) != 1 || in.Pieces[0].Kind != InReg {
				return Location{}, errors.New("DW_OP_entry_value of something other than a register")
			}
			err = push(sval{reg: in.Pieces[0].Reg})
		case op == opPiece:
			size := r.uleb()
			if size > 1<<16 {
				return Location{}, fmt.Errorf("piece of %d bytes", size)
			}
			err = finish(int(size))
		case op == opNop:
		case op == opDeref:
			return Location{}, errors.New("value behind a pointer the location dereferences (DW_OP_deref)")
		default:
			return Location{}, fmt.Errorf("DWARF operation %#x not supported", op)
		}
		if err != nil {
			return Location{}, err
		}
		if r.err != nil {
			return Location{}, r.err
		}
	}
	if cur != nil || len(stack) > 0 {
		_ = finish(0)
	}
	if len(loc.Pieces) == 0 {
		return Location{}, ErrOptimizedOut
	}
	return loc, nil
}

// frameBase evaluates DW_AT_frame_base: a register (DW_OP_reg6: the frame
// base is rbp's value) or an address (DW_OP_call_frame_cfa, DW_OP_breg7).
func frameBase(ctx EvalContext, depth int) (sval, error) {
	if len(ctx.FrameBase) == 0 {
		return sval{}, errors.New("DW_OP_fbreg without a frame base")
	}
	fb, err := eval(ctx.FrameBase, EvalContext{Arch: ctx.Arch, PC: ctx.PC, AtEntry: ctx.AtEntry, CFAReg: ctx.CFAReg, CFAOff: ctx.CFAOff, Addrx: ctx.Addrx}, depth+1)
	if err != nil {
		return sval{}, fmt.Errorf("frame base: %w", err)
	}
	if len(fb.Pieces) != 1 {
		return sval{}, errors.New("frame base in pieces")
	}
	p := fb.Pieces[0]
	switch p.Kind {
	case InReg:
		return sval{reg: p.Reg}, nil
	case InMem: // an address left on the stack is the frame base itself
		return sval{reg: p.Reg, off: p.Off}, nil
	}
	return sval{}, errors.New("frame base is not an address")
}

// Location says where parameter p of fn is at pc: its DW_AT_location
// (an expression, or the entry of a location list covering pc) evaluated
// there. atEntry tells that pc is the function's entry.
func (fn *Func) Location(p *Param, pc uint64, atEntry bool, a *arch.Arch) (Location, error) {
	ctx := EvalContext{Arch: a, PC: pc, AtEntry: atEntry, FrameBase: fn.frameBase, Addrx: fn.addrx}
	if !atEntry {
		ctx.CFAReg, ctx.CFAOff = fn.cfaFromCFI(pc, a)
		if ctx.CFAReg == "" {
			ctx.CFAReg, ctx.CFAOff = fn.cfaAt(pc, a)
		}
	}
	if p.loc == nil {
		return Location{}, fmt.Errorf("%s: %w (no location)", p.Name, ErrOptimizedOut)
	}
	var expr []byte
	switch p.loc.Class {
	case dwarf.ClassExprLoc, dwarf.ClassBlock:
		expr, _ = p.loc.Val.([]byte)
	case dwarf.ClassLocList, dwarf.ClassLocListPtr:
		off, ok := p.loc.Val.(int64)
		if u, isIndex := p.loc.Val.(uint64); isIndex && u < 1<<31 {
			off, ok = int64(u), true // DW_FORM_loclistx
		}
		if !ok {
			return Location{}, fmt.Errorf("%s: location list of an unknown form", p.Name)
		}
		var err error
		if fn.f.skel != nil { // a split unit's lists are DW_FORM_loclistx
			if off, err = fn.f.loclistxOffset(off); err != nil {
				return Location{}, fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		if expr, err = fn.locListExpr(off, pc); err != nil {
			return Location{}, fmt.Errorf("%s: %w", p.Name, err)
		}
		if expr == nil {
			return Location{}, fmt.Errorf("%s is %w at %#x", p.Name, ErrOptimizedOut, pc)
		}
	default:
		return Location{}, fmt.Errorf("%s: location of class %v", p.Name, p.loc.Class)
	}
	l, err := Eval(expr, ctx)
	if err != nil {
		if errors.Is(err, ErrOptimizedOut) {
			return Location{}, fmt.Errorf("%s is %w at %#x", p.Name, ErrOptimizedOut, pc)
		}
		return Location{}, fmt.Errorf("%s at %#x: %w", p.Name, pc, err)
	}
	return l, nil
}

// locListExpr finds the expression of the location list at off that
// covers pc; nil when none does.
func (fn *Func) locListExpr(off int64, pc uint64) ([]byte, error) {
	f := fn.f
	f.sections()
	var base uint64
	version := 4
	if fn.cu != nil {
		base, _ = fn.cu.Val(dwarf.AttrLowpc).(uint64)
		if fn.cu.Val(dwarf.AttrAddrBase) != nil || f.loclists != nil && f.loc == nil {
			version = 5
		}
	}
	if f.loclists != nil && (version == 5 || f.loc == nil) {
		return LocList5(f.loclists, off, pc, base, fn.addrx)
	}
	return LocList4(f.loc, off, pc, base)
}

// addrx is entry i of the .debug_addr of fn's unit (DWARF 5 DW_FORM_addrx,
// DW_OP_addrx, DW_LLE_*x).
func (fn *Func) addrx(i uint64) (uint64, bool) {
	f := fn.f
	f.sections()
	if fn.cu == nil {
		return 0, false
	}
	ab, ok := fn.cu.Val(dwarf.AttrAddrBase).(int64)
	if !ok || ab < 0 || i > 1<<40 {
		return 0, false
	}
	at := uint64(ab) + i*8
	if at+8 > uint64(len(f.addr)) || at < uint64(ab) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(f.addr[at:]), true
}

// LocList4 finds in a DWARF 4 .debug_loc section the expression of the
// list at off covering pc (64-bit addresses, little-endian); base is the
// compilation unit's base address.
func LocList4(sec []byte, off int64, pc, base uint64) ([]byte, error) {
	if off < 0 || off >= int64(len(sec)) {
		return nil, fmt.Errorf("location list offset %#x out of .debug_loc", off)
	}
	r := &reader{b: sec[off:]}
	for i := 0; i < 1<<16; i++ {
		lo, hi := r.fixed(8), r.fixed(8)
		if r.err != nil {
			return nil, r.err
		}
		if lo == 0 && hi == 0 {
			return nil, nil
		}
		if lo == ^uint64(0) {
			base = hi
			continue
		}
		n := int(r.fixed(2))
		if r.err != nil || n > len(r.b) {
			return nil, errTruncated
		}
		expr := r.b[:n]
		r.b = r.b[n:]
		if pc >= base+lo && pc < base+hi {
			return expr, nil
		}
	}
	return nil, errors.New("location list does not end")
}

// DWARF 5 location list entry kinds.
const (
	lleEndOfList       = 0
	lleBaseAddressx    = 1
	lleStartxEndx      = 2
	lleStartxLength    = 3
	lleOffsetPair      = 4
	lleDefaultLocation = 5
	lleBaseAddress     = 6
	lleStartEnd        = 7
	lleStartLength     = 8
)

// LocList5 finds in a DWARF 5 .debug_loclists section the expression of
// the list at off covering pc; addrx resolves an index into .debug_addr.
func LocList5(sec []byte, off int64, pc, base uint64, addrx func(uint64) (uint64, bool)) ([]byte, error) {
	if off < 0 || off >= int64(len(sec)) {
		return nil, fmt.Errorf("location list offset %#x out of .debug_loclists", off)
	}
	r := &reader{b: sec[off:]}
	var dflt []byte
	addr := func(i uint64) (uint64, error) {
		if a, ok := addrx(i); ok {
			return a, nil
		}
		return 0, fmt.Errorf("address index %d not in .debug_addr", i)
	}
	for i := 0; i < 1<<16; i++ {
		kind := r.u8()
		if r.err != nil {
			return nil, r.err
		}
		var lo, hi uint64
		var err error
		switch kind {
		case lleEndOfList:
			return dflt, nil
		case lleBaseAddressx:
			if base, err = addr(r.uleb()); err != nil {
				return nil, err
			}
			continue
		case lleBaseAddress:
			base = r.fixed(8)
			continue
		case lleStartxEndx:
			a, b := r.uleb(), r.uleb()
			if lo, err = addr(a); err == nil {
				hi, err = addr(b)
			}
		case lleStartxLength:
			a, n := r.uleb(), r.uleb()
			if lo, err = addr(a); err == nil {
				hi = lo + n
			}
		case lleOffsetPair:
			lo, hi = base+r.uleb(), base+r.uleb()
		case lleDefaultLocation:
		case lleStartEnd:
			lo, hi = r.fixed(8), r.fixed(8)
		case lleStartLength:
			lo = r.fixed(8)
			hi = lo + r.uleb()
		default:
			return nil, fmt.Errorf("location list entry kind %#x", kind)
		}
		if err != nil {
			return nil, err
		}
		n := r.uleb()
		if r.err != nil || n > uint64(len(r.b)) {
			return nil, errTruncated
		}
		expr := r.b[:n]
		r.b = r.b[n:]
		if kind == lleDefaultLocation {
			dflt = expr
			continue
		}
		if pc >= lo && pc < hi {
			return expr, nil
		}
	}
	return nil, errors.New("location list does not end")
}

// EntryLocations places every parameter of fn at its entry by the C
// calling convention (SysV x86-64): integers, pointers and small structs
// of integers in the argument registers in order, larger structs and what
// does not fit on the stack above the return address. This is right at
// the entry even where DWARF locates a parameter in the frame (-O0: the
// prologue has not stored it yet). A parameter in a vector register gets
// an error.
func (fn *Func) EntryLocations(a *arch.Arch) ([]Location, []error) {
	locs := make([]Location, len(fn.Params))
	errs := make([]error, len(fn.Params))
	if a != arch.AMD64 {
		for i, p := range fn.Params {
			errs[i] = fmt.Errorf("%s: parameters by name are placed for x86-64 only", p.Name)
		}
		return locs, errs
	}
	nextInt, nextSSE := 0, 0
	stack := int64(8) // past the return address
	if fn.Return != nil {
		if c, _ := classify(fn.Return); c == classMemory {
			nextInt++ // the hidden pointer to the result
		}
	}
	onStack := func(size, align int64) Location {
		if align > 8 {
			stack = (stack + align - 1) / align * align
		}
		l := Location{Pieces: []Piece{{Kind: InMem, Reg: a.SP, Off: stack}}}
		stack += (size + 7) / 8 * 8
		return l
	}
	for i, p := range fn.Params {
		t := Strip(p.Type)
		if t == nil {
			errs[i] = fmt.Errorf("%s has no type", p.Name)
			continue
		}
		size := t.Size()
		align := int64(8)
		if size >= 16 {
			if _, ok := t.(*dwarf.StructType); !ok {
				align = 16 // long double, __int128
			}
		}
		c, n := classify(t)
		switch c {
		case classInteger:
			if nextInt+n <= len(a.CArgs) {
				var l Location
				for k := 0; k < n; k++ {
					pc := Piece{Kind: InReg, Reg: a.CArgs[nextInt+k]}
					if n > 1 {
						pc.Size = 8
						if k == n-1 && size%8 != 0 {
							pc.Size = int(size % 8)
						}
					}
					l.Pieces = append(l.Pieces, pc)
				}
				locs[i] = l
				nextInt += n
				continue
			}
			locs[i] = onStack(size, align)
		case classSSE:
			if nextSSE+n <= 8 {
				nextSSE += n
				errs[i] = fmt.Errorf("%s (%s) is in a vector register, which uprobes cannot read", p.Name, TypeName(p.Type))
				continue
			}
			locs[i] = onStack(size, align)
		default:
			locs[i] = onStack(size, align)
		}
	}
	return locs, errs
}

// cfaAt is the call frame address at pc inside a function that sets up a
// frame pointer (push %rbp; mov %rsp,%rbp, after an optional endbr64), as
// gcc and clang do at -O0: rsp+16 right after the push, rbp+16 from the
// mov on. "" when the function does not start so or pc precedes that.
func (fn *Func) cfaAt(pc uint64, a *arch.Arch) (string, int64) {
	if a != arch.AMD64 || fn.f.code == nil || pc <= fn.LowPC || pc >= fn.HighPC {
		return "", 0
	}
	var code [12]byte
	ok := false
	for _, p := range fn.f.code.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && fn.LowPC >= p.Vaddr && fn.LowPC+12 <= p.Vaddr+p.Filesz {
			if _, err := p.ReadAt(code[:], int64(fn.LowPC-p.Vaddr)); err == nil {
				ok = true
			}
		}
	}
	if !ok {
		return "", 0
	}
	i := uint64(0)
	if code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa {
		i = 4
	}
	if code[i] != 0x55 || code[i+1] != 0x48 || code[i+2] != 0x89 || code[i+3] != 0xe5 {
		return "", 0
	}
	switch {
	case pc == fn.LowPC+i+1:
		return a.SP, 16
	case pc >= fn.LowPC+i+4:
		return a.FP, 16
	}
	return "", 0
}
