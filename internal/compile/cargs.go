package compile

// C and C++ functions with DWARF (internal/cdwarf). Sites in C code get:
//
//   - args.NAME: each parameter by name, at the function's entry, placed by
//     the C calling convention (cdwarf.Func.EntryLocations, as bpftrace
//     does), at another offset (FUNC+OFF) by its DWARF location evaluated
//     there. Its type comes from DWARF and maps to the compiler's C types
//     (ctypes.go), so members through pointers (args.r->hdr.len), nested
//     structs, arrays, str(args.s) and printing come from the C struct
//     support. print(args) prints every parameter; a parameter DWARF
//     cannot locate there prints as a placeholder, and reading it alone is
//     an error naming it and the address.
//   - On a uretprobe, retval typed by the function's DWARF return type
//     (retval->field on a function returning a struct pointer).
//
// The location is resolved when compiling: a probe reading args.x costs
// what reading the register by hand costs.

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
)

// cArg is where a C value named through args (or retval) is at the probe.
type cArg struct {
	name string
	loc  cdwarf.Location
	ct   *cType
	// usym: a function pointer, printed as its symbol.
	usym bool
	// text is the placeholder of a parameter without a location in
	// print(args); parts are the parameters of args itself.
	text  string
	parts []lang.Expr
}

// dwarfFiles caches the DWARF of the objects probed, by path and identity
// of the file: many probes name one binary, and reading its index is done
// once per process.
var dwarfFiles struct {
	sync.Mutex
	m map[string]*dwarfEntry
}

type dwarfEntry struct {
	f   *cdwarf.File
	err error
	id  string
}

func openDWARF(path string) (*cdwarf.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%d|%d", st.Size(), st.ModTime().UnixNano())
	dwarfFiles.Lock()
	defer dwarfFiles.Unlock()
	if dwarfFiles.m == nil {
		dwarfFiles.m = map[string]*dwarfEntry{}
	}
	if e, ok := dwarfFiles.m[path]; ok && e.id == id {
		return e.f, e.err
	}
	if len(dwarfFiles.m) >= 32 {
		for k, e := range dwarfFiles.m {
			if e.f != nil {
				e.f.Close()
			}
			delete(dwarfFiles.m, k)
		}
	}
	f, err := cdwarf.Open(path)
	dwarfFiles.m[path] = &dwarfEntry{f: f, err: err, id: id}
	return f, err
}

// cSite is the first site of the unit when it is a uprobe or uretprobe in
// C or C++ code (not Go, not USDT), else nil.
func (u *unit) cSite() *Site {
	if len(u.sites) == 0 || u.special != nil {
		return nil
	}
	s := &u.c.plan.Sites[u.sites[0]]
	if s.GoFunc != "" || s.USDT != nil || (s.Kind != lang.KindUprobe && s.Kind != lang.KindUretprobe) {
		return nil
	}
	return s
}

// goArgs reports whether e reads a Go value through args (isGoExpr) in a
// unit where args are Go's: in C code, args expressions are C values.
func (u *unit) goArgs(e lang.Expr) bool {
	return isGoExpr(e) && u.cSite() == nil
}

// cShapeKey keeps the C sites of a probe that reads args or retval apart
// per function: the locations and types are baked into the program.
func cShapeKey(pr *lang.Probe, s Site, key string) string {
	if s.GoFunc != "" || s.USDT != nil || !usesArgsOrRetval(pr) {
		return key
	}
	return fmt.Sprintf("c|%s|%s|%#x", s.AttachPath, s.Func, s.Addr)
}

func usesArgsOrRetval(pr *lang.Probe) bool {
	found := false
	lang.Inspect(pr, func(n lang.Node) bool {
		if id, ok := n.(*lang.Ident); ok && (id.Name == "args" || id.Name == "retval" || id.Name == "locals") {
			found = true
		}
		return !found
	})
	return found
}

