package usdtbpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/usdt"
)

// ErrCannotFetch is wrapped by [FetchArg] for an argument that a uprobe
// program cannot read: one with [usdt.Arg.Err] set, or one naming a symbol
// that was not found.
var ErrCannotFetch = errors.New("usdt argument cannot be fetched")

// ipOffset is the context offset of the instruction pointer on the machine
// the BPF program runs on.
func ipOffset() int {
	a := arch.Host()
	if a == nil {
		a = arch.AMD64
	}
	off, _ := a.Offset(a.PC)
	return off
}

// FetchArg returns instructions that leave argument a of the USDT site at
// link-time address siteAddr in R0, as a 64-bit value: the argument's
// exact width read (1, 2, 4 or 8 bytes), zero- or sign-extended as its
// spec says. It is what uscope's compiler generates for argN.
//
// ctx is the register holding the program's context (the struct pt_regs
// pointer the program received in R1). slot is the offset from R10 of an
// 8-byte stack slot that memory operands are read into; register and
// constant operands do not touch it. The instructions clobber R0-R5 (memory
// operands call bpf_probe_read_user; a failed read gives 0).
func FetchArg(a usdt.Arg, siteAddr uint64, ctx asm.Register, slot int16) (asm.Instructions, error) {
	if a.Err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCannotFetch, a.Raw, a.Err)
	}
	size := a.Size
	if size != 1 && size != 2 && size != 4 && size != 8 {
		size = 8
	}
	var insns asm.Instructions
	switch a.Kind {
	case usdt.ArgConst:
		insns = append(insns, asm.LoadImm(asm.R0, a.Offset, asm.DWord))
		return append(insns, extend(size, a.Signed)...), nil
	case usdt.ArgReg:
		insns = append(insns, asm.LoadMem(asm.R0, ctx, int16(a.Reg.PtRegsOffset), asm.DWord))
		return append(insns, extend(size, a.Signed)...), nil
	case usdt.ArgMem, usdt.ArgMemIndex:
		// base + index*scale + displacement; a non-PIE operand may have no
		// base (arr(,%rax,4)) and a symbol as its displacement.
		disp := a.Offset
		if a.Symbol != "" {
			if !a.Resolved {
				return nil, fmt.Errorf("%w: %s refers to symbol %q, which is not in the symbol table", ErrCannotFetch, a.Raw, a.Symbol)
			}
			disp = int64(a.SymbolAddr)
		}
		if a.Reg.Name != "" {
			insns = append(insns, asm.LoadMem(asm.R0, ctx, int16(a.Reg.PtRegsOffset), asm.DWord))
		} else {
			insns = append(insns, asm.Mov.Imm(asm.R0, 0))
		}
		if a.Kind == usdt.ArgMemIndex && a.Index.Name != "" {
			insns = append(insns, asm.LoadMem(asm.R1, ctx, int16(a.Index.PtRegsOffset), asm.DWord))
			if a.Scale > 1 {
				insns = append(insns, asm.Mul.Imm(asm.R1, int32(a.Scale)))
			}
			insns = append(insns, asm.Add.Reg(asm.R0, asm.R1))
		}
		if disp == int64(int32(disp)) {
			insns = append(insns, asm.Add.Imm(asm.R0, int32(disp)))
		} else {
			insns = append(insns, asm.LoadImm(asm.R1, disp, asm.DWord), asm.Add.Reg(asm.R0, asm.R1))
		}
	case usdt.ArgRIP:
		if !a.Resolved {
			return nil, fmt.Errorf("%w: %s refers to symbol %q, which is not in the symbol table", ErrCannotFetch, a.Raw, a.Symbol)
		}
		// The runtime address of the global: the probe's ip, minus the
		// probe's link-time address, plus the symbol's.
		insns = append(insns,
			asm.LoadMem(asm.R0, ctx, int16(ipOffset()), asm.DWord),
			asm.LoadImm(asm.R1, int64(a.SymbolAddr-siteAddr), asm.DWord),
			asm.Add.Reg(asm.R0, asm.R1),
		)
	default:
		return nil, fmt.Errorf("%w: %s has an unsupported form", ErrCannotFetch, a.Raw)
	}
	return append(insns, ReadUser(size, a.Signed, slot)...), nil
}

// ReadUser returns instructions that replace the user-space address in R0
// with the size-byte integer stored there (zero-extended, or sign-extended
// when signed), read with bpf_probe_read_user through the 8-byte stack slot
// at R10+slot. A failed read gives 0.
func ReadUser(size int, signed bool, slot int16) asm.Instructions {
	insns := asm.Instructions{
		{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.RFP, Offset: slot, Constant: 0},
		asm.Mov.Reg(asm.R3, asm.R0),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(slot)),
		asm.Mov.Imm(asm.R2, int32(size)),
		asm.FnProbeReadUser.Call(),
		asm.LoadMem(asm.R0, asm.RFP, slot, sizeOf(size)),
	}
	if signed {
		insns = append(insns, extend(size, true)...)
	}
	return insns
}

// extend clears (or sign-extends) R0's bits above size bytes.
func extend(size int, signed bool) asm.Instructions {
	if size >= 8 {
		return nil
	}
	shift := int32(64 - 8*size)
	if signed {
		return asm.Instructions{asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift)}
	}
	return asm.Instructions{asm.LSh.Imm(asm.R0, shift), asm.RSh.Imm(asm.R0, shift)}
}

func sizeOf(n int) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 4:
		return asm.Word
	}
	return asm.DWord
}
