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
	"errors"
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

// goSite returns the first site of the program when it is in a Go
// function (all sites of a program share what matters), else nil.
func (g *gen) goSite() *Site {
	if len(g.sites) == 0 || g.special != nil {
		return nil
	}
	s := &g.c.plan.Sites[g.sites[0]]
	if s.GoFunc == "" || s.Go == nil {
		return nil
	}
	return s
}

// goParams are the parameters (or, at RET sites, the results) of the
// program's Go function.
type goParams struct {
	params []gobin.Param
	err    error
}

func (g *gen) goParamsOf(e lang.Node) ([]gobin.Param, *Site, error) {
	s := g.goSite()
	if s == nil {
		return nil, nil, g.c.errorf(e, "use argN and casts", "args is only available in probes on Go functions (with DWARF)")
	}
	if !s.GoEntry && !s.AtReturn {
		return nil, nil, g.c.errorf(e, "probe the function itself, or read registers with reg()",
			"args are known at the entry and the returns of %s, not at this offset", s.GoFunc)
	}
	if g.goParams == nil {
		all, err := s.Go.Params(s.GoFunc)
		gp := &goParams{err: err}
		for _, p := range all {
			if p.Result == s.AtReturn {
				gp.params = append(gp.params, p)
			}
		}
		g.goParams = gp
	}
	if err := g.goParams.err; err != nil {
		if errors.Is(err, gobin.ErrNoDWARF) {
			return nil, nil, g.c.errorf(e, goRegsHint+"; or trace an unstripped build",
				"args needs DWARF, but %s has none (built with -ldflags=-s -w, or stripped)", s.Target)
		}
		return nil, nil, g.c.errorf(e, "use goarg(N)", "parameters of %s: %v", s.GoFunc, err)
	}
	return g.goParams.params, s, nil
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

// goRefOf resolves an args expression to where its value is.
func (g *gen) goRefOf(e lang.Expr) (*goRef, error) {
	switch x := e.(type) {
	case *lang.Ident:
		params, _, err := g.goParamsOf(x)
		if err != nil {
			return nil, err
		}
		return &goRef{path: "args", all: params}, nil
	case *lang.Field:
		if id, ok := x.X.(*lang.Ident); ok && id.Name == "args" {
			return g.goParam(x, id)
		}
		r, err := g.goRefOf(x.X)
		if err != nil {
			return nil, err
		}
		return g.goField(x, r, x.Name)
	case *lang.Unary:
		r, err := g.goRefOf(x.X)
		if err != nil {
			return nil, err
		}
		if r.all != nil || r.t.Kind != gobin.KindPointer {
			return nil, g.c.errorf(x, "", "cannot dereference %s (%s)", r.path, r.typeName())
		}
		return g.goDeref(x, r, "*"+r.path)
	case *lang.Index:
		r, err := g.goRefOf(x.X)
		if err != nil {
			return nil, err
		}
		return g.goIndex(x, r)
	}
	return nil, g.c.errorf(e, "", "not a Go value")
}

func (r *goRef) typeName() string {
	if r.all != nil {
		return "parameter list"
	}
	return r.t.Name
}

// goParam resolves args.NAME.
func (g *gen) goParam(f *lang.Field, args *lang.Ident) (*goRef, error) {
	params, s, err := g.goParamsOf(args)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range params {
		if paramName(p) != f.Name {
			names = append(names, paramName(p))
			continue
		}
		t, err := s.Go.ParamType(s.GoFunc, p.Name)
		if err != nil {
			return nil, g.c.errorf(f, "", "type of %s: %v", p.Name, err)
		}
		r := &goRef{t: t, path: "args." + f.Name}
		switch {
		case p.OnStack():
			r.base = "sp"
			r.ops = []goOp{{add: int64(p.Pieces[0].StackOffset)}}
		default:
			r.inRegs = true
			r.pieces = p.Pieces
		}
		return r, nil
	}
	what := "parameters"
	if s.AtReturn {
		what = "results"
	}
	hint := fmt.Sprintf("%s has no %s", s.GoFunc, what)
	if len(names) > 0 {
		hint = fmt.Sprintf("%s of %s: %s", what, s.GoFunc, strings.Join(names, ", "))
	}
	if !s.AtReturn && goHasResult(s, f.Name) {
		hint = f.Name + " is a result: read it in a uretprobe"
	}
	return nil, g.c.errorf(f, hint, "%s has no %s named %s", s.GoFunc, strings.TrimSuffix(what, "s"), f.Name)
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
		return []gobin.Field{{Name: "type", Offset: 0, Type: tGoUintptr}, {Name: "data", Offset: 8, Type: tGoUnsafe}}
	}
	return nil
}

