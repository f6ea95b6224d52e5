package usdt

import (
	"debug/elf"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var (
	x64 = elf.EM_X86_64
	a64 = elf.EM_AARCH64
)

func TestParseArg(t *testing.T) {
	sp := Reg{"sp", 248}
	x0 := Reg{"x0", 0}
	x1 := Reg{"x1", 8}
	x30 := Reg{"x30", 240}
	tests := []struct {
		in   string
		m    elf.Machine
		want Arg // Raw is filled in by the test
		err  error
	}{
		// x86-64 constants.
		{"-4@$5", x64, Arg{Size: 4, Signed: true, Kind: ArgConst, Offset: 5}, nil},
		{"-4@$-1", x64, Arg{Size: 4, Signed: true, Kind: ArgConst, Offset: -1}, nil},
		{"-8@$-9223372036854775808", x64, Arg{Size: 8, Signed: true, Kind: ArgConst, Offset: -1 << 63}, nil},
		{"8@$18446744073709551614", x64, Arg{Size: 8, Kind: ArgConst, Offset: -2}, nil},
		{"1@$0x1f", x64, Arg{Size: 1, Kind: ArgConst, Offset: 31}, nil},
		{"2@$0", x64, Arg{Size: 2, Kind: ArgConst}, nil},
		// Immediates printed sign-extended take the argument's type.
		{"2@$-1", x64, Arg{Size: 2, Kind: ArgConst, Offset: 65535}, nil},
		{"-2@$65535", x64, Arg{Size: 2, Signed: true, Kind: ArgConst, Offset: -1}, nil},
		{"1@$-56", x64, Arg{Size: 1, Kind: ArgConst, Offset: 200}, nil},
		{"-1@$-1", x64, Arg{Size: 1, Signed: true, Kind: ArgConst, Offset: -1}, nil},
		{"4@$-5", x64, Arg{Size: 4, Kind: ArgConst, Offset: 0xfffffffb}, nil},
		{"8@$-2", x64, Arg{Size: 8, Kind: ArgConst, Offset: -2}, nil},
		// x86-64 registers of every width map to one slot.
		{"8@%rax", x64, Arg{Size: 8, Kind: ArgReg, Reg: regRAX}, nil},
		{"-4@%eax", x64, Arg{Size: 4, Signed: true, Kind: ArgReg, Reg: regRAX}, nil},
		{"2@%ax", x64, Arg{Size: 2, Kind: ArgReg, Reg: regRAX}, nil},
		{"-1@%al", x64, Arg{Size: 1, Signed: true, Kind: ArgReg, Reg: regRAX}, nil},
		{"8@%rbx", x64, Arg{Size: 8, Kind: ArgReg, Reg: regRBX}, nil},
		{"1@%bl", x64, Arg{Size: 1, Kind: ArgReg, Reg: regRBX}, nil},
		{"4@%ecx", x64, Arg{Size: 4, Kind: ArgReg, Reg: regRCX}, nil},
		{"2@%dx", x64, Arg{Size: 2, Kind: ArgReg, Reg: regRDX}, nil},
		{"-1@%sil", x64, Arg{Size: 1, Signed: true, Kind: ArgReg, Reg: regRSI}, nil},
		{"2@%si", x64, Arg{Size: 2, Kind: ArgReg, Reg: regRSI}, nil},
		{"1@%dil", x64, Arg{Size: 1, Kind: ArgReg, Reg: regRDI}, nil},
		{"4@%edi", x64, Arg{Size: 4, Kind: ArgReg, Reg: regRDI}, nil},
		{"1@%bpl", x64, Arg{Size: 1, Kind: ArgReg, Reg: regRBP}, nil},
		{"4@%ebp", x64, Arg{Size: 4, Kind: ArgReg, Reg: regRBP}, nil},
		{"1@%spl", x64, Arg{Size: 1, Kind: ArgReg, Reg: regRSP()}, nil},
		{"8@%rsp", x64, Arg{Size: 8, Kind: ArgReg, Reg: regRSP()}, nil},
		{"8@%r8", x64, Arg{Size: 8, Kind: ArgReg, Reg: regR8}, nil},
		{"-4@%r9d", x64, Arg{Size: 4, Signed: true, Kind: ArgReg, Reg: regR9}, nil},
		{"2@%r10w", x64, Arg{Size: 2, Kind: ArgReg, Reg: regR10}, nil},
		{"1@%r11b", x64, Arg{Size: 1, Kind: ArgReg, Reg: regR11}, nil},
		{"8@%r12", x64, Arg{Size: 8, Kind: ArgReg, Reg: regR12}, nil},
		{"4@%r13d", x64, Arg{Size: 4, Kind: ArgReg, Reg: regR13}, nil},
		{"8@%r14", x64, Arg{Size: 8, Kind: ArgReg, Reg: regR14}, nil},
		{"-1@%r15b", x64, Arg{Size: 1, Signed: true, Kind: ArgReg, Reg: regR15}, nil},
		// Size-less legacy registers take the width of the name.
		{"%rdi", x64, Arg{Size: 8, Kind: ArgReg, Reg: regRDI}, nil},
		{"%esi", x64, Arg{Size: 4, Kind: ArgReg, Reg: regRSI}, nil},
		{"%dl", x64, Arg{Size: 1, Kind: ArgReg, Reg: regRDX}, nil},
		{"$7", x64, Arg{Size: 8, Kind: ArgConst, Offset: 7}, nil},
		{"-8(%rbp)", x64, Arg{Size: 8, Kind: ArgMem, Reg: regRBP, Offset: -8}, nil},
		// Memory.
		{"-4@-20(%rbp)", x64, Arg{Size: 4, Signed: true, Kind: ArgMem, Reg: regRBP, Offset: -20}, nil},
		{"8@(%rsp)", x64, Arg{Size: 8, Kind: ArgMem, Reg: regRSP()}, nil},
		{"8@0x10(%rdi)", x64, Arg{Size: 8, Kind: ArgMem, Reg: regRDI, Offset: 16}, nil},
		{"8@-80(%rbx)", x64, Arg{Size: 8, Kind: ArgMem, Reg: regRBX, Offset: -80}, nil},
		{"-4@112(%rsp)", x64, Arg{Size: 4, Signed: true, Kind: ArgMem, Reg: regRSP(), Offset: 112}, nil},
		{"-2@4(%r12)", x64, Arg{Size: 2, Signed: true, Kind: ArgMem, Reg: regR12, Offset: 4}, nil},
		{"1@-96(%rbp,%rax,8)", x64, Arg{Size: 1, Kind: ArgMemIndex, Reg: regRBP, Index: regRAX, Scale: 8, Offset: -96}, nil},
		{"8@(%rax,%rdx,8)", x64, Arg{Size: 8, Kind: ArgMemIndex, Reg: regRAX, Index: regRDX, Scale: 8}, nil},
		{"4@(%rbx,%rcx)", x64, Arg{Size: 4, Kind: ArgMemIndex, Reg: regRBX, Index: regRCX, Scale: 1}, nil},
		{"4@( %rbx , %r9 , 2 )", x64, Arg{Size: 4, Kind: ArgMemIndex, Reg: regRBX, Index: regR9, Scale: 2}, nil},
		{"-4@arr(,%rax,4)", x64, Arg{Size: 4, Signed: true, Kind: ArgMemIndex, Index: regRAX, Scale: 4, Symbol: "arr"}, nil},
		{"-4@arr+8(%rbx,%rax,4)", x64, Arg{Size: 4, Signed: true, Kind: ArgMemIndex, Reg: regRBX, Index: regRAX, Scale: 4, Symbol: "arr", Offset: 8}, nil},
		// RIP-relative and absolute.
		{"-4@global_max(%rip)", x64, Arg{Size: 4, Signed: true, Kind: ArgRIP, Reg: regRIP(), Symbol: "global_max"}, nil},
		{"8@24+mp_(%rip)", x64, Arg{Size: 8, Kind: ArgRIP, Reg: regRIP(), Symbol: "mp_", Offset: 24}, nil},
		{"-4@CheckpointStats+40(%rip)", x64, Arg{Size: 4, Signed: true, Kind: ArgRIP, Reg: regRIP(), Symbol: "CheckpointStats", Offset: 40}, nil},
		{"4@glob-2(%rip)", x64, Arg{Size: 4, Kind: ArgRIP, Reg: regRIP(), Symbol: "glob", Offset: -2}, nil},
		{"4@counter.1+4(%rip)", x64, Arg{Size: 4, Kind: ArgRIP, Reg: regRIP(), Symbol: "counter.1", Offset: 4}, nil},
		{"4@16(%rip)", x64, Arg{Size: 4, Kind: ArgRIP, Reg: regRIP(), Offset: 16}, ErrUnsupported},
		{"4@glob", x64, Arg{Size: 4, Kind: ArgRIP, Symbol: "glob"}, nil},
		{"4@0x601040", x64, Arg{Size: 4, Kind: ArgRIP, Offset: 0x601040, SymbolAddr: 0x601040, Resolved: true}, nil},
		// Floats.
		{"8f@%xmm0", x64, Arg{Size: 8, Float: true}, ErrUnsupported},
		{"-4f@-20(%rbp)", x64, Arg{Size: 4, Signed: true, Float: true, Kind: ArgMem, Reg: regRBP, Offset: -20}, nil},
		{"4f@%eax", x64, Arg{Size: 4, Float: true, Kind: ArgReg, Reg: regRAX}, nil},
		// Unsupported but well-formed.
		{"8@%xmm15", x64, Arg{Size: 8}, ErrUnsupported},
		{"8@%ymm1", x64, Arg{Size: 8}, ErrUnsupported},
		{"1@%ah", x64, Arg{Size: 1}, ErrUnsupported},
		{"-1@%dh", x64, Arg{Size: 1, Signed: true}, ErrUnsupported},
		{"16@%rax", x64, Arg{Size: 16, Kind: ArgReg, Reg: regRAX}, ErrUnsupported},
		{"24@8(%rsp)", x64, Arg{Size: 24, Kind: ArgMem, Reg: regRSP(), Offset: 8}, ErrUnsupported},
		{"4@(%eax)", x64, Arg{Size: 4}, ErrUnsupported},
		{"4@(%rax,%ecx,4)", x64, Arg{Size: 4, Reg: regRAX}, ErrUnsupported},
		{"8@%fs:40", x64, Arg{Size: 8}, ErrUnsupported},
		{"8@$sym", x64, Arg{Size: 8}, ErrUnsupported},
		// Malformed.
		{"8@", x64, Arg{Size: 8}, ErrSyntax},
		{"@%rax", x64, Arg{Kind: ArgUnsupported, Reg: regRAX}, ErrSyntax},
		{"8@%bogus", x64, Arg{Size: 8}, ErrSyntax},
		{"8@(%rax,", x64, Arg{Size: 8}, ErrSyntax},
		{"8@(%rax", x64, Arg{Size: 8}, ErrSyntax},
		{"8@()", x64, Arg{Size: 8}, ErrSyntax},
		{"8@(,%rax)", x64, Arg{Size: 8, Scale: 1, Index: regRAX, Kind: ArgMemIndex}, nil},
		{"8@(%rax,%rsp)", x64, Arg{Size: 8, Reg: regRAX}, ErrSyntax},
		{"8@(%rax,%rbx,3)", x64, Arg{Size: 8, Reg: regRAX, Index: regRBX, Scale: 1}, ErrSyntax},
		{"8@(%rax,%rbx,8,1)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@(%rip,%rax)", x64, Arg{Size: 8}, ErrSyntax},
		{"16@%bogus", x64, Arg{Size: 16}, ErrSyntax},
		{"99@%rax", x64, Arg{Size: 99, Reg: regRAX}, ErrSyntax},
		{"0@%rax", x64, Arg{Reg: regRAX}, ErrSyntax},
		{"3@%rax", x64, Arg{Size: 3, Reg: regRAX}, ErrSyntax},
		{"x@%rax", x64, Arg{Reg: regRAX}, ErrSyntax},
		{"--4@%rax", x64, Arg{Signed: true, Reg: regRAX}, ErrSyntax},
		{"99999999999999999999@%rax", x64, Arg{Reg: regRAX}, ErrSyntax},
		{"8@$99999999999999999999", x64, Arg{Size: 8}, ErrSyntax},
		{"-8@$-9223372036854775809", x64, Arg{Size: 8, Signed: true}, ErrSyntax},
		{"8@99999999999999999999(%rax)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@$", x64, Arg{Size: 8}, ErrSyntax},
		{"8@a+b(%rip)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@-a(%rip)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@a+(%rip)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@a 4(%rip)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@1a(%rax)", x64, Arg{Size: 8}, ErrSyntax},
		{"8@%", x64, Arg{Size: 8}, ErrSyntax},
		{"rax", x64, Arg{Size: 8, Kind: ArgRIP, Symbol: "rax"}, nil}, // legacy: an absolute symbol
		// i386: 32-bit names and bases.
		{"-4@%eax", elf.EM_386, Arg{Size: 4, Signed: true, Kind: ArgReg, Reg: regRAX}, nil},
		{"4@8(%ebp)", elf.EM_386, Arg{Size: 4, Kind: ArgMem, Reg: regRBP, Offset: 8}, nil},
		{"4@glob", elf.EM_386, Arg{Size: 4, Kind: ArgRIP, Symbol: "glob"}, nil},
		{"8@%rax", elf.EM_386, Arg{Size: 8}, ErrSyntax},
		{"4@(%rax)", elf.EM_386, Arg{Size: 4}, ErrSyntax},
		// arm64.
		{"-4@1", a64, Arg{Size: 4, Signed: true, Kind: ArgConst, Offset: 1}, nil},
		{"8@-5", a64, Arg{Size: 8, Kind: ArgConst, Offset: -5}, nil},
		{"8@#16", a64, Arg{Size: 8, Kind: ArgConst, Offset: 16}, nil},
		{"8@x4", a64, Arg{Size: 8, Kind: ArgReg, Reg: Reg{"x4", 32}}, nil},
		{"-4@w4", a64, Arg{Size: 4, Signed: true, Kind: ArgReg, Reg: Reg{"x4", 32}}, nil},
		{"8@x30", a64, Arg{Size: 8, Kind: ArgReg, Reg: x30}, nil},
		{"8@lr", a64, Arg{Size: 8, Kind: ArgReg, Reg: x30}, nil},
		{"8@fp", a64, Arg{Size: 8, Kind: ArgReg, Reg: Reg{"x29", 232}}, nil},
		{"8@sp", a64, Arg{Size: 8, Kind: ArgReg, Reg: sp}, nil},
		{"8@xzr", a64, Arg{Size: 8, Kind: ArgConst}, nil},
		{"-4@[sp, 96]", a64, Arg{Size: 4, Signed: true, Kind: ArgMem, Reg: sp, Offset: 96}, nil},
		{"8@[x0]", a64, Arg{Size: 8, Kind: ArgMem, Reg: x0}, nil},
		{"-4@[x30,-40]", a64, Arg{Size: 4, Signed: true, Kind: ArgMem, Reg: x30, Offset: -40}, nil},
		{"8@[x0, #8]", a64, Arg{Size: 8, Kind: ArgMem, Reg: x0, Offset: 8}, nil},
		{"-1@[x0, x1]", a64, Arg{Size: 1, Signed: true, Kind: ArgMemIndex, Reg: x0, Index: x1, Scale: 1}, nil},
		{"8@[x0, x1, lsl 3]", a64, Arg{Size: 8, Kind: ArgMemIndex, Reg: x0, Index: x1, Scale: 8}, nil},
		{"4@[x0, w1, sxtw]", a64, Arg{Size: 4, Kind: ArgMemIndex, Reg: x0, Index: x1, Scale: 1}, ErrUnsupported},
		{"-8@v0", a64, Arg{Size: 8, Signed: true}, ErrUnsupported},
		{"8f@d1", a64, Arg{Size: 8, Float: true}, ErrUnsupported},
		{"8@x31", a64, Arg{Size: 8}, ErrSyntax},
		{"8@x01", a64, Arg{Size: 8}, ErrSyntax},
		{"8@[x0", a64, Arg{Size: 8}, ErrSyntax},
		{"8@[w0]", a64, Arg{Size: 8}, ErrSyntax},
		{"8@[x0, 8, lsl 3]", a64, Arg{Size: 8, Reg: x0}, ErrSyntax},
		{"8@[x0, x1, lsl 9]", a64, Arg{Size: 8, Reg: x0, Index: x1, Scale: 1}, ErrSyntax},
		{"8@[x0, x1, x2, x3]", a64, Arg{Size: 8}, ErrSyntax},
		{"%rax", a64, Arg{}, ErrSyntax},
		{"8@%rax", a64, Arg{Size: 8}, ErrSyntax},
		// Other machines are not decoded.
		{"8@a1", elf.EM_RISCV, Arg{}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.m.String()+"/"+tt.in, func(t *testing.T) {
			got := ParseArg(tt.in, tt.m)
			if !errors.Is(got.Err, tt.err) || (tt.err == nil) != (got.Err == nil) {
				t.Fatalf("Err = %v, want %v", got.Err, tt.err)
			}
			want := tt.want
			want.Raw = tt.in
			want.Err = got.Err
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseArg(%q)\n got %#v\nwant %#v", tt.in, got, want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		spec string
		m    elf.Machine
		raws []string
		errs []bool // which arguments have Err
	}{
		{"", x64, nil, nil},
		{"   ", x64, nil, nil},
		{":", x64, nil, nil},
		{"8@%rbx 8@%r15", x64, []string{"8@%rbx", "8@%r15"}, []bool{false, false}},
		{" -4@$1\t8@-8(%rbp) ", x64, []string{"-4@$1", "8@-8(%rbp)"}, []bool{false, false}},
		{"-4@[sp, 96] 8@[x0, x1] 8@x2", a64, []string{"-4@[sp, 96]", "8@[x0, x1]", "8@x2"}, []bool{false, false, false}},
		// One bad argument never hides the rest.
		{"8@%bogus 8@%rax", x64, []string{"8@%bogus", "8@%rax"}, []bool{true, false}},
		{"8@(%rax, 8@%rbx", x64, []string{"8@(%rax,", "8@%rbx"}, []bool{true, false}},
		{"8@[x0, 8@x1", a64, []string{"8@[x0,", "8@x1"}, []bool{true, false}},
		{"8@(%rax,%rbx, 4) -4@%eax", x64, []string{"8@(%rax,%rbx, 4)", "-4@%eax"}, []bool{false, false}},
		{"8f@%xmm0 -4@%esi", x64, []string{"8f@%xmm0", "-4@%esi"}, []bool{true, false}},
		{"8@) 4@%eax", x64, []string{"8@)", "4@%eax"}, []bool{true, false}},
	}
	for _, tt := range tests {
		got := ParseArgs(tt.spec, tt.m)
		var raws []string
		var errs []bool
		for _, a := range got {
			raws = append(raws, a.Raw)
			errs = append(errs, a.Err != nil)
		}
		if !reflect.DeepEqual(raws, tt.raws) || !reflect.DeepEqual(errs, tt.errs) {
			t.Errorf("ParseArgs(%q) = %q %v, want %q %v", tt.spec, raws, errs, tt.raws, tt.errs)
		}
	}
}

func TestArgString(t *testing.T) {
	resolved := ParseArg("-8@glob+8(%rip)", x64)
	resolved.SymbolAddr, resolved.Resolved = 0x4010, true
	tests := []struct {
		a    Arg
		want string
	}{
		{ParseArg("8@%rbp", x64), "u64 %rbp"},
		{ParseArg("-4@-8(%rbp)", x64), "s32 -8(%rbp)"},
		{ParseArg("-4@%eax", x64), "s32 %eax"},
		{ParseArg("1@$5", x64), "u8 $5"},
		{ParseArg("%rdi", x64), "u64 %rdi"},
		{resolved, "s64 glob+8(%rip) = 0x4010"},
		{ParseArg("8f@%xmm0", x64), "f64 %xmm0 (unsupported: SSE register)"},
		{ParseArg("-4@[sp, 96]", a64), "s32 [sp, 96]"},
		{ParseArg("4@0x10", x64), "u32 0x10 = 0x10"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%q.String() = %q, want %q", tt.a.Raw, got, tt.want)
		}
	}
}

func TestArgKindString(t *testing.T) {
	for k, want := range map[ArgKind]string{
		ArgUnsupported: "unsupported", ArgConst: "const", ArgReg: "reg", ArgMem: "mem",
		ArgMemIndex: "mem-index", ArgRIP: "rip", ArgKind(42): "ArgKind(42)", ArgKind(-1): "ArgKind(-1)",
	} {
		if got := k.String(); got != want {
			t.Errorf("ArgKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestRegTables checks that every x86-64 alias of a register lands in the
// same pt_regs slot and that the slots are the kernel's.
func TestRegTables(t *testing.T) {
	slots := map[string]int{
		"r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbp": 32, "rbx": 40, "r11": 48, "r10": 56,
		"r9": 64, "r8": 72, "rax": 80, "rcx": 88, "rdx": 96, "rsi": 104, "rdi": 112, "rip": 128, "rsp": 152,
	}
	var names []string
	for _, l := range [][]string{{"rax", "eax", "ax", "al"}, {"rbx", "ebx", "bx", "bl"}, {"rcx", "ecx", "cx", "cl"},
		{"rdx", "edx", "dx", "dl"}, {"rsi", "esi", "si", "sil"}, {"rdi", "edi", "di", "dil"},
		{"rbp", "ebp", "bp", "bpl"}, {"rsp", "esp", "sp", "spl"}} {
		names = append(names, l...)
	}
	for n := 8; n <= 15; n++ {
		r := "r" + strconv.Itoa(n)
		names = append(names, r, r+"d", r+"w", r+"b", r+"l")
	}
	names = append(names, "rip", "eip")
	for _, name := range names {
		a, err := x86Reg("%"+name, elf.EM_X86_64)
		off, ok := slots[a.reg.Name]
		if err != nil || !ok || off != a.reg.PtRegsOffset {
			t.Errorf("%s -> %+v %v, want slot %d", name, a.reg, err, off)
		}
		if !strings.HasPrefix(name, "r") && a.reg.Name[0] == 'r' && a.reg.Name[1] >= '0' && a.reg.Name[1] <= '9' {
			t.Errorf("%s maps to %s", name, a.reg.Name)
		}
	}
	if regRIP() != (Reg{"rip", 128}) || regRSP() != (Reg{"rsp", 152}) {
		t.Errorf("rip %+v rsp %+v", regRIP(), regRSP())
	}
	for n := 0; n <= 30; n++ {
		for _, p := range []string{"x", "w"} {
			r, _, _, err := arm64Reg(p + strconv.Itoa(n))
			if err != nil || r.PtRegsOffset != 8*n || r.Name != "x"+strconv.Itoa(n) {
				t.Errorf("arm64 %s%d = %+v, %v", p, n, r, err)
			}
		}
	}
}