// cFunc is the DWARF function of the unit's C site.
func (k *checker) cFunc(n lang.Node, s *Site) (*cdwarf.Func, error) {
	f, err := openDWARF(s.AttachPath)
	if err != nil {
		if errors.Is(err, cdwarf.ErrNoDWARF) {
			return nil, k.c.errorf(n, "read registers with arg0..arg5, or trace a build with -g (or install its debug file)",
				"args needs DWARF, but %s has none", s.Target)
		}
		return nil, k.c.errorf(n, "", "args: %v", err)
	}
	fn, err := f.Func(s.Func, s.FuncAddr)
	if err != nil {
		return nil, k.c.errorf(n, "read registers with arg0..arg5", "args: %s has no DWARF entry in %s", s.Name(), s.Target)
	}
	return fn, nil
}

// cArgsType types args, args.NAME (args->NAME too, as bpftrace accepts)
// and, in a uretprobe, retval, in C code; ok is false for other
// expressions, left to the Go and builtin rules.
func (k *checker) cArgsType(e lang.Expr) (t *Type, ok bool, err error) {
	s := k.cSite()
	if s == nil {
		return nil, false, nil
	}
	switch x := e.(type) {
	case *lang.Ident:
		switch x.Name {
		case "args":
			t, err := k.cAllArgs(x, s)
			return t, true, err
		case "locals":
			t, err := k.cAllLocals(x, s)
			return t, true, err
		case "retval":
			if !k.shape.ret {
				return nil, false, nil
			}
			t, ok := k.cRetval(x, s)
			return t, ok, nil
		}
	case *lang.Field:
		if id, isID := x.X.(*lang.Ident); isID && id.Name == "args" {
			t, err := k.cParam(x, s, false)
			return t, true, err
		}
		if id, isID := x.X.(*lang.Ident); isID && id.Name == "locals" {
			t, err := k.cLocal(x, s, false)
			return t, true, err
		}
	}
	return nil, false, nil
}

// cAtEntry reports whether the site is the function's entry (or an
// instruction placement moved it to, which changed no argument register
// and not the stack pointer).
func cAtEntry(s *Site) bool { return s.FuncAddr != 0 && s.Addr-s.Moved == s.FuncAddr }

// cParam types args.NAME. In print(args) (inAll), a parameter without a
// location becomes a placeholder instead of an error.
func (k *checker) cParam(f *lang.Field, s *Site, inAll bool) (*Type, error) {
	if k.shape.ret {
		return nil, k.c.errorf(f, "save it at entry: uprobe:...{ @a[tid] = args."+f.Name+"; }",
			"args are not available in a uretprobe (read retval, or save them in the uprobe)")
	}
	if s.Inlined != "" {
		return k.cInlineParam(f, s, inAll)
	}
	fn, err := k.cFunc(f, s)
	if err != nil {
		return nil, err
	}
	idx := -1
	for i, p := range fn.Params {
		if p.Name == f.Name {
			idx = i
			break
		}
	}
	if idx < 0 {
		hint := "parameters: " + fn.ParamNames()
		if len(fn.Params) == 0 {
			hint = s.Name() + " has no parameters"
		}
		return nil, k.c.errorf(f, hint, "%s has no parameter named %s", s.Name(), f.Name)
	}
	p := &fn.Params[idx]
	var loc cdwarf.Location
	var locErr error
	if cAtEntry(s) {
		locs, errs := fn.EntryLocations(arch.AMD64)
		loc, locErr = locs[idx], errs[idx]
	} else {
		loc, locErr = fn.Location(p, s.Addr, false, arch.AMD64)
	}
	return k.cValue(f, "args", s, p, loc, locErr, inAll)
}

