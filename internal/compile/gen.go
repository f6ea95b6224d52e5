package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

type instruction = asm.Instruction

func toAsm(insns []instruction) asm.Instructions { return asm.Instructions(insns) }

// Registers with a fixed role in every generated program.
const (
	regCtx     = asm.R6 // struct pt_regs *
	regScratch = asm.R7 // per-CPU scratch area
)

// x86-64 struct pt_regs offsets.
var ptRegs = map[string]int16{
	"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "rbp": 32, "bx": 40, "rbx": 40,
	"r11": 48, "r10": 56, "r9": 64, "r8": 72, "ax": 80, "rax": 80, "cx": 88, "rcx": 88,
	"dx": 96, "rdx": 96, "si": 104, "rsi": 104, "di": 112, "rdi": 112, "orig_ax": 120,
	"ip": 128, "rip": 128, "cs": 136, "flags": 144, "sp": 152, "rsp": 152, "ss": 160,
}

// SysV x86-64 integer argument registers.
var sysvArgs = []int16{112, 104, 96, 88, 72, 64}

// variable is a scratch variable ($x) of one program.
type variable struct {
	typ *Type
	// stack offset (negative, from R10) for scalars; scratch offset otherwise
	off int
}

// gen generates one BPF program.
type gen struct {
	c       *compiler
	probe   *lang.Probe
	name    string
	shape   shape
	sites   []int
	special *Special

	insns []instruction
	// posOf holds, for each instruction, the source position of the
	// statement or expression it was generated for.
	posOf    []lang.Pos
	pos      lang.Pos
	labels   int
	stack    int // bytes of stack in use (grows down from R10)
	maxStack int
	scratch  int // bytes of scratch in use
	vars     map[string]*variable
	exitLbl  string
	// inferring is set while map types are inferred: no code is kept.
	inferring bool
	// goParams caches the parameters of the program's Go function.
	goParams *goParams
}

func newGen(c *compiler, pr *lang.Probe, name string, sh shape, sites []int) *gen {
	return &gen{c: c, probe: pr, name: name, shape: sh, sites: sites, vars: map[string]*variable{}}
}

func (g *gen) emit(ins ...instruction) {
	g.insns = append(g.insns, ins...)
	for range ins {
		g.posOf = append(g.posOf, g.pos)
	}
}

// at sets the source position of the instructions emitted next and returns
// the previous one, to restore.
func (g *gen) at(n lang.Node) lang.Pos {
	old := g.pos
	if p := n.Position(); p.IsValid() {
		g.pos = p
	}
	return old
}

func (g *gen) label(prefix string) string {
	g.labels++
	return fmt.Sprintf("%s_%d", prefix, g.labels)
}

// mark attaches a label to the next instruction emitted.
func (g *gen) mark(lbl string) {
	g.emit(asm.Mov.Reg(asm.R0, asm.R0).WithSymbol(lbl))
}

// pushStack reserves n bytes (multiple of 8) of stack and returns the offset
// from R10.
func (g *gen) pushStack(n int) (int16, error) {
	n = align8(n)
	if g.stack+n > stackLimit {
		return 0, fmt.Errorf("expression too deep for the 512-byte BPF stack")
	}
	g.stack += n
	if g.stack > g.maxStack {
		g.maxStack = g.stack
	}
	return int16(-g.stack), nil
}

func (g *gen) popStack(n int) { g.stack -= align8(n) }

// allocScratch reserves n bytes of the per-CPU scratch area for the lifetime
// of the program and returns its offset.
func (g *gen) allocScratch(n int) (int, error) {
	n = align8(n)
	if g.scratch+n > scratchSize {
		return 0, fmt.Errorf("program needs more than %d bytes of scratch space for strings and records", scratchSize)
	}
	off := g.scratch
	g.scratch += n
	return off, nil
}

func (g *gen) wrap(n lang.Node, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*lang.Error); ok {
		return err
	}
	return g.c.prog.Errorf(n, nodeLen(n), "", "%v", err)
}

