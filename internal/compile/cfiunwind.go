package compile

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/unwind"
)

// Unwinding without frame pointers (issue 18). A program that takes a
// user stack of a process whose unwind tables the session loaded
// (unwind.Loader: MapUnwindProcs has its pid) walks the stack itself,
// from .eh_frame's rules compiled into MapUnwindRows, one frame per
// bpf_loop iteration (the verifier checks the step once):
//
//  1. find the executable mapping holding pc (binary search of the
//     process's sorted mappings), then the row for pc - bias (binary
//     search of the object's rows); a return address is looked up one
//     byte back, inside its call;
//  2. CFA = rsp+N, rbp+N or a PLT's rsp+8(+8) as the row says; where no
//     row applies (Go functions, JIT code, a gap) the frame pointer:
//     CFA = rbp+16, rbp saved at CFA-16; at a frameless probe site the
//     first frame has CFA = rsp+8;
//  3. the return address is read at CFA-8 and rbp where the row saved
//     it; the walk ends at an outermost frame, a zero or unreadable
//     return address, a CFA not above rsp, or maxStackDeep frames.
//
// The frames go into MapCFIStacks under a 64-bit hash of them, and the
// 16-byte stack value holds CFIStackID as its id and the hash in word 1
// (no [sp] caller: the walk found it), so @[ustack] = count() still
// counts in the kernel. A process whose objects all keep frame pointers
// (unwind.ProcFramePointers), one with no tables, or a profile sample
// taken in kernel mode, keeps bpf_get_stackid, the fast path.

// The maps of the walk.
const (
	MapUnwindRows  = "unw_rows"   // every loaded object's rows
	MapUnwindProcs = "unw_procs"  // pid: its mappings (unwind.ProcValueSize)
	MapUnwindState = "unw_state"  // per CPU: the walk's registers and frames
	MapCFIStacks   = "cfi_stacks" // hash: frames, as the stack map's values
)

// CFIStackID is the stack id of a stack the walk took: its frames are in
// MapCFIStacks under the hash in word 1 of the value.
const CFIStackID = 0x7fffffff

// UnwindRows is the capacity of MapUnwindRows (8 MB): libc, libstdc++ and
// a large program together take about 100 000 rows.
const UnwindRows = 1 << 20

// unwindProcs is how many processes can have tables at once.
const unwindProcs = 1024

// The walk's state (MapUnwindState's value).
const (
	uwPC        = 0
	uwSP        = 8
	uwBP        = 16
	uwN         = 24 // frames stored
	uwHash      = 32
	uwPID       = 40 // u32
	uwFrameless = 44 // u32: the probe site is frameless
	uwFrames    = 48 // maxStackDeep u64
	uwSize      = uwFrames + 8*maxStackDeep
)

// FNV-1a's 64-bit basis and prime hash the frames.
const (
	fnvBasis = -3750763034362895579 // 0xcbf29ce484222325
	fnvPrime = 1099511628211
)

// cfiUnwind reports whether the plan's stacks are walked with CFI where
// tables are loaded (config unwind = fp turns it off).
func (c *compiler) cfiUnwind() bool { return !c.plan.Config.FramePointersOnly }

// addUnwindMaps creates the maps of the walk.
func (c *compiler) addUnwindMaps() {
	if !c.cfiUnwind() {
		return
	}
	m := c.plan.Spec.Maps
	m[MapUnwindRows] = &ebpf.MapSpec{Name: MapUnwindRows, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: UnwindRows}
	m[MapUnwindProcs] = &ebpf.MapSpec{Name: MapUnwindProcs, Type: ebpf.Hash, KeySize: 4, ValueSize: unwind.ProcValueSize, MaxEntries: unwindProcs}
	m[MapUnwindState] = &ebpf.MapSpec{Name: MapUnwindState, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: uwSize, MaxEntries: 1}
	m[MapCFIStacks] = &ebpf.MapSpec{Name: MapCFIStacks, Type: ebpf.Hash, KeySize: 8, ValueSize: 8 * maxStackDeep, MaxEntries: uint32(c.opts.MapSize)}
}

