package compile

import (
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// Loops are callbacks: for ($kv : @m) calls bpf_for_each_map_elem and
// for ($i : lo..hi) calls bpf_loop (as bpftrace does: the verifier cannot
// bound a loop whose end it does not know), with the loop's body as a
// subprogram appended after the program's exit. The callback finds the
// context and the scratch area through the callback context, a pair of
// pointers on the caller's stack, and the variables in scratch
// (gen.scalarsInScratch). It returns 0 to go on (continue, the body's end)
// and 1 to stop (break); return and exit() set a flag in scratch that the
// caller reads after the loop, then leave the probe.

// forMap emits for ($kv : @m).
func (g *gen) forMap(s *lang.ForStmt) error {
	m := g.c.maps[s.Map.Name]
	return g.loopCall(s, s.Body, asm.FnForEachMapElem, func() {
		g.emit(asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec))
	}, asm.R4, func(string) error {
		// R2 = the key, R3 = the value. $kv = (key, value): the key as
		// the map keeps it, which is the layout of the key tuple; the
		// value copied, or an aggregation's total.
		kv := g.varOff[s.Var.Name]
		g.emit(asm.Mov.Reg(asm.R8, asm.R2), asm.Mov.Reg(asm.R9, asm.R3))
		g.copyFrom(asm.R8, 0, kv, m.KeySize)
		if m.Value.Kind == KindAgg {
			if err := g.aggTotal(m, kv); err != nil {
				return g.wrap(s, err)
			}
			g.emit(asm.StoreMem(regScratch, int16(kv+m.KeySize), asm.R0, asm.DWord))
			return nil
		}
		g.copyFrom(asm.R9, 0, kv+m.KeySize, m.Value.StorageSize())
		return nil
	})
}

// forRange emits for ($i : lo..hi): lo and hi are evaluated once; the body
// runs hi-lo times (none when hi <= lo) with $i = lo + the iteration.
func (g *gen) forRange(s *lang.ForStmt) error {
	v, start := s.Var.Name, forEnd(s)
	if _, err := g.expr(s.Lo); err != nil {
		return err
	}
	g.storeVar(start, asm.R0)
	if _, err := g.expr(s.Hi); err != nil {
		return err
	}
	skip := g.label("fnone")
	g.loadVar(asm.R1, start)
	g.emit(
		asm.JSLE.Reg(asm.R0, asm.R1, skip),
		asm.Sub.Reg(asm.R0, asm.R1),
	)
	if err := g.loopCall(s, s.Body, asm.FnLoop, func() {
		g.emit(asm.Mov.Reg(asm.R1, asm.R0))
	}, asm.R2, func(string) error {
		// R1 = the iteration.
		g.loadVar(asm.R2, start)
		g.emit(asm.Add.Reg(asm.R1, asm.R2))
		g.storeVar(v, asm.R1)
		return nil
	}); err != nil {
		return err
	}
	g.mark(skip)
	return nil
}

// whileLoop emits while (cond) { body } as bpf_loop's callback, which
// checks cond first: the verifier walks the body once, not once per
// iteration (bpftrace's json-output.histogram-finegrain loops 1024 times
// over a hist()). A loop stops after bpf_loop's most iterations, 1<<23.
func (g *gen) whileLoop(s *lang.WhileStmt) error {
	return g.loopCall(s, s.Body, asm.FnLoop, func() {
		g.emit(asm.Mov.Imm(asm.R1, maxLoops))
	}, asm.R2, func(brk string) error {
		if _, err := g.expr(s.Cond); err != nil {
			return err
		}
		g.emit(asm.JEq.Imm(asm.R0, 0, brk))
		return nil
	})
}

// maxLoops is BPF_MAX_LOOPS, the most iterations bpf_loop runs.
const maxLoops = 1 << 23

