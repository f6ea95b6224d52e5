package compile

import (
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

// A user stack value (ustack in a key or a record, trace -U) is 16 bytes:
//
//	word 0, low 32 bits   the id bpf_get_stackid returned (negative: error)
//	word 0, high 32 bits  the pid (tgid) the stack belongs to
//	word 1                the return address read from [sp] at a frameless
//	                      site, 0 elsewhere
//
// A frame-pointer walk starts at the frame the probed function's caller
// set up, so at a site where the probed function has not pushed its frame
// yet (its entry, an entry that placement moved without touching rsp, Go's
// entry after the stack check, a RET instruction) the walk skips the
// immediate caller. Its return address is then at [sp]; the program
// stores it beside the stack id and the session inserts it as the second
// frame (session.stackRef). Because it is part of the value,
// @[ustack] = count() still aggregates in the kernel.
//
// A stack the CFI walk took (cfiunwind.go) has the id CFIStackID and, in
// word 1, the hash its frames are stored under in MapCFIStacks.
const (
	StackIDOffset     = 0
	StackPIDOffset    = 4
	StackCallerOffset = 8
)

// framelessSite reports whether the probed function has no frame of its
// own at the site: the return address is at [sp] and the frame pointer
// still holds the caller's frame.
func framelessSite(kind string, s *resolve.Site) bool {
	if s.USDT != nil {
		return false
	}
	if s.AtReturn {
		return true // a RET instruction: the frame is already torn down
	}
	if kind != lang.KindUprobe || s.FuncAddr == 0 || s.GoAsm {
		return false
	}
	// Go entries sit after the stack check, before push %rbp; moved C
	// entries only skip instructions that leave rsp and memory alone.
	return s.Addr == s.FuncAddr || s.GoEntry || s.Moved != 0
}

// placeStack stores a user stack value (see StackIDOffset) at off: from
// the CFI walk where the process has unwind tables (cfiunwind.go), else
// from the kernel's frame-pointer walk.
func (g *gen) placeStack(off int) error {
	if !g.c.cfiUnwind() {
		return g.placeFPStack(off)
	}
	fp, done := g.label("uwfpath"), g.label("uwdone")
	if err := g.placeCFIStack(off, fp, done); err != nil {
		return err
	}
	g.mark(fp)
	if err := g.placeFPStack(off); err != nil {
		return err
	}
	g.mark(done)
	return nil
}

// placeFPStack stores the stack value of bpf_get_stackid's walk.
func (g *gen) placeFPStack(off int) error {
	g.emit(
		asm.Mov.Reg(asm.R1, regCtx),
		asm.LoadMapPtr(asm.R2, 0).WithReference(MapStacks),
		asm.Mov.Imm(asm.R3, 1<<8), // BPF_F_USER_STACK
		asm.FnGetStackid.Call(),
		asm.StoreMem(regScratch, int16(off+StackIDOffset), asm.R0, asm.Word),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(regScratch, int16(off+StackPIDOffset), asm.R0, asm.Word),
	)
	if !g.shape.frameless {
		g.emit(storeImm(regScratch, int16(off+StackCallerOffset), 0, asm.DWord))
		return nil
	}
	// bpf_probe_read_user zeroes the destination when the read fails.
	g.scratchPtr(asm.R1, off+StackCallerOffset)
	g.emit(
		asm.Mov.Imm(asm.R2, 8),
		asm.LoadMem(asm.R3, regCtx, ptRegs["sp"], asm.DWord),
		asm.FnProbeReadUser.Call(),
	)
	return nil
}

// usesStack reports whether a probe takes a user stack (ustack, or every
// trace row's with -U); only then does framelessSite split its sites.
func usesStack(c *compiler, pr *lang.Probe) bool {
	if c.opts.TraceUserStack {
		return true
	}
	found := false
	lang.Inspect(pr, func(n lang.Node) bool {
		switch n := n.(type) {
		case *lang.Ident:
			found = found || n.Name == "ustack"
		case *lang.Call:
			found = found || n.Name == "ustack"
		}
		return !found
	})
	return found
}

// stackModes are bpftrace's stack modes (ustack(MODE), stack_mode).
var stackModes = map[string]bool{"bpftrace": true, "perf": true, "raw": true, "build_id": true}

// stackMode returns the mode ustack(MODE[, N]) names, "" when the first
// argument is not a mode; the stack type carries it in Format.
func (k *checker) stackMode(e *lang.Call) (string, error) {
	id, ok := e.Args[0].(*lang.Ident)
	if !ok {
		if len(e.Args) == 2 {
			return "", k.c.errorf(e.Args[0], "ustack(perf, 5)", "ustack()'s first argument of two is a stack mode: bpftrace, perf, raw or build_id")
		}
		return "", nil
	}
	if !stackModes[id.Name] {
		return "", k.c.errorf(id, "stack modes: bpftrace, perf, raw, build_id", "unknown stack mode %q", id.Name)
	}
	return id.Name, nil
}

// show_debug_info: as in bpftrace built with blazesym, bpftrace-mode
// frames get "@file:line" from DWARF and inlined functions their own
// "[inlined] name@file:line" frames. Off by default, as in a bpftrace
// built without blazesym (Debian's), so that stacks print as before.
func init() {
	delete(configIgnored, "show_debug_info")
	configKeys["show_debug_info"] = func(c *compiler, v string) string {
		b, ok := configBool(v)
		if !ok {
			return "show_debug_info is true or false"
		}
		c.plan.Config.ShowDebugInfo = b
		return ""
	}
	// unwind = fp keeps to frame pointers (bpf_get_stackid) even where
	// the session loaded unwind tables; cfi (the default) walks with them.
	configKeys["unwind"] = func(c *compiler, v string) string {
		switch v {
		case "fp":
			c.plan.Config.FramePointersOnly = true
		case "cfi":
			c.plan.Config.FramePointersOnly = false
		default:
			return "unwind is fp or cfi"
		}
		return ""
	}
}

// stackLen emits len(s) of a stack value s into R0: the frames ustack
// prints for it, at most ustack(N)'s N. A stack of the CFI walk counts its
// frames in MapCFIStacks; one of the frame-pointer walk counts
// bpf_get_stack's (the walk bpf_get_stackid took, in this same firing),
// and the return address a frameless site adds (word 1).
func (g *gen) stackLen(n lang.Expr) error {
	a := n.(*lang.Call).Args[0]
	t := g.typ(a)
	off, err := g.inScratch(a, n)
	if err != nil {
		return err
	}
	buf, err := g.allocScratch(8 * maxStackDeep)
	if err != nil {
		return g.wrap(n, err)
	}
	cfi, zero, add, limit, done := g.label("slcfi"), g.label("slzero"), g.label("sladd"), g.label("slcap"), g.label("sldone")
	g.emit(
		asm.LoadMem(asm.R1, regScratch, int16(off+StackIDOffset), asm.Word),
		asm.JEq.Imm(asm.R1, CFIStackID, cfi),
		asm.JGE.Imm(asm.R1, 0x7fffffff, zero), // a failed walk: a negative id
		asm.Mov.Reg(asm.R1, regCtx),
	)
	g.scratchPtr(asm.R2, buf)
	g.emit(
		asm.Mov.Imm(asm.R3, 8*maxStackDeep),
		asm.Mov.Imm(asm.R4, 1<<8), // BPF_F_USER_STACK
		asm.FnGetStack.Call(),
		asm.JSLE.Imm(asm.R0, 0, zero),
		asm.RSh.Imm(asm.R0, 3),
		// The caller is inserted as the second frame unless the kernel
		// has it there already (session.frames).
		asm.LoadMem(asm.R1, regScratch, int16(off+StackCallerOffset), asm.DWord),
		asm.JEq.Imm(asm.R1, 0, limit),
		asm.JLT.Imm(asm.R0, 2, add),
		asm.LoadMem(asm.R2, regScratch, int16(buf+8), asm.DWord),
		asm.JEq.Reg(asm.R2, asm.R1, limit),
		asm.Add.Imm(asm.R0, 1).WithSymbol(add),
		asm.Ja.Label(limit),
	)
	g.mark(cfi)
	if g.c.cfiUnwind() { // (else MapCFIStacks does not exist, nor such ids)
		g.scratchPtr(asm.R2, off+StackCallerOffset) // the hash: the frames' key
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(MapCFIStacks),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, zero),
			asm.Mov.Reg(asm.R2, asm.R0),
			asm.Mov.Imm(asm.R0, 0),
		)
		top := g.label("slnext")
		g.mark(top)
		g.emit(
			asm.JGE.Imm(asm.R0, maxStackDeep, limit),
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.LSh.Imm(asm.R1, 3),
			asm.Mov.Reg(asm.R3, asm.R2),
			asm.Add.Reg(asm.R3, asm.R1),
			asm.LoadMem(asm.R4, asm.R3, 0, asm.DWord),
			asm.JEq.Imm(asm.R4, 0, limit),
			asm.Add.Imm(asm.R0, 1),
			asm.Ja.Label(top),
		)
	}
	g.mark(zero)
	g.emit(asm.Mov.Imm(asm.R0, 0))
	g.mark(limit)
	if t.Max > 0 && t.Max < maxStackDeep {
		g.emit(asm.JLE.Imm(asm.R0, int32(t.Max), done), asm.Mov.Imm(asm.R0, int32(t.Max)))
	}
	g.mark(done)
	return nil
}
