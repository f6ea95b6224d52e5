package compile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt/usdtbpf"
)

func argIndex(name string) (int, bool) {
	if !strings.HasPrefix(name, "arg") {
		return 0, false
	}
	n, err := strconv.Atoi(name[3:])
	if err != nil || n < 0 || n > 31 {
		return 0, false
	}
	return n, true
}

// expr generates code for a scalar expression, leaving its value in R0.
// Non-scalar values are placed in scratch with place.
func (g *gen) expr(e lang.Expr) (*Type, error) {
	defer func(p lang.Pos) { g.pos = p }(g.at(e))
	t := g.typ(e)
	if a := g.info.cargs[e]; a != nil && g.info.mem[e] == nil {
		return t, g.cArgScalar(e, a, t)
	}
	if g.goArgs(e) {
		return t, g.goScalar(e, t)
	}
	if g.info.mem[e] != nil {
		return t, g.memScalar(e)
	}
	if _, ok := g.info.elems[e]; ok {
		return t, g.elemPlace(e, -1)
	}
	switch e := e.(type) {
	case *lang.IntLit:
		g.emit(asm.LoadImm(asm.R0, int64(e.Value), asm.DWord))
	case *lang.BlockExpr:
		if err := g.blockStmts(e); err != nil {
			return nil, err
		}
		return g.expr(e.Value)
	case *lang.Var:
		g.loadVar(asm.R0, e.Name)
	case *lang.MapExpr:
		return t, g.mapRead(e, -1)
	case *lang.Ident:
		if v, ok := g.info.consts[e]; ok { // an enumerator
			g.emit(asm.LoadImm(asm.R0, v, asm.DWord))
			return t, nil
		}
		return t, lookupBuiltin(e.Name, false).emit(g, e)
	case *lang.Call:
		return t, lookupBuiltin(e.Name, true).emit(g, e)
	case *lang.Unary:
		return t, g.unary(e, t)
	case *lang.IncDec:
		return t, g.incDec(e)
	case *lang.Binary:
		return t, g.binary(e)
	case *lang.Ternary:
		elseLbl, end := g.label("telse"), g.label("tend")
		if _, err := g.expr(e.Cond); err != nil {
			return nil, err
		}
		if e.Then == nil {
			// cond ?: else: cond's value unless it is zero.
			g.emit(asm.JNE.Imm(asm.R0, 0, end))
			if _, err := g.expr(e.Else); err != nil {
				return nil, err
			}
			g.mark(end)
			return t, nil
		}
		g.emit(asm.JEq.Imm(asm.R0, 0, elseLbl))
		if _, err := g.expr(e.Then); err != nil {
			return nil, err
		}
		g.emit(asm.Ja.Label(end))
		g.mark(elseLbl)
		if _, err := g.expr(e.Else); err != nil {
			return nil, err
		}
		g.mark(end)
	case *lang.Cast:
		if g.info.arrayInts[e] {
			return t, g.arrayToInt(e, t)
		}
		if _, err := g.expr(e.X); err != nil {
			return nil, err
		}
		if t.Pointee == nil {
			g.truncate(asm.R0, t)
		}
	case *lang.Index:
		if g.info.strIndex[e] {
			return t, g.strIndex(e)
		}
		// p[i] is *(p + i), scaled by the element's size.
		if err := g.pointerPlus(e.X, e.Index, "+"); err != nil {
			return nil, err
		}
		return t, g.wrap(e, g.readUser(t, e))
	default:
		return nil, fmt.Errorf("compile: %T is not a number", e)
	}
	return t, nil
}

// pointerPlus leaves p op i in R0, i scaled by the size of what p points to.
func (g *gen) pointerPlus(p, i lang.Expr, op string) error {
	if _, err := g.expr(p); err != nil {
		return err
	}
	slot, err := g.spill()
	if err != nil {
		return g.wrap(p, err)
	}
	if _, err := g.expr(i); err != nil {
		return err
	}
	g.emit(asm.Mov.Reg(asm.R2, asm.R0), asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord))
	g.popStack(8)
	g.scale(asm.R2, g.typ(p))
	g.emit(aluOps[op].Reg(asm.R1, asm.R2), asm.Mov.Reg(asm.R0, asm.R1))
	return nil
}