// goField resolves r.NAME, following a pointer first as Go does.
func (g *gen) goField(f *lang.Field, r *goRef, name string) (*goRef, error) {
	if r.all != nil {
		return nil, g.c.errorf(f, "", "args has no field %s", name)
	}
	path := r.path + "." + name
	if r.t.Kind == gobin.KindPointer {
		d, err := g.goDeref(f, r, r.path)
		if err != nil {
			return nil, err
		}
		r = d
	}
	fields := goFields(r.t)
	for _, fl := range fields {
		if fl.Name == name {
			return r.sub(fl.Type, fl.Offset, path), nil
		}
	}
	if len(fields) == 0 {
		return nil, g.c.errorf(f, "", "%s is a %s, which has no fields", r.path, r.t.Name)
	}
	var names []string
	for _, fl := range fields {
		names = append(names, fl.Name)
	}
	return nil, g.c.errorf(f, "fields: "+strings.Join(names, ", "), "%s (%s) has no field %s", r.path, r.t.Name, name)
}

// goDeref resolves what pointer r points to.
func (g *gen) goDeref(n lang.Node, r *goRef, path string) (*goRef, error) {
	elem, err := r.t.Elem()
	if err != nil {
		return nil, g.c.errorf(n, "", "cannot follow %s: %v", r.path, err)
	}
	d := &goRef{t: elem, path: path}
	if r.inRegs {
		if len(r.pieces) != 1 || r.pieces[0].Reg == "" {
			return nil, g.c.errorf(n, "", "%s is not in a register", r.path)
		}
		d.base = r.pieces[0].Reg
		return d, nil
	}
	d.base = r.base
	d.ops = append(append([]goOp(nil), r.ops...), goOp{deref: true})
	return d, nil
}