// cValue types a parameter or variable p found at loc (or not, locErr).
func (k *checker) cValue(f *lang.Field, what string, s *Site, p *cdwarf.Param, loc cdwarf.Location, locErr error, inAll bool) (*Type, error) {
	a := &cArg{name: f.Name, loc: loc}
	if locErr == nil {
		locErr = cLocUsable(a.loc)
	}
	if ft, isFloat := cdwarf.Strip(p.Type).(*dwarf.FloatType); isFloat && locErr == nil {
		// bpftrace has no floating-point values either (its DWARF types
		// of floats are none); say so rather than print the bits.
		locErr = fmt.Errorf("%s is a %s, and uscope has no floating-point values (bpftrace neither)", f.Name, ft.Name)
	}
	ct := k.c.dwarfCType(p.Type, 0, map[dwarfKey]*cType{})
	a.ct = ct
	vt := k.c.valueType(ct)
	if locErr != nil {
		if !inAll {
			return nil, k.c.errorf(f, "", "%s.%s in %s: %v", what, f.Name, cFuncName(s), locErr)
		}
		a.text = "<" + cPlaceholder(locErr) + ">"
		k.info.cargs[f] = a
		return strType(len(a.text) + 2), nil
	}
	if pt, isPtr := cdwarf.Strip(p.Type).(*dwarf.PtrType); isPtr {
		if _, fp := cdwarf.Strip(pt.Type).(*dwarf.FuncType); fp {
			a.usym = true
			vt = tUsym
		}
	}
	if _, isBool := cdwarf.Strip(p.Type).(*dwarf.BoolType); isBool {
		vt = &Type{Kind: KindInt, Size: 1, Bool: true, C: ct}
	}
	if len(a.loc.Pieces) == 1 && a.loc.Pieces[0].Kind == cdwarf.InMem {
		k.info.mem[f] = ct // read like a C value in memory (emit_struct.go)
	} else if vt.IsScalar() && len(a.loc.Pieces) != 1 {
		return nil, k.c.errorf(f, "", "%s.%s is in %d pieces at %#x", what, f.Name, len(a.loc.Pieces), s.Addr)
	}
	k.info.cargs[f] = a
	return vt, nil
}

// cScope is what DWARF says is visible at the unit's site.
func (k *checker) cScope(n lang.Node, s *Site) (*cdwarf.Scope, error) {
	f, err := openDWARF(s.AttachPath)
	if err != nil {
		if errors.Is(err, cdwarf.ErrNoDWARF) {
			return nil, k.c.errorf(n, "trace a build with -g (or install its debug file)", "locals needs DWARF, but %s has none", s.Target)
		}
		return nil, k.c.errorf(n, "", "locals: %v", err)
	}
	sc, err := f.ScopeAt(s.Addr)
	if err != nil {
		return nil, k.c.errorf(n, "", "locals: %v", err)
	}
	return sc, nil
}

// cLocal types locals.NAME: a variable (or parameter) in scope at the
// site, by its DWARF location there.
func (k *checker) cLocal(f *lang.Field, s *Site, inAll bool) (*Type, error) {
	if k.shape.ret {
		return nil, k.c.errorf(f, "probe a line or an offset", "locals are not available in a uretprobe")
	}
	sc, err := k.cScope(f, s)
	if err != nil {
		return nil, err
	}
	v, ok := sc.Var(f.Name)
	if !ok {
		return nil, k.c.errorf(f, "in scope: "+sc.Names(), "no variable %s in scope at %#x in %s", f.Name, s.Addr, sc.Func.Name)
	}
	loc, locErr := sc.Func.Location(v, s.Addr, cAtEntry(s), arch.AMD64)
	return k.cValue(f, "locals", s, v, loc, locErr, inAll)
}

// cAllLocals types locals itself: every variable in scope, by name.
func (k *checker) cAllLocals(id *lang.Ident, s *Site) (*Type, error) {
	sc, err := k.cScope(id, s)
	if err != nil {
		return nil, err
	}
	a := &cArg{name: "args"}
	t := &Type{Kind: KindTuple, Names: []string{}}
	seen := map[string]bool{}
	for _, v := range sc.Vars {
		if seen[v.Name] {
			continue
		}
		seen[v.Name] = true
		part := &lang.Field{Pos: id.Pos, X: id, Name: v.Name}
		pt, err := k.cLocal(part, s, true)
		if err != nil {
			return nil, err
		}
		k.info.Types[part] = pt
		a.parts = append(a.parts, part)
		t.Names = append(t.Names, v.Name)
		t.Elems = append(t.Elems, pt)
	}
	k.info.cargs[id] = a
	return t, nil
}

