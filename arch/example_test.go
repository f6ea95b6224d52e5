package arch_test

import (
	"debug/elf"
	"fmt"

	"github.com/uscope/uscope/arch"
)

// The offsets a BPF program loads the C arguments of a uprobe from.
func ExampleArch_CArg() {
	a, err := arch.ForMachine(elf.EM_X86_64)
	if err != nil {
		panic(err)
	}
	for i := range a.CArgs {
		r, _ := a.CArg(i)
		fmt.Printf("arg%d %s +%d\n", i, r.Name, r.Offset)
	}
	// Output:
	// arg0 rdi +112
	// arg1 rsi +104
	// arg2 rdx +96
	// arg3 rcx +88
	// arg4 r8 +72
	// arg5 r9 +64
}

// Go's register ABI on both architectures: the first argument and the
// goroutine register.
func ExampleArch_GoArg() {
	for _, a := range arch.All() {
		r, _ := a.GoArg(0)
		g, _ := a.Reg(a.GoG)
		fmt.Printf("%s: goarg(0) in %s (+%d), g in %s (+%d), since go%d.%d\n",
			a, r.Name, r.Offset, g.Name, g.Offset, a.GoRegABI[0], a.GoRegABI[1])
	}
	// Output:
	// amd64: goarg(0) in rax (+80), g in r14 (+8), since go1.17
	// arm64: goarg(0) in x0 (+0), g in x28 (+224), since go1.18
}

// Decode a USDT operand's register name into its slot and width.
func ExampleArch_Operand() {
	for _, name := range []string{"eax", "r9w", "dil"} {
		o, _ := arch.AMD64.Operand(name)
		fmt.Printf("%%%s: low %d bytes of %s at +%d\n", name, o.Width, o.Reg.Name, o.Reg.Offset)
	}
	o, _ := arch.ARM64.Operand("w3")
	fmt.Printf("w3: low %d bytes of %s at +%d\n", o.Width, o.Reg.Name, o.Reg.Offset)
	// Output:
	// %eax: low 4 bytes of rax at +80
	// %r9w: low 2 bytes of r9 at +64
	// %dil: low 1 bytes of rdi at +112
	// w3: low 4 bytes of x3 at +24
}

// Name the register of a DWARF location (DW_OP_reg5).
func ExampleArch_DWARFReg() {
	r, _ := arch.AMD64.DWARFReg(5)
	fmt.Println(r.Name, r.Offset)
	// Output: rdi 112
}