// loopCall emits the call of a looping helper: args sets its first
// argument (R1), the callback goes in R2, the callback context in R3,
// flags 0 in R4; n is the loop, for errors, and body its body. The
// callback receives the context in ctxReg; enter binds the loop's
// variable from the helper's other arguments, or jumps to brk to stop.
func (g *gen) loopCall(n lang.Node, body *lang.Block, helper asm.BuiltinFunc, args func(), ctxReg asm.Register, enter func(brk string) error) error {
	cb := g.label("forcb")
	g.callbacks = append(g.callbacks, cb)
	stopped, err := g.allocScratch(8)
	if err != nil {
		return g.wrap(n, err)
	}
	ctxOff, err := g.pushStack(16)
	if err != nil {
		return g.wrap(n, err)
	}
	g.emit(
		storeImm(regScratch, int16(stopped), 0, asm.DWord),
		asm.StoreMem(asm.RFP, ctxOff, regCtx, asm.DWord),
		asm.StoreMem(asm.RFP, ctxOff+8, regScratch, asm.DWord),
	)
	args()
	g.emit(
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(cb),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, int32(ctxOff)),
		asm.Mov.Imm(asm.R4, 0),
		helper.Call(),
		asm.LoadMem(asm.R1, regScratch, int16(stopped), asm.DWord),
		asm.JNE.Imm(asm.R1, 0, g.exitLbl),
	)
	g.popStack(16)

	// The subprogram has its own instructions, stack frame, loops and exit.
	insns, posOf, stack, maxStack, loops, exitLbl := g.insns, g.posOf, g.stack, g.maxStack, g.loops, g.exitLbl
	g.insns, g.posOf, g.stack, g.maxStack, g.loops = nil, nil, 0, 0, nil
	defer func() {
		g.subprogs = append(g.subprogs, g.insns)
		g.subPos = append(g.subPos, g.posOf)
		g.insns, g.posOf, g.stack, g.maxStack, g.loops, g.exitLbl = insns, posOf, stack, maxStack, loops, exitLbl
	}()
	cont, brk, ret := g.label("fcont"), g.label("fbrk"), g.label("fret")
	g.exitLbl = ret
	g.emit(
		asm.LoadMem(regCtx, ctxReg, 0, asm.DWord).WithSymbol(cb),
		asm.LoadMem(regScratch, ctxReg, 8, asm.DWord),
		asm.Mov.Imm(asm.R0, 0), // labels are marked by mov r0, r0
	)
	if err := enter(brk); err != nil {
		return err
	}
	if err := g.loopBody(body, loopLabels{brk: brk, cont: cont}); err != nil {
		return err
	}
	g.emit(
		asm.Mov.Imm(asm.R0, 0).WithSymbol(cont),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol(brk),
		asm.Return(),
		storeImm(regScratch, int16(stopped), 1, asm.DWord).WithSymbol(ret),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
	)
	return nil
}