// scale multiplies reg by the size of what a pointer type points to, as C
// does for pointer arithmetic.
func (g *gen) scale(reg asm.Register, ptr *Type) {
	if n := pointeeSize(ptr); n > 1 {
		g.emit(asm.Mul.Imm(reg, int32(n)))
	}
}

// pointeeSize is the size of what a pointer points to, as C counts it
// for pointer arithmetic: a struct's size in memory, not its value's.
func pointeeSize(ptr *Type) int {
	switch {
	case ptr.Pointee == nil:
		return 0
	case ptr.Pointee.C != nil:
		return ptr.Pointee.C.size
	}
	return ptr.Pointee.Size
}

// incDec generates x++ and x-- used as a value: the variable or map
// element changes, and the value is the old one for the postfix forms and
// the new one for the prefix forms, as in C.
func (g *gen) incDec(e *lang.IncDec) error {
	delta := int32(1)
	if e.Op == "--" {
		delta = -1
	}
	t := g.typ(e)
	if n := pointeeSize(t); n > 1 {
		delta *= int32(n)
	}
	switch x := e.X.(type) {
	case *lang.Var:
		g.loadVar(asm.R0, x.Name)
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.Add.Imm(asm.R1, delta),
		)
		g.storeVar(x.Name, asm.R1)
		if !e.Post {
			g.emit(asm.Mov.Reg(asm.R0, asm.R1))
		}
		return nil
	case *lang.MapExpr:
		m := g.c.maps[x.Name]
		keyOff, err := g.buildKey(x, m)
		if err != nil {
			return err
		}
		skip := g.label("incskip")
		if err := g.lookupOrInit(m, keyOff, skip); err != nil {
			return g.wrap(e, err)
		}
		// R0 points at the value: read it, then add atomically, so that
		// counts stay exact across CPUs.
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Mov.Imm(asm.R2, delta),
			asm.StoreXAdd(asm.R0, asm.R2, asm.DWord),
			asm.Mov.Reg(asm.R0, asm.R1),
		)
		if !e.Post {
			g.emit(asm.Add.Imm(asm.R0, delta))
		}
		g.mark(skip)
		return nil
	}
	return fmt.Errorf("compile: %s of %T", e.Op, e.X)
}

// truncate narrows reg to the size of t, sign-extending signed types.
func (g *gen) truncate(reg asm.Register, t *Type) {
	if t.Size >= 8 {
		return
	}
	shift := int32(64 - 8*t.Size)
	g.emit(asm.LSh.Imm(reg, shift))
	if t.Signed {
		g.emit(asm.ArSh.Imm(reg, shift))
	} else {
		g.emit(asm.RSh.Imm(reg, shift))
	}
}

// spill saves R0 in a new stack slot and returns the slot.
func (g *gen) spill() (int16, error) {
	off, err := g.pushStack(8)
	if err != nil {
		return 0, err
	}
	g.emit(asm.StoreMem(asm.RFP, off, asm.R0, asm.DWord))
	return off, nil
}

func (g *gen) unary(e *lang.Unary, t *Type) error {
	switch e.Op {
	case "*":
		if _, err := g.expr(e.X); err != nil {
			return err
		}
		if g.typ(e.X).Kernel {
			return g.wrap(e, g.readKernel(t, e))
		}
		return g.wrap(e, g.readUser(t, e))
	case "&": // &$x: its place in scratch
		g.scratchPtr(asm.R0, g.varOff[e.X.(*lang.Var).Name])
		return nil
	}
	if _, err := g.expr(e.X); err != nil {
		return err
	}
	switch e.Op {
	case "-":
		g.emit(asm.Neg.Imm(asm.R0, 0))
	case "~":
		g.emit(asm.Xor.Imm(asm.R0, -1))
	case "!":
		one := g.label("not")
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.Mov.Imm(asm.R0, 1),
			asm.JEq.Imm(asm.R1, 0, one),
			asm.Mov.Imm(asm.R0, 0),
		)
		g.mark(one)
	}
	return nil
}

