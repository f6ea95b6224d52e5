package compile

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// place evaluates a value into the scratch area at off, in its storage
// layout. Scalars are stored as 8 bytes; strings are zero-padded.
func (g *gen) place(e lang.Expr, off int) error {
	t := g.typ(e)
	if t.IsScalar() {
		return g.store(e, t, off)
	}
	if a := g.info.cargs[e]; a != nil && g.info.mem[e] == nil {
		return g.cArgPlace(e, a, t, off)
	}
	if g.goArgs(e) {
		return g.placeGo(e, t, off)
	}
	if g.info.mem[e] != nil {
		return g.memPlace(e, t, off)
	}
	if _, ok := g.info.elems[e]; ok {
		return g.elemPlace(e, off)
	}
	switch e := e.(type) {
	case *lang.StrLit:
		g.placeBytes(off, []byte(e.Value), t.StorageSize())
		return nil
	case *lang.BlockExpr:
		if err := g.blockStmts(e); err != nil {
			return err
		}
		return g.place(e.Value, off)
	case *lang.Var:
		if _, ok := g.info.symNames[e]; ok {
			return g.placeSymName(e, t, off)
		}
		g.copyScratch(off, g.varOff[e.Name], t.StorageSize())
		return nil
	case *lang.Ident:
		if _, ok := g.info.symNames[e]; ok {
			return g.placeSymName(e, t, off)
		}
		return lookupBuiltin(e.Name, false).place(g, e, t, off)
	case *lang.Call:
		return lookupBuiltin(e.Name, true).place(g, e, t, off)
	case *lang.Tuple:
		if perm := g.info.recordOrder[e]; perm != nil {
			for i, x := range e.Elems {
				if err := g.store(x, t.Elems[perm[i]], off+elemOffset(t, perm[i])); err != nil {
					return err
				}
			}
			return nil
		}
		pos := off
		for _, x := range e.Elems {
			xt := g.typ(x)
			if err := g.store(x, xt, pos); err != nil {
				return err
			}
			pos += xt.StorageSize()
		}
		return nil
	case *lang.MapExpr:
		return g.mapRead(e, off)
	case *lang.Unary:
		// *p of a pointer into uscope's memory (&$x): a copy of the value.
		if e.Op == "*" && g.typ(e.X).Kernel && g.info.mem[e] == nil {
			if _, err := g.expr(e.X); err != nil {
				return err
			}
			g.emit(asm.Mov.Reg(asm.R3, asm.R0), asm.Mov.Imm(asm.R2, int32(t.StorageSize())))
			g.scratchPtr(asm.R1, off)
			g.emit(asm.FnProbeReadKernel.Call())
			return nil
		}
	case *lang.Cast:
		if lit, ok := e.X.(*lang.StrLit); ok {
			// (int8[])"hello": each byte and the NUL, as constants.
			b := append([]byte(lit.Value), 0)
			for i, el := range t.Elems {
				v := int64(b[i])
				if el.Signed {
					v = int64(int8(b[i]))
				}
				g.emit(storeImm(regScratch, int16(off+8*i), v, asm.DWord))
			}
			return nil
		}
		// (T[N])x: each element from x's bytes, the first the lowest.
		if _, err := g.expr(e.X); err != nil {
			return err
		}
		for i, el := range t.Elems {
			g.emit(asm.Mov.Reg(asm.R1, asm.R0))
			if i > 0 {
				g.emit(asm.RSh.Imm(asm.R1, int32(8*el.Size*i)))
			}
			g.truncate(asm.R1, el)
			g.emit(asm.StoreMem(regScratch, int16(off+8*i), asm.R1, asm.DWord))
		}
		return nil
	case *lang.Ternary:
		elseLbl, end := g.label("pelse"), g.label("pend")
		if _, err := g.expr(e.Cond); err != nil {
			return err
		}
		g.emit(asm.JEq.Imm(asm.R0, 0, elseLbl))
		g.zeroScratch(off, t.StorageSize())
		if err := g.place(e.Then, off); err != nil {
			return err
		}
		g.emit(asm.Ja.Label(end))
		g.mark(elseLbl)
		g.zeroScratch(off, t.StorageSize())
		if err := g.place(e.Else, off); err != nil {
			return err
		}
		g.mark(end)
		return nil
	}
	return fmt.Errorf("compile: cannot place %T", e)
}

// placeProbeType writes the unit's probe type, as bpftrace names it.
func (g *gen) placeProbeType(_ lang.Expr, t *Type, off int) error {
	kind := g.shape.kind
	switch {
	case g.special != nil && g.special.Kind == lang.KindInterval:
		kind = "interval"
	case g.special != nil:
		kind = "special"
	case g.shape.ret:
		kind = lang.KindUretprobe
	}
	g.placeBytes(off, []byte(kind), t.Size)
	return nil
}

