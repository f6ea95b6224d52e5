package arch

import (
	"debug/elf"
	"fmt"
	"sync"
)

// ARM64 is the AArch64 table. The context is the kernel's struct
// user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h: regs[31], sp, pc,
// pstate); DWARF numbers follow the AArch64 DWARF ABI (x0-x30 are 0-30, sp
// 31, v0-v31 64-95).
var ARM64 = &Arch{
	Name:        "arm64",
	Machine:     elf.EM_AARCH64,
	PtrSize:     8,
	Context:     "struct user_pt_regs",
	ContextSize: 34 * 8,
	CArgs:       numbered("x", 0, 8),
	CStackArgs:  0,
	CReturn:     "x0",
	GoIntArgs:   numbered("x", 0, 16),
	GoFloatArgs: numbered("f", 0, 16),
	GoRegABI:    [2]int{1, 18},
	GoG:         "x28",
	SP:          "sp",
	PC:          "pc",
	FP:          "x29",
	LR:          "x30",
	Decoder:     DecoderARM64,
	MaxInsnLen:  4,
	tables:      sync.OnceValue(arm64Tables),
}

// arm64Tables builds ARM64's register tables.
func arm64Tables() *regTables {
	var regs []Reg
	ops := map[string]Operand{}
	for n := 0; n <= 30; n++ {
		r := Reg{fmt.Sprintf("x%d", n), 8 * n, n}
		regs = append(regs, r)
		ops[r.Name] = Operand{Reg: r, Width: 8}
		ops[fmt.Sprintf("w%d", n)] = Operand{Reg: r, Width: 4}
	}
	sp := Reg{"sp", 31 * 8, 31}
	pc := Reg{"pc", 32 * 8, -1}
	regs = append(regs, sp, pc, Reg{"pstate", 33 * 8, -1})
	for n := range 32 {
		regs = append(regs, Reg{fmt.Sprintf("v%d", n), -1, 64 + n})
	}
	ops["sp"] = Operand{Reg: sp, Width: 8}
	ops["wsp"] = Operand{Reg: sp, Width: 4}
	ops["pc"] = Operand{Reg: pc, Width: 8}
	ops["fp"] = Operand{Reg: regs[29], Width: 8}
	ops["lr"] = Operand{Reg: regs[30], Width: 8}
	ops["xzr"] = Operand{Width: 8, Zero: true}
	ops["wzr"] = Operand{Width: 4, Zero: true}
	return newRegTables(regs, map[string]string{"fp": "x29", "lr": "x30"}, ops)
}
