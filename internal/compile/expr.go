package compile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// builtinTypes are the identifiers that read process or probe state.
var builtinTypes = map[string]*Type{
	"pid": tU32, "tid": tU32, "uid": tU32, "gid": tU32, "cpu": tU32,
	"nsecs": tU64, "elapsed": tU64, "cgroup": tU64, "cpid": tU32,
	"retval": tS64, "func": tFunc, "probe": tProbe, "ustack": tStack,
	"sp": tU64, "ip": tU64,
}

// typeOf computes the type of an expression without generating code.
func (g *gen) typeOf(e lang.Expr) (*Type, error) {
	if isGoExpr(e) {
		return g.goType(e)
	}
	switch e := e.(type) {
	case *lang.IntLit:
		return tS64, nil
	case *lang.StrLit:
		return strType(g.strLitSize(e.Value)), nil
	case *lang.Positional:
		return tS64, nil
	case *lang.Var:
		v, ok := g.vars[e.Name]
		if !ok {
			return nil, g.c.errorf(e, "assign it first: $"+e.Name+" = ...", "$%s is used before it is assigned", e.Name)
		}
		return v.typ, nil
	case *lang.MapExpr:
		m, ok := g.c.maps[e.Name]
		if !ok {
			return nil, g.c.errorf(e, "assign it somewhere: @"+e.Name+"[...] = ...", "map @%s is never assigned", e.Name)
		}
		if m.Value.Kind == KindAgg {
			return nil, g.c.errorf(e, "aggregations are kept per CPU; keep a plain map instead: @"+e.Name+"[...] += 1", "the value of %s() map @%s cannot be read in a probe", m.Value.Agg, e.Name)
		}
		return m.Value, nil
	case *lang.Ident:
		return g.identType(e)
	case *lang.Call:
		return g.callType(e)
	case *lang.Unary:
		switch e.Op {
		case "*":
			t, err := g.typeOf(e.X)
			if err != nil {
				return nil, err
			}
			if t.Kind != KindInt || t.Pointee == nil {
				return nil, g.c.errorf(e, "cast it to a pointer first: *(uint64*)(...)", "cannot dereference %v", t)
			}
			return t.Pointee, nil
		case "!":
			return tU64, nil
		case "&":
			return nil, g.c.errorf(e, "", "cannot take the address of a value in the probe")
		}
		t, err := g.scalarType(e.X)
		if err != nil {
			return nil, err
		}
		if e.Op == "-" {
			return &Type{Kind: KindInt, Size: 8, Signed: true}, nil
		}
		return t, nil
	case *lang.IncDec:
		return tS64, nil
	case *lang.Binary:
		return g.binaryType(e)
	case *lang.Ternary:
		a, err := g.typeOf(e.Then)
		if err != nil {
			return nil, err
		}
		b, err := g.typeOf(e.Else)
		if err != nil {
			return nil, err
		}
		if a.IsScalar() && b.IsScalar() {
			return promote(a, b), nil
		}
		if !sameShape(a, b) {
			if a.Kind == KindString && b.Kind == KindString {
				return strType(max(a.Size, b.Size)), nil
			}
			return nil, g.c.errorf(e, "", "the branches of ?: have different types: %v and %v", a, b)
		}
		return a, nil
	case *lang.Cast:
		return g.castType(e)
	case *lang.Index:
		t, err := g.typeOf(e.X)
		if err != nil {
			return nil, err
		}
		if t.Kind != KindInt || t.Pointee == nil {
			return nil, g.c.errorf(e, "cast it to a pointer first: ((int32*)p)[i]", "cannot index %v", t)
		}
		return t.Pointee, nil
	case *lang.Tuple:
		tt := &Type{Kind: KindTuple}
		for _, x := range e.Elems {
			t, err := g.typeOf(x)
			if err != nil {
				return nil, err
			}
			if t.Kind == KindTuple || t.Kind == KindVoid || t.Kind == KindAgg || t.Kind == KindMapLen {
				return nil, g.c.errorf(x, "", "a tuple cannot hold %v", t)
			}
			tt.Elems = append(tt.Elems, t)
		}
		return tt, nil
	case *lang.Field:
		return nil, g.c.errorf(e, "use argN and casts; args.NAME needs DWARF of a Go function", "field access is not supported here")
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func (g *gen) scalarType(e lang.Expr) (*Type, error) {
	t, err := g.typeOf(e)
	if err != nil {
		return nil, err
	}
	if !t.IsScalar() {
		return nil, g.c.errorf(e, "", "expected an integer, got %v", t)
	}
	return t, nil
}

func (g *gen) strLitSize(s string) int {
	n := len(s) + 1
	if n < g.c.opts.StrSize {
		n = g.c.opts.StrSize
	}
	return n
}

// promote applies C's usual arithmetic conversions to two 64-bit operands:
// the result is signed only when both are.
func promote(a, b *Type) *Type {
	if a.Signed && b.Signed {
		return tS64
	}
	return tU64
}

func (g *gen) binaryType(e *lang.Binary) (*Type, error) {
	a, err := g.typeOf(e.X)
	if err != nil {
		return nil, err
	}
	b, err := g.typeOf(e.Y)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "==", "!=":
		if a.Kind == KindString && b.Kind == KindString {
			return tU64, nil
		}
	case "&&", "||":
		if !a.IsScalar() || !b.IsScalar() {
			return nil, g.c.errorf(e, "", "%s needs integers, got %v and %v", e.Op, a, b)
		}
		return tU64, nil
	}
	if a.Kind == KindMapLen || b.Kind == KindMapLen {
		return nil, g.c.errorf(e, lenHint, "len() cannot be computed with")
	}
	if !a.IsScalar() || !b.IsScalar() {
		return nil, g.c.errorf(e, "compare strings with == or strncmp()", "operator %s needs integers, got %v and %v", e.Op, a, b)
	}
	switch e.Op {
	case "==", "!=", "<", "<=", ">", ">=":
		return tU64, nil
	case "+", "-":
		if a.Pointee != nil && b.Pointee == nil {
			return a, nil
		}
	}
	return promote(a, b), nil
}

func (g *gen) castType(e *lang.Cast) (*Type, error) {
	base, ok := intTypes[e.Type.Name]
	if !ok {
		return nil, g.c.errorf(e, "use int8..int64, uint8..uint64, char, int, long or a pointer to one", "unknown type %q", e.Type.Name)
	}
	if e.Type.Ptr == 0 {
		if base.Size == 1 && e.Type.Name == "void" {
			return nil, g.c.errorf(e, "", "cannot cast to void")
		}
		if _, err := g.scalarType(e.X); err != nil {
			return nil, err
		}
		return base, nil
	}
	if _, err := g.scalarType(e.X); err != nil {
		return nil, err
	}
	t := base
	for i := 0; i < e.Type.Ptr; i++ {
		t = &Type{Kind: KindInt, Size: 8, Pointee: t}
	}
	return t, nil
}

func (g *gen) identType(e *lang.Ident) (*Type, error) {
	if t, ok, err := g.goIdentType(e); ok {
		return t, err
	}
	if t, ok := builtinTypes[e.Name]; ok {
		switch e.Name {
		case "retval":
			if !g.shape.ret {
				return nil, g.c.errorf(e, "use a uretprobe", "retval is only available in uretprobe probes")
			}
		case "ustack":
			g.c.plan.HasStacks = true
		}
		return t, nil
	}
	if e.Name == "comm" {
		return strType(16), nil
	}
	if n, ok := argIndex(e.Name); ok {
		if g.shape.ret {
			return nil, g.c.errorf(e, "save it at entry: uprobe:...{ @a[tid] = "+e.Name+"; }", "%s is not available in a uretprobe", e.Name)
		}
		if g.special != nil {
			return nil, g.c.errorf(e, "", "%s is only available in uprobe and usdt probes", e.Name)
		}
		if g.shape.kind == lang.KindUSDT {
			return g.usdtArgType(e, n)
		}
		return tU64, nil
	}
	return nil, g.c.errorf(e, "builtins are pid, tid, comm, uid, gid, cpu, nsecs, elapsed, cgroup, cpid, func, probe, retval, arg0..argN, ustack", "unknown identifier %q", e.Name)
}

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
// Non-scalar values are rejected here; use place.
func (g *gen) expr(e lang.Expr) (*Type, error) {
	defer func(p lang.Pos) { g.pos = p }(g.at(e))
	t, err := g.typeOf(e)
	if err != nil {
		return nil, err
	}
	if !t.IsScalar() {
		return nil, g.c.errorf(e, "", "%v cannot be used as a number here", t)
	}
	if isGoExpr(e) {
		return t, g.goScalar(e, t)
	}
	switch e := e.(type) {
	case *lang.IntLit:
		g.emit(asm.LoadImm(asm.R0, int64(e.Value), asm.DWord))
	case *lang.Positional:
		return nil, g.c.errorf(e, "", "positional parameter $%d was not given on the command line", e.N)
	case *lang.Var:
		g.emit(asm.LoadMem(asm.R0, asm.RFP, int16(g.vars[e.Name].off), asm.DWord))
	case *lang.MapExpr:
		return t, g.mapRead(e, -1)
	case *lang.Ident:
		return t, g.ident(e)
	case *lang.Call:
		_, err := g.call(e, false)
		return t, err
	case *lang.Unary:
		return t, g.unary(e, t)
	case *lang.IncDec:
		if _, err := g.incDec(e); err != nil {
			return nil, err
		}
		// The value of x++ as an expression: the new value, read back.
		return g.expr(e.X)
	case *lang.Binary:
		return t, g.binary(e)
	case *lang.Ternary:
		elseLbl, end := g.label("telse"), g.label("tend")
		if _, err := g.expr(e.Cond); err != nil {
			return nil, err
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
		if _, err := g.expr(e.X); err != nil {
			return nil, err
		}
		if t.Pointee == nil {
			g.truncate(asm.R0, t)
		}
	case *lang.Index:
		// p[i] is *(p + i).
		return t, g.unary(&lang.Unary{Pos: e.Pos, Op: "*", X: &lang.Binary{Pos: e.Pos, Op: "+", X: e.X, Y: e.Index}}, t)
	default:
		return nil, g.c.errorf(e, "", "unsupported expression")
	}
	return t, nil
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
		return g.wrap(e, g.readUser(t))
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
	case "+":
	default:
		return g.c.errorf(e, "", "unknown operator %s", e.Op)
	}
	return nil
}

// readUser reads a value of type t from the user address in R0 into R0,
// with exactly t's width, sign-extending signed types. A failed read gives 0.
func (g *gen) readUser(t *Type) error {
	size := t.Size
	if t.Kind != KindInt {
		return fmt.Errorf("cannot read a %v from memory as a number", t)
	}
	slot, err := g.pushStack(8)
	if err != nil {
		return err
	}
	g.emit(
		storeImm(asm.RFP, slot, 0, asm.DWord),
		asm.Mov.Reg(asm.R3, asm.R0),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(slot)),
		asm.Mov.Imm(asm.R2, int32(size)),
		asm.FnProbeReadUser.Call(),
		asm.LoadMem(asm.R0, asm.RFP, slot, sizeOf(size)),
	)
	g.popStack(8)
	if t.Signed {
		g.truncate(asm.R0, t)
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

var aluOps = map[string]asm.ALUOp{
	"+": asm.Add, "-": asm.Sub, "*": asm.Mul, "/": asm.Div, "%": asm.Mod,
	"&": asm.And, "|": asm.Or, "^": asm.Xor, "<<": asm.LSh, ">>": asm.RSh,
}

func (g *gen) binary(e *lang.Binary) error {
	switch e.Op {
	case "&&", "||":
		return g.logical(e)
	}
	a, err := g.typeOf(e.X)
	if err != nil {
		return err
	}
	b, err := g.typeOf(e.Y)
	if err != nil {
		return err
	}
	if a.Kind == KindString && b.Kind == KindString {
		return g.strEqual(e, a, b)
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
		if (e.Op == "+" || e.Op == "-") && a.Pointee != nil && b.Pointee == nil && a.Pointee.Size > 1 {
			g.emit(asm.Mul.Imm(asm.R2, int32(a.Pointee.Size)))
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
		return g.c.errorf(e, "", "unknown operator %s", e.Op)
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
	offA, err := g.allocScratch(n)
	if err != nil {
		return g.wrap(e, err)
	}
	offB, err := g.allocScratch(n)
	if err != nil {
		return g.wrap(e, err)
	}
	g.zeroScratch(offA, n)
	g.zeroScratch(offB, n)
	if err := g.place(e.X, offA); err != nil {
		return err
	}
	if err := g.place(e.Y, offB); err != nil {
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

// ident loads a builtin into R0.
func (g *gen) ident(e *lang.Ident) error {
	if ok, err := g.goIdent(e); ok {
		return err
	}
	switch e.Name {
	case "pid":
		g.emit(asm.FnGetCurrentPidTgid.Call(), asm.RSh.Imm(asm.R0, 32))
	case "tid":
		g.emit(asm.FnGetCurrentPidTgid.Call(), asm.LSh.Imm(asm.R0, 32), asm.RSh.Imm(asm.R0, 32))
	case "uid":
		g.emit(asm.FnGetCurrentUidGid.Call(), asm.LSh.Imm(asm.R0, 32), asm.RSh.Imm(asm.R0, 32))
	case "gid":
		g.emit(asm.FnGetCurrentUidGid.Call(), asm.RSh.Imm(asm.R0, 32))
	case "cpu":
		g.emit(asm.FnGetSmpProcessorId.Call())
	case "nsecs":
		g.emit(asm.FnKtimeGetNs.Call())
	case "elapsed":
		g.emit(asm.FnKtimeGetNs.Call(), asm.LoadImm(asm.R1, int64(g.c.opts.StartNanos), asm.DWord), asm.Sub.Reg(asm.R0, asm.R1))
	case "cgroup":
		g.emit(asm.FnGetCurrentCgroupId.Call())
	case "cpid":
		g.emit(asm.LoadImm(asm.R0, int64(g.c.opts.CPID), asm.DWord))
	case "retval":
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs["ax"], asm.DWord))
	case "sp":
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs["sp"], asm.DWord))
	case "ip":
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs["ip"], asm.DWord))
		g.unmoveIP()
	case "func", "probe":
		if g.special != nil {
			g.emit(asm.Mov.Imm(asm.R0, -1))
			return nil
		}
		g.emit(asm.Mov.Reg(asm.R1, regCtx), asm.FnGetAttachCookie.Call())
	default:
		n, ok := argIndex(e.Name)
		if !ok {
			return g.c.errorf(e, "", "unknown identifier %q", e.Name)
		}
		if g.shape.kind == lang.KindUSDT {
			return g.usdtArg(e, n)
		}
		return g.sysvArg(n)
	}
	return nil
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
	return g.readUser(tU64)
}