// possibleCPUs is how many CPUs a per-CPU map has values for.
func possibleCPUs() int {
	n, err := ebpf.PossibleCPU()
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// aggTotal leaves in R0 the value of the aggregation of map m under the
// key at scratch offset keyOff, reduced over every CPU's value with
// bpf_map_lookup_percpu_elem as output.MergeAgg reduces them in userspace:
// counts and sums added, the least or greatest set value, the average of
// all samples (0 when there are none).
func (g *gen) aggTotal(m *MapDesc, keyOff int) error {
	acc, err := g.pushStack(16) // [acc] value or total, [acc+8] set flag or count
	if err != nil {
		return err
	}
	defer g.popStack(16)
	cpu, err := g.pushStack(8)
	if err != nil {
		return err
	}
	defer g.popStack(8)
	const (
		value = output.AggWordValue
		set   = output.AggWordSet
		count = output.AggWordCount
		sum   = output.AggWordSum
	)
	top, next, done := g.label("pcpu"), g.label("pnext"), g.label("pdone")
	g.emit(
		storeImm(asm.RFP, acc, 0, asm.DWord),
		storeImm(asm.RFP, acc+8, 0, asm.DWord),
		storeImm(asm.RFP, cpu, 0, asm.DWord),
	)
	g.mark(top)
	g.emit(
		asm.LoadMem(asm.R3, asm.RFP, cpu, asm.DWord),
		asm.JGE.Imm(asm.R3, int32(possibleCPUs()), done),
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec),
	)
	g.scratchPtr(asm.R2, keyOff)
	g.emit(
		asm.FnMapLookupPercpuElem.Call(),
		asm.JEq.Imm(asm.R0, 0, next),
	)
	switch m.Value.Agg {
	case AggCount, AggSum:
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, value, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, acc, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.RFP, acc, asm.R2, asm.DWord),
		)
	case AggAvg:
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, sum, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, acc, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.RFP, acc, asm.R2, asm.DWord),
			asm.LoadMem(asm.R1, asm.R0, count, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, acc+8, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.RFP, acc+8, asm.R2, asm.DWord),
		)
	case AggMin, AggMax:
		take := g.label("ptake")
		keep := asm.JSGE // min: keep the current when v >= it
		if m.Value.Agg == AggMax {
			keep = asm.JSLE
		}
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, set, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, next),
			asm.LoadMem(asm.R1, asm.R0, value, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, acc+8, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, take),
			asm.LoadMem(asm.R2, asm.RFP, acc, asm.DWord),
			keep.Reg(asm.R1, asm.R2, next),
			asm.StoreMem(asm.RFP, acc, asm.R1, asm.DWord).WithSymbol(take),
			storeImm(asm.RFP, acc+8, 1, asm.DWord),
		)
	}
	g.mark(next)
	g.emit(
		asm.LoadMem(asm.R3, asm.RFP, cpu, asm.DWord),
		asm.Add.Imm(asm.R3, 1),
		asm.StoreMem(asm.RFP, cpu, asm.R3, asm.DWord),
		asm.Ja.Label(top),
	)
	g.mark(done)
	g.emit(asm.LoadMem(asm.R0, asm.RFP, acc, asm.DWord))
	if m.Value.Agg == AggAvg {
		// total / count, rounded toward zero as C divides.
		none, pos, end := g.label("pnone"), g.label("ppos"), g.label("pend")
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, acc+8, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, none),
			asm.JSGE.Imm(asm.R0, 0, pos),
			asm.Neg.Imm(asm.R0, 0),
			asm.Div.Reg(asm.R0, asm.R1),
			asm.Neg.Imm(asm.R0, 0),
			asm.Ja.Label(end),
			asm.Div.Reg(asm.R0, asm.R1).WithSymbol(pos),
			asm.Ja.Label(end),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(none),
		)
		g.mark(end)
	}
	return nil
}

// funcInfos gives the program and each callback the BTF function
// information the kernel requires of a program that takes a function's
// address: a static function returning int, whose parameters are
// pointers.
func (g *gen) funcInfos() {
	fn := func(name string, params ...string) *btf.Func {
		proto := &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}
		for _, p := range params {
			proto.Params = append(proto.Params, btf.FuncParam{Name: p, Type: &btf.Pointer{Target: &btf.Void{}}})
		}
		return &btf.Func{Name: name, Type: proto, Linkage: btf.StaticFunc}
	}
	g.insns[0] = btf.WithFuncMetadata(g.insns[0], fn("prog", "ctx"))
	for i, ins := range g.insns {
		if s := ins.Symbol(); s != "" && slices.Contains(g.callbacks, s) {
			g.insns[i] = btf.WithFuncMetadata(ins, fn(s, "a", "b", "c", "d"))
		}
	}
}

// mapLen emits len(@m): bpf_for_each_map_elem with a callback that only
// goes on returns the number of elements it visited, so the count is a
// plain integer in the kernel, as in bpftrace (it can be stored, compared
// and used as a key).
func (g *gen) mapLen(n lang.Expr) error {
	m := g.c.maps[n.(*lang.Call).Args[0].(*lang.MapExpr).Name]
	if g.countCb == "" {
		g.countCb = g.label("lencb")
		g.callbacks = append(g.callbacks, g.countCb)
		g.subprogs = append(g.subprogs, []instruction{asm.Mov.Imm(asm.R0, 0).WithSymbol(g.countCb), asm.Return()})
		g.subPos = append(g.subPos, []lang.Pos{g.pos, g.pos})
	}
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(g.countCb),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
	)
	return nil
}