// program generates the whole program: prologue, predicate, body, exit.
func (g *gen) program() ([]instruction, error) {
	g.exitLbl = g.label("exit")
	// Prologue: keep ctx, find the scratch area.
	g.emit(asm.Mov.Reg(regCtx, asm.R1))
	if g.special != nil {
		// The trigger function's first argument says which special runs.
		g.emit(
			asm.LoadMem(asm.R1, regCtx, g.c.opts.TriggerArgOffset, asm.DWord),
			asm.JNE.Imm(asm.R1, int32(g.special.ID), g.exitLbl),
		)
	}
	keyOff, _ := g.pushStack(8)
	g.emit(
		storeImm(asm.RFP, keyOff, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(MapScratch),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(keyOff)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, g.exitLbl),
		asm.Mov.Reg(regScratch, asm.R0),
	)
	g.popStack(8)
	prologueEnd := len(g.insns)
	if g.probe.Pred != nil {
		t, err := g.expr(g.probe.Pred)
		if err != nil {
			return nil, err
		}
		if !t.IsScalar() {
			return nil, g.c.errorf(g.probe.Pred, "compare it, e.g. /str(arg0) == \"x\"/", "predicate must be an integer, not %v", t)
		}
		g.emit(asm.JEq.Imm(asm.R0, 0, g.exitLbl))
	}
	if err := g.block(g.probe.Body); err != nil {
		return nil, err
	}
	g.emit(
		asm.Mov.Imm(asm.R0, 0).WithSymbol(g.exitLbl),
		asm.Return(),
	)
	// Scalar variables may be assigned on one path only; zero their slots
	// up front so that every read is of initialized stack.
	var init []instruction
	for _, v := range g.vars {
		if v.typ.IsScalar() {
			init = append(init, storeImm(asm.RFP, int16(v.off), 0, asm.DWord))
		}
	}
	g.insns = append(g.insns[:prologueEnd], append(init, g.insns[prologueEnd:]...)...)
	g.posOf = append(g.posOf[:prologueEnd], append(make([]lang.Pos, len(init)), g.posOf[prologueEnd:]...)...)
	return g.insns, nil
}

