package arch

import (
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"testing"
	"unsafe"
)

// ptRegs is the kernel's x86-64 struct pt_regs as
// arch/x86/include/asm/ptrace.h declares it (orig_ax, flags), field by field.
type ptRegs struct {
	r15, r14, r13, r12, bp, bx, r11, r10, r9, r8 uint64
	ax, cx, dx, si, di, origAX, ip, cs, flags    uint64
	sp, ss                                       uint64
}

// userPtRegs is arm64's struct user_pt_regs
// (arch/arm64/include/uapi/asm/ptrace.h).
type userPtRegs struct {
	regs           [31]uint64
	sp, pc, pstate uint64
}

func TestAMD64PtRegs(t *testing.T) {
	var p ptRegs
	want := map[string]uintptr{
		"r15": unsafe.Offsetof(p.r15), "r14": unsafe.Offsetof(p.r14), "r13": unsafe.Offsetof(p.r13),
		"r12": unsafe.Offsetof(p.r12), "bp": unsafe.Offsetof(p.bp), "rbp": unsafe.Offsetof(p.bp),
		"bx": unsafe.Offsetof(p.bx), "rbx": unsafe.Offsetof(p.bx), "r11": unsafe.Offsetof(p.r11),
		"r10": unsafe.Offsetof(p.r10), "r9": unsafe.Offsetof(p.r9), "r8": unsafe.Offsetof(p.r8),
		"ax": unsafe.Offsetof(p.ax), "rax": unsafe.Offsetof(p.ax), "cx": unsafe.Offsetof(p.cx),
		"rcx": unsafe.Offsetof(p.cx), "dx": unsafe.Offsetof(p.dx), "rdx": unsafe.Offsetof(p.dx),
		"si": unsafe.Offsetof(p.si), "rsi": unsafe.Offsetof(p.si), "di": unsafe.Offsetof(p.di),
		"rdi": unsafe.Offsetof(p.di), "orig_ax": unsafe.Offsetof(p.origAX), "orig_rax": unsafe.Offsetof(p.origAX),
		"ip": unsafe.Offsetof(p.ip), "rip": unsafe.Offsetof(p.ip), "pc": unsafe.Offsetof(p.ip),
		"cs": unsafe.Offsetof(p.cs), "flags": unsafe.Offsetof(p.flags), "eflags": unsafe.Offsetof(p.flags),
		"rflags": unsafe.Offsetof(p.flags), "sp": unsafe.Offsetof(p.sp), "rsp": unsafe.Offsetof(p.sp),
		"ss": unsafe.Offsetof(p.ss),
	}
	checkOffsets(t, AMD64, want)
	if AMD64.ContextSize != int(unsafe.Sizeof(p)) {
		t.Errorf("ContextSize = %d, want %d", AMD64.ContextSize, unsafe.Sizeof(p))
	}
}

func TestARM64UserPtRegs(t *testing.T) {
	var p userPtRegs
	want := map[string]uintptr{
		"sp": unsafe.Offsetof(p.sp), "pc": unsafe.Offsetof(p.pc), "pstate": unsafe.Offsetof(p.pstate),
		"fp": unsafe.Offsetof(p.regs) + 29*8, "lr": unsafe.Offsetof(p.regs) + 30*8,
	}
	for i := range p.regs {
		want[fmt.Sprintf("x%d", i)] = unsafe.Offsetof(p.regs) + uintptr(i)*unsafe.Sizeof(p.regs[0])
	}
	checkOffsets(t, ARM64, want)
	if ARM64.ContextSize != int(unsafe.Sizeof(p)) {
		t.Errorf("ContextSize = %d, want %d", ARM64.ContextSize, unsafe.Sizeof(p))
	}
}

