// Package arch is the one table of machine facts that uprobe and USDT
// programs depend on: where each register sits in the context a uprobe
// program receives (the kernel's struct pt_regs on amd64, struct
// user_pt_regs on arm64), the C and Go (ABIInternal) argument registers,
// the return-value, stack, instruction and frame pointers, the goroutine
// register, DWARF register numbers, and which instruction decoder reads the
// architecture's code.
//
// The common path: pick the table of the binary you trace and ask it for
// offsets to bake into BPF instructions.
//
//	a, err := arch.ForMachine(elfFile.Machine) // or arch.AMD64, arch.Host()
//	off, _ := a.Offset("rdi")                  // 112: asm.LoadMem(asm.R0, asm.R1, int16(off), asm.DWord)
//	first, _ := a.CArg(0)                      // rdi on amd64, x0 on arm64
//	goFirst, _ := a.GoArg(0)                   // rax on amd64, x0 on arm64
//
// API:
//
//   - [AMD64], [ARM64]: the tables; [All], [ForMachine], [ForGOARCH], [Host]
//     find one ([ErrUnknown] otherwise).
//   - [Arch.Reg], [Arch.Offset], [Arch.Offsets]: registers by canonical
//     name ("rax", "x3"), by the kernel's field name ("ax", "ip") or alias
//     ("pc", "fp", "lr").
//   - [Arch.Operand], [Arch.OperandName]: assembler names of parts of a
//     register ("eax", "dil", "w3") and their width, both ways.
//   - [Arch.CArg], [Arch.GoArg], and the fields CArgs, CStackArgs, CReturn,
//     GoIntArgs, GoFloatArgs, GoRegABI, GoG, SP, PC, FP, LR.
//   - [Arch.DWARFReg]: DWARF register number → register.
//   - Decoder, MaxInsnLen, Unprobeable: how to read code, and the
//     instructions a uprobe must never be placed on (EVEX on amd64).
//
// The tables are read-only values: do not modify an Arch or the slices it
// holds.
package arch