func (g *gen) placeComm(_ lang.Expr, _ *Type, off int) error {
	g.zeroScratch(off, 16)
	g.scratchPtr(asm.R1, off)
	g.emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call())
	return nil
}

// placeMapLen stores len(@m)'s map index; userspace counts the keys.
func (g *gen) placeStackExpr(_ lang.Expr, _ *Type, off int) error { return g.placeStack(off) }

// placeBytes writes constant bytes, zero-padded to n.
func (g *gen) placeBytes(off int, b []byte, n int) {
	buf := make([]byte, align8(n))
	copy(buf, b)
	for i := 0; i < len(buf); i += 8 {
		v := binary.LittleEndian.Uint64(buf[i:])
		if v == 0 {
			g.emit(storeImm(regScratch, int16(off+i), 0, asm.DWord))
			continue
		}
		g.emit(
			asm.LoadImm(asm.R1, int64(v), asm.DWord),
			asm.StoreMem(regScratch, int16(off+i), asm.R1, asm.DWord),
		)
	}
}

// placeStr reads a NUL-terminated user string, or at most len bytes of it
// for str(p, len), into a zeroed buffer of t.Size bytes.
func (g *gen) placeStr(n lang.Expr, t *Type, off int) error {
	e := n.(*lang.Call)
	if len(e.Args) == 1 && g.typ(e.Args[0]).Kind == KindString {
		if g.goArgs(e.Args[0]) {
			return g.placeGo(e.Args[0], t, off)
		}
		return g.place(e.Args[0], off)
	}
	if g.typ(e.Args[0]).Kind == KindString {
		// str(s, n): the string cut after n characters.
		if err := g.place(e.Args[0], off); err != nil {
			return err
		}
		if n, _ := constInt(e.Args[1]); n >= 0 && int(n) < t.Size {
			g.emit(storeImm(regScratch, int16(off+int(n)), 0, asm.Byte))
		}
		return nil
	}
	g.zeroScratch(off, t.StorageSize())
	if len(e.Args) == 2 {
		if _, err := g.expr(e.Args[1]); err != nil {
			return err
		}
		// size = min(len, cap-1) + 1, so that exactly len bytes are read.
		clamp := g.label("clamp")
		g.emit(
			asm.JLE.Imm(asm.R0, int32(t.Size-1), clamp),
			asm.Mov.Imm(asm.R0, int32(t.Size-1)),
		)
		g.mark(clamp)
		g.emit(asm.Add.Imm(asm.R0, 1))
		slot, err := g.spill()
		if err != nil {
			return g.wrap(e, err)
		}
		if _, err := g.expr(e.Args[0]); err != nil {
			return err
		}
		g.emit(
			asm.Mov.Reg(asm.R3, asm.R0),
			asm.LoadMem(asm.R2, asm.RFP, slot, asm.DWord),
		)
		g.popStack(8)
		// Re-establish the bound for the verifier after the reload.
		g.emit(asm.And.Imm(asm.R2, 0x7ff))
		bound := g.label("bound")
		g.emit(asm.JLE.Imm(asm.R2, int32(t.Size), bound), asm.Mov.Imm(asm.R2, int32(t.Size)))
		g.mark(bound)
	} else {
		if _, err := g.expr(e.Args[0]); err != nil {
			return err
		}
		g.emit(asm.Mov.Reg(asm.R3, asm.R0), asm.Mov.Imm(asm.R2, int32(t.Size)))
	}
	g.scratchPtr(asm.R1, off)
	g.emit(asm.FnProbeReadUserStr.Call())
	return nil
}