func checkOffsets(t *testing.T, a *Arch, want map[string]uintptr) {
	t.Helper()
	got := a.Offsets()
	for name, off := range want {
		if g, ok := got[name]; !ok || g != int(off) {
			t.Errorf("%s: offset of %s = %d, %v; want %d", a, name, g, ok, off)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: Offsets has %q, which the kernel's %s does not name", a, name, a.Context)
		}
	}
	seen := map[int]string{}
	for _, r := range a.Regs() {
		if !r.InContext() {
			continue
		}
		if r.Offset%8 != 0 || r.Offset+8 > a.ContextSize {
			t.Errorf("%s: %s at %d is not an 8-byte slot of %s", a, r, r.Offset, a.Context)
		}
		if o, dup := seen[r.Offset]; dup {
			t.Errorf("%s: %s and %s share offset %d", a, o, r, r.Offset)
		}
		seen[r.Offset] = r.Name
	}
	if len(seen) != a.ContextSize/8 {
		t.Errorf("%s: %d slots named, %s has %d", a, len(seen), a.Context, a.ContextSize/8)
	}
}

func TestConventions(t *testing.T) {
	cases := []struct {
		a                     *Arch
		cArgs, goArgs         []string
		ret, sp, pc, fp, g    string
		cArg0, goArg0, goArg8 int
	}{
		// System V AMD64 psABI §3.2.3; Go's ABIInternal (internal-abi.md).
		{AMD64, []string{"rdi", "rsi", "rdx", "rcx", "r8", "r9"},
			[]string{"rax", "rbx", "rcx", "rdi", "rsi", "r8", "r9", "r10", "r11"},
			"rax", "rsp", "rip", "rbp", "r14", 112, 80, 48},
		// AAPCS64 §6.8.2; ABIInternal on arm64: R0-R15, g in R28.
		{ARM64, []string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"},
			[]string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15"},
			"x0", "sp", "pc", "x29", "x28", 0, 0, 64},
	}
	for _, c := range cases {
		a := c.a
		if !slices.Equal(a.CArgs, c.cArgs) || !slices.Equal(a.GoIntArgs, c.goArgs) {
			t.Errorf("%s: CArgs %v GoIntArgs %v", a, a.CArgs, a.GoIntArgs)
		}
		if a.CReturn != c.ret || a.SP != c.sp || a.PC != c.pc || a.FP != c.fp || a.GoG != c.g {
			t.Errorf("%s: ret %s sp %s pc %s fp %s g %s", a, a.CReturn, a.SP, a.PC, a.FP, a.GoG)
		}
		for _, n := range []string{a.CReturn, a.SP, a.PC, a.FP, a.GoG} {
			if _, ok := a.Offset(n); !ok {
				t.Errorf("%s: %s not in the context", a, n)
			}
		}
		if r, ok := a.CArg(0); !ok || r.Offset != c.cArg0 {
			t.Errorf("%s: CArg(0) = %v %v", a, r, ok)
		}
		if r, ok := a.GoArg(0); !ok || r.Offset != c.goArg0 {
			t.Errorf("%s: GoArg(0) = %v %v", a, r, ok)
		}
		if r, ok := a.GoArg(8); !ok || r.Offset != c.goArg8 {
			t.Errorf("%s: GoArg(8) = %v %v", a, r, ok)
		}
		if _, ok := a.GoArg(len(c.goArgs)); ok {
			t.Errorf("%s: GoArg past the registers", a)
		}
		if _, ok := a.CArg(-1); ok {
			t.Errorf("%s: CArg(-1)", a)
		}
	}
}

func TestDWARF(t *testing.T) {
	// System V AMD64 psABI figure 3.36; DWARF for the Arm 64-bit
	// Architecture §4.1.
	amd := map[int]string{0: "rax", 1: "rdx", 2: "rcx", 3: "rbx", 4: "rsi", 5: "rdi", 6: "rbp", 7: "rsp",
		8: "r8", 15: "r15", 16: "rip", 17: "xmm0", 32: "xmm15", 49: "flags"}
	arm := map[int]string{0: "x0", 28: "x28", 29: "x29", 30: "x30", 31: "sp", 64: "v0", 95: "v31"}
	for a, m := range map[*Arch]map[int]string{AMD64: amd, ARM64: arm} {
		for n, name := range m {
			if r, ok := a.DWARFReg(n); !ok || r.Name != name {
				t.Errorf("%s: DWARF %d = %v %v, want %s", a, n, r, ok, name)
			}
		}
		if _, ok := a.DWARFReg(1000); ok {
			t.Errorf("%s: DWARF 1000 found", a)
		}
	}
}

