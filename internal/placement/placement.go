// Package placement chooses where an entry uprobe goes in an x86-64
// function: at its first instruction, or a few instructions further on, at
// the first instruction the running kernel emulates instead of
// single-stepping, when the instructions skipped cannot change what the
// probe observes.
//
// A uprobe hit on an emulated instruction (nop, push reg, relative
// call/jmp/jcc) costs one trap; on any other instruction the kernel also
// copies the instruction out of line and single-steps it (a second trap),
// which costs several times more. Most C functions begin with a compare and
// a conditional branch (cmp; ja, test; je): probing the branch instead of
// the compare sees the same arguments, fires once per call, and is cheap.
//
// An instruction may be skipped when it (a) writes no register the probe
// may read (the argument registers of the ABI, plus any the program names),
// (b) leaves rsp alone, (c) writes no memory and (d) is not a branch. Flags
// may change. The site may move only when (e) no branch or call in the whole
// function targets the skipped instructions or the new site, so the probe
// still fires exactly once per call; a function that cannot be decoded
// completely, or holds an indirect jump other than a tail call through a
// RIP-relative pointer (a jump table could go anywhere), keeps its entry.
package placement

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// RegSet is a set of 64-bit general-purpose registers, by x86asm.Reg.
type RegSet map[x86asm.Reg]bool

// SysVArgs are the integer argument registers of the SysV x86-64 ABI.
var SysVArgs = regSet(x86asm.RDI, x86asm.RSI, x86asm.RDX, x86asm.RCX, x86asm.R8, x86asm.R9)

// GoArgs are the integer argument registers of Go's ABIInternal on amd64.
var GoArgs = regSet(x86asm.RAX, x86asm.RBX, x86asm.RCX, x86asm.RDI, x86asm.RSI,
	x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11)

func regSet(rs ...x86asm.Reg) RegSet {
	s := RegSet{}
	for _, r := range rs {
		s[r] = true
	}
	return s
}

// Union returns a set holding the registers of s and of every name in
// names ("rax", "eax", "ax", "r8", ...; unknown names are ignored).
func (s RegSet) Union(names ...string) RegSet {
	out := RegSet{}
	for r := range s {
		out[r] = true
	}
	for _, n := range names {
		if r, ok := regByName[strings.ToLower(strings.TrimPrefix(n, "%"))]; ok {
			out[r] = true
		}
	}
	return out
}

// regByName maps register names (every width) and pt_regs names ("ax",
// "di") to the 64-bit register.
var regByName = func() map[string]x86asm.Reg {
	m := map[string]x86asm.Reg{}
	for r := x86asm.AL; r <= x86asm.R15; r++ {
		if f, ok := family(r); ok {
			m[strings.ToLower(r.String())] = f
		}
	}
	return m
}()

// family returns the 64-bit register a general-purpose register of any
// width is part of.
func family(r x86asm.Reg) (x86asm.Reg, bool) {
	gp64 := [16]x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RBX, x86asm.RSP, x86asm.RBP, x86asm.RSI, x86asm.RDI,
		x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11, x86asm.R12, x86asm.R13, x86asm.R14, x86asm.R15}
	switch {
	case r >= x86asm.AL && r <= x86asm.BH: // AL CL DL BL AH CH DH BH
		return gp64[(r-x86asm.AL)%4], true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return gp64[4+(r-x86asm.SPB)], true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return gp64[r-x86asm.AX], true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return gp64[r-x86asm.EAX], true
	case r >= x86asm.RAX && r <= x86asm.R15:
		return r, true
	}
	return 0, false
}

// Choice is where an entry probe goes and why.
type Choice struct {
	// Offset is the distance of the chosen site from the function's
	// first instruction (0: the entry itself).
	Offset uint64
	// Insn is the class of the instruction at the site: "jcc", "jmp",
	// "call", "push", "nop", "nop5", "nopl", "endbr64", or its mnemonic
	// when the kernel single-steps it.
	Insn string
	// Emulated reports whether the kernel emulates Insn.
	Emulated bool
	// Skipped lists the mnemonics of the instructions between the entry
	// and the site.
	Skipped []string
	// Why says, when the probe stays at an entry the kernel single-steps,
	// what kept it there.
	Why string
}

// String renders the choice as `uscope list -v` and `run -d` print it:
// "+4 (jcc, emulated; skipped cmp)", "+0 (push, emulated)",
// "+0 (test, single-stepped; kept: je at +0x1a jumps to +0x3)".
func (c Choice) String() string {
	return string(c.Append(make([]byte, 0, 40+len(c.Insn)+len(c.Why))))
}