func cPlaceholder(err error) string {
	if errors.Is(err, cdwarf.ErrOptimizedOut) {
		return "optimized out"
	}
	return "unavailable"
}

// cLocUsable refuses locations a program cannot read whole.
func cLocUsable(l cdwarf.Location) error {
	for _, p := range l.Pieces {
		switch {
		case p.Kind == cdwarf.Unavailable:
			return cdwarf.ErrOptimizedOut
		case p.Kind == cdwarf.InMem && len(l.Pieces) > 1:
			return errors.New("partly in memory, partly in registers")
		case p.Reg != "":
			if _, ok := ptRegs[p.Reg]; !ok {
				return fmt.Errorf("in %s, which uprobes cannot read", p.Reg)
			}
			if p.Off != int64(int32(p.Off)) {
				return fmt.Errorf("at %%%s%+d, an offset a BPF instruction cannot hold", p.Reg, p.Off)
			}
		}
	}
	return nil
}

// cAllArgs types args itself: a record of every parameter, by name.
func (k *checker) cAllArgs(id *lang.Ident, s *Site) (*Type, error) {
	if k.shape.ret {
		return nil, k.c.errorf(id, "save them at entry in a uprobe", "args are not available in a uretprobe (read retval)")
	}
	var params []cdwarf.Param
	if s.Inlined != "" {
		in, _, err := k.cInline(id, s)
		if err != nil {
			return nil, err
		}
		params = in.Params
	} else {
		fn, err := k.cFunc(id, s)
		if err != nil {
			return nil, err
		}
		params = fn.Params
	}
	a := &cArg{name: "args"}
	t := &Type{Kind: KindTuple, Names: []string{}}
	for i, p := range params {
		name := p.Name
		if name == "" {
			name = fmt.Sprintf("arg%d", i)
		}
		part := &lang.Field{Pos: id.Pos, X: id, Name: name}
		pt, err := k.cParam(part, s, true)
		if err != nil {
			return nil, err
		}
		k.info.Types[part] = pt
		a.parts = append(a.parts, part)
		t.Names = append(t.Names, name)
		t.Elems = append(t.Elems, pt)
	}
	k.info.cargs[id] = a
	return t, nil
}

// cRetval types retval in a uretprobe by the function's return type; ok
// is false when DWARF does not say (retval stays the builtin int64).
func (k *checker) cRetval(id *lang.Ident, s *Site) (*Type, bool) {
	f, err := openDWARF(s.AttachPath)
	if err != nil {
		return nil, false
	}
	fn, err := f.Func(s.Func, s.FuncAddr)
	if err != nil || fn.Return == nil {
		return nil, false
	}
	rt := cdwarf.Strip(fn.Return)
	if _, ok := rt.(*dwarf.StructType); ok && rt.Size() > 16 {
		// Returned in memory: rax holds its address.
		ct := k.c.dwarfCType(fn.Return, 0, map[dwarfKey]*cType{})
		k.info.cargs[id] = &cArg{name: "retval", ct: ct, loc: cdwarf.Location{Pieces: []cdwarf.Piece{{Kind: cdwarf.InMem, Reg: arch.AMD64.CReturn}}}}
		k.info.mem[id] = ct
		return k.c.valueType(ct), true
	}
	switch rt.(type) {
	case *dwarf.FloatType, *dwarf.ComplexType:
		return nil, false
	case *dwarf.StructType, *dwarf.ArrayType:
		if rt.Size() > 8 {
			return nil, false // rax:rdx; the builtin stays
		}
	}
	ct := k.c.dwarfCType(fn.Return, 0, map[dwarfKey]*cType{})
	k.info.cargs[id] = &cArg{name: "retval", ct: ct, loc: cdwarf.Location{Pieces: []cdwarf.Piece{{Kind: cdwarf.InReg, Reg: arch.AMD64.CReturn}}}}
	if _, ok := rt.(*dwarf.BoolType); ok {
		return &Type{Kind: KindInt, Size: 1, Bool: true, C: ct}, true
	}
	return k.c.valueType(ct), true
}

