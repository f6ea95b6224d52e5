package compile

// Go functions. Sites in Go code (Site.GoFunc) get:
//
//   - args.NAME: each parameter by name, placed by Go's register ABI
//     (gobin.Params) from DWARF. Integers of every width keep their sign;
//     pointers, maps, channels and funcs are addresses; a string is its
//     text (exactly len bytes; args.s.ptr and args.s.len give the header);
//     a slice prints as { .ptr, .len, .cap } and args.sl.len, args.sl.ptr,
//     args.sl.cap, len(args.sl) and args.sl[i] read its parts; a struct
//     prints field by field and args.p.f reads one field; a pointer to a
//     struct is followed by a field access (args.r.URL.Path), as in Go;
//     *args.p reads what a pointer points to; an interface is
//     { .type, .data }. print(args) prints every parameter.
//   - At the RET sites of a uretprobe: retval is RAX (the first integer
//     result), args.NAME are the results (unnamed ones as args.r0,
//     args.r1, ...); parameters are gone by then.
//   - Floating-point values in XMM registers are reported unavailable:
//     uprobes see the integer registers only.
//   - goarg(N) and argN: the N-th integer register of the ABI (RAX, RBX,
//     RCX, RDI, RSI, R8, R9, R10, R11), for stripped binaries; at a RET
//     site the N-th integer result register. Casts give the width:
//     (int16)goarg(1).
//   - goid: the goroutine id, read through the g pointer in R14.

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
)

// goIntRegs are the integer registers of Go's ABIInternal on amd64, in
// assignment order (the architecture table's).
var goIntRegs = arch.AMD64.GoIntArgs

// goRegsHint names them for error messages.
var goRegsHint = fmt.Sprintf("goarg(0..%d) reads %s", len(goIntRegs)-1, strings.Join(goIntRegs, " "))

// goShapeKey groups the Go sites of a probe that can share one program:
// those of one binary and kind of site, and when the probe reads args, of
// one function (whose parameter layout is baked into the program).
func goShapeKey(pr *lang.Probe, s Site) string {
	k := "go|" + s.AttachPath
	if s.GoEntry {
		k += "|entry"
	}
	if s.AtReturn {
		k += "|ret"
	}
	if s.GoAsm {
		k += "|asm"
	}
	if usesArgs(pr) {
		k += "|" + s.GoFunc
	}
	return k
}

// usesArgs reports whether a probe reads args.
func usesArgs(pr *lang.Probe) bool {
	found := false
	lang.Inspect(pr, func(n lang.Node) bool {
		if id, ok := n.(*lang.Ident); ok && id.Name == "args" {
			found = true
		}
		return !found
	})
	return found
}

// goParams are the parameters (or, at RET sites, the results) of the
// program's Go function.
type goParams struct {
	params []gobin.Param
	err    error
}

// paramName is the name args uses for a parameter: unnamed results "~r0"
// are "r0".
func paramName(p gobin.Param) string { return strings.TrimPrefix(p.Name, "~") }

// isGoExpr reports whether e reads a Go value through args: args itself,
// or fields, dereferences and indexes of it.
func isGoExpr(e lang.Expr) bool {
	for {
		switch x := e.(type) {
		case *lang.Ident:
			return x.Name == "args"
		case *lang.Field:
			e = x.X
		case *lang.Unary:
			if x.Op != "*" {
				return false
			}
			e = x.X
		case *lang.Index:
			e = x.X
		default:
			return false
		}
	}
}

// goOp is one step of computing a Go value's address in user memory.
type goOp struct {
	deref bool      // read the pointer at the address
	add   int64     // add a constant
	index lang.Expr // add index*scale (when non-nil)
	scale int64
}

// goRef says where a Go value is at the probe: in registers (pieces), or in
// user memory at an address computed from a register by ops.
type goRef struct {
	t    *gobin.Type
	path string // as written, for messages
	// all is set for args itself: the whole parameter list.
	all    []gobin.Param
	inRegs bool
	pieces []gobin.Piece // in registers; Offset is within this value
	base   string        // in memory: the register the address starts from
	ops    []goOp
}