// placeCFIStack stores at scratch offset off the stack value of a CFI
// walk, or jumps to fp (the frame-pointer path) when the process has no
// tables or needs none. done is where both paths meet.
func (g *gen) placeCFIStack(off int, fp, done string) error {
	slot, err := g.pushStack(16) // [slot] pid, then the hash; [slot+8] the state pointer
	if err != nil {
		return err
	}
	defer g.popStack(16)
	g.emit(
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, slot, asm.R0, asm.DWord),
	)
	g.lookupStackKey(MapUnwindProcs, slot, fp)
	g.emit(
		asm.LoadMem(asm.R1, asm.R0, 4, asm.Word),
		asm.JSet.Imm(asm.R1, unwind.ProcFramePointers, fp),
		storeImm(asm.RFP, slot+8, 0, asm.DWord),
	)
	g.lookupStackKey(MapUnwindState, slot+8, fp)
	g.emit(
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.LoadMem(asm.R1, regCtx, ptRegs["ip"], asm.DWord),
		asm.LoadMem(asm.R2, regCtx, ptRegs["sp"], asm.DWord),
		asm.LoadMem(asm.R3, regCtx, ptRegs["bp"], asm.DWord),
	)
	if g.profile != nil {
		// A sample taken in kernel mode (an interrupt, a fault) has
		// the kernel's registers: the user ones are the task's saved
		// pt_regs (bpf_task_pt_regs).
		user := g.label("uwuser")
		g.emit(
			asm.LoadMem(asm.R4, regCtx, ptRegs["cs"], asm.DWord),
			asm.And.Imm(asm.R4, 3),
			asm.JEq.Imm(asm.R4, 3, user),
			asm.FnGetCurrentTaskBtf.Call(),
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.FnTaskPtRegs.Call(),
			asm.LoadMem(asm.R1, asm.R0, ptRegs["ip"], asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, ptRegs["sp"], asm.DWord),
			asm.LoadMem(asm.R3, asm.R0, ptRegs["bp"], asm.DWord),
		)
		g.mark(user)
	}
	g.emit(
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.StoreMem(asm.R0, uwPC, asm.R1, asm.DWord),
		asm.StoreMem(asm.R0, uwFrames, asm.R1, asm.DWord),
		asm.StoreMem(asm.R0, uwSP, asm.R2, asm.DWord),
		asm.StoreMem(asm.R0, uwBP, asm.R3, asm.DWord),
		asm.LoadImm(asm.R2, fnvBasis, asm.DWord),
		asm.Xor.Reg(asm.R2, asm.R1),
		asm.StoreMem(asm.R0, uwHash, asm.R2, asm.DWord),
		storeImm(asm.R0, uwN, 1, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord),
		asm.StoreMem(asm.R0, uwPID, asm.R1, asm.Word),
	)
	frameless := int64(0)
	if g.shape.frameless {
		frameless = 1
	}
	cb := g.unwindCallback()
	g.emit(
		storeImm(asm.R0, uwFrameless, frameless, asm.Word),
		asm.Mov.Imm(asm.R1, maxStackDeep-1),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(cb),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnLoop.Call(),
		// The state again (helpers clobber R0-R5).
		storeImm(asm.RFP, slot+8, 0, asm.DWord),
	)
	g.lookupStackKey(MapUnwindState, slot+8, fp)
	g.emit(asm.StoreMem(asm.RFP, slot+8, asm.R0, asm.DWord))
	// A zero after the last frame ends the stack (the rest of the array
	// holds an earlier walk's frames).
	full := g.label("uwfull")
	g.emit(
		asm.LoadMem(asm.R1, asm.R0, uwN, asm.DWord),
		asm.JGE.Imm(asm.R1, maxStackDeep, full),
		asm.And.Imm(asm.R1, 127),
		asm.LSh.Imm(asm.R1, 3),
		asm.Add.Reg(asm.R1, asm.R0),
		storeImm(asm.R1, uwFrames, 0, asm.DWord),
	)
	g.mark(full)
	stored, failed := g.label("uwstored"), g.label("uwfailed")
	g.emit(
		// The value's pid word before the hash takes its slot.
		asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord),
		asm.StoreMem(regScratch, int16(off+StackPIDOffset), asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R0, uwHash, asm.DWord),
		asm.StoreMem(asm.RFP, slot, asm.R1, asm.DWord),
		asm.StoreMem(regScratch, int16(off+StackCallerOffset), asm.R1, asm.DWord),
	)
	g.lookupStackKey(MapCFIStacks, slot, "")
	g.emit(
		asm.JNE.Imm(asm.R0, 0, stored),
		asm.LoadMapPtr(asm.R1, 0).WithReference(MapCFIStacks),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(slot)),
		asm.LoadMem(asm.R3, asm.RFP, slot+8, asm.DWord),
		asm.Add.Imm(asm.R3, uwFrames),
		asm.Mov.Imm(asm.R4, 1), // BPF_NOEXIST: another CPU may have stored it
		asm.FnMapUpdateElem.Call(),
		asm.JEq.Imm(asm.R0, 0, stored),
		asm.JEq.Imm(asm.R0, -17, stored), // EEXIST
	)
	g.emit(
		asm.StoreMem(regScratch, int16(off+StackIDOffset), asm.R0, asm.Word).WithSymbol(failed),
		asm.Ja.Label(done),
		storeImm(regScratch, int16(off+StackIDOffset), CFIStackID, asm.Word).WithSymbol(stored),
		asm.Ja.Label(done),
	)
	return nil
}

