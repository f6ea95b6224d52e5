package compile

import (
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// Emission of values in user memory with a C type the program defines,
// and of elements of record and tuple values (see check_struct.go).

// memAddr leaves in R0 the user address of an expression check marked as
// in memory.
func (g *gen) memAddr(e lang.Expr) error {
	if a := g.info.cargs[e]; a != nil {
		g.cArgAddr(a)
		return nil
	}
	switch x := e.(type) {
	case *lang.Unary: // *p
		_, err := g.expr(x.X)
		return err
	case *lang.Field:
		if err := g.baseAddr(x.X); err != nil {
			return err
		}
		for _, f := range g.structOf(x.X).fields {
			if f.name == x.Name {
				if f.off != 0 {
					g.emit(asm.Add.Imm(asm.R0, int32(f.off)))
				}
				return nil
			}
		}
	case *lang.Index:
		if err := g.baseAddr(x.X); err != nil {
			return err
		}
		size := g.info.mem[e].size
		if n, ok := constInt(x.Index); ok {
			if n != 0 {
				g.emit(asm.Add.Imm(asm.R0, int32(n)*int32(size)))
			}
			return nil
		}
		slot, err := g.spill()
		if err != nil {
			return g.wrap(e, err)
		}
		if _, err := g.expr(x.Index); err != nil {
			return err
		}
		if arr := g.info.mem[x.X]; arr != nil && arr.kind == cArray && arr.n > 0 {
			// Out of bounds: a warning, then the read as written.
			in := g.label("inbounds")
			g.emit(asm.JLT.Imm(asm.R0, int32(arr.n), in))
			idx, err := g.spill()
			if err != nil {
				return g.wrap(e, err)
			}
			if err := g.runtimeWarning(e, "Array access out of bounds. This can lead to unexpected results."); err != nil {
				return err
			}
			g.emit(asm.LoadMem(asm.R0, asm.RFP, idx, asm.DWord))
			g.popStack(8)
			g.mark(in)
		}
		g.emit(
			asm.Mul.Imm(asm.R0, int32(size)),
			asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord),
			asm.Add.Reg(asm.R0, asm.R1),
		)
		g.popStack(8)
		return nil
	}
	return g.wrap(e, errorString("compile: no address for "+lang.FormatExpr(e)))
}

// baseAddr leaves in R0 the address X.NAME or X[i] starts from: X's value
// when it is a pointer, X's own address when X is in memory.
func (g *gen) baseAddr(x lang.Expr) error {
	if c := g.info.mem[x]; c != nil && c.kind != cPtr {
		return g.memAddr(x)
	}
	_, err := g.expr(x)
	return err
}

// structOf is the struct X.NAME selects a member of.
func (g *gen) structOf(x lang.Expr) *cStruct {
	if c := g.info.mem[x]; c != nil && c.kind == cStructKind {
		return c.st
	}
	return g.typ(x).Pointee.C.st
}

// memScalar reads a scalar in user memory into R0, with its C width and
// sign; a bit-field is shifted and masked out of its unit.
func (g *gen) memScalar(e lang.Expr) error {
	c := g.info.mem[e]
	if err := g.memAddr(e); err != nil {
		return err
	}
	t := &Type{Kind: KindInt, Size: c.size, Signed: c.signed && c.bits == 0}
	read := g.readUser
	if g.inKernel(e) {
		read = g.readKernel
	}
	if err := read(t, readPlace(e)); err != nil {
		return g.wrap(e, err)
	}
	if c.bits > 0 {
		if c.bitOff > 0 {
			g.emit(asm.RSh.Imm(asm.R0, int32(c.bitOff)))
		}
		if c.bits < 64 {
			g.emit(asm.LoadImm(asm.R1, int64(uint64(1)<<c.bits-1), asm.DWord), asm.And.Reg(asm.R0, asm.R1))
		}
	}
	return nil
}

// memPlace reads a struct, array or string in user memory into the
// scratch area at off, in its value layout: the bytes are read at once
// into a buffer, then unpacked part by part.
func (g *gen) memPlace(e lang.Expr, t *Type, off int) error {
	c := g.info.mem[e]
	raw, err := g.allocScratch(c.size)
	if err != nil {
		return g.wrap(e, err)
	}
	g.zeroScratch(raw, align8(c.size))
	if err := g.memAddr(e); err != nil {
		return err
	}
	g.emit(asm.Mov.Reg(asm.R3, asm.R0), asm.Mov.Imm(asm.R2, int32(c.size)))
	g.scratchPtr(asm.R1, raw)
	if g.inKernel(e) {
		g.emit(asm.FnProbeReadKernel.Call())
	} else {
		g.emit(asm.FnProbeReadUser.Call())
		if err := g.helperFailed(readPlace(e), "probe_read_user"); err != nil {
			return err
		}
	}
	g.unpack(raw, c, off, t)
	return nil
}