// dwarfKey memoizes a DWARF type's conversion at a pointer depth.
type dwarfKey struct {
	t     dwarf.Type
	depth int
}

// maxPtrDepth is how many pointers from a parameter members are known
// through (args.a->b->c->d): deeper structs are opaque, which keeps the
// types of large programs' structs small and breaks their cycles.
const maxPtrDepth = 3

// dwarfCType maps a DWARF type to the compiler's C type.
func (c *compiler) dwarfCType(t dwarf.Type, depth int, memo map[dwarfKey]*cType) *cType {
	t = cdwarf.Strip(t)
	if t == nil {
		return &cType{kind: cInt, size: 1, align: 1}
	}
	key := dwarfKey{t, depth}
	if ct, ok := memo[key]; ok {
		return ct
	}
	size := int(t.Size())
	switch x := t.(type) {
	case *dwarf.IntType, *dwarf.CharType:
		return &cType{kind: cInt, size: clampSize(size), align: clampSize(size), signed: true}
	case *dwarf.UintType, *dwarf.UcharType, *dwarf.BoolType, *dwarf.FloatType, *dwarf.AddrType:
		return &cType{kind: cInt, size: clampSize(size), align: clampSize(size)}
	case *dwarf.EnumType:
		signed := false
		for _, v := range x.Val {
			if v.Val < 0 {
				signed = true
			}
		}
		et := &EnumType{Name: cdwarf.TypeName(x), Names: map[int64]string{}}
		for _, v := range x.Val {
			if _, dup := et.Names[v.Val]; !dup {
				et.Names[v.Val] = v.Name
			}
		}
		return &cType{kind: cInt, size: clampSize(size), align: clampSize(size), signed: signed, enum: et}
	case *dwarf.PtrType:
		p := &cType{kind: cPtr, size: 8, align: 8}
		memo[key] = p
		el := cdwarf.Strip(x.Type)
		switch el.(type) {
		case *dwarf.StructType:
			if depth >= maxPtrDepth {
				p.elem = &cType{kind: cStructKind, align: 1, st: &cStruct{name: cdwarf.TypeName(el)}}
				return p
			}
			p.elem = c.dwarfCType(el, depth+1, memo)
		case *dwarf.FuncType, *dwarf.VoidType, nil:
			p.elem = &cType{kind: cInt, size: 1, align: 1}
		default:
			if depth >= maxPtrDepth+2 {
				p.elem = &cType{kind: cInt, size: 8, align: 8}
				return p
			}
			p.elem = c.dwarfCType(el, depth+1, memo)
		}
		return p
	case *dwarf.ArrayType:
		n := int(x.Count)
		if n < 0 {
			n = 0
		}
		el := c.dwarfCType(x.Type, depth, memo)
		if n > 4096 || n*el.size > 1<<14 {
			n = max(0, (1<<14)/max(1, el.size))
		}
		return &cType{kind: cArray, size: n * el.size, align: el.align, elem: el, n: n}
	case *dwarf.StructType:
		st := &cStruct{name: cdwarf.TypeName(x), union: x.Kind == "union", size: size, align: 1}
		ct := &cType{kind: cStructKind, size: size, align: 1, st: st}
		memo[key] = ct
		if x.Incomplete {
			ct.size, st.size = 0, 0
			return ct
		}
		c.dwarfFields(st, x, 0, depth, memo)
		ct.align = st.align
		return ct
	}
	// Functions, void, unspecified: an opaque byte.
	return &cType{kind: cInt, size: max(1, clampSize(size)), align: 1}
}

func clampSize(n int) int {
	switch {
	case n <= 1:
		return 1
	case n <= 2:
		return 2
	case n <= 4:
		return 4
	}
	return 8
}