// unwindCallback returns the label of the program's frame step (one per
// program), generating it the first time.
func (g *gen) unwindCallback() string {
	for _, cb := range g.callbacks {
		if len(cb) > 4 && cb[:4] == "uwcb" {
			return cb
		}
	}
	cb := g.label("uwcb")
	g.callbacks = append(g.callbacks, cb)
	insns, posOf := g.insns, g.posOf
	g.insns, g.posOf = nil, nil
	g.unwindStep(cb)
	g.subprogs = append(g.subprogs, g.insns)
	g.subPos = append(g.subPos, g.posOf)
	g.insns, g.posOf = insns, posOf
	return cb
}

// unwindStep emits the bpf_loop callback that takes one frame: it returns
// 0 to go on, 1 when the walk ends. Registers: R6 the state, R7 the
// process's mappings, then the search's low bound or the CFA, R8 the
// address looked up, R9 the mapping or the search's high bound. Stack:
// -8 the map key, -16 the first row, -24 the middle, -32 the rbp slot,
// -40 the return address read, -48 rbp read.
func (g *gen) unwindStep(cb string) {
	const (
		kKey, kRowStart, kMid, kSlot, kRA, kBP = -8, -16, -24, -32, -40, -48
	)
	stop, fpStep, common := g.label("uwstop"), g.label("uwfp"), g.label("uwcommon")
	g.emit(
		storeImm(asm.RFP, kKey, 0, asm.DWord).WithSymbol(cb),
	)
	g.lookupStackKey(MapUnwindState, kKey, stop)
	g.emit(
		asm.Mov.Reg(asm.R6, asm.R0),
		asm.LoadMapPtr(asm.R1, 0).WithReference(MapUnwindProcs),
		asm.Mov.Reg(asm.R2, asm.R6),
		asm.Add.Imm(asm.R2, uwPID),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, stop),
		asm.Mov.Reg(asm.R7, asm.R0),
		storeImm(asm.RFP, kSlot, 0, asm.DWord),
		asm.LoadMem(asm.R8, asm.R6, uwPC, asm.DWord),
		asm.LoadMem(asm.R1, asm.R6, uwN, asm.DWord),
	)
	first := g.label("uwfirst")
	g.emit(asm.JEq.Imm(asm.R1, 1, first), asm.Sub.Imm(asm.R8, 1))
	g.mark(first)

	// The mapping: the last one starting at or below R8 (R3 low, R4 high).
	g.emit(
		asm.LoadMem(asm.R4, asm.R7, 0, asm.Word),
		asm.Mov.Imm(asm.R3, 0),
	)
	capped := g.label("uwcap")
	g.emit(asm.JLE.Imm(asm.R4, unwind.MaxMappings, capped), asm.Mov.Imm(asm.R4, unwind.MaxMappings))
	g.mark(capped)
	g.searchLast("uwm", 8, asm.R3, asm.R4, asm.R5, asm.R8, func() { // 2^8 > MaxMappings
		g.emit(
			asm.And.Imm(asm.R5, unwind.MaxMappings-1),
			asm.Mov.Reg(asm.R1, asm.R5),
			asm.LSh.Imm(asm.R1, 5), // × MappingSize
			asm.Add.Reg(asm.R1, asm.R7),
			asm.LoadMem(asm.R0, asm.R1, 8+unwind.MapStart, asm.DWord),
		)
	})
	g.emit(
		asm.JEq.Imm(asm.R3, 0, fpStep),
		asm.Sub.Imm(asm.R3, 1),
		asm.And.Imm(asm.R3, unwind.MaxMappings-1),
		asm.LSh.Imm(asm.R3, 5),
		asm.Add.Reg(asm.R3, asm.R7),
		asm.Mov.Reg(asm.R9, asm.R3),
		asm.LoadMem(asm.R0, asm.R9, 8+unwind.MapEnd, asm.DWord),
		asm.JGE.Reg(asm.R8, asm.R0, fpStep),
		asm.LoadMem(asm.R0, asm.R9, 8+unwind.MapBias, asm.DWord),
		asm.Sub.Reg(asm.R8, asm.R0),
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.RSh.Imm(asm.R0, 32),
		asm.JNE.Imm(asm.R0, 0, fpStep),
		asm.LoadMem(asm.R1, asm.R9, 8+unwind.MapRowStart, asm.Word),
		asm.StoreMem(asm.RFP, kRowStart, asm.R1, asm.DWord),
		asm.LoadMem(asm.R9, asm.R9, 8+unwind.MapRowCount, asm.Word),
		asm.JEq.Imm(asm.R9, 0, fpStep),
		asm.Mov.Imm(asm.R7, 0),
	)
	// The row: the last one whose address is at or below R8 (R7 low, R9
	// high).
	g.searchLast("uwr", 21, asm.R7, asm.R9, asm.R1, asm.R8, func() { // 2^21 > UnwindRows
		g.emit(
			asm.StoreMem(asm.RFP, kMid, asm.R1, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, kRowStart, asm.DWord),
			asm.Add.Reg(asm.R1, asm.R2),
			asm.StoreMem(asm.RFP, kKey, asm.R1, asm.Word),
		)
		g.lookupStackKey(MapUnwindRows, kKey, fpStep)
		g.emit(
			asm.LoadMem(asm.R0, asm.R0, 0, asm.Word), // the row's address
			asm.LoadMem(asm.R1, asm.RFP, kMid, asm.DWord),
		)
	})
	sp, bp, plt := g.label("uwsp"), g.label("uwbp"), g.label("uwplt")
	g.emit(
		asm.JEq.Imm(asm.R7, 0, fpStep),
		asm.LoadMem(asm.R1, asm.RFP, kRowStart, asm.DWord),
		asm.Add.Reg(asm.R1, asm.R7),
		asm.Sub.Imm(asm.R1, 1),
		asm.StoreMem(asm.RFP, kKey, asm.R1, asm.Word),
	)
	g.lookupStackKey(MapUnwindRows, kKey, fpStep)
	g.emit(
		asm.LoadMem(asm.R9, asm.R0, 0, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.RSh.Imm(asm.R1, 56),
		asm.StoreMem(asm.RFP, kSlot, asm.R1, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.RSh.Imm(asm.R1, 48),
		asm.And.Imm(asm.R1, 0xff),
		asm.Mov.Reg(asm.R2, asm.R9),
		asm.RSh.Imm(asm.R2, 32),
		asm.And.Imm(asm.R2, 0xffff),
		asm.JEq.Imm(asm.R1, unwind.KindSP, sp),
		asm.JEq.Imm(asm.R1, unwind.KindBP, bp),
		asm.JEq.Imm(asm.R1, unwind.KindPLT, plt),
		asm.JEq.Imm(asm.R1, unwind.KindEnd, stop),
		asm.Ja.Label(fpStep),

		asm.LoadMem(asm.R7, asm.R6, uwSP, asm.DWord).WithSymbol(sp),
		asm.Add.Reg(asm.R7, asm.R2),
		asm.Ja.Label(common),

		asm.LoadMem(asm.R7, asm.R6, uwBP, asm.DWord).WithSymbol(bp),
		asm.Add.Reg(asm.R7, asm.R2),
		asm.Ja.Label(common),

		asm.LoadMem(asm.R7, asm.R6, uwSP, asm.DWord).WithSymbol(plt),
		asm.Add.Imm(asm.R7, 8),
		asm.LoadMem(asm.R3, asm.R6, uwPC, asm.DWord),
		asm.And.Imm(asm.R3, 15),
		asm.JLT.Reg(asm.R3, asm.R2, common),
		asm.Add.Imm(asm.R7, 8),
		asm.Ja.Label(common),
	)
	// No row: the frame pointer, or [sp] at a frameless site's first frame.
	chain, anyCFA := g.label("uwchain"), g.label("uwany")
	g.emit(
		storeImm(asm.RFP, kSlot, 0, asm.DWord).WithSymbol(fpStep),
		asm.LoadMem(asm.R7, asm.R6, uwSP, asm.DWord),
		asm.Add.Imm(asm.R7, 8),
		asm.LoadMem(asm.R1, asm.R6, uwN, asm.DWord),
		asm.JNE.Imm(asm.R1, 1, chain),
		asm.LoadMem(asm.R1, asm.R6, uwFrameless, asm.Word),
		asm.JNE.Imm(asm.R1, 0, common),
		asm.LoadMem(asm.R7, asm.R6, uwBP, asm.DWord).WithSymbol(chain),
		asm.JEq.Imm(asm.R7, 0, stop),
		asm.Add.Imm(asm.R7, 16),
		storeImm(asm.RFP, kSlot, 2, asm.DWord),
		asm.Ja.Label(anyCFA),
	)
	// R7 is the CFA: the caller's registers. A CFA from a row is above
	// rsp (C code does not switch stacks); one from the frame-pointer
	// chain may be on another stack (Go's asmcgocall and cgocallback
	// switch between the goroutine's and the thread's).
	noBP := g.label("uwnobp")
	g.emit(
		asm.LoadMem(asm.R1, asm.R6, uwSP, asm.DWord).WithSymbol(common),
		asm.JLE.Reg(asm.R7, asm.R1, stop),
		asm.Mov.Reg(asm.R1, asm.RFP).WithSymbol(anyCFA),
		asm.Add.Imm(asm.R1, kRA),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Reg(asm.R3, asm.R7),
		asm.Sub.Imm(asm.R3, 8),
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, stop),
		asm.LoadMem(asm.R3, asm.RFP, kSlot, asm.DWord),
		asm.JEq.Imm(asm.R3, 0, noBP),
		asm.LSh.Imm(asm.R3, 3),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Sub.Reg(asm.R1, asm.R3),
		asm.Mov.Reg(asm.R3, asm.R1),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, kBP),
		asm.Mov.Imm(asm.R2, 8),
		asm.FnProbeReadUser.Call(), // zeroes it when the read fails
		asm.LoadMem(asm.R1, asm.RFP, kBP, asm.DWord),
		asm.StoreMem(asm.R6, uwBP, asm.R1, asm.DWord),
	)
	g.mark(noBP)
	g.emit(
		asm.StoreMem(asm.R6, uwSP, asm.R7, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, kRA, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, stop),
		asm.StoreMem(asm.R6, uwPC, asm.R1, asm.DWord),
		asm.LoadMem(asm.R2, asm.R6, uwN, asm.DWord),
		asm.JGE.Imm(asm.R2, maxStackDeep, stop),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.And.Imm(asm.R3, 127),
		asm.LSh.Imm(asm.R3, 3),
		asm.Add.Reg(asm.R3, asm.R6),
		asm.StoreMem(asm.R3, uwFrames, asm.R1, asm.DWord),
		asm.Add.Imm(asm.R2, 1),
		asm.StoreMem(asm.R6, uwN, asm.R2, asm.DWord),
		asm.LoadMem(asm.R4, asm.R6, uwHash, asm.DWord),
		asm.Xor.Reg(asm.R4, asm.R1),
		asm.LoadImm(asm.R5, fnvPrime, asm.DWord),
		asm.Mul.Reg(asm.R4, asm.R5),
		asm.StoreMem(asm.R6, uwHash, asm.R4, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol(stop),
		asm.Return(),
	)
}