func TestOperands(t *testing.T) {
	cases := []struct {
		a         *Arch
		name, reg string
		width     int
		high      bool
		zero      bool
	}{
		{AMD64, "eax", "rax", 4, false, false}, {AMD64, "al", "rax", 1, false, false},
		{AMD64, "ah", "rax", 1, true, false}, {AMD64, "ax", "rax", 2, false, false},
		{AMD64, "r8d", "r8", 4, false, false}, {AMD64, "r15l", "r15", 1, false, false},
		{AMD64, "spl", "rsp", 1, false, false}, {AMD64, "eip", "rip", 4, false, false},
		{ARM64, "w3", "x3", 4, false, false}, {ARM64, "x30", "x30", 8, false, false},
		{ARM64, "wsp", "sp", 4, false, false}, {ARM64, "fp", "x29", 8, false, false},
		{ARM64, "wzr", "", 4, false, true},
	}
	for _, c := range cases {
		o, ok := c.a.Operand(c.name)
		if !ok || o.Reg.Name != c.reg || o.Width != c.width || o.HighByte != c.high || o.Zero != c.zero {
			t.Errorf("%s: Operand(%q) = %+v %v", c.a, c.name, o, ok)
		}
	}
	for _, bad := range []string{"", "xmm0", "%rax", "w31", "x31", "r16"} {
		for _, a := range All() {
			if o, ok := a.Operand(bad); ok {
				t.Errorf("%s: Operand(%q) = %+v", a, bad, o)
			}
		}
	}
	names := []struct {
		a     *Arch
		reg   string
		width int
		want  string
	}{
		{AMD64, "rdi", 1, "dil"}, {AMD64, "rdi", 2, "di"}, {AMD64, "rdi", 4, "edi"}, {AMD64, "rdi", 8, "rdi"},
		{AMD64, "r8", 1, "r8b"}, {AMD64, "r9", 2, "r9w"}, {AMD64, "rdx", 1, "dl"}, {ARM64, "x3", 4, "w3"},
	}
	for _, c := range names {
		if got, ok := c.a.OperandName(c.reg, c.width); !ok || got != c.want {
			t.Errorf("%s: OperandName(%s, %d) = %q %v, want %q", c.a, c.reg, c.width, got, ok, c.want)
		}
	}
}

func TestLookup(t *testing.T) {
	for m, want := range map[elf.Machine]*Arch{elf.EM_X86_64: AMD64, elf.EM_386: AMD64, elf.EM_AARCH64: ARM64} {
		if a, err := ForMachine(m); err != nil || a != want {
			t.Errorf("ForMachine(%v) = %v, %v", m, a, err)
		}
	}
	if _, err := ForMachine(elf.EM_RISCV); !errors.Is(err, ErrUnknown) {
		t.Errorf("ForMachine(riscv) error %v", err)
	}
	if _, err := ForGOARCH("mips"); !errors.Is(err, ErrUnknown) {
		t.Errorf("ForGOARCH(mips) error %v", err)
	}
	if a, err := ForGOARCH("arm64"); err != nil || a != ARM64 {
		t.Errorf("ForGOARCH(arm64) = %v, %v", a, err)
	}
	if Host() == nil {
		t.Errorf("no table for the test's own architecture")
	}
	if AMD64.Decoder != DecoderX86 || ARM64.Decoder != DecoderARM64 || AMD64.Decoder.String() != "x86asm" {
		t.Errorf("decoders %v %v", AMD64.Decoder, ARM64.Decoder)
	}
}

func TestUnprobeable(t *testing.T) {
	cases := []struct {
		code []byte
		want bool
	}{
		{[]byte{0x62, 0xe2, 0x7d, 0x28, 0x7a, 0xce}, true}, // vpbroadcastb %esi,%ymm17
		{[]byte{0x66, 0x62, 0xf1}, true},
		{[]byte{0xc5, 0xfd, 0x6f, 0x06}, false},
		{[]byte{0x55}, false},
		{[]byte{0x48, 0x62}, false},
		{[]byte{0x66, 0x66}, false},
		{nil, false},
	}
	for _, c := range cases {
		if got := AMD64.Unprobeable(c.code) != ""; got != c.want {
			t.Errorf("Unprobeable(% x) = %v", c.code, got)
		}
	}
	if ARM64.Unprobeable != nil {
		t.Errorf("arm64 has an Unprobeable rule; test it")
	}
}
