package compile

import (
	"runtime"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// exit sends the exit record: its id and the exit code.
func (g *gen) exit(e lang.Expr) error {
	g.emit(asm.Mov.Imm(asm.R0, 0))
	if call := e.(*lang.Call); len(call.Args) == 1 {
		if _, err := g.expr(call.Args[0]); err != nil {
			return err
		}
	}
	off, err := g.allocScratch(16)
	if err != nil {
		return g.wrap(e, err)
	}
	g.emit(
		asm.StoreMem(regScratch, int16(off+8), asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, int64(RecExit<<32), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	g.emitRecordFlags(off, 16, rbForceWakeup)
	// exit() ends the probe too: nothing after it runs.
	g.emit(asm.Ja.Label(g.exitLbl))
	return nil
}

// runtimeWarning sends a warning about node n, found while the probe
// runs; userspace prints it once, with its caret. It clobbers R0-R5.
func (g *gen) runtimeWarning(n lang.Node, msg string) error {
	return g.wrap(n, g.simpleRecord(RecRuntime, g.runtimeIndex(n, msg, ""), nil))
}

// runtimeIndex is the index in Plan.Runtime of the warning msg (or of
// helper's failure) at n, added the first time.
func (g *gen) runtimeIndex(n lang.Node, msg, helper string) int {
	for i, w := range g.c.plan.Runtime {
		if w.Pos == n.Position() && w.Msg == msg && w.Helper == helper {
			return i
		}
	}
	length := nodeLen(n)
	if me, ok := n.(*lang.MapExpr); ok && me.Keys != nil {
		length = bracketLen(g.c.prog.Source, me.Pos.Offset) // @m[key] whole
	}
	w := g.c.prog.Errorf(n, length, "", "%s", msg)
	w.Warning = true
	g.c.plan.Runtime = append(g.c.plan.Runtime, &RuntimeWarning{Error: w, Helper: helper})
	return len(g.c.plan.Runtime) - 1
}

// helperFailed, after a call of helper, sends -k's warning at n when the
// call returned an error (R0 < 0), with the return code; otherwise, and
// without -k, it emits nothing. It clobbers R0-R5.
func (g *gen) helperFailed(n lang.Node, helper string) error {
	if !g.c.opts.HelperErrors || n == nil {
		return nil
	}
	ok := g.label("helperok")
	off, err := g.allocScratch(16)
	if err != nil {
		return g.wrap(n, err)
	}
	g.emit(
		asm.JSGE.Imm(asm.R0, 0, ok),
		asm.StoreMem(regScratch, int16(off+8), asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, int64(RecRuntime<<32|uint64(g.runtimeIndex(n, "", helper))), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	g.emitRecordFlags(off, 16, rbNoWakeup)
	g.mark(ok)
	return nil
}

func (g *gen) time(e lang.Expr) error {
	return g.wrap(e, g.simpleRecord(RecTime, g.info.records[e.(*lang.Call)], nil))
}

// mapRecord sends clear(@m) and zero(@m) to userspace, which does them.
func (g *gen) mapRecord(e lang.Expr) error {
	call := e.(*lang.Call)
	m := g.c.maps[call.Args[0].(*lang.MapExpr).Name]
	kind := RecClear
	if call.Name == "zero" {
		kind = RecZero
	}
	return g.wrap(e, g.simpleRecord(kind, m.Index, nil))
}

func (g *gen) ctxValue(lang.Expr) error {
	g.emit(asm.Mov.Reg(asm.R0, regCtx))
	return nil
}

func (g *gen) reg(e lang.Expr) error {
	name := e.(*lang.Call).Args[0].(*lang.StrLit).Value
	g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[name], asm.DWord))
	if name == "ip" || name == "rip" {
		g.unmoveIP()
	}
	return nil
}

func (g *gen) usym(e lang.Expr) error {
	_, err := g.expr(e.(*lang.Call).Args[0])
	return err
}

// printf builds a record: the id, then each argument at its storage size,
// in the layout resources gave it.
func (g *gen) printf(n lang.Expr) error {
	e := n.(*lang.Call)
	desc := g.c.plan.Printfs[g.info.records[e]]
	off, err := g.allocScratch(desc.Size)
	if err != nil {
		return g.wrap(e, err)
	}
	for i, a := range e.Args[1:] {
		if err := g.store(a, desc.Args[i].Type, off+desc.Args[i].Offset); err != nil {
			return err
		}
	}
	g.emit(
		asm.LoadImm(asm.R1, int64(RecPrintf<<32|uint64(g.info.records[e])), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	if g.c.plan.EventHeader {
		g.traceHeader(off + 8)
	}
	g.emitRecord(off, desc.Size)
	return nil
}

// traceHeaderSize is the size of the fields a bcc trace row carries before
// the printf arguments: time, pid_tgid, comm, cookie (32 bits) and CPU (32
// bits), and with -U the user stack id and pid.
func (c *compiler) traceHeaderSize() int {
	if c.opts.TraceUserStack {
		return TraceHeaderSize + 16
	}
	return TraceHeaderSize
}

// TraceHeaderSize is the size of a trace row's fixed fields.
const TraceHeaderSize = 8 + 8 + 16 + 8

func (g *gen) traceHeader(off int) {
	g.emit(asm.FnKtimeGetNs.Call(), asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
	g.emit(asm.FnGetCurrentPidTgid.Call(), asm.StoreMem(regScratch, int16(off+8), asm.R0, asm.DWord))
	g.scratchPtr(asm.R1, off+16)
	g.emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call())
	if g.special == nil {
		g.emit(asm.Mov.Reg(asm.R1, regCtx), asm.FnGetAttachCookie.Call())
	} else {
		g.emit(asm.Mov.Imm(asm.R0, -1))
	}
	// The cookie (a site index) in the low word, the CPU in the high one
	// (bcc trace's -C).
	g.emit(asm.StoreMem(regScratch, int16(off+32), asm.R0, asm.Word))
	g.emit(asm.FnGetSmpProcessorId.Call(), asm.StoreMem(regScratch, int16(off+36), asm.R0, asm.Word))
	if g.c.opts.TraceUserStack {
		g.placeStack(off + TraceHeaderSize)
	}
}

// store evaluates e (of type t) into the scratch area at off, at t's
// storage size.
func (g *gen) store(e lang.Expr, t *Type, off int) error {
	if t.IsScalar() {
		if _, err := g.expr(e); err != nil {
			return err
		}
		g.emit(asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
		return nil
	}
	return g.place(e, off)
}

// print sends a print record: a whole map, or a value.
func (g *gen) print(n lang.Expr) error {
	e := n.(*lang.Call)
	if me, ok := e.Args[0].(*lang.MapExpr); ok && me.Keys == nil {
		m := g.c.maps[me.Name]
		var extra [2]int64
		for i, a := range e.Args[1:] {
			extra[i] = int64(a.(*lang.IntLit).Value)
		}
		packed := extra[0]<<32 | extra[1]&0xffffffff
		return g.wrap(e, g.simpleRecord(RecPrint, m.Index, &packed))
	}
	t := g.typ(e.Args[0])
	size := 8 + t.StorageSize()
	off, err := g.allocScratch(size)
	if err != nil {
		return g.wrap(e, err)
	}
	if err := g.store(e.Args[0], t, off+8); err != nil {
		return err
	}
	g.emit(
		asm.LoadImm(asm.R1, int64(RecValue<<32|uint64(g.info.records[e])), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	g.emitRecord(off, size)
	return nil
}

func (g *gen) ncpus(lang.Expr) error {
	g.emit(asm.LoadImm(asm.R0, int64(runtime.NumCPU()), asm.DWord))
	return nil
}

// usermode: the probe fired in user mode when the code segment's
// privilege level is 3.
func (g *gen) usermode(lang.Expr) error {
	g.emit(
		asm.LoadMem(asm.R1, regCtx, ptRegs["cs"], asm.DWord),
		asm.And.Imm(asm.R1, 3),
		asm.Mov.Imm(asm.R0, 0),
	)
	no := g.label("kmode")
	g.emit(asm.JNE.Imm(asm.R1, 3, no), asm.Mov.Imm(asm.R0, 1))
	g.mark(no)
	return nil
}

// constValue emits a value check computed.
func (g *gen) constValue(e lang.Expr) error {
	g.emit(asm.LoadImm(asm.R0, g.info.consts[e], asm.DWord))
	return nil
}

// firstArg emits a call's argument as its value (strerror: userspace
// prints it).
func (g *gen) firstArg(e lang.Expr) error {
	_, err := g.expr(e.(*lang.Call).Args[0])
	return err
}

func (g *gen) bswap(e lang.Expr) error {
	x := e.(*lang.Call).Args[0]
	if _, err := g.expr(x); err != nil {
		return err
	}
	switch g.typ(e).Size {
	case 2:
		g.emit(asm.BSwap(asm.R0, asm.Half))
	case 4:
		g.emit(asm.BSwap(asm.R0, asm.Word))
	case 8:
		g.emit(asm.BSwap(asm.R0, asm.DWord))
	}
	return nil
}

// secondArg emits a call's second argument as its value (strftime's time:
// userspace formats it).
func (g *gen) secondArg(e lang.Expr) error {
	_, err := g.expr(e.(*lang.Call).Args[1])
	return err
}

// nsecsClock reads the clock nsecs(clock) names.
// pidEmit emits pid (process) or tid (thread): as uscope's PID namespace
// numbers them, unless that is the initial namespace or the call asks for
// it (pid(init)). A thread the namespace cannot see reads 0.
func pidEmit(process bool) func(*gen, lang.Expr) error {
	return func(g *gen, e lang.Expr) error {
		initNS := g.c.opts.PidNS == nil
		if c, ok := e.(*lang.Call); ok && len(c.Args) == 1 && c.Args[0].(*lang.Ident).Name == "init" {
			initNS = true
		}
		if initNS {
			g.emit(asm.FnGetCurrentPidTgid.Call())
			if process {
				g.emit(asm.RSh.Imm(asm.R0, 32))
			} else {
				g.emit(lo32...)
			}
			return nil
		}
		// struct bpf_pidns_info { u32 pid; u32 tgid; }: the thread, then
		// the process.
		off, err := g.allocScratch(8)
		if err != nil {
			return g.wrap(e, err)
		}
		ns := g.c.opts.PidNS
		g.emit(storeImm(regScratch, int16(off), 0, asm.DWord))
		g.emit(asm.LoadImm(asm.R1, int64(ns.Dev), asm.DWord), asm.LoadImm(asm.R2, int64(ns.Ino), asm.DWord))
		g.scratchPtr(asm.R3, off)
		g.emit(asm.Mov.Imm(asm.R4, 8), asm.FnGetNsCurrentPidTgid.Call())
		field := off
		if process {
			field += 4
		}
		g.emit(asm.LoadMem(asm.R0, regScratch, int16(field), asm.Word))
		return nil
	}
}

func (g *gen) nsecsClock(e lang.Expr) error {
	fn := asm.FnKtimeGetNs
	if args := e.(*lang.Call).Args; len(args) == 1 {
		fn = nsecsClocks[args[0].(*lang.Ident).Name]
	}
	g.emit(fn.Call())
	return nil
}