func (g *gen) block(b *lang.Block) error {
	if b == nil {
		return nil
	}
	for _, s := range b.Stmts {
		if err := g.stmt(s); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) stmt(s lang.Stmt) error {
	defer func(p lang.Pos) { g.pos = p }(g.at(s))
	switch s := s.(type) {
	case *lang.Block:
		return g.block(s)
	case *lang.ExprStmt:
		_, err := g.exprStmt(s.X)
		return err
	case *lang.AssignStmt:
		return g.assign(s)
	case *lang.IfStmt:
		return g.ifStmt(s)
	case *lang.WhileStmt:
		top, end := g.label("while"), g.label("wend")
		g.mark(top)
		t, err := g.expr(s.Cond)
		if err != nil {
			return err
		}
		if !t.IsScalar() {
			return g.c.errorf(s.Cond, "", "loop condition must be an integer, not %v", t)
		}
		g.emit(asm.JEq.Imm(asm.R0, 0, end))
		if err := g.block(s.Body); err != nil {
			return err
		}
		g.emit(asm.Ja.Label(top))
		g.mark(end)
		return nil
	case *lang.UnrollStmt:
		lit, ok := s.Count.(*lang.IntLit)
		if !ok || lit.Value < 1 || lit.Value > 100 {
			return g.c.errorf(s.Count, "use a number from 1 to 100", "unroll needs a constant count")
		}
		for i := uint64(0); i < lit.Value; i++ {
			if err := g.block(s.Body); err != nil {
				return err
			}
		}
		return nil
	case *lang.ReturnStmt:
		g.emit(asm.Ja.Label(g.exitLbl))
		return nil
	}
	return fmt.Errorf("unknown statement %T", s)
}

func (g *gen) ifStmt(s *lang.IfStmt) error {
	t, err := g.expr(s.Cond)
	if err != nil {
		return err
	}
	if !t.IsScalar() {
		return g.c.errorf(s.Cond, "", "condition must be an integer, not %v", t)
	}
	elseLbl, end := g.label("else"), g.label("fi")
	g.emit(asm.JEq.Imm(asm.R0, 0, elseLbl))
	if err := g.block(s.Then); err != nil {
		return err
	}
	g.emit(asm.Ja.Label(end))
	g.mark(elseLbl)
	if s.Else != nil {
		if err := g.stmt(s.Else); err != nil {
			return err
		}
	}
	g.mark(end)
	return nil
}

// exprStmt evaluates an expression for its effect.
func (g *gen) exprStmt(e lang.Expr) (*Type, error) {
	if call, ok := e.(*lang.Call); ok {
		return g.call(call, true)
	}
	if inc, ok := e.(*lang.IncDec); ok {
		return g.incDec(inc)
	}
	return g.expr(e)
}

// assign compiles $x = v, @m[k] = v and their compound forms.
func (g *gen) assign(s *lang.AssignStmt) error {
	switch lhs := s.LHS.(type) {
	case *lang.Var:
		return g.assignVar(s, lhs)
	case *lang.MapExpr:
		return g.assignMap(s, lhs)
	}
	return g.c.errorf(s.LHS, "assign to a $variable or a @map", "cannot assign to this expression")
}

var compoundOps = map[string]string{
	"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>",
}

func (g *gen) assignVar(s *lang.AssignStmt, v *lang.Var) error {
	rhs := s.RHS
	if op, ok := compoundOps[s.Op]; ok {
		rhs = &lang.Binary{Pos: s.Pos, Op: op, X: v, Y: s.RHS}
	}
	t, err := g.typeOf(rhs)
	if err != nil {
		return err
	}
	if t.Kind == KindVoid || t.Kind == KindAgg {
		return g.c.errorf(s.RHS, "aggregations belong in maps: @x = count()", "cannot assign %v to $%s", t, v.Name)
	}
	vr, ok := g.vars[v.Name]
	if !ok {
		vr = &variable{typ: t}
		if t.IsScalar() {
			// Scalars live in a stack slot for the whole program.
			off, err := g.pushStackPermanent(8)
			if err != nil {
				return g.wrap(s, err)
			}
			vr.off = off
		} else {
			off, err := g.allocScratch(t.StorageSize())
			if err != nil {
				return g.wrap(s, err)
			}
			vr.off = off
		}
		g.vars[v.Name] = vr
	} else if !sameShape(vr.typ, t) {
		return g.c.errorf(s.RHS, "", "$%s holds %v; cannot assign %v", v.Name, vr.typ, t)
	}
	if t.IsScalar() {
		if _, err := g.expr(rhs); err != nil {
			return err
		}
		g.emit(asm.StoreMem(asm.RFP, int16(vr.off), asm.R0, asm.DWord))
		return nil
	}
	return g.place(rhs, vr.off)
}

// pushStackPermanent reserves stack for the whole program (variables). It
// must only be called when no temporaries are on the stack.
func (g *gen) pushStackPermanent(n int) (int, error) {
	off, err := g.pushStack(n)
	return int(off), err
}

func (g *gen) incDec(e *lang.IncDec) (*Type, error) {
	op := "+="
	if e.Op == "--" {
		op = "-="
	}
	return tU64, g.assign(&lang.AssignStmt{Pos: e.Pos, Op: op, LHS: e.X, RHS: &lang.IntLit{Pos: e.Pos, Value: 1, Text: "1"}})
}

// copyScratch copies n bytes (multiple of 8) within the scratch area.
func (g *gen) copyScratch(dst, src, n int) {
	for i := 0; i < n; i += 8 {
		g.emit(
			asm.LoadMem(asm.R1, regScratch, int16(src+i), asm.DWord),
			asm.StoreMem(regScratch, int16(dst+i), asm.R1, asm.DWord),
		)
	}
}

// zeroScratch clears n bytes (multiple of 8) of the scratch area.
func (g *gen) zeroScratch(off, n int) {
	for i := 0; i < n; i += 8 {
		g.emit(storeImm(regScratch, int16(off+i), 0, asm.DWord))
	}
}

// scratchPtr puts regScratch+off into reg.
func (g *gen) scratchPtr(reg asm.Register, off int) {
	g.emit(asm.Mov.Reg(reg, regScratch), asm.Add.Imm(reg, int32(off)))
}

// Ring buffer output flags.
const (
	rbNoWakeup    = 1 // BPF_RB_NO_WAKEUP: the reader drains on a timer
	rbForceWakeup = 2 // BPF_RB_FORCE_WAKEUP: exit() ends the session now
	// ringBufWatermark: records wake the reader once the buffer is more
	// than 1/ringBufWatermark full.
	ringBufWatermark = 8
)

// DefaultRingBufSize is the size of the events ring buffer without
// Options.RingBufSize (uscope run --ringbuf-size).
const DefaultRingBufSize = 4 << 20

func (o *Options) ringBufSize() int {
	if o.RingBufSize > 0 {
		return o.RingBufSize
	}
	return DefaultRingBufSize
}

// emitRecord sends size bytes at scratch offset off to the ring buffer,
// without waking the reader, and counts the record as lost if it does not fit.
func (g *gen) emitRecord(off, size int) { g.emitRecordFlags(off, size, rbNoWakeup) }

// emitRecordFlags is emitRecord with explicit ring buffer flags. A record
// sent with rbNoWakeup wakes the reader all the same once the buffer holds
// more than its watermark: the reader sleeps while events are few, and is
// woken before the buffer fills when they are many.
func (g *gen) emitRecordFlags(off, size int, flags int32) {
	ok := g.label("sent")
	if flags == rbNoWakeup {
		quiet := g.label("quiet")
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(MapEvents),
			asm.Mov.Imm(asm.R2, 0), // BPF_RB_AVAIL_DATA
			asm.FnRingbufQuery.Call(),
			asm.Mov.Imm(asm.R4, rbNoWakeup),
			asm.JLT.Imm(asm.R0, int32(g.c.opts.ringBufSize()/ringBufWatermark), quiet),
		)
		if g.c.opts.Block {
			// --block: above 3/4 the target stops (SIGSTOP, delivered on
			// its return to user space) until the reader has drained the
			// buffer and sends SIGCONT.
			wake := g.label("wake")
			g.emit(
				asm.JLT.Imm(asm.R0, int32(g.c.opts.ringBufSize()/4*3), wake),
				asm.Mov.Imm(asm.R1, 19), // SIGSTOP
				asm.FnSendSignal.Call(),
			)
			g.mark(wake)
		}
		g.emit(asm.Mov.Imm(asm.R4, rbForceWakeup))
		g.mark(quiet)
	} else {
		g.emit(asm.Mov.Imm(asm.R4, flags))
	}
	g.emit(asm.LoadMapPtr(asm.R1, 0).WithReference(MapEvents))
	g.scratchPtr(asm.R2, off)
	g.emit(
		asm.Mov.Imm(asm.R3, int32(size)),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, ok),
	)
	g.countIn(MapLost, len(g.c.plan.Programs)) // this program's index in Plan.Programs
	g.mark(ok)
}

