package gobin

import (
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// maxPrologueInsns bounds how many instructions PrologueEndAMD64 examines: the
// longest stack check (huge frames) is five instructions, after an optional
// load of g from thread-local storage in ABI0 functions.
const maxPrologueInsns = 8

// PrologueEndAMD64 returns the address of the first instruction after the
// stack-check prologue of an amd64 Go function whose machine code, starting
// at link-time address entry, is code. The prologue compares the stack
// pointer, or the stack pointer less the frame size, with g.stackguard0 and
// branches to a call of runtime.morestack placed at the end of the function,
// which then jumps back to the entry:
//
//	cmp 0x10(%r14),%rsp                         small frames
//	jbe <morestack>
//
//	lea -N(%rsp),%r12                           large frames
//	cmp 0x10(%r14),%r12
//	jbe <morestack>
//
//	mov %rsp,%r12                               huge frames
//	sub $N,%r12
//	jb <morestack>
//	cmp 0x10(%r14),%r12
//	jbe <morestack>
//
// An entry probe placed after the final branch fires once per call even when
// the stack grows (a call that must grow it branches away before the probe
// and comes back through the entry, where the check then passes), and
// usually lands on an instruction the kernel emulates (push %rbp) instead of
// single-stepping. insn is that instruction
// in GNU syntax. ok is false when the function has no stack check (NOSPLIT
// functions, small leaves): probe the entry then.
func PrologueEndAMD64(code []byte, entry uint64) (addr uint64, insn string, ok bool) {
	off := 0
	sawCmp := false
	// Registers holding the stack pointer (less a constant) and g.
	spLike := map[x86asm.Reg]bool{x86asm.RSP: true}
	gRegs := map[x86asm.Reg]bool{x86asm.R14: true}
	for n := 0; n < maxPrologueInsns && off < len(code); n++ {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len == 0 || inst.Op == 0 {
			return 0, "", false
		}
		next := off + inst.Len
		switch inst.Op {
		case x86asm.MOV:
			// mov %fs:..,%r14 (g from TLS in ABI0 code), mov %rsp,%r12.
			dst, isReg := inst.Args[0].(x86asm.Reg)
			if !isReg {
				return 0, "", false
			}
			switch src := inst.Args[1].(type) {
			case x86asm.Reg:
				if spLike[src] {
					spLike[dst] = true
				} else {
					return 0, "", false
				}
			case x86asm.Mem:
				switch {
				case src.Segment == x86asm.FS || src.Segment == x86asm.GS:
					gRegs[dst] = true // g from thread-local storage
				case src.Base == x86asm.RIP:
					// The TLS offset from the GOT, in dynamically
					// linked code; the load of g follows.
				default:
					return 0, "", false
				}
			default:
				return 0, "", false
			}
		case x86asm.LEA:
			dst, isReg := inst.Args[0].(x86asm.Reg)
			src, isMem := inst.Args[1].(x86asm.Mem)
			if !isReg || !isMem || src.Base != x86asm.RSP || src.Index != 0 || src.Disp > 0 {
				return 0, "", false
			}
			spLike[dst] = true
		case x86asm.SUB:
			dst, isReg := inst.Args[0].(x86asm.Reg)
			if _, isImm := inst.Args[1].(x86asm.Imm); !isReg || !isImm || !spLike[dst] || dst == x86asm.RSP {
				return 0, "", false
			}
		case x86asm.CMP:
			reg, isReg := inst.Args[0].(x86asm.Reg)
			mem, isMem := inst.Args[1].(x86asm.Mem)
			if !isReg || !isMem || !spLike[reg] || !gRegs[mem.Base] || mem.Index != 0 ||
				(mem.Disp != 0x10 && mem.Disp != 0x18) || mem.Segment != 0 {
				return 0, "", false
			}
			sawCmp = true
		case x86asm.JB, x86asm.JBE:
			target, ok := branchTarget(inst, entry+uint64(off))
			if !ok || target <= entry+uint64(next) || target >= entry+uint64(len(code)) {
				return 0, "", false
			}
			if inst.Op == x86asm.JBE {
				if !sawCmp {
					return 0, "", false
				}
				addr = entry + uint64(next)
				insn = "?"
				if after, err := x86asm.Decode(code[next:], 64); err == nil {
					insn = x86asm.GNUSyntax(after, addr, nil)
				}
				return addr, insn, true
			}
		default:
			return 0, "", false
		}
		off = next
	}
	return 0, "", false
}

// branchTarget returns the absolute target of a direct (relative) branch
// decoded at pc.
func branchTarget(inst x86asm.Inst, pc uint64) (uint64, bool) {
	rel, ok := inst.Args[0].(x86asm.Rel)
	if !ok {
		return 0, false
	}
	return pc + uint64(inst.Len) + uint64(int64(rel)), true
}

// RetSitesAMD64 returns the address of every RET instruction in the amd64 machine
// code of a function that starts at link-time address entry, decoding the
// instructions one after the other. Go functions hold no data in their code,
// so the linear walk sees every instruction. When an instruction cannot be
// decoded, RetSitesAMD64 returns the sites found before it and an error: a
// return probe set that may miss a RET must not be trusted.
func RetSitesAMD64(code []byte, entry uint64) ([]uint64, error) {
	var sites []uint64
	err := walk(code, entry, func(inst x86asm.Inst, pc uint64) {
		if inst.Op == x86asm.RET {
			sites = append(sites, pc)
		}
	})
	return sites, err
}

// JumpsOutAMD64 returns the addresses of the jump instructions in the amd64
// machine code of a function that leave it, direct jumps whose target is
// outside [entry, entry+len(code)) and indirect jumps. A function that ends
// in such a jump (a wrapper's tail call) returns through another function's
// RET, which return probes on its own RET sites do not see.
func JumpsOutAMD64(code []byte, entry uint64) ([]uint64, error) {
	var sites []uint64
	end := entry + uint64(len(code))
	err := walk(code, entry, func(inst x86asm.Inst, pc uint64) {
		if inst.Op != x86asm.JMP {
			return
		}
		if t, ok := branchTarget(inst, pc); ok && t >= entry && t < end {
			return
		}
		sites = append(sites, pc)
	})
	return sites, err
}

// walk decodes code linearly, calling fn for each instruction.
func walk(code []byte, entry uint64, fn func(inst x86asm.Inst, pc uint64)) error {
	for off := 0; off < len(code); {
		if n := vexLen(code[off:]); n > 0 {
			off += n // AVX: neither a return nor a jump
			continue
		}
		inst, err := x86asm.Decode(code[off:], 64)
		if err == nil && (inst.Len <= 0 || inst.Op == 0) {
			// x86asm returns a prefix alone, without an error, for a
			// truncated instruction.
			err = errors.New("truncated instruction")
		}
		if err != nil {
			return fmt.Errorf("gobin: cannot decode instruction at %#x (% x): %w", entry+uint64(off), head(code[off:], 8), err)
		}
		fn(inst, entry+uint64(off))
		off += inst.Len
	}
	return nil
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// ReturnProbeSites returns, for each RET instruction of an amd64 function
// (as RetSites finds them), the address where a return probe is cheapest
// with the same effect: the RET itself, or the NOP right before it when
// the function cannot reach the RET without passing through that NOP.
// The kernel single-steps a probed RET out of line but emulates a NOP (a
// tenth of the cost, bench/RESULTS.md); at the NOP every register and the
// stack pointer hold what they hold at the RET, so results and the
// goroutine's depth read the same, whatever the stack did before.
//
// The NOP is used only when no direct branch of the function targets the
// RET and the function has no indirect jump (a jump table's targets are
// not in the code).
func ReturnProbeSites(code []byte, entry uint64) ([]uint64, error) {
	type ret struct{ at, nop uint64 }
	var rets []ret
	targets := map[uint64]bool{}
	indirect := false
	var prev x86asm.Inst
	var prevPC uint64
	havePrev := false
	err := walk(code, entry, func(inst x86asm.Inst, pc uint64) {
		switch {
		case inst.Op == x86asm.RET:
			r := ret{at: pc}
			if havePrev && prev.Op == x86asm.NOP && prevPC+uint64(prev.Len) == pc {
				r.nop = prevPC
			}
			rets = append(rets, r)
		case isBranch(inst.Op):
			if t, ok := branchTarget(inst, pc); ok {
				targets[t] = true
			} else if inst.Op == x86asm.JMP {
				indirect = true
			}
		}
		prev, prevPC, havePrev = inst, pc, true
	})
	if err != nil {
		return nil, err
	}
	out := make([]uint64, 0, len(rets))
	for _, r := range rets {
		if r.nop != 0 && !indirect && !targets[r.at] {
			out = append(out, r.nop)
		} else {
			out = append(out, r.at)
		}
	}
	return out, nil
}

// isBranch reports jumps, conditional jumps and loops: instructions that
// may continue at another address in the function.
func isBranch(op x86asm.Op) bool {
	switch op {
	case x86asm.JMP, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JO, x86asm.JNO, x86asm.JP, x86asm.JNP,
		x86asm.JS, x86asm.JNS, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}