// readUser reads a value of type t from the user address in R0 into R0,
// with exactly t's width, sign-extending signed types. A failed read gives
// 0; with -k it also warns at the read's place, at (nil: a read of
// uscope's own, such as a Go argument's spill slot, that never warns).
func (g *gen) readUser(t *Type, at lang.Node) error {
	return g.readWith(t, at, asm.FnProbeReadUser, "probe_read_user")
}

// readKernel is readUser for uscope's own memory (&$x).
func (g *gen) readKernel(t *Type, at lang.Node) error {
	return g.readWith(t, at, asm.FnProbeReadKernel, "probe_read_kernel")
}

// readWith emits the read USDT arguments use (usdtbpf.ReadUser) through
// helper fn.
func (g *gen) readWith(t *Type, at lang.Node, fn asm.BuiltinFunc, name string) error {
	if t.Kind != KindInt {
		return fmt.Errorf("cannot read a %v from memory as a number", t)
	}
	slot, err := g.pushStack(8)
	if err != nil {
		return err
	}
	defer g.popStack(8)
	for _, ins := range usdtbpf.ReadUser(t.Size, t.Signed, slot) {
		if !ins.IsBuiltinCall() || ins.Constant != int64(asm.FnProbeReadUser) {
			g.emit(ins)
			continue
		}
		g.emit(fn.Call())
		if err := g.helperFailed(at, name); err != nil {
			return err
		}
	}
	return nil
}

func sizeOf(n int) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 4:
		return asm.Word
	}
	return asm.DWord
}

// arrayToInt leaves in R0 the bytes of an array of integers as one
// integer: read from user memory when the array is there, else put
// together from the value's elements, the first the lowest (little
// endian, as x86-64 and arm64 lay them out).
func (g *gen) arrayToInt(e *lang.Cast, t *Type) error {
	if g.info.mem[e.X] != nil {
		if err := g.memAddr(e.X); err != nil {
			return err
		}
		return g.wrap(e, g.readUser(t, e))
	}
	xt := g.typ(e.X)
	off, err := g.placed(e.X, e)
	if err != nil {
		return err
	}
	g.emit(asm.Mov.Imm(asm.R0, 0))
	shift := 0
	for i, el := range xt.Elems {
		g.emit(asm.LoadMem(asm.R1, regScratch, int16(off+8*i), asm.DWord))
		if el.Size < 8 {
			g.emit(asm.LSh.Imm(asm.R1, int32(64-8*el.Size)), asm.RSh.Imm(asm.R1, int32(64-8*el.Size)))
		}
		if shift > 0 {
			g.emit(asm.LSh.Imm(asm.R1, int32(shift)))
		}
		g.emit(asm.Or.Reg(asm.R0, asm.R1))
		shift += 8 * el.Size
	}
	g.truncate(asm.R0, t)
	return nil
}

// placePair places both operands of a comparison in zeroed slots of n
// bytes.
func (g *gen) placePair(e *lang.Binary, n int) (int, int, error) {
	offA, err := g.allocScratch(n)
	if err != nil {
		return 0, 0, g.wrap(e, err)
	}
	offB, err := g.allocScratch(n)
	if err != nil {
		return 0, 0, g.wrap(e, err)
	}
	g.zeroScratch(offA, n)
	g.zeroScratch(offB, n)
	if err := g.place(e.X, offA); err != nil {
		return 0, 0, err
	}
	return offA, offB, g.place(e.Y, offB)
}

// bytesEqual compares two buffers or two tuples of one shape for == and
// !=: each is placed in a zeroed slot of the larger size, and the slots
// are compared word by word (a buffer's length is its first word).
func (g *gen) bytesEqual(e *lang.Binary, a, b *Type) error {
	n := max(a.StorageSize(), b.StorageSize())
	offA, offB, err := g.placePair(e, n)
	if err != nil {
		return err
	}
	differ, done := g.label("bdiff"), g.label("bdone")
	for i := 0; i < n; i += 8 {
		g.emit(
			asm.LoadMem(asm.R1, regScratch, int16(offA+i), asm.DWord),
			asm.LoadMem(asm.R2, regScratch, int16(offB+i), asm.DWord),
			asm.JNE.Reg(asm.R1, asm.R2, differ),
		)
	}
	eq, ne := int32(1), int32(0)
	if e.Op == "!=" {
		eq, ne = 0, 1
	}
	g.emit(
		asm.Mov.Imm(asm.R0, eq),
		asm.Ja.Label(done),
		asm.Mov.Imm(asm.R0, ne).WithSymbol(differ),
	)
	g.mark(done)
	return nil
}