// readPlace is where -k places a failed read of e: a member's struct (the
// pointer that was bad), as bpftrace does, else e.
func readPlace(e lang.Expr) lang.Node {
	if f, ok := e.(*lang.Field); ok {
		return f.X
	}
	return e
}

// inKernel reports whether a memory expression is reached through a
// pointer into uscope's own memory (&$x) rather than the traced process's.
func (g *gen) inKernel(e lang.Expr) bool {
	typ := func(x lang.Expr) *Type { // args and locals have no type of their own
		if t := g.info.Types[x]; t != nil {
			return t
		}
		return &Type{}
	}
	switch x := e.(type) {
	case *lang.Unary:
		return x.Op == "*" && typ(x.X).Kernel
	case *lang.Field:
		if t := typ(x.X); t.Pointee != nil {
			return t.Kernel
		}
		return g.inKernel(x.X)
	case *lang.Index:
		if t := typ(x.X); t.Pointee != nil {
			return t.Kernel
		}
		return g.inKernel(x.X)
	}
	return false
}

// unpack converts a C value at scratch offset raw into its value layout at
// dst.
func (g *gen) unpack(raw int, c *cType, dst int, t *Type) {
	switch {
	case c.kind == cFloat:
		// Not kept: it has no storage.
	case c.kind == cInt || c.kind == cPtr:
		size := c.size
		g.emit(asm.LoadMem(asm.R1, regScratch, int16(raw), sizeOf(size)))
		switch {
		case c.bits > 0:
			if c.bitOff > 0 {
				g.emit(asm.RSh.Imm(asm.R1, int32(c.bitOff)))
			}
			if c.bits < 64 {
				g.emit(asm.LoadImm(asm.R2, int64(uint64(1)<<c.bits-1), asm.DWord), asm.And.Reg(asm.R1, asm.R2))
			}
		case c.signed && size < 8:
			g.truncate(asm.R1, &Type{Kind: KindInt, Size: size, Signed: true})
		}
		g.emit(asm.StoreMem(regScratch, int16(dst), asm.R1, asm.DWord))
	case t.Kind == KindString:
		// char name[N]: the bytes, then a NUL past them.
		g.zeroScratch(dst, t.StorageSize())
		for i := 0; i < c.n; i++ {
			g.emit(
				asm.LoadMem(asm.R1, regScratch, int16(raw+i), asm.Byte),
				asm.StoreMem(regScratch, int16(dst+i), asm.R1, asm.Byte),
			)
		}
	case c.kind == cArray:
		for i := 0; i < c.n; i++ {
			g.unpack(raw+i*c.elem.size, c.elem, dst, t.Elems[i])
			dst += t.Elems[i].StorageSize()
		}
	default:
		for i, f := range c.st.fields {
			g.unpack(raw+f.off, f.t, dst, t.Elems[i])
			dst += t.Elems[i].StorageSize()
		}
	}
}

// elemOffset is where element i of a tuple value of type t is stored.
func elemOffset(t *Type, i int) int {
	off := 0
	for _, e := range t.Elems[:i] {
		off += e.StorageSize()
	}
	return off
}

// elemPlace evaluates an element of a record or tuple value ($s.m, $t.0,
// $a[1]) into scratch at off, or into R0 (off < 0) when it is a scalar.
func (g *gen) elemPlace(e lang.Expr, off int) error {
	var x lang.Expr
	switch y := e.(type) {
	case *lang.Field:
		x = y.X
	case *lang.Index:
		x = y.X
	}
	xt := g.typ(x)
	var base int
	if v, ok := x.(*lang.Var); ok {
		base = g.varOff[v.Name]
	} else {
		var err error
		if base, err = g.allocScratch(xt.StorageSize()); err != nil {
			return g.wrap(e, err)
		}
		if err := g.place(x, base); err != nil {
			return err
		}
	}
	i := g.info.elems[e]
	from := base + elemOffset(xt, i)
	if off < 0 {
		g.emit(asm.LoadMem(asm.R0, regScratch, int16(from), asm.DWord))
		return nil
	}
	g.copyScratch(off, from, xt.Elems[i].StorageSize())
	return nil
}
