package arch

import (
	"debug/elf"
	"fmt"
	"sync"
)

// AMD64 is the x86-64 table. The context is the kernel's struct pt_regs
// (arch/x86/include/asm/ptrace.h), which 32-bit x86 programs share on a
// 64-bit kernel; DWARF numbers follow the System V AMD64 psABI.
var AMD64 = &Arch{
	Name:        "amd64",
	Machine:     elf.EM_X86_64,
	PtrSize:     8,
	Context:     "struct pt_regs",
	ContextSize: 21 * 8,
	CArgs:       []string{"rdi", "rsi", "rdx", "rcx", "r8", "r9"},
	CStackArgs:  8,
	CReturn:     "rax",
	GoIntArgs:   []string{"rax", "rbx", "rcx", "rdi", "rsi", "r8", "r9", "r10", "r11"},
	GoFloatArgs: numbered("xmm", 0, 15),
	GoRegABI:    [2]int{1, 17},
	GoG:         "r14",
	SP:          "rsp",
	PC:          "rip",
	FP:          "rbp",
	Decoder:     DecoderX86,
	MaxInsnLen:  15,
	Unprobeable: amd64Unprobeable,
	tables:      sync.OnceValue(amd64Tables),
}

// amd64Tables builds AMD64's register tables.
func amd64Tables() *regTables {
	// struct pt_regs, in order: field name, canonical name, DWARF number.
	slots := []struct {
		field, name string
		dwarf       int
	}{
		{"r15", "r15", 15}, {"r14", "r14", 14}, {"r13", "r13", 13}, {"r12", "r12", 12},
		{"bp", "rbp", 6}, {"bx", "rbx", 3}, {"r11", "r11", 11}, {"r10", "r10", 10},
		{"r9", "r9", 9}, {"r8", "r8", 8}, {"ax", "rax", 0}, {"cx", "rcx", 2},
		{"dx", "rdx", 1}, {"si", "rsi", 4}, {"di", "rdi", 5}, {"orig_ax", "orig_rax", -1},
		{"ip", "rip", 16}, {"cs", "cs", 51}, {"flags", "flags", 49}, {"sp", "rsp", 7},
		{"ss", "ss", 52},
	}
	var regs []Reg
	aliases := map[string]string{"pc": "rip", "eflags": "flags", "rflags": "flags"}
	for i, s := range slots {
		regs = append(regs, Reg{s.name, 8 * i, s.dwarf})
		if s.field != s.name {
			aliases[s.field] = s.name
		}
	}
	for i := range 16 {
		regs = append(regs, Reg{fmt.Sprintf("xmm%d", i), -1, 17 + i})
	}
	reg := func(name string) Reg {
		for _, r := range regs {
			if r.Name == name {
				return r
			}
		}
		panic("arch: no amd64 register " + name) // table construction only
	}
	ops := make(map[string]Operand, 80) // 8 × 4–5 legacy names, 8 × 5 numbered, rip, eip
	for _, l := range []struct{ r64, r32, r16, r8, high string }{
		{"rax", "eax", "ax", "al", "ah"}, {"rbx", "ebx", "bx", "bl", "bh"},
		{"rcx", "ecx", "cx", "cl", "ch"}, {"rdx", "edx", "dx", "dl", "dh"},
		{"rsi", "esi", "si", "sil", ""}, {"rdi", "edi", "di", "dil", ""},
		{"rbp", "ebp", "bp", "bpl", ""}, {"rsp", "esp", "sp", "spl", ""},
	} {
		r := reg(l.r64)
		ops[l.r64] = Operand{Reg: r, Width: 8}
		ops[l.r32] = Operand{Reg: r, Width: 4}
		ops[l.r16] = Operand{Reg: r, Width: 2}
		ops[l.r8] = Operand{Reg: r, Width: 1}
		if l.high != "" {
			ops[l.high] = Operand{Reg: r, Width: 1, HighByte: true}
		}
	}
	for n := 8; n <= 15; n++ {
		name := fmt.Sprintf("r%d", n)
		r := reg(name)
		ops[name] = Operand{Reg: r, Width: 8}
		ops[name+"d"] = Operand{Reg: r, Width: 4}
		ops[name+"w"] = Operand{Reg: r, Width: 2}
		ops[name+"b"] = Operand{Reg: r, Width: 1}
		ops[name+"l"] = Operand{Reg: r, Width: 1} // Intel's byte name, accepted by gas
	}
	ops["rip"] = Operand{Reg: reg("rip"), Width: 8}
	ops["eip"] = Operand{Reg: reg("rip"), Width: 4}
	return newRegTables(regs, aliases, ops)
}

// amd64Unprobeable refuses EVEX-encoded (AVX-512) instructions: opcode byte
// 62 after legacy prefixes, which in 64-bit mode is nothing else. Linux
// 6.18 accepts uprobes on them but executes them wrongly out of line, and
// every process that runs the probed instruction misbehaves.
func amd64Unprobeable(code []byte) string {
	for _, b := range code {
		switch b {
		case 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3:
			continue
		}
		if b == 0x62 {
			return "its instruction is EVEX-encoded (AVX-512), which the kernel executes wrongly when probed"
		}
		return ""
	}
	return ""
}

// numbered returns prefix+first ... prefix+(first+n-1).
func numbered(prefix string, first, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s%d", prefix, first+i)
	}
	return s
}
