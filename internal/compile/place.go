package compile

import (
	"encoding/binary"
	"fmt"

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
		g.copyScratch(off, g.varOff[e.Name], t.StorageSize())
		return nil
	case *lang.Ident:
		return lookupBuiltin(e.Name, false).place(g, e, t, off)
	case *lang.Call:
		return lookupBuiltin(e.Name, true).place(g, e, t, off)
	case *lang.Tuple:
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

func (g *gen) placeComm(_ lang.Expr, _ *Type, off int) error {
	g.zeroScratch(off, 16)
	g.scratchPtr(asm.R1, off)
	g.emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call())
	return nil
}

// placeMapLen stores len(@m)'s map index; userspace counts the keys.
func (g *gen) placeMapLen(e lang.Expr, _ *Type, off int) error {
	m := g.c.maps[e.(*lang.Call).Args[0].(*lang.MapExpr).Name]
	g.emit(storeImm(regScratch, int16(off), int64(m.Index), asm.DWord))
	return nil
}

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
	if _, err := g.expr(e.Args[1]); err != nil {
		return err
	}
	clamp := g.label("bclamp")
	g.emit(
		asm.JLE.Imm(asm.R0, int32(t.Size), clamp),
		asm.Mov.Imm(asm.R0, int32(t.Size)),
	)
	g.mark(clamp)
	g.emit(asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
	if _, err := g.expr(e.Args[0]); err != nil {
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

// placeStack stores the user stack id and the pid.
func (g *gen) placeStack(off int) error {
	g.emit(
		asm.Mov.Reg(asm.R1, regCtx),
		asm.LoadMapPtr(asm.R2, 0).WithReference(MapStacks),
		asm.Mov.Imm(asm.R3, 1<<8), // BPF_F_USER_STACK
		asm.FnGetStackid.Call(),
		asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(regScratch, int16(off+8), asm.R0, asm.DWord),
	)
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
	lit := e.Args[1].(*lang.StrLit)
	offA, err := g.allocScratch(a.StorageSize())
	if err != nil {
		return g.wrap(e, err)
	}
	if err := g.place(e.Args[0], offA); err != nil {
		return err
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