// Append appends String's text to b: a wildcard renders the choice of each
// of its sites (43,713 on libjvm.so), and most of them are the same few
// texts, which a caller can look up without allocating.
func (c Choice) Append(b []byte) []byte {
	b = append(b, '+')
	b = strconv.AppendUint(b, c.Offset, 10)
	b = append(b, " ("...)
	b = append(b, c.Insn...)
	b = append(b, ", "...)
	if c.Emulated {
		b = append(b, "emulated"...)
	} else {
		b = append(b, "single-stepped"...)
	}
	for i, m := range c.Skipped {
		if i == 0 {
			b = append(b, "; skipped "...)
		} else {
			b = append(b, ", "...)
		}
		b = append(b, m...)
	}
	if c.Why != "" {
		b = append(b, "; kept: "...)
		b = append(b, c.Why...)
	}
	return append(b, ')')
}

// maxSkip bounds how many instructions may be skipped.
const maxSkip = 4

// Choose picks the site of an entry probe on the function whose machine
// code (all of it: the whole function is decoded to find branches into its
// first instructions) starts at code[0]. keep holds the registers the probe
// may read (SysVArgs, GoArgs, plus any the program reads by name); k says
// which instructions the kernel emulates.
func Choose(code []byte, keep RegSet, k Kernel) Choice {
	first, firstLen, ok := classify(code, k)
	if !ok {
		return Choice{Insn: "?", Why: "cannot decode the first instruction"}
	}
	if k.Emulates(first) {
		return Choice{Insn: first, Emulated: true}
	}
	entry := Choice{Insn: first}
	off := 0
	var skipped []string
	for n := 0; ; n++ {
		if n > 0 {
			cls, l, ok := classify(code[off:], k)
			if !ok {
				entry.Why = fmt.Sprintf("cannot decode +%d", off)
				return entry
			}
			if k.Emulates(cls) {
				if why := branchesInto(code, uint64(off)); why != "" {
					entry.Why = why
					return entry
				}
				return Choice{Offset: uint64(off), Insn: cls, Emulated: true, Skipped: skipped}
			}
			firstLen = l
		}
		if n == maxSkip {
			entry.Why = fmt.Sprintf("no emulated instruction in the first %d", maxSkip)
			return entry
		}
		name, why := skippable(code[off:], keep)
		if why != "" {
			entry.Why = why
			if off > 0 {
				entry.Why = fmt.Sprintf("+%d %s", off, why)
			}
			return entry
		}
		skipped = append(skipped, name)
		off += firstLen
	}
}

// classify returns the kernel's class of the instruction at the start of
// code (see Kernel), or its mnemonic for other instructions, and its length.
func classify(code []byte, k Kernel) (string, int, bool) {
	if isEndbr64(code) {
		return "endbr64", 4, true
	}
	// Prefixes the kernel accepts on a 1-byte nop (xchg %ax,%ax; data16 nops).
	i := 0
	for i < len(code) && code[i] == 0x66 {
		i++
	}
	if i < len(code) && code[i] == 0x90 {
		return "nop", i + 1, true
	}
	// push %r64 and push %r8..%r15 (half the functions of a C++ library
	// start with one) without the decoder: what its case below returns.
	if len(code) >= 1 && code[0] >= 0x50 && code[0] <= 0x57 {
		return "push", 1, true
	}
	if len(code) >= 2 && code[0] == 0x41 && code[1] >= 0x50 && code[1] <= 0x57 {
		return "push", 2, true
	}
	inst, err := x86asm.Decode(code, 64)
	if err != nil || inst.Len == 0 {
		return "", 0, false
	}
	b := code[:inst.Len]
	switch {
	case inst.Op == x86asm.NOP && len(b) == 5 && b[0] == 0x0f && b[1] == 0x1f && b[2] == 0x44 && b[3] == 0 && b[4] == 0:
		return "nop5", 5, true
	case inst.Op == x86asm.NOP:
		return "nopl", inst.Len, true
	case inst.Op == x86asm.PUSH && (b[0] >= 0x50 && b[0] <= 0x57 || len(b) == 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57):
		return "push", inst.Len, true
	case b[0] == 0xe8:
		return "call", inst.Len, true
	case b[0] == 0xe9 || b[0] == 0xeb:
		return "jmp", inst.Len, true
	case b[0] >= 0x70 && b[0] <= 0x7f, len(b) >= 2 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f:
		return "jcc", inst.Len, true
	}
	return strings.ToLower(inst.Op.String()), inst.Len, true
}