var aluOps = map[string]asm.ALUOp{
	"+": asm.Add, "-": asm.Sub, "*": asm.Mul, "/": asm.Div, "%": asm.Mod,
	"&": asm.And, "|": asm.Or, "^": asm.Xor, "<<": asm.LSh, ">>": asm.RSh,
}

func (g *gen) binary(e *lang.Binary) error {
	switch e.Op {
	case "&&", "||":
		return g.logical(e)
	}
	a, b := g.typ(e.X), g.typ(e.Y)
	if a.Kind == KindString && b.Kind == KindString {
		return g.strEqual(e, a, b)
	}
	if a.Kind == KindBuf || a.Kind == KindTuple {
		return g.bytesEqual(e, a, b)
	}
	if _, err := g.expr(e.X); err != nil {
		return err
	}
	slot, err := g.spill()
	if err != nil {
		return g.wrap(e, err)
	}
	if _, err := g.expr(e.Y); err != nil {
		return err
	}
	g.emit(
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord),
	)
	g.popStack(8)
	signed := a.Signed && b.Signed
	if op, ok := aluOps[e.Op]; ok {
		// Pointer arithmetic scales by the pointee's size, as in C.
		if (e.Op == "+" || e.Op == "-") && b.Pointee == nil {
			g.scale(asm.R2, a)
		}
		if signed {
			switch e.Op {
			case "/":
				op = asm.SDiv
			case "%":
				op = asm.SMod
			case ">>":
				op = asm.ArSh
			}
		}
		if e.Op == "/" || e.Op == "%" {
			// A division by zero gives 1, as bpftrace main's does (BPF's
			// own gives 0, and x for %).
			ok, done := g.label("divok"), g.label("divdone")
			g.emit(asm.JNE.Imm(asm.R2, 0, ok))
			if err := g.runtimeWarning(e, "Divide or modulo by 0 detected. This can lead to unexpected results. 1 is being used as the result."); err != nil {
				return err
			}
			g.emit(asm.Mov.Imm(asm.R0, 1), asm.Ja.Label(done))
			g.mark(ok)
			g.emit(op.Reg(asm.R1, asm.R2), asm.Mov.Reg(asm.R0, asm.R1))
			g.mark(done)
			return nil
		}
		g.emit(op.Reg(asm.R1, asm.R2), asm.Mov.Reg(asm.R0, asm.R1))
		return nil
	}
	var jop asm.JumpOp
	switch e.Op {
	case "==":
		jop = asm.JEq
	case "!=":
		jop = asm.JNE
	case "<":
		jop = pick(signed, asm.JSLT, asm.JLT)
	case "<=":
		jop = pick(signed, asm.JSLE, asm.JLE)
	case ">":
		jop = pick(signed, asm.JSGT, asm.JGT)
	case ">=":
		jop = pick(signed, asm.JSGE, asm.JGE)
	default:
		return fmt.Errorf("compile: operator %s", e.Op)
	}
	yes := g.label("cmp")
	g.emit(
		asm.Mov.Imm(asm.R0, 1),
		jop.Reg(asm.R1, asm.R2, yes),
		asm.Mov.Imm(asm.R0, 0),
	)
	g.mark(yes)
	return nil
}

func pick(signed bool, s, u asm.JumpOp) asm.JumpOp {
	if signed {
		return s
	}
	return u
}