func (r *goRef) typeName() string {
	if r.all != nil {
		return "parameter list"
	}
	return r.t.Name
}

func goHasResult(s *Site, name string) bool {
	all, _ := s.Go.Params(s.GoFunc)
	for _, p := range all {
		if p.Result && paramName(p) == name {
			return true
		}
	}
	return false
}

// sub returns the part of r at offset off (of type t): the registers that
// hold it, or its address.
func (r *goRef) sub(t *gobin.Type, off int, path string) *goRef {
	n := &goRef{t: t, path: path, inRegs: r.inRegs, base: r.base}
	if r.inRegs {
		for _, pc := range r.pieces {
			if pc.Offset >= off && pc.Offset < off+t.Size {
				pc.Offset -= off
				n.pieces = append(n.pieces, pc)
			}
		}
		return n
	}
	n.ops = append(append([]goOp(nil), r.ops...), goOp{add: int64(off)})
	return n
}

// headerFields are the parts of strings, slices and interfaces.
var (
	tGoInt     = &gobin.Type{Name: "int", Kind: gobin.KindInt, Size: 8, Signed: true}
	tGoUintptr = &gobin.Type{Name: "uintptr", Kind: gobin.KindUint, Size: 8}
	tGoByte    = &gobin.Type{Name: "uint8", Kind: gobin.KindUint, Size: 1}
	tGoUnsafe  = &gobin.Type{Name: "unsafe.Pointer", Kind: gobin.KindPointer, Size: 8}
	// An interface's first word: an itab, or for an empty interface the
	// type descriptor; printed as the dynamic type's name (session/gotype.go).
	tGoItab  = &gobin.Type{Name: "*internal/abi.ITab", Kind: gobin.KindUint, Size: 8}
	tGoEType = &gobin.Type{Name: "*internal/abi.Type", Kind: gobin.KindUint, Size: 8}
)

// goFields lists what .NAME can select on a value of type t.
func goFields(t *gobin.Type) []gobin.Field {
	switch t.Kind {
	case gobin.KindStruct:
		return t.Fields
	case gobin.KindString:
		return []gobin.Field{{Name: "ptr", Offset: 0, Type: gobin.PointerTo(tGoByte)}, {Name: "len", Offset: 8, Type: tGoInt}}
	case gobin.KindSlice:
		ptr := tGoUnsafe
		if e, err := t.Elem(); err == nil {
			ptr = gobin.PointerTo(e)
		}
		return []gobin.Field{{Name: "ptr", Offset: 0, Type: ptr}, {Name: "len", Offset: 8, Type: tGoInt}, {Name: "cap", Offset: 16, Type: tGoInt}}
	case gobin.KindInterface:
		typ := tGoItab
		if t.Name == "interface {}" || t.Name == "any" {
			typ = tGoEType
		}
		return []gobin.Field{{Name: "type", Offset: 0, Type: typ}, {Name: "data", Offset: 8, Type: tGoUnsafe}}
	}
	return nil
}

// Limits on printing aggregates.
const (
	maxGoDepth  = 4
	maxGoFields = 64
	maxGoArray  = 16
)

// goPointer is the type of Go pointers: an address whose pointee, when it
// is an integer, a cast would give.
func goPointer(t *gobin.Type) *Type {
	p := &Type{Kind: KindInt, Size: 8, Pointee: intTypes["void"]}
	if t != nil && t.Kind == gobin.KindPointer {
		if e, err := t.Elem(); err == nil {
			if it := goIntType(e); it != nil {
				p.Pointee = it
			}
		}
	}
	return p
}

// goIntType is the type of a Go integer or boolean, or nil.
func goIntType(t *gobin.Type) *Type {
	switch t.Kind {
	case gobin.KindInt, gobin.KindUint, gobin.KindBool:
		switch t.Size {
		case 1, 2, 4, 8:
			return &Type{Kind: KindInt, Size: t.Size, Signed: t.Kind == gobin.KindInt}
		}
	}
	return nil
}