// flagsOnly are instructions that write nothing but the flags.
var flagsOnly = map[x86asm.Op]bool{x86asm.CMP: true, x86asm.TEST: true, x86asm.BT: true}

// toRegister are instructions whose only effects are their first operand
// (when it is a register) and the flags.
var toRegister = map[x86asm.Op]bool{
	x86asm.MOV: true, x86asm.MOVZX: true, x86asm.MOVSX: true, x86asm.MOVSXD: true, x86asm.LEA: true,
	x86asm.ADD: true, x86asm.SUB: true, x86asm.AND: true, x86asm.OR: true, x86asm.XOR: true,
	x86asm.INC: true, x86asm.DEC: true, x86asm.NEG: true, x86asm.NOT: true,
	x86asm.SHL: true, x86asm.SHR: true, x86asm.SAR: true,
}

// skippable reports whether the instruction at the start of code may be
// skipped: its mnemonic, or why not.
func skippable(code []byte, keep RegSet) (string, string) {
	if isEndbr64(code) {
		return "endbr64", ""
	}
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return "", "cannot decode it"
	}
	name := strings.ToLower(inst.Op.String())
	if inst.Prefix[0] != 0 {
		for _, p := range inst.Prefix {
			if p == 0 {
				break
			}
			if p&0xff == x86asm.PrefixLOCK&0xff || p&0xff == x86asm.PrefixREP&0xff || p&0xff == x86asm.PrefixREPN&0xff {
				return name, name + " has a lock or rep prefix"
			}
		}
	}
	if flagsOnly[inst.Op] {
		return name, ""
	}
	if !toRegister[inst.Op] {
		return name, name + " may branch, move rsp or write memory"
	}
	dst, ok := inst.Args[0].(x86asm.Reg)
	if !ok {
		return name, name + " writes memory"
	}
	f, ok := family(dst)
	if !ok {
		return name, fmt.Sprintf("%s writes %s", name, strings.ToLower(dst.String()))
	}
	if f == x86asm.RSP {
		return name, name + " changes rsp"
	}
	if keep[f] {
		return name, fmt.Sprintf("%s writes %s, which the probe reads", name, strings.ToLower(f.String()))
	}
	return name, ""
}

// branchesInto decodes the whole function and returns why the site at off
// must not be used: a branch targeting [0, off] (a call, the range (0, off]),
// an instruction that cannot be decoded, or an indirect jump; "" when
// none.
func branchesInto(code []byte, off uint64) string {
	for pc := 0; pc < len(code); {
		if isEndbr64(code[pc:]) {
			pc += 4
			continue
		}
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil || inst.Len == 0 {
			// Padding after the last instruction decodes as what it is
			// (int3, nops); anything else is code we cannot read.
			return fmt.Sprintf("cannot decode +0x%x", pc)
		}
		next := pc + inst.Len
		switch inst.Op {
		case x86asm.JMP, x86asm.CALL, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JG, x86asm.JGE,
			x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS,
			x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ, x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.XBEGIN:
			switch a := inst.Args[0].(type) {
			case x86asm.Rel:
				t := int64(next) + int64(a)
				lo := int64(0)
				if inst.Op == x86asm.CALL {
					lo = 1 // a recursive call runs the skipped instructions
				}
				if t >= lo && t <= int64(off) {
					return fmt.Sprintf("%s at +0x%x goes to +0x%x", strings.ToLower(inst.Op.String()), pc, t)
				}
			case x86asm.Mem:
				// A call or tail call through a RIP-relative pointer
				// (GOT, function pointer) goes to a symbol, never into
				// the first instructions of this one; other indirect
				// jumps may (jump tables).
				if inst.Op == x86asm.JMP && a.Base != x86asm.RIP {
					return fmt.Sprintf("indirect jmp at +0x%x", pc)
				}
			default:
				if inst.Op == x86asm.JMP {
					return fmt.Sprintf("indirect jmp at +0x%x", pc)
				}
			}
		}
		pc = next
	}
	return ""
}

// isEndbr64 reports whether code starts with endbr64 (f3 0f 1e fa), which
// x86asm does not decode.
func isEndbr64(code []byte) bool {
	return len(code) >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa
}

// Keep returns the choice of the function's first instruction, for a
// reason found outside the function's code (why), such as another symbol
// starting inside the instructions Choose would skip.
func Keep(code []byte, k Kernel, why string) Choice {
	cls, _, ok := classify(code, k)
	if !ok {
		cls = "?"
	}
	return Choice{Insn: cls, Emulated: ok && k.Emulates(cls), Why: why}
}