// goIndex resolves r[i] for slices, arrays, strings and pointers.
func (g *gen) goIndex(x *lang.Index, r *goRef) (*goRef, error) {
	if r.all != nil {
		return nil, g.c.errorf(x, "", "args cannot be indexed")
	}
	if _, err := g.scalarType(x.Index); err != nil {
		return nil, err
	}
	path := r.path + "[" + lang.FormatExpr(x.Index) + "]"
	var base *goRef
	var elem *gobin.Type
	switch r.t.Kind {
	case gobin.KindSlice, gobin.KindString, gobin.KindPointer:
		ptr := r
		if r.t.Kind != gobin.KindPointer {
			ptr = r.sub(goFields(r.t)[0].Type, 0, r.path+".ptr")
		}
		d, err := g.goDeref(x, ptr, path)
		if err != nil {
			return nil, err
		}
		base, elem = d, d.t
	case gobin.KindArray:
		e, err := r.t.Elem()
		if err != nil {
			return nil, g.c.errorf(x, "", "%v", err)
		}
		base, elem = r, e
		if r.inRegs {
			// Only arrays of one element are passed in registers.
			lit, ok := x.Index.(*lang.IntLit)
			if !ok || int(lit.Value) >= r.t.Len {
				return nil, g.c.errorf(x, "", "%s has %d element(s) in registers; index it with a constant below %d", r.path, r.t.Len, r.t.Len)
			}
			return r.sub(e, int(lit.Value)*e.Size, path), nil
		}
	default:
		return nil, g.c.errorf(x, "", "cannot index %s (%s)", r.path, r.t.Name)
	}
	n := &goRef{t: elem, path: path, base: base.base}
	n.ops = append([]goOp(nil), base.ops...)
	if lit, ok := x.Index.(*lang.IntLit); ok {
		n.ops = append(n.ops, goOp{add: int64(lit.Value) * int64(elem.Size)})
	} else {
		n.ops = append(n.ops, goOp{index: x.Index, scale: int64(elem.Size)})
	}
	if r.t.Kind == gobin.KindString {
		n.t = tGoByte
	}
	return n, nil
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

// goLayoutOf lays out the value of r. Parts of aggregates that cannot be
// read become placeholders; the value itself (depth 0) is an error then.
func (g *gen) goLayoutOf(n lang.Node, r *goRef, depth int) (*goLayout, error) {
	l, err := g.goLayoutTry(n, r, depth)
	if err != nil && depth > 0 && r.t != nil {
		// Room for the terminator and one more byte, so that it does not
		// print as truncated.
		text := r.placeholder()
		return &goLayout{t: strType(len(text) + 2), ref: r, text: text}, nil
	}
	return l, err
}

func (g *gen) goLayoutTry(n lang.Node, r *goRef, depth int) (*goLayout, error) {
	l := &goLayout{ref: r}
	tuple := func(names []string, parts []*goRef) (*goLayout, error) {
		l.t = &Type{Kind: KindTuple, Names: names}
		for _, p := range parts {
			pl, err := g.goLayoutOf(n, p, depth+1)
			if err != nil {
				return nil, err
			}
			l.parts = append(l.parts, pl)
			l.t.Elems = append(l.t.Elems, pl.t)
		}
		return l, nil
	}
	if r.all != nil {
		names := []string{}
		var parts []*goRef
		args := &lang.Ident{Pos: n.Position(), Name: "args"}
		for _, p := range r.all {
			pr, err := g.goParam(&lang.Field{Pos: n.Position(), X: args, Name: paramName(p)}, args)
			if err != nil {
				return nil, err
			}
			names = append(names, paramName(p))
			parts = append(parts, pr)
		}
		return tuple(names, parts)
	}
	if msg := r.unavailable(); msg != "" {
		return nil, g.c.errorf(n, "", "%s", msg)
	}
	t := r.t
	if it := goIntType(t); it != nil {
		l.t = it
		return l, nil
	}
	switch t.Kind {
	case gobin.KindPointer, gobin.KindMap, gobin.KindChan, gobin.KindFunc:
		l.t = goPointer(t)
		return l, nil
	case gobin.KindString:
		l.t = strType(g.c.opts.StrSize)
		return l, nil
	}
	if depth >= maxGoDepth {
		return nil, g.c.errorf(n, "select a field", "%s is nested too deeply to print whole", r.path)
	}
	switch t.Kind {
	case gobin.KindSlice, gobin.KindInterface, gobin.KindStruct:
		fields := goFields(t)
		if len(fields) > maxGoFields {
			return nil, g.c.errorf(n, "select fields: "+r.path+".NAME", "%s (%s) has %d fields, too many to print whole", r.path, t.Name, len(fields))
		}
		names := []string{}
		var parts []*goRef
		for _, f := range fields {
			names = append(names, f.Name)
			parts = append(parts, r.sub(f.Type, f.Offset, r.path+"."+f.Name))
		}
		return tuple(names, parts)
	case gobin.KindArray:
		if t.Len > maxGoArray {
			return nil, g.c.errorf(n, "index it: "+r.path+"[i]", "%s has %d elements, too many to print whole", r.path, t.Len)
		}
		e, err := t.Elem()
		if err != nil {
			return nil, g.c.errorf(n, "", "%v", err)
		}
		var parts []*goRef
		for i := 0; i < t.Len; i++ {
			parts = append(parts, r.sub(e, i*e.Size, fmt.Sprintf("%s[%d]", r.path, i)))
		}
		return tuple(nil, parts)
	}
	return nil, g.c.errorf(n, "", "%s has type %s, which uscope cannot read", r.path, t.Name)
}

// goType is the type of an args expression.
func (g *gen) goType(e lang.Expr) (*Type, error) {
	r, err := g.goRefOf(e)
	if err != nil {
		return nil, err
	}
	l, err := g.goLayoutOf(e, r, 0)
	if err != nil {
		return nil, err
	}
	return l.t, nil
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
			if err := g.readUser(tU64); err != nil {
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
	if msg := r.unavailable(); msg != "" {
		return g.c.errorf(n, "", "%s", msg)
	}
	if r.inRegs {
		if len(r.pieces) == 0 {
			g.emit(asm.Mov.Imm(asm.R0, 0)) // zero-sized
			return nil
		}
		pc := r.pieces[0]
		off, ok := ptRegs[pc.Reg]
		if len(r.pieces) != 1 || !ok {
			return g.c.errorf(n, "", "%s is not in one integer register", r.path)
		}
		g.emit(asm.LoadMem(asm.R0, regCtx, off, asm.DWord))
		// The register's bits above the value's width are undefined.
		g.truncate(asm.R0, &Type{Kind: KindInt, Size: r.t.Size, Signed: t.Signed})
		return nil
	}
	if err := g.goAddr(r); err != nil {
		return g.wrap(n, err)
	}
	return g.wrap(n, g.readUser(&Type{Kind: KindInt, Size: r.t.Size, Signed: t.Signed}))
}

// goScalar generates a scalar args expression into R0.
func (g *gen) goScalar(e lang.Expr, t *Type) error {
	r, err := g.goRefOf(e)
	if err != nil {
		return err
	}
	return g.goLoad(e, r, t)
}

// placeGo places a non-scalar args expression at scratch offset off.
func (g *gen) placeGo(e lang.Expr, t *Type, off int) error {
	r, err := g.goRefOf(e)
	if err != nil {
		return err
	}
	l, err := g.goLayoutOf(e, r, 0)
	if err != nil {
		return err
	}
	if !sameShape(l.t, t) {
		return g.c.errorf(e, "", "cannot place %s (%v) as %v", r.path, l.t, t)
	}
	return g.placeLayout(e, l, off)
}

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

// goStrType handles str(x) on a Go string: it reads exactly the string's
// length. ok is false for other arguments.
func (g *gen) goStrType(e *lang.Call) (t *Type, ok bool, err error) {
	if e.Name != "str" || len(e.Args) != 1 || !isGoExpr(e.Args[0]) {
		return nil, false, nil
	}
	at, err := g.typeOf(e.Args[0])
	if err != nil {
		return nil, true, err
	}
	if at.Kind == KindString {
		return at, true, nil
	}
	return nil, false, nil
}

// placeGoStr places str(args.s).
func (g *gen) placeGoStr(e *lang.Call, t *Type, off int) (bool, error) {
	if _, ok, _ := g.goStrType(e); !ok {
		return false, nil
	}
	return true, g.placeGo(e.Args[0], t, off)
}

// goLenCall handles len(x) on a Go string, slice or array.
func (g *gen) goLenCall(e *lang.Call) (bool, error) {
	if e.Name != "len" || len(e.Args) != 1 || !isGoExpr(e.Args[0]) {
		return false, nil
	}
	r, err := g.goRefOf(e.Args[0])
	if err != nil {
		return true, err
	}
	if r.all != nil {
		return true, g.c.errorf(e, "", "len() takes a string, slice or array, not args")
	}
	switch r.t.Kind {
	case gobin.KindString, gobin.KindSlice:
		return true, nil
	case gobin.KindArray:
		return true, nil
	}
	return true, g.c.errorf(e, "", "len() of %s (%s): it is not a string, slice or array", r.path, r.t.Name)
}

// goLen generates len(x) of a Go value.
func (g *gen) goLen(e *lang.Call) error {
	r, err := g.goRefOf(e.Args[0])
	if err != nil {
		return err
	}
	if r.t.Kind == gobin.KindArray {
		g.emit(asm.LoadImm(asm.R0, int64(r.t.Len), asm.DWord))
		return nil
	}
	return g.goLoad(e, r.sub(tGoInt, 8, r.path+".len"), tS64)
}

// goIdentType types the Go builtins goid and args, and argN in Go
// functions. ok is false for other identifiers.
func (g *gen) goIdentType(e *lang.Ident) (t *Type, ok bool, err error) {
	switch e.Name {
	case "goid":
		if g.inferring {
			return tU64, true, nil // map types are inferred before sites are known
		}
		s := g.goSite()
		if s == nil {
			return nil, true, g.c.errorf(e, "", "goid is only available in probes on Go functions")
		}
		if s.GoAsm {
			return nil, true, g.c.errorf(e, "", "goid is not available in %s: it is written in assembly, where R14 does not hold the goroutine", s.GoFunc)
		}
		if !s.Go.GoVersionAtLeast(1, 17) {
			return nil, true, g.c.errorf(e, "", "goid needs a binary built by Go 1.17 or later (the goroutine is in R14 since then)")
		}
		if _, _, err := s.Go.GoidOffset(); err != nil {
			return nil, true, g.c.errorf(e, "", "goid: %v", err)
		}
		return tU64, true, nil
	case "args":
		t, err := g.goType(e)
		return t, true, err
	}
	if n, isArg := argIndex(e.Name); isArg {
		s := g.goSite()
		if s == nil || g.shape.ret {
			return nil, false, nil
		}
		if s.GoAsm {
			return nil, true, g.c.errorf(e, "read them from the stack: *(uint64*)(reg(\"sp\") + 8)",
				"%s is written in assembly: its arguments are on the stack, not in registers", s.GoFunc)
		}
		if n >= len(goIntRegs) {
			return nil, true, g.c.errorf(e, "with DWARF use args.NAME; else read *(uint64*)(reg(\"sp\") + 8*K)",
				"Go passes at most %d integer words in registers; %s is on the stack", len(goIntRegs), e.Name)
		}
		return tU64, true, nil
	}
	return nil, false, nil
}

// goIdent generates goid and argN of Go functions. ok is false for other
// identifiers.
func (g *gen) goIdent(e *lang.Ident) (bool, error) {
	switch e.Name {
	case "goid":
		s := g.goSite()
		if s == nil {
			return true, g.c.errorf(e, "", "goid is only available in probes on Go functions")
		}
		off, _, err := s.Go.GoidOffset()
		if err != nil {
			return true, g.c.errorf(e, "", "goid: %v", err)
		}
		g.emit(
			asm.LoadMem(asm.R0, regCtx, ptRegs[arch.AMD64.GoG], asm.DWord),
			asm.Add.Imm(asm.R0, int32(off)),
		)
		return true, g.wrap(e, g.readUser(tU64))
	}
	if n, isArg := argIndex(e.Name); isArg && g.goSite() != nil && n < len(goIntRegs) {
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[goIntRegs[n]], asm.DWord))
		return true, nil
	}
	return false, nil
}

// goargType types goarg(N).
func (g *gen) goargType(e *lang.Call) (*Type, error) {
	if len(e.Args) != 1 {
		return nil, g.c.errorf(e, "", "goarg() takes 1 argument, got %d", len(e.Args))
	}
	lit, ok := e.Args[0].(*lang.IntLit)
	if !ok || lit.Value >= uint64(len(goIntRegs)) {
		return nil, g.c.errorf(e, goRegsHint, "goarg() takes a constant from 0 to %d", len(goIntRegs)-1)
	}
	if g.inferring {
		return tU64, nil
	}
	s := g.goSite()
	if s == nil {
		return nil, g.c.errorf(e, "use argN for C functions", "goarg() reads Go's register ABI: only in probes on Go functions")
	}
	if s.GoAsm {
		return nil, g.c.errorf(e, "read them from the stack: *(uint64*)(reg(\"sp\") + 8)",
			"%s is written in assembly: its arguments are on the stack, not in registers", s.GoFunc)
	}
	return tU64, nil
}

// goarg generates goarg(N).
func (g *gen) goarg(e *lang.Call) error {
	n := int(e.Args[0].(*lang.IntLit).Value)
	g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[goIntRegs[n]], asm.DWord))
	return nil
}