// countIn atomically adds one to element idx of an array map of u64.
func (g *gen) countIn(mapName string, idx int) {
	skip := g.label("nocount")
	off, _ := g.pushStack(8)
	g.emit(
		storeImm(asm.RFP, off, int64(idx), asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(off)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, skip),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
	)
	g.mark(skip)
	g.popStack(8)
}

// simpleRecord sends a record holding only its id (and optionally one u64).
func (g *gen) simpleRecord(kind uint64, index int, extra *int64) error {
	size := 8
	if extra != nil {
		size = 16
	}
	off, err := g.allocScratch(size)
	if err != nil {
		return err
	}
	g.emit(
		asm.LoadImm(asm.R1, int64(kind<<32|uint64(index)), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	if extra != nil {
		g.emit(
			asm.LoadImm(asm.R1, *extra, asm.DWord),
			asm.StoreMem(regScratch, int16(off+8), asm.R1, asm.DWord),
		)
	}
	flags := int32(rbNoWakeup)
	if kind == RecExit {
		flags = rbForceWakeup
	}
	g.emitRecordFlags(off, size, flags)
	return nil
}

// storeImm emits *(size *)(dst + off) = value. asm.StoreImm refuses DWord,
// but the kernel accepts BPF_ST|BPF_DW with a sign-extended 32-bit value.
func storeImm(dst asm.Register, off int16, value int64, size asm.Size) instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(size), Dst: dst, Offset: off, Constant: value}
}