// dwarfFields lays out a struct's members at their DWARF offsets; the
// members of an anonymous struct or union member become the struct's own.
func (c *compiler) dwarfFields(st *cStruct, x *dwarf.StructType, base, depth int, memo map[dwarfKey]*cType) {
	for _, f := range x.Field {
		if len(st.fields) > 1024 {
			return
		}
		off := base + int(f.ByteOffset)
		if f.Name == "" {
			if in, ok := cdwarf.Strip(f.Type).(*dwarf.StructType); ok {
				c.dwarfFields(st, in, off, depth, memo)
				continue
			}
		}
		ft := c.dwarfCType(f.Type, depth, memo)
		if f.BitSize > 0 && ft.kind == cInt {
			bf := *ft
			unit := ft.size
			bitPos := int(f.DataBitOffset)
			if bitPos == 0 && f.BitOffset != 0 {
				// DWARF 2/3: counted from the unit's most significant bit.
				bitPos = int(f.ByteOffset)*8 + unit*8 - int(f.BitOffset) - int(f.BitSize)
			}
			bitPos += base * 8
			off = bitPos / (8 * unit) * unit
			bf.bits, bf.bitOff = int(f.BitSize), bitPos-off*8
			bf.size = bitFieldRead(bf.bitOff, bf.bits, bf.size)
			ft = &bf
		}
		st.fields = append(st.fields, cField{name: f.Name, off: off, t: ft})
		st.align = max(st.align, ft.align)
	}
}

// Emission.

// cArgScalar loads a scalar C value in registers (or computed from one)
// into R0, with its width and sign.
func (g *gen) cArgScalar(e lang.Expr, a *cArg, t *Type) error {
	p := a.loc.Pieces[0]
	if p.Reg != "" {
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[p.Reg], asm.DWord))
		if p.Off != 0 {
			g.emit(asm.Add.Imm(asm.R0, int32(p.Off)))
		}
	} else {
		g.emit(asm.LoadImm(asm.R0, p.Off, asm.DWord))
	}
	if a.ct != nil && a.ct.kind == cInt && !a.usym {
		g.truncate(asm.R0, &Type{Kind: KindInt, Size: a.ct.size, Signed: a.ct.signed})
	}
	return nil
}

// cArgPlace places args (every parameter), a placeholder, or a struct
// passed in registers into scratch at off.
func (g *gen) cArgPlace(e lang.Expr, a *cArg, t *Type, off int) error {
	switch {
	case a.name == "args":
		for i, part := range a.parts {
			if err := g.place(part, off+elemOffset(t, i)); err != nil {
				return err
			}
		}
		return nil
	case a.text != "":
		g.placeBytes(off, []byte(a.text), t.StorageSize())
		return nil
	}
	// A struct in registers: the pieces side by side, then unpacked as if
	// read from memory.
	raw, err := g.allocScratch(8*len(a.loc.Pieces) + 8)
	if err != nil {
		return g.wrap(e, err)
	}
	at := 0
	for _, p := range a.loc.Pieces {
		if p.Reg != "" {
			g.emit(asm.LoadMem(asm.R1, regCtx, ptRegs[p.Reg], asm.DWord))
			if p.Off != 0 {
				g.emit(asm.Add.Imm(asm.R1, int32(p.Off)))
			}
		} else {
			g.emit(asm.LoadImm(asm.R1, p.Off, asm.DWord))
		}
		g.emit(asm.StoreMem(regScratch, int16(raw+at), asm.R1, asm.DWord))
		size := p.Size
		if size == 0 {
			size = 8
		}
		at += size
	}
	g.unpack(raw, a.ct, off, t)
	return nil
}

// cArgAddr leaves in R0 the address of a C value in memory (a struct
// passed on the stack, a value DWARF places in the frame).
func (g *gen) cArgAddr(a *cArg) {
	p := a.loc.Pieces[0]
	if p.Reg == "" {
		g.emit(asm.LoadImm(asm.R0, p.Off, asm.DWord))
		return
	}
	g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[p.Reg], asm.DWord))
	if p.Off != 0 {
		g.emit(asm.Add.Imm(asm.R0, int32(p.Off)))
	}
}

