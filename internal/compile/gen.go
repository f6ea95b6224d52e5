package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/internal/lang"
)

type instruction = asm.Instruction

func toAsm(insns []instruction) asm.Instructions { return asm.Instructions(insns) }

// Registers with a fixed role in every generated program.
const (
	regCtx     = asm.R6 // struct pt_regs *
	regScratch = asm.R7 // per-CPU scratch area
)

// ptRegs (context offsets by register name) and sysvArgs (the C integer
// argument registers' offsets) come from the architecture table.
var ptRegs, sysvArgs = ctxOffsets(arch.AMD64)

func ctxOffsets(a *arch.Arch) (map[string]int16, []int16) {
	m := map[string]int16{}
	for n, off := range a.Offsets() {
		m[n] = int16(off)
	}
	var args []int16
	for i := range a.CArgs {
		r, _ := a.CArg(i)
		args = append(args, int16(r.Offset))
	}
	return m, args
}

// gen emits one BPF program from a checked unit. It reads every type from
// the unit's Info; it fails only when a resource runs out (BPF stack,
// scratch space).
type gen struct {
	*unit

	insns []instruction
	// posOf holds, for each instruction, the source position of the
	// statement or expression it was generated for.
	posOf    []lang.Pos
	pos      lang.Pos
	labels   int
	stack    int // bytes of stack in use (grows down from R10)
	maxStack int
	scratch  int // bytes of scratch in use
	// varOff is where each $variable lives: a stack offset (negative,
	// from R10) for scalars, a scratch offset otherwise. In a program
	// with a loop over a map, scalars live in scratch too (scalarsInScratch),
	// where the loop's callback reaches them.
	varOff           map[string]int
	scalarsInScratch bool
	exitLbl          string
	// loops holds the labels break and continue jump to, innermost last.
	loops []loopLabels
	// subprogs are the callbacks of loops, appended after the program's
	// exit; callbacks are their first instructions' labels.
	subprogs  [][]instruction
	subPos    [][]lang.Pos
	callbacks []string
	// countCb is the label of the callback len(@m) counts with (mapLen),
	// made once per program.
	countCb string
}

type loopLabels struct{ brk, cont string }

func newGen(u *unit) *gen { return &gen{unit: u, varOff: map[string]int{}} }

