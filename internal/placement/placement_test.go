package placement

import (
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

func code(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChoose(t *testing.T) {
	k := ForRelease("6.18.44")
	tests := []struct {
		name string
		code string
		keep RegSet
		want string
	}{
		// createStringObject: cmp $0x2c,%rsi; ja +0x10; jmp ...; nopl; sub; ...
		{"cmp+jcc", "48 83 fe 2c 77 0a e9 25 ff ff ff 0f 1f 44 00 00 48 83 ec 08", SysVArgs, "+4 (jcc, emulated; skipped cmp)"},
		// free: test %rdi,%rdi; je +0xc8 (past the end here); push %rbp
		{"test+je", "48 85 ff 0f 84 bf 00 00 00 55", SysVArgs, "+3 (jcc, emulated; skipped test)"},
		// write: cmpb $0,x(%rip); je; mov $1,%eax; syscall
		{"cmpb rip+je", "80 3d 91 32 0e 00 00 74 05 b8 01 00 00 00 0f 05 c3", SysVArgs, "+7 (jcc, emulated; skipped cmp)"},
		// mov %rdi,%r10? no: mov $5,%r11d; push %rbx
		{"mov non-arg", "41 bb 05 00 00 00 53 5b c3", SysVArgs, "+6 (push, emulated; skipped mov)"},
		{"mov non-arg, Go ABI", "41 bb 05 00 00 00 53 5b c3", GoArgs, "+0 (mov, single-stepped; kept: mov writes r11, which the probe reads)"},
		// lea 0x10(%rdi),%rax; push %rbx
		{"lea rax", "48 8d 47 10 53 5b c3", SysVArgs, "+4 (push, emulated; skipped lea)"},
		{"lea rax read by program", "48 8d 47 10 53 5b c3", SysVArgs.Union("eax"), "+0 (lea, single-stepped; kept: lea writes rax, which the probe reads)"},
		{"push first", "55 48 89 e5 5d c3", SysVArgs, "+0 (push, emulated)"},
		// loop: top: cmp $0,%rdi; je out; dec %rdi; jmp top; out: ret
		{"loop to entry", "48 83 ff 00 74 05 48 ff cf eb f5 c3", SysVArgs, "+0 (cmp, single-stepped; kept: jmp at +0x9 goes to +0x0)"},
		// a jump to the new site
		{"jump to site", "48 83 ff 00 74 03 90 eb fb c3", SysVArgs, "+0 (cmp, single-stepped; kept: jmp at +0x7 goes to +0x4)"},
		// mov $1,%edi; push %rbx: writes an argument register
		{"writes arg", "bf 01 00 00 00 53 5b c3", SysVArgs, "+0 (mov, single-stepped; kept: mov writes rdi, which the probe reads)"},
		{"writes rdx low byte", "b2 01 53 5b c3", SysVArgs, "+0 (mov, single-stepped; kept: mov writes rdx, which the probe reads)"},
		// sub $8,%rsp; call
		{"changes rsp", "48 83 ec 08 e8 00 00 00 00 c3", SysVArgs, "+0 (sub, single-stepped; kept: sub changes rsp)"},
		// mov %rdi,(%rax); push
		{"writes memory", "48 89 38 53 c3", SysVArgs, "+0 (mov, single-stepped; kept: mov writes memory)"},
		// endbr64; push %rbp
		{"endbr64", "f3 0f 1e fa 55 c3", SysVArgs, "+4 (push, emulated; skipped endbr64)"},
		// cmp; jcc; with an indirect jump (jump table) later
		{"jump table", "48 83 ff 05 77 02 ff e0 c3", SysVArgs, "+0 (cmp, single-stepped; kept: indirect jmp at +0x6)"},
		// a tail call through the GOT is fine
		{"got tail call", "48 85 ff 74 06 ff 25 00 00 00 00 c3", SysVArgs, "+3 (jcc, emulated; skipped test)"},
		{"nop5 first", "0f 1f 44 00 00 c3", SysVArgs, "+0 (nop5, emulated)"},
		// a recursive call to the entry runs the skipped instructions
		{"recursive call", "48 85 ff 74 05 e8 f6 ff ff ff c3", SysVArgs, "+3 (jcc, emulated; skipped test)"},
		{"undecodable tail", "48 85 ff 74 01 c3 0f 0b 62", SysVArgs, "+0 (test, single-stepped; kept: cannot decode +0x8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Choose(code(t, tt.code), tt.keep, k).String()
			if got != tt.want {
				t.Errorf("Choose = %s\nwant     %s", got, tt.want)
			}
		})
	}
}

func TestFamily(t *testing.T) {
	tests := []struct {
		r, want x86asm.Reg
	}{
		{x86asm.AL, x86asm.RAX}, {x86asm.AH, x86asm.RAX}, {x86asm.BH, x86asm.RBX}, {x86asm.DIB, x86asm.RDI},
		{x86asm.SPB, x86asm.RSP}, {x86asm.R9B, x86asm.R9}, {x86asm.SI, x86asm.RSI}, {x86asm.R10W, x86asm.R10},
		{x86asm.EDX, x86asm.RDX}, {x86asm.R8L, x86asm.R8}, {x86asm.R15, x86asm.R15},
	}
	for _, tt := range tests {
		if got, ok := family(tt.r); !ok || got != tt.want {
			t.Errorf("family(%v) = %v, %v; want %v", tt.r, got, ok, tt.want)
		}
	}
}

func TestForRelease(t *testing.T) {
	tests := []struct {
		release string
		nop5    bool
	}{
		{"6.18.44-fc-v669", true}, {"6.14.0", true}, {"6.8.0-45-generic", false}, {"5.15.0", false}, {"", false},
	}
	for _, tt := range tests {
		k := ForRelease(tt.release)
		if k.Emulates("nop5") != tt.nop5 || !k.Emulates("push") || k.Emulates("endbr64") || k.Emulates("cmp") {
			t.Errorf("ForRelease(%q) = %v", tt.release, k)
		}
	}
}

func TestKeep(t *testing.T) {
	tests := []struct{ code, want string }{
		{"48 85 ff 74 01 c3 c3", "+0 (test, single-stepped; kept: symbol g starts at +3)"},
		{"55 c3", "+0 (push, emulated; kept: symbol g starts at +3)"},
	}
	for _, tt := range tests {
		if got := Keep(code(t, tt.code), ForRelease("6.18"), "symbol g starts at +3").String(); got != tt.want {
			t.Errorf("Keep(%s) = %s, want %s", tt.code, got, tt.want)
		}
	}
}