// placeBuf reads len bytes (at most the buffer's size) of user memory:
// a u64 length, then the bytes.
func (g *gen) placeBuf(n lang.Expr, t *Type, off int) error {
	e := n.(*lang.Call)
	g.zeroScratch(off, t.StorageSize())
	if st := g.typ(e.Args[0]); st.Kind == KindString {
		// A string value's first t.Size bytes.
		tmp, err := g.placed(e.Args[0], e)
		if err != nil {
			return err
		}
		g.copyScratch(off+8, tmp, min(align8(t.Size), st.StorageSize()))
		g.emit(storeImm(regScratch, int16(off), int64(t.Size), asm.DWord))
		return nil
	}
	// A C array in user memory is read where it lies; any other value
	// (a char * member, an integer) is the address to read at.
	c := g.info.mem[e.Args[0]]
	mem := c != nil && c.kind == cArray
	if len(e.Args) == 1 {
		g.emit(asm.Mov.Imm(asm.R0, int32(t.Size)))
	} else if _, err := g.expr(e.Args[1]); err != nil {
		return err
	}
	clamp := g.label("bclamp")
	g.emit(
		asm.JLE.Imm(asm.R0, int32(t.Size), clamp),
		asm.Mov.Imm(asm.R0, int32(t.Size)),
	)
	g.mark(clamp)
	g.emit(asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
	if mem {
		// A C array in user memory: its address.
		if err := g.memAddr(e.Args[0]); err != nil {
			return err
		}
	} else if _, err := g.expr(e.Args[0]); err != nil {
		return err
	}
	g.emit(
		asm.Mov.Reg(asm.R3, asm.R0),
		asm.LoadMem(asm.R2, regScratch, int16(off), asm.DWord),
	)
	bound := g.label("bbound")
	g.emit(
		asm.And.Imm(asm.R2, 0x7ff),
		asm.JLE.Imm(asm.R2, int32(t.Size), bound),
		asm.Mov.Imm(asm.R2, int32(t.Size)),
	)
	g.mark(bound)
	g.scratchPtr(asm.R1, off+8)
	g.emit(asm.FnProbeReadUser.Call())
	return nil
}

// strncmp compares at most n bytes of two strings; 0 means equal, as in C.
func (g *gen) strncmp(x lang.Expr) error {
	e := x.(*lang.Call)
	n := int(e.Args[2].(*lang.IntLit).Value)
	a, b := g.typ(e.Args[0]), g.typ(e.Args[1])
	if n > a.Size {
		n = a.Size
	}
	if n > b.Size {
		n = b.Size
	}
	offA, err := g.allocScratch(a.StorageSize())
	if err != nil {
		return g.wrap(e, err)
	}
	offB, err := g.allocScratch(b.StorageSize())
	if err != nil {
		return g.wrap(e, err)
	}
	if err := g.place(e.Args[0], offA); err != nil {
		return err
	}
	if err := g.place(e.Args[1], offB); err != nil {
		return err
	}
	differ, same, done := g.label("ncne"), g.label("nceq"), g.label("ncdone")
	for i := 0; i < n; i++ {
		g.emit(
			asm.LoadMem(asm.R1, regScratch, int16(offA+i), asm.Byte),
			asm.LoadMem(asm.R2, regScratch, int16(offB+i), asm.Byte),
			asm.JNE.Reg(asm.R1, asm.R2, differ),
			asm.JEq.Imm(asm.R1, 0, same),
		)
	}
	g.emit(asm.Ja.Label(same))
	g.emit(asm.Mov.Imm(asm.R0, 1).WithSymbol(differ), asm.Ja.Label(done))
	g.emit(asm.Mov.Imm(asm.R0, 0).WithSymbol(same))
	g.mark(done)
	return nil
}

// strcontains reports whether the second string occurs in the first, with
// a bounded loop over the haystack and an unrolled match of the needle.
func (g *gen) strcontains(x lang.Expr) error {
	e := x.(*lang.Call)
	a := g.typ(e.Args[0])
	offA, err := g.placed(e.Args[0], e)
	if err != nil {
		return err
	}
	lit, ok := e.Args[1].(*lang.StrLit)
	if !ok {
		return g.strcontainsVar(e, a, offA)
	}
	needle := []byte(lit.Value)
	found, notFound, done := g.label("scyes"), g.label("scno"), g.label("scdone")
	if len(needle) == 0 {
		// Every string contains the empty string.
		g.emit(asm.Mov.Imm(asm.R0, 1))
		return nil
	}
	for start := 0; start+len(needle) <= a.Size; start++ {
		next := g.label("scnext")
		for j, ch := range needle {
			g.emit(
				asm.LoadMem(asm.R1, regScratch, int16(offA+start+j), asm.Byte),
				asm.JNE.Imm(asm.R1, int32(ch), next),
			)
		}
		g.emit(asm.Ja.Label(found))
		g.mark(next)
		// Stop at the end of the haystack.
		g.emit(
			asm.LoadMem(asm.R1, regScratch, int16(offA+start), asm.Byte),
			asm.JEq.Imm(asm.R1, 0, notFound),
		)
	}
	g.emit(asm.Mov.Imm(asm.R0, 0).WithSymbol(notFound), asm.Ja.Label(done))
	g.emit(asm.Mov.Imm(asm.R0, 1).WithSymbol(found))
	g.mark(done)
	return nil
}

// strcontainsVar is strcontains() with a needle computed at run time: for
// each start in the haystack (until its NUL), compare the needle's bytes
// until the needle's NUL (found) or a difference (next start). R1 holds the
// start, R2 the needle's index; the bounds are the buffers' sizes, which
// the verifier follows.
func (g *gen) strcontainsVar(e *lang.Call, a *Type, offA int) error {
	b := g.typ(e.Args[1])
	offB, err := g.placed(e.Args[1], e)
	if err != nil {
		return err
	}
	outer, inner, next, found, notFound, done := g.label("scvi"), g.label("scvj"), g.label("scvn"), g.label("scvy"), g.label("scvno"), g.label("scvd")
	g.emit(
		// An empty needle is in every string.
		asm.LoadMem(asm.R3, regScratch, int16(offB), asm.Byte),
		asm.JEq.Imm(asm.R3, 0, found),
		asm.Mov.Imm(asm.R1, 0),
	)
	g.mark(outer)
	g.emit(
		asm.JGE.Imm(asm.R1, int32(a.Size), notFound),
		asm.Mov.Imm(asm.R2, 0),
	)
	g.mark(inner)
	g.emit(
		asm.JGE.Imm(asm.R2, int32(b.Size), found),
		asm.Mov.Reg(asm.R3, regScratch),
		asm.Add.Reg(asm.R3, asm.R2),
		asm.LoadMem(asm.R3, asm.R3, int16(offB), asm.Byte),
		asm.JEq.Imm(asm.R3, 0, found),
		asm.Mov.Reg(asm.R4, asm.R1),
		asm.Add.Reg(asm.R4, asm.R2),
		asm.JGE.Imm(asm.R4, int32(a.Size), notFound),
		asm.Add.Reg(asm.R4, regScratch),
		asm.LoadMem(asm.R4, asm.R4, int16(offA), asm.Byte),
		asm.JEq.Imm(asm.R4, 0, notFound),
		asm.JNE.Reg(asm.R4, asm.R3, next),
		asm.Add.Imm(asm.R2, 1),
		asm.Ja.Label(inner),
	)
	g.mark(next)
	g.emit(
		asm.Add.Imm(asm.R1, 1),
		asm.Ja.Label(outer),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(notFound),
		asm.Ja.Label(done),
		asm.Mov.Imm(asm.R0, 1).WithSymbol(found),
	)
	g.mark(done)
	return nil
}

// strIndex leaves in R0 the character at index i of a string value, 0
// past its buffer.
func (g *gen) strIndex(e *lang.Index) error {
	st := g.typ(e.X)
	base := 0
	if v, ok := e.X.(*lang.Var); ok {
		base = g.varOff[v.Name]
	} else {
		var err error
		if base, err = g.allocScratch(st.StorageSize()); err != nil {
			return g.wrap(e, err)
		}
		if err := g.place(e.X, base); err != nil {
			return err
		}
	}
	if n, ok := constInt(e.Index); ok {
		if n < 0 || int(n) >= st.Size {
			g.emit(asm.Mov.Imm(asm.R0, 0))
			return nil
		}
		g.emit(asm.LoadMem(asm.R0, regScratch, int16(base+int(n)), asm.Byte))
		g.truncate(asm.R0, intTypes["int8"])
		return nil
	}
	if _, err := g.expr(e.Index); err != nil {
		return err
	}
	out, done := g.label("sixout"), g.label("sixdone")
	g.emit(
		asm.JGE.Imm(asm.R0, int32(st.Size), out),
		asm.Add.Reg(asm.R0, regScratch),
		asm.LoadMem(asm.R0, asm.R0, int16(base), asm.Byte),
		asm.Ja.Label(done),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(out),
	)
	g.mark(done)
	g.truncate(asm.R0, intTypes["int8"])
	return nil
}

// placeNtop stores ntop()'s address bytes as a buffer: an integer's 4
// bytes as they lie in memory, or an array's bytes.
func (g *gen) placeNtop(n lang.Expr, t *Type, off int) error {
	e := n.(*lang.Call)
	addr := e.Args[len(e.Args)-1]
	g.zeroScratch(off, t.StorageSize())
	g.emit(storeImm(regScratch, int16(off), int64(t.Size), asm.DWord))
	at := g.typ(addr)
	switch {
	case at.IsScalar():
		if _, err := g.expr(addr); err != nil {
			return err
		}
		g.emit(asm.StoreMem(regScratch, int16(off+8), asm.R0, asm.Word))
	case g.info.mem[addr] != nil:
		return g.readInto(addr, off+8, t.Size)
	default:
		return g.packBytes(addr, at, off+8)
	}
	return nil
}

// placePton stores pton()'s bytes, one per element.
func (g *gen) placePton(n lang.Expr, t *Type, off int) error {
	ip := net.ParseIP(n.(*lang.Call).Args[0].(*lang.StrLit).Value)
	if len(t.Elems) == 4 {
		ip = ip.To4()
	} else {
		ip = ip.To16()
	}
	for i, b := range ip {
		g.emit(storeImm(regScratch, int16(off+8*i), int64(b), asm.DWord))
	}
	return nil
}

// placeMacaddr stores macaddr()'s 6 bytes, read from user memory.
func (g *gen) placeMacaddr(n lang.Expr, t *Type, off int) error {
	a := n.(*lang.Call).Args[0]
	g.zeroScratch(off, t.StorageSize())
	g.emit(storeImm(regScratch, int16(off), 6, asm.DWord))
	if g.info.mem[a] != nil {
		return g.readInto(a, off+8, 6)
	}
	if _, err := g.expr(a); err != nil {
		return err
	}
	g.emit(asm.Mov.Reg(asm.R3, asm.R0), asm.Mov.Imm(asm.R2, 6))
	g.scratchPtr(asm.R1, off+8)
	g.emit(asm.FnProbeReadUser.Call())
	return nil
}

// readInto copies n bytes of an expression in user memory to scratch.
func (g *gen) readInto(e lang.Expr, off, n int) error {
	if err := g.memAddr(e); err != nil {
		return err
	}
	g.emit(asm.Mov.Reg(asm.R3, asm.R0), asm.Mov.Imm(asm.R2, int32(n)))
	g.scratchPtr(asm.R1, off)
	g.emit(asm.FnProbeReadUser.Call())
	return nil
}

// packBytes stores the elements of an array value of bytes as bytes.
func (g *gen) packBytes(e lang.Expr, t *Type, off int) error {
	tmp, err := g.placed(e, e)
	if err != nil {
		return err
	}
	for i := range t.Elems {
		g.emit(
			asm.LoadMem(asm.R1, regScratch, int16(tmp+8*i), asm.DWord),
			asm.StoreMem(regScratch, int16(off+i), asm.R1, asm.Byte),
		)
	}
	return nil
}

// strlen counts a string value's bytes before its NUL.
func (g *gen) strlen(n lang.Expr) error {
	a := n.(*lang.Call).Args[0]
	t := g.typ(a)
	off, err := g.inScratch(a, n)
	if err != nil {
		return err
	}
	if t.Size > maxStrlenLoop {
		// A long string: bpf_probe_read_kernel_str copies it onto itself
		// and returns its length with the NUL, where a loop over its
		// bytes would outgrow what the verifier walks.
		done := g.label("slend")
		g.scratchPtr(asm.R1, off)
		g.emit(asm.Mov.Imm(asm.R2, int32(t.Size)), asm.Mov.Reg(asm.R3, asm.R1), asm.FnProbeReadKernelStr.Call(),
			asm.Sub.Imm(asm.R0, 1),
			asm.JSGE.Imm(asm.R0, 0, done),
			asm.Mov.Imm(asm.R0, 0))
		g.mark(done)
		return nil
	}
	top, done := g.label("slen"), g.label("slend")
	g.emit(asm.Mov.Imm(asm.R0, 0))
	g.mark(top)
	g.emit(
		asm.JGE.Imm(asm.R0, int32(t.Size), done),
		asm.Mov.Reg(asm.R1, regScratch),
		asm.Add.Reg(asm.R1, asm.R0),
		asm.LoadMem(asm.R1, asm.R1, int16(off), asm.Byte),
		asm.JEq.Imm(asm.R1, 0, done),
		asm.Add.Imm(asm.R0, 1),
		asm.Ja.Label(top),
	)
	g.mark(done)
	return nil
}

// maxStrlenLoop is the longest string strlen() measures with a loop.
const maxStrlenLoop = 1025

// inScratch returns where non-scalar e is in the scratch area: a
// $variable where it lives, anything else placed (placed).
func (g *gen) inScratch(e lang.Expr, n lang.Node) (int, error) {
	if v, ok := e.(*lang.Var); ok {
		return g.varOff[v.Name], nil
	}
	return g.placed(e, n)
}

// placed places e in a new scratch region of its size and returns the
// region; n is the node errors point at.
func (g *gen) placed(e lang.Expr, n lang.Node) (int, error) {
	off, err := g.allocScratch(g.typ(e).StorageSize())
	if err != nil {
		return 0, g.wrap(n, err)
	}
	return off, g.place(e, off)
}