// unavailable is why a value cannot be read, or "".
func (r *goRef) unavailable() string {
	if r.t == nil {
		return ""
	}
	for _, pc := range r.pieces {
		if pc.Float && !pc.OnStack && r.inRegs {
			return fmt.Sprintf("%s is unavailable (float in XMM register %s): uprobes see only the integer registers", r.path, pc.FloatReg)
		}
	}
	switch r.t.Kind {
	case gobin.KindFloat, gobin.KindComplex:
		return fmt.Sprintf("%s is a %s, and uscope has no floating-point values", r.path, r.t.Name)
	}
	return ""
}

// placeholder is what an aggregate prints for a part it cannot read.
func (r *goRef) placeholder() string {
	if r.inRegs {
		for _, pc := range r.pieces {
			if pc.Float {
				return "(unavailable: float in " + pc.FloatReg + ")"
			}
		}
	}
	return "(" + r.t.Name + ")"
}

// goLayout is how a Go value is printed: a scalar or string read from where
// ref says, a tuple of parts, or a placeholder text for a part that cannot
// be read (a float, a type too deep or too large to print whole).
type goLayout struct {
	t     *Type
	ref   *goRef
	text  string
	parts []*goLayout
}

// goAddr emits code leaving the address of an in-memory value in R0.
func (g *gen) goAddr(r *goRef) error {
	off, ok := ptRegs[r.base]
	if !ok {
		return fmt.Errorf("no register %q", r.base)
	}
	g.emit(asm.LoadMem(asm.R0, regCtx, off, asm.DWord))
	for _, op := range r.ops {
		switch {
		case op.deref:
			if err := g.readUser(tU64, nil); err != nil {
				return err
			}
		case op.index != nil:
			slot, err := g.spill()
			if err != nil {
				return err
			}
			if _, err := g.expr(op.index); err != nil {
				return err
			}
			g.emit(
				asm.Mul.Imm(asm.R0, int32(op.scale)),
				asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord),
				asm.Add.Reg(asm.R0, asm.R1),
			)
			g.popStack(8)
		case op.add != 0:
			if op.add >= -1<<31 && op.add < 1<<31 {
				g.emit(asm.Add.Imm(asm.R0, int32(op.add)))
			} else {
				g.emit(asm.LoadImm(asm.R1, op.add, asm.DWord), asm.Add.Reg(asm.R0, asm.R1))
			}
		}
	}
	return nil
}

// goLoad emits code leaving a scalar Go value of language type t in R0.
func (g *gen) goLoad(n lang.Node, r *goRef, t *Type) error {
	if r.inRegs {
		if len(r.pieces) == 0 {
			g.emit(asm.Mov.Imm(asm.R0, 0)) // zero-sized
			return nil
		}
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[r.pieces[0].Reg], asm.DWord))
		// The register's bits above the value's width are undefined.
		g.truncate(asm.R0, &Type{Kind: KindInt, Size: r.t.Size, Signed: t.Signed})
		return nil
	}
	if err := g.goAddr(r); err != nil {
		return g.wrap(n, err)
	}
	return g.wrap(n, g.readUser(&Type{Kind: KindInt, Size: r.t.Size, Signed: t.Signed}, n))
}

// goScalar generates a scalar args expression into R0.
func (g *gen) goScalar(e lang.Expr, t *Type) error {
	return g.goLoad(e, g.info.goRefs[e], t)
}

// placeGo places a non-scalar args expression at scratch offset off.
func (g *gen) placeGo(e lang.Expr, _ *Type, off int) error {
	return g.placeLayout(e, g.info.goLayouts[e], off)
}

func (g *gen) goScalarExpr(e lang.Expr) error { return g.goScalar(e, g.typ(e)) }

func (g *gen) placeGoExpr(e lang.Expr, t *Type, off int) error { return g.placeGo(e, t, off) }