// searchLast emits a binary search over a sorted array, unrolled to steps
// halvings (2^steps must exceed the array's length, as the verifier wants
// no loop): of the elements in [lo, hi), it counts those whose key is at
// or below the value in key, and leaves that count in lo (lo-1 is then
// the last such element, and lo is 0 when there is none). Each step puts
// (lo+hi)/2 in mid and emits load, which must leave element mid's key in
// R0 and the index in mid (it may mask it, or spill and reload it around
// a helper call), and may jump away when the element cannot be read.
// prefix+"n" and prefix+"h" name the step's labels.
func (g *gen) searchLast(prefix string, steps int, lo, hi, mid, key asm.Register, load func()) {
	for i := 0; i < steps; i++ {
		next, high := g.label(prefix+"n"), g.label(prefix+"h")
		g.emit(
			asm.JGE.Reg(lo, hi, next),
			asm.Mov.Reg(mid, lo),
			asm.Add.Reg(mid, hi),
			asm.RSh.Imm(mid, 1),
		)
		load()
		g.emit(
			asm.JGT.Reg(asm.R0, key, high),
			asm.Mov.Reg(lo, mid),
			asm.Add.Imm(lo, 1),
			asm.Ja.Label(next),
			asm.Mov.Reg(hi, mid).WithSymbol(high),
		)
		g.mark(next)
	}
}

// lookupStackKey emits bpf_map_lookup_elem of map m with the key at stack
// offset key: R0 is the value, and a miss jumps to miss (with miss "", the
// code goes on with R0 zero).
func (g *gen) lookupStackKey(m string, key int16, miss string) {
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
	)
	if miss != "" {
		g.emit(asm.JEq.Imm(asm.R0, 0, miss))
	}
}
