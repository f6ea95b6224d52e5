package usdt

import (
	"debug/elf"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/uscope/uscope/arch"
)

// Reg names a register by its slot in the register file a uprobe program
// receives as its context: the kernel's struct pt_regs on x86-64 (also for
// 32-bit x86 programs, which run with the same 64-bit register file) and
// struct user_pt_regs on arm64.
//
// A Reg does not depend on the alias that named it: %eax, %ax, %al and %rax
// all give the same Reg, {Name: "rax", PtRegsOffset: 80}. The argument's
// size, not the alias, tells how many low bytes of the slot hold the value.
type Reg struct {
	// Name is the canonical name: rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp,
	// r8 ... r15 and rip on x86; x0 ... x30, sp and pc on arm64.
	Name string
	// PtRegsOffset is the byte offset of the 8-byte slot in the context.
	PtRegsOffset int
}

// String returns the canonical name.
func (r Reg) String() string { return r.Name }

// ctxReg converts a register of the architecture table.
func ctxReg(r arch.Reg) Reg { return Reg{Name: r.Name, PtRegsOffset: r.Offset} }

// x86 registers that the grammar treats specially (rip-relative operands,
// rsp as an index), looked up when first parsed: at init they would build
// arch's tables for every uscope command.
var (
	regRIP = sync.OnceValue(func() Reg { return x86Named("rip") })
	regRSP = sync.OnceValue(func() Reg { return x86Named("rsp") })
)

func x86Named(name string) Reg {
	r, _ := arch.AMD64.Reg(name)
	return ctxReg(r)
}

// x86Alias is one AT&T register name: its slot and how many bytes the name
// covers.
type x86Alias struct {
	reg   Reg
	width int
}

// i386Names are the register names that exist without a REX prefix.
var i386Names = map[string]bool{
	"eax": true, "ebx": true, "ecx": true, "edx": true, "esi": true, "edi": true, "ebp": true, "esp": true,
	"ax": true, "bx": true, "cx": true, "dx": true, "si": true, "di": true, "bp": true, "sp": true,
	"al": true, "bl": true, "cl": true, "dl": true, "eip": true,
}

// x86Vector describes name when it is a vector, mask, x87 or MMX register,
// none of which is in pt_regs, and returns "" otherwise.
func x86Vector(name string) string {
	for _, c := range []struct{ prefix, what string }{
		{"xmm", "SSE register"}, {"ymm", "AVX register"}, {"zmm", "AVX-512 register"},
		{"k", "AVX-512 mask register"}, {"mm", "MMX register"}, {"st", "x87 register"},
	} {
		n, ok := strings.CutPrefix(name, c.prefix)
		if !ok {
			continue
		}
		if c.prefix == "st" {
			if n == "" {
				return c.what
			}
			if len(n) > 2 && n[0] == '(' && n[len(n)-1] == ')' {
				n = n[1 : len(n)-1]
			}
		}
		if v, err := strconv.ParseUint(n, 10, 8); err == nil && v < 32 && (n == "0" || n[0] != '0') {
			return c.what
		}
	}
	return ""
}

// arm64Reg resolves an arm64 register name. width is 8 for x registers and
// sp, 4 for w registers. zero is true for xzr/wzr, which read as 0.
func arm64Reg(name string) (r Reg, width int, zero bool, err error) {
	if o, ok := arch.ARM64.Operand(name); ok {
		if o.Zero {
			return Reg{}, o.Width, true, nil
		}
		return ctxReg(o.Reg), o.Width, false, nil
	}
	if len(name) >= 2 {
		switch name[0] {
		case 'v', 'q', 'd', 's', 'h', 'b', 'z', 'p':
			if n, err := strconv.ParseUint(name[1:], 10, 8); err == nil && n < 32 {
				return Reg{}, 0, false, fmt.Errorf("%w: SIMD/FP register", ErrUnsupported)
			}
		}
	}
	return Reg{}, 0, false, fmt.Errorf("%w: unknown arm64 register %q", ErrSyntax, name)
}

// x86Reg resolves an AT&T register operand such as "%eax" for machine m.
func x86Reg(s string, m elf.Machine) (x86Alias, error) {
	name, ok := strings.CutPrefix(s, "%")
	if !ok {
		return x86Alias{}, fmt.Errorf("%w: register %q lacks %%", ErrSyntax, s)
	}
	if o, ok := arch.AMD64.Operand(name); ok {
		if o.HighByte {
			return x86Alias{}, fmt.Errorf("%w: high-byte register", ErrUnsupported)
		}
		if m == elf.EM_386 && !i386Names[name] {
			return x86Alias{}, fmt.Errorf("%w: register %s does not exist on i386", ErrSyntax, s)
		}
		return x86Alias{ctxReg(o.Reg), o.Width}, nil
	}
	if what := x86Vector(name); what != "" {
		return x86Alias{}, fmt.Errorf("%w: %s", ErrUnsupported, what)
	}
	return x86Alias{}, fmt.Errorf("%w: unknown register %s", ErrSyntax, s)
}