func (g *gen) placeLayout(n lang.Node, l *goLayout, off int) error {
	switch {
	case l.text != "":
		g.placeBytes(off, []byte(l.text), l.t.StorageSize())
	case l.t.IsScalar():
		if err := g.goLoad(n, l.ref, l.t); err != nil {
			return err
		}
		g.emit(asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
	case l.t.Kind == KindString:
		return g.placeGoString(n, l.ref, l.t, off)
	default:
		pos := off
		for _, p := range l.parts {
			if err := g.placeLayout(n, p, pos); err != nil {
				return err
			}
			pos += p.t.StorageSize()
		}
	}
	return nil
}

// placeGoString reads a Go string's bytes, exactly its length (at most the
// buffer's size less the terminator), into a zeroed buffer.
func (g *gen) placeGoString(n lang.Node, r *goRef, t *Type, off int) error {
	fs := goFields(r.t)
	return g.placeGoBytes(n, r.sub(fs[0].Type, 0, r.path+".ptr"), r.sub(fs[1].Type, 8, r.path+".len"), t, off)
}

// placeGoBytes reads len bytes at the pointer ptr into a string buffer.
func (g *gen) placeGoBytes(n lang.Node, ptr, length *goRef, t *Type, off int) error {
	g.zeroScratch(off, t.StorageSize())
	if err := g.goLoad(n, length, tS64); err != nil {
		return err
	}
	limit := int32(t.Size - 1)
	ok, neg := g.label("gslen"), g.label("gsneg")
	g.emit(
		asm.JSLT.Imm(asm.R0, 0, neg),
		asm.JLE.Imm(asm.R0, limit, ok),
		asm.Mov.Imm(asm.R0, limit),
		asm.Ja.Label(ok),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(neg),
	)
	g.mark(ok)
	slot, err := g.spill()
	if err != nil {
		return g.wrap(n, err)
	}
	if err := g.goLoad(n, ptr, tU64); err != nil {
		return err
	}
	g.emit(
		asm.Mov.Reg(asm.R3, asm.R0),
		asm.LoadMem(asm.R2, asm.RFP, slot, asm.DWord),
	)
	g.popStack(8)
	// Re-establish the bound for the verifier after the reload.
	bound := g.label("gsbound")
	g.emit(asm.And.Imm(asm.R2, 0x7ff), asm.JLE.Imm(asm.R2, limit, bound), asm.Mov.Imm(asm.R2, limit))
	g.mark(bound)
	g.scratchPtr(asm.R1, off)
	g.emit(asm.FnProbeReadUser.Call())
	return nil
}

// goLen generates len(x) of a Go value.
// length generates len(): of a Go value (goLen) or of a map (mapLen).
func (g *gen) length(n lang.Expr) error {
	if g.goArgs(n.(*lang.Call).Args[0]) {
		return g.goLen(n)
	}
	if _, isMap := n.(*lang.Call).Args[0].(*lang.MapExpr); !isMap && g.typ(n.(*lang.Call).Args[0]).Kind == KindStack {
		return g.stackLen(n)
	}
	return g.mapLen(n)
}

func (g *gen) goLen(n lang.Expr) error {
	e := n.(*lang.Call)
	r := g.info.goRefs[e.Args[0]]
	if r.t.Kind == gobin.KindArray {
		g.emit(asm.LoadImm(asm.R0, int64(r.t.Len), asm.DWord))
		return nil
	}
	return g.goLoad(e, r.sub(tGoInt, 8, r.path+".len"), tS64)
}

// goid generates goid: g.goid, through the g pointer in R14.
func (g *gen) goid(e lang.Expr) error {
	off, _, _ := g.goSite().Go.GoidOffset()
	g.emit(
		asm.LoadMem(asm.R0, regCtx, ptRegs[arch.AMD64.GoG], asm.DWord),
		asm.Add.Imm(asm.R0, int32(off)),
	)
	return g.wrap(e, g.readUser(tU64, e))
}

// goarg generates goarg(N).
func (g *gen) goarg(x lang.Expr) error {
	n := int(x.(*lang.Call).Args[0].(*lang.IntLit).Value)
	g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[goIntRegs[n]], asm.DWord))
	return nil
}
