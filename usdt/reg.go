package usdt

import (
	"debug/elf"
	"fmt"
	"strconv"
	"strings"
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

// x86-64 struct pt_regs offsets (arch/x86/include/asm/ptrace.h).
var (
	regR15 = Reg{"r15", 0}
	regR14 = Reg{"r14", 8}
	regR13 = Reg{"r13", 16}
	regR12 = Reg{"r12", 24}
	regRBP = Reg{"rbp", 32}
	regRBX = Reg{"rbx", 40}
	regR11 = Reg{"r11", 48}
	regR10 = Reg{"r10", 56}
	regR9  = Reg{"r9", 64}
	regR8  = Reg{"r8", 72}
	regRAX = Reg{"rax", 80}
	regRCX = Reg{"rcx", 88}
	regRDX = Reg{"rdx", 96}
	regRSI = Reg{"rsi", 104}
	regRDI = Reg{"rdi", 112}
	regRIP = Reg{"rip", 128}
	regRSP = Reg{"rsp", 152}
)

// x86Alias is one AT&T register name: its slot and how many bytes the name
// covers.
type x86Alias struct {
	reg   Reg
	width int
}

// x86Regs maps every general-purpose register name (without the %) to its
// slot. The legacy high-byte names (ah, bh, ch, dh) are handled apart.
var x86Regs = func() map[string]x86Alias {
	m := make(map[string]x86Alias)
	legacy := []struct {
		reg                Reg
		r64, r32, r16, r8l string
	}{
		{regRAX, "rax", "eax", "ax", "al"},
		{regRBX, "rbx", "ebx", "bx", "bl"},
		{regRCX, "rcx", "ecx", "cx", "cl"},
		{regRDX, "rdx", "edx", "dx", "dl"},
		{regRSI, "rsi", "esi", "si", "sil"},
		{regRDI, "rdi", "edi", "di", "dil"},
		{regRBP, "rbp", "ebp", "bp", "bpl"},
		{regRSP, "rsp", "esp", "sp", "spl"},
	}
	for _, l := range legacy {
		m[l.r64] = x86Alias{l.reg, 8}
		m[l.r32] = x86Alias{l.reg, 4}
		m[l.r16] = x86Alias{l.reg, 2}
		m[l.r8l] = x86Alias{l.reg, 1}
	}
	for _, r := range []Reg{regR8, regR9, regR10, regR11, regR12, regR13, regR14, regR15} {
		m[r.Name] = x86Alias{r, 8}
		m[r.Name+"d"] = x86Alias{r, 4}
		m[r.Name+"w"] = x86Alias{r, 2}
		m[r.Name+"b"] = x86Alias{r, 1}
		m[r.Name+"l"] = x86Alias{r, 1} // Intel-style byte name, accepted by gas
	}
	m["rip"] = x86Alias{regRIP, 8}
	m["eip"] = x86Alias{regRIP, 4}
	return m
}()

// i386Names are the register names that exist without a REX prefix.
var i386Names = map[string]bool{
	"eax": true, "ebx": true, "ecx": true, "edx": true, "esi": true, "edi": true, "ebp": true, "esp": true,
	"ax": true, "bx": true, "cx": true, "dx": true, "si": true, "di": true, "bp": true, "sp": true,
	"al": true, "bl": true, "cl": true, "dl": true, "eip": true,
}

// x86HighByte holds the legacy high-byte registers: bits 8-15 of a slot,
// which no USDT consumer fetches.
var x86HighByte = map[string]Reg{"ah": regRAX, "bh": regRBX, "ch": regRCX, "dh": regRDX}

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
	switch name {
	case "sp":
		return Reg{"sp", 248}, 8, false, nil
	case "wsp":
		return Reg{"sp", 248}, 4, false, nil
	case "pc":
		return Reg{"pc", 256}, 8, false, nil
	case "fp":
		return Reg{"x29", 29 * 8}, 8, false, nil
	case "lr":
		return Reg{"x30", 30 * 8}, 8, false, nil
	case "xzr":
		return Reg{}, 8, true, nil
	case "wzr":
		return Reg{}, 4, true, nil
	}
	if len(name) >= 2 {
		var w int
		switch name[0] {
		case 'x':
			w = 8
		case 'w':
			w = 4
		case 'v', 'q', 'd', 's', 'h', 'b', 'z', 'p':
			if n, err := strconv.ParseUint(name[1:], 10, 8); err == nil && n < 32 {
				return Reg{}, 0, false, fmt.Errorf("%w: SIMD/FP register", ErrUnsupported)
			}
		}
		if w != 0 && (len(name) == 2 || name[1] != '0') {
			if n, err := strconv.ParseUint(name[1:], 10, 8); err == nil && n <= 30 {
				return Reg{"x" + name[1:], int(n) * 8}, w, false, nil
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
	if a, ok := x86Regs[name]; ok {
		if m == elf.EM_386 && !i386Names[name] {
			return x86Alias{}, fmt.Errorf("%w: register %s does not exist on i386", ErrSyntax, s)
		}
		return a, nil
	}
	if _, ok := x86HighByte[name]; ok {
		return x86Alias{}, fmt.Errorf("%w: high-byte register", ErrUnsupported)
	}
	if what := x86Vector(name); what != "" {
		return x86Alias{}, fmt.Errorf("%w: %s", ErrUnsupported, what)
	}
	return x86Alias{}, fmt.Errorf("%w: unknown register %s", ErrSyntax, s)
}