// dwarfCast types a cast to a type the program does not define but the
// probed binary's DWARF does ((struct Foo *)arg0, as bpftrace resolves
// them); ok is false when DWARF does not know the name.
func (k *checker) dwarfCast(e *lang.Cast) (t *Type, ok bool, err error) {
	s := k.cSite()
	if s == nil {
		return nil, false, nil
	}
	f, err := openDWARF(s.AttachPath)
	if err != nil {
		return nil, false, nil
	}
	dt, err := f.Type(e.Type.Name)
	if err != nil {
		return nil, false, nil
	}
	if _, err := k.scalarType(e.X); err != nil {
		return nil, true, err
	}
	ct := k.c.dwarfCType(dt, 0, map[dwarfKey]*cType{})
	if e.Type.Ptr == 0 {
		if ct.kind != cInt {
			return nil, true, k.c.errorf(e, "cast to a pointer: ("+e.Type.Name+" *)arg0", "cannot cast a number to %s", e.Type.Name)
		}
		return k.c.valueType(ct), true, nil
	}
	for i := 0; i < e.Type.Ptr; i++ {
		ct = &cType{kind: cPtr, size: 8, align: 8, elem: ct}
	}
	return k.c.valueType(ct), true, nil
}

// cFuncName is the function a site is in, without the +0xOFF of a site
// inside it.
func cFuncName(s *Site) string {
	n := s.Name()
	if i := strings.LastIndex(n, "+0x"); i > 0 {
		return n[:i]
	}
	return n
}

// cInline is the inlined instance of the unit's site and the function it
// is inlined into.
func (k *checker) cInline(n lang.Node, s *Site) (*cdwarf.Inline, *cdwarf.Func, error) {
	f, err := openDWARF(s.AttachPath)
	if err != nil {
		return nil, nil, k.c.errorf(n, "", "args: %v", err)
	}
	in, ok := f.InlineAt(s.Func, s.Addr)
	if !ok {
		return nil, nil, k.c.errorf(n, "", "args: no inlined instance of %s at %#x", s.Func, s.Addr)
	}
	outer, err := f.OuterFunc(in)
	if err != nil {
		return nil, nil, k.c.errorf(n, "", "args: %v", err)
	}
	return in, outer, nil
}

// cInlineParam types args.NAME in an inlined instance: by the location
// DWARF gives the instance's parameter there (often none: the optimizer
// folds parameters into the caller's values).
func (k *checker) cInlineParam(f *lang.Field, s *Site, inAll bool) (*Type, error) {
	in, outer, err := k.cInline(f, s)
	if err != nil {
		return nil, err
	}
	for i := range in.Params {
		if p := &in.Params[i]; p.Name == f.Name {
			loc, locErr := outer.Location(p, s.Addr, false, arch.AMD64)
			return k.cValue(f, "args", s, p, loc, locErr, inAll)
		}
	}
	var names []string
	for _, p := range in.Params {
		names = append(names, p.Name)
	}
	return nil, k.c.errorf(f, "parameters: "+strings.Join(names, ", "), "%s (inlined into %s) has no parameter named %s", s.Func, s.Inlined, f.Name)
}

// localsType types locals where cArgsType did not: outside C code.
func (k *checker) localsType(n lang.Expr) (*Type, error) {
	return nil, k.c.errorf(n, "probe a source line of a C or C++ program: uprobe:BIN@FILE:LINE", "locals are read from DWARF in C and C++ code only")
}

// cArgsExpr and placeCArgsExpr emit locals (and args in C code) from what
// check recorded; expr and place reach cArgScalar and cArgPlace first.
func (g *gen) cArgsExpr(e lang.Expr) error {
	a := g.info.cargs[e]
	if a == nil {
		return g.wrap(e, errorString("compile: no C value for "+lang.FormatExpr(e)))
	}
	return g.cArgScalar(e, a, g.typ(e))
}

func (g *gen) placeCArgsExpr(e lang.Expr, t *Type, off int) error {
	a := g.info.cargs[e]
	if a == nil {
		return g.wrap(e, errorString("compile: no C value for "+lang.FormatExpr(e)))
	}
	return g.cArgPlace(e, a, t, off)
}