// typ is the type check recorded for e.
func (g *gen) typ(e lang.Expr) *Type {
	t := g.info.Types[e]
	if t == nil {
		panic(fmt.Sprintf("compile: no type recorded for %s at %v", lang.FormatExpr(e), e.Position()))
	}
	return t
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
	g.treeFilter()
	g.profileFilter()
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
	if err := g.allocVars(); err != nil {
		return nil, err
	}
	if g.probe.Pred != nil {
		if _, err := g.expr(g.probe.Pred); err != nil {
			return nil, err
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
	for i, sub := range g.subprogs {
		g.insns = append(g.insns, sub...)
		g.posOf = append(g.posOf, g.subPos[i]...)
	}
	insns, pos, err := longJumps(dropUnreachable(g.insns, g.posOf))
	if err != nil {
		return nil, g.wrap(g.probe, err)
	}
	g.insns, g.posOf = insns, pos
	if len(g.callbacks) > 0 {
		g.funcInfos()
	}
	return insns, nil
}

// allocVars gives every $variable its place for the whole program: scalars
// a stack slot, zeroed so that a read on a path that did not assign it
// reads initialized stack; other values room in scratch.
func (g *gen) allocVars() error {
	g.scalarsInScratch = g.info.loops
	for _, name := range g.info.VarOrder {
		t := g.info.Vars[name]
		if t.IsScalar() && !g.scalarsInScratch && !g.info.addrTaken[name] {
			off, err := g.pushStack(8)
			if err != nil {
				return g.wrap(g.probe, err)
			}
			g.varOff[name] = int(off)
			g.emit(storeImm(asm.RFP, off, 0, asm.DWord))
			continue
		}
		off, err := g.allocScratch(t.StorageSize())
		if err != nil {
			return g.wrap(g.probe, err)
		}
		g.varOff[name] = off
		if t.IsScalar() {
			g.emit(storeImm(regScratch, int16(off), 0, asm.DWord))
		}
	}
	return nil
}

// scalarVar is where the scalar $name lives: a register (the frame
// pointer or the scratch area) and an offset from it.
func (g *gen) scalarVar(name string) (asm.Register, int16) {
	if g.scalarsInScratch || g.info.addrTaken[name] {
		return regScratch, int16(g.varOff[name])
	}
	return asm.RFP, int16(g.varOff[name])
}

// loadVar loads the scalar $name into reg; storeVar stores reg into it.
func (g *gen) loadVar(reg asm.Register, name string) {
	base, off := g.scalarVar(name)
	g.emit(asm.LoadMem(reg, base, off, asm.DWord))
}

func (g *gen) storeVar(name string, reg asm.Register) {
	base, off := g.scalarVar(name)
	g.emit(asm.StoreMem(base, off, reg, asm.DWord))
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
		return g.exprStmt(s.X)
	case *lang.AssignStmt:
		return g.assign(s)
	case *lang.IfStmt:
		return g.ifStmt(s)
	case *lang.WhileStmt:
		return g.whileLoop(s)
	case *lang.ForStmt:
		if s.Map != nil {
			return g.forMap(s)
		}
		return g.forRange(s)
	case *lang.BreakStmt:
		g.emit(asm.Ja.Label(g.loops[len(g.loops)-1].brk))
		return nil
	case *lang.ContinueStmt:
		g.emit(asm.Ja.Label(g.loops[len(g.loops)-1].cont))
		return nil
	case *lang.LetStmt:
		if s.Init == nil {
			return nil
		}
		return g.assign(&lang.AssignStmt{Pos: s.Pos, Op: "=", LHS: s.Var, RHS: s.Init})
	case *lang.UnrollStmt:
		n := s.Count.(*lang.IntLit).Value
		for i := uint64(0); i < n; i++ {
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

// blockStmts emits the statements of a block expression.
func (g *gen) blockStmts(b *lang.BlockExpr) error {
	for _, s := range b.Stmts {
		if err := g.stmt(s); err != nil {
			return err
		}
	}
	return nil
}

// loopBody emits a loop's body with its break and continue targets.
func (g *gen) loopBody(b *lang.Block, l loopLabels) error {
	g.loops = append(g.loops, l)
	defer func() { g.loops = g.loops[:len(g.loops)-1] }()
	return g.block(b)
}

func (g *gen) ifStmt(s *lang.IfStmt) error {
	if _, err := g.expr(s.Cond); err != nil {
		return err
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
func (g *gen) exprStmt(e lang.Expr) error {
	if b, ok := e.(*lang.BlockExpr); ok {
		if err := g.blockStmts(b); err != nil {
			return err
		}
		if b.Value == nil {
			return nil
		}
		return g.exprStmt(b.Value)
	}
	if call, ok := e.(*lang.Call); ok {
		b := lookupBuiltin(call.Name, true)
		switch {
		case b.emit != nil && (g.typ(call).Kind == KindVoid || g.typ(call).IsScalar()):
			return b.emit(g, call)
		case b.place != nil:
			// A value computed for nothing: its reads have no effect.
			return nil
		}
	}
	if g.typ(e).IsScalar() {
		_, err := g.expr(e)
		return err
	}
	return nil
}

// assign compiles $x = v, @m[k] = v and @m[k] += v (the other compound
// forms were lowered).
func (g *gen) assign(s *lang.AssignStmt) error {
	switch lhs := s.LHS.(type) {
	case *lang.Var:
		if g.info.Vars[lhs.Name].IsScalar() {
			if _, err := g.expr(s.RHS); err != nil {
				return err
			}
			g.storeVar(lhs.Name, asm.R0)
			return nil
		}
		return g.place(s.RHS, g.varOff[lhs.Name])
	case *lang.MapExpr:
		return g.assignMap(s, lhs)
	}
	return fmt.Errorf("cannot assign to %T", s.LHS)
}

// copyScratch copies n bytes (multiple of 8) within the scratch area.
func (g *gen) copyScratch(dst, src, n int) { g.copyFrom(regScratch, src, dst, n) }

// copyFrom copies n bytes (a multiple of 8) from base+src (a map value, a
// pointer the verifier knows) to the scratch area at dst, through R1.
func (g *gen) copyFrom(base asm.Register, src, dst, n int) {
	for i := 0; i < n; i += 8 {
		g.emit(
			asm.LoadMem(asm.R1, base, int16(src+i), asm.DWord),
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