func (g *gen) logical(e *lang.Binary) error {
	end := g.label("logic")
	if _, err := g.expr(e.X); err != nil {
		return err
	}
	if e.Op == "&&" {
		g.emit(asm.JEq.Imm(asm.R0, 0, end))
	} else {
		g.emit(asm.Mov.Imm(asm.R1, 1), asm.JNE.Imm(asm.R0, 0, end+"_t"))
	}
	if _, err := g.expr(e.Y); err != nil {
		return err
	}
	if e.Op == "||" {
		g.emit(asm.Ja.Label(end))
		g.emit(asm.Mov.Imm(asm.R0, 1).WithSymbol(end + "_t"))
	}
	g.mark(end)
	// Normalize to 0/1.
	one := g.label("bool")
	g.emit(asm.JEq.Imm(asm.R0, 0, one), asm.Mov.Imm(asm.R0, 1))
	g.mark(one)
	return nil
}

// strEqual compares two strings for equality (== and !=); both are placed
// zero-padded in scratch, so whole words compare.
func (g *gen) strEqual(e *lang.Binary, a, b *Type) error {
	n := max(a.StorageSize(), b.StorageSize())
	offA, offB, err := g.placePair(e, n)
	if err != nil {
		return err
	}
	differ, end := g.label("sne"), g.label("seq")
	// Compare byte by byte up to the first NUL of the left side, so that
	// bytes after the terminator (never written, still zero) do not matter.
	for i := 0; i < n; i++ {
		g.emit(
			asm.LoadMem(asm.R1, regScratch, int16(offA+i), asm.Byte),
			asm.LoadMem(asm.R2, regScratch, int16(offB+i), asm.Byte),
			asm.JNE.Reg(asm.R1, asm.R2, differ),
			asm.JEq.Imm(asm.R1, 0, end),
		)
	}
	g.emit(asm.Ja.Label(end))
	eq, ne := int32(1), int32(0)
	if e.Op == "!=" {
		eq, ne = 0, 1
	}
	done := g.label("sdone")
	g.emit(asm.Mov.Imm(asm.R0, ne).WithSymbol(differ), asm.Ja.Label(done))
	g.emit(asm.Mov.Imm(asm.R0, eq).WithSymbol(end))
	g.mark(done)
	return nil
}

func (g *gen) elapsed(lang.Expr) error {
	g.emit(asm.FnKtimeGetNs.Call(), asm.LoadImm(asm.R1, int64(g.c.opts.StartNanos), asm.DWord), asm.Sub.Reg(asm.R0, asm.R1))
	return nil
}

func (g *gen) cpid(lang.Expr) error {
	g.emit(asm.LoadImm(asm.R0, int64(g.c.opts.CPID), asm.DWord))
	return nil
}

func (g *gen) ipValue(lang.Expr) error {
	g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs["ip"], asm.DWord))
	g.unmoveIP()
	return nil
}

// siteName is func and probe: the site's cookie, which userspace prints as
// its function or probe name; in BEGIN, END and interval the special's
// own id, past the sites.
func (g *gen) siteName(lang.Expr) error {
	if g.special != nil {
		g.emit(asm.LoadImm(asm.R0, int64(len(g.c.plan.Sites)+g.special.Index), asm.DWord))
		return nil
	}
	if g.profileName() {
		return nil
	}
	g.emit(asm.Mov.Reg(asm.R1, regCtx), asm.FnGetAttachCookie.Call())
	return nil
}

// argValue loads argN as the site's convention says.
func (g *gen) argValue(e lang.Expr) error {
	n, _ := argIndex(e.(*lang.Ident).Name)
	switch {
	case g.shape.kind == lang.KindUSDT:
		return g.usdtArg(e.(*lang.Ident), n)
	case g.goSite() != nil:
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[goIntRegs[n]], asm.DWord))
		return nil
	}
	return g.sysvArg(n)
}

// sysvArg loads integer argument n of the SysV x86-64 calling convention at
// function entry: six registers, then the stack above the return address.
func (g *gen) sysvArg(n int) error {
	if n < len(sysvArgs) {
		g.emit(asm.LoadMem(asm.R0, regCtx, sysvArgs[n], asm.DWord))
		return nil
	}
	g.emit(
		asm.LoadMem(asm.R0, regCtx, ptRegs["sp"], asm.DWord),
		asm.Add.Imm(asm.R0, int32(8*(n-len(sysvArgs)+1))),
	)
	return g.readUser(tU64, nil)
}
