package arch

import (
	"debug/elf"
	"errors"
	"fmt"
	"runtime"
)

// ErrUnknown is wrapped by the lookups of [ForMachine] and [ForGOARCH] when
// no table describes the machine; test it with errors.Is.
var ErrUnknown = errors.New("no architecture table")

// Reg is one register: its canonical name, where a uprobe program finds it
// in its context, and its DWARF number.
type Reg struct {
	// Name is the canonical name: "rax" ... "r15", "rip", "orig_rax",
	// "cs", "flags", "ss" and "xmm0" ... on amd64; "x0" ... "x30", "sp",
	// "pc", "pstate" and "v0" ... on arm64.
	Name string
	// Offset is the byte offset of the register's 8-byte slot in the
	// context a uprobe program receives (struct pt_regs on amd64, struct
	// user_pt_regs on arm64), or -1 when the context does not hold it
	// (vector registers).
	Offset int
	// DWARF is the register's number in DWARF (the psABI numbering), or
	// -1 when it has none.
	DWARF int
}

// InContext reports whether a uprobe program can read the register.
func (r Reg) InContext() bool { return r.Offset >= 0 }

// String returns the canonical name.
func (r Reg) String() string { return r.Name }

// Operand is what a register name of the assembler's syntax designates:
// "eax" is the low 4 bytes of rax, "w3" the low 4 bytes of x3.
type Operand struct {
	// Reg is the register the name is part of (the zero Reg for Zero).
	Reg Reg
	// Width is how many bytes of the register the name covers.
	Width int
	// HighByte is set for amd64's ah, bh, ch and dh: bits 8-15 of Reg.
	HighByte bool
	// Zero is set for arm64's xzr and wzr, which read as 0.
	Zero bool
}

// Decoder names the instruction decoder (of golang.org/x/arch) that reads an
// architecture's machine code.
type Decoder int

// The decoders.
const (
	// DecoderNone: no decoder; code is not inspected.
	DecoderNone Decoder = iota
	// DecoderX86: golang.org/x/arch/x86/x86asm in 64-bit mode.
	DecoderX86
	// DecoderARM64: golang.org/x/arch/arm64/arm64asm.
	DecoderARM64
)

// String names the decoder's package.
func (d Decoder) String() string {
	switch d {
	case DecoderX86:
		return "x86asm"
	case DecoderARM64:
		return "arm64asm"
	}
	return "none"
}

// Arch is the table of one architecture: every fact about registers and
// calling conventions that a uprobe program generator needs.
type Arch struct {
	// Name is the GOARCH value ("amd64", "arm64").
	Name string
	// Machine is the ELF machine of the architecture's binaries.
	Machine elf.Machine
	// PtrSize is the size of a pointer in bytes.
	PtrSize int
	// Context is the C type of a uprobe program's context.
	Context string
	// ContextSize is the size of Context in bytes.
	ContextSize int

	// CArgs are the integer argument registers of the C calling
	// convention (System V AMD64, AAPCS64), in order.
	CArgs []string
	// CStackArgs is the offset from the stack pointer at a function's
	// entry of the first argument passed on the stack (past the return
	// address on amd64).
	CStackArgs int
	// CReturn is the register of a C function's integer result.
	CReturn string

	// GoIntArgs are the integer registers of Go's ABIInternal, in
	// assignment order; results use the same sequence.
	GoIntArgs []string
	// GoFloatArgs are ABIInternal's floating-point registers, named as Go's
	// assembler names them ("X0" as "xmm0" on amd64, "F0" as "f0" on
	// arm64). A uprobe's context holds none of them.
	GoFloatArgs []string
	// GoRegABI is the Go release (major, minor) whose compiler first
	// passed arguments in registers on this architecture.
	GoRegABI [2]int
	// GoG is the register that holds the current goroutine's g in
	// ABIInternal code.
	GoG string

	// SP, PC and FP are the stack pointer, instruction pointer and frame
	// pointer; LR is the link register ("" on amd64, whose calls push the
	// return address).
	SP, PC, FP, LR string

	// Decoder is the instruction decoder that placement, Go prologue and
	// RET walking use for this architecture's code.
	Decoder Decoder
	// MaxInsnLen is the longest instruction in bytes.
	MaxInsnLen int
	// Unprobeable reports, from the first bytes of an instruction, why a
	// uprobe must never be placed on it ("" when nothing is known
	// against it). nil means nothing is known for the architecture.
	Unprobeable func(code []byte) string

	// tables builds the register tables on first use (a sync.OnceValue):
	// every uscope command links both architectures, most never ask.
	tables func() *regTables
}

// regTables are an architecture's register tables.
type regTables struct {
	regs     []Reg
	names    map[string]int     // canonical and context field names → index in regs
	operands map[string]Operand // assembler names
	dwarf    map[int]int        // DWARF number → index in regs
}

// Regs returns every register of the table: first the slots of the uprobe
// context in their order, then the registers the context lacks.
func (a *Arch) Regs() []Reg { return append([]Reg(nil), a.tables().regs...) }

// Reg returns the register named name: a canonical name ("rax", "x3"), a
// field name of the kernel's context ("ax", "ip", "orig_ax" on amd64) or a
// documented alias ("pc" for rip, "fp"/"lr" for x29/x30). Assembler names of
// part of a register ("eax", "w3") are not registers; see [Arch.Operand].
func (a *Arch) Reg(name string) (Reg, bool) {
	t := a.tables()
	i, ok := t.names[name]
	if !ok {
		return Reg{}, false
	}
	return t.regs[i], true
}

// Offset returns the context offset of the register named name (as [Arch.Reg]
// accepts it); ok is false when the name is unknown or not in the context.
func (a *Arch) Offset(name string) (off int, ok bool) {
	r, ok := a.Reg(name)
	if !ok || !r.InContext() {
		return 0, false
	}
	return r.Offset, true
}

// Offsets returns every name [Arch.Reg] accepts for a register in the
// context, with its offset: the table a program generator indexes.
func (a *Arch) Offsets() map[string]int {
	t := a.tables()
	m := make(map[string]int, len(t.names))
	for n, i := range t.names {
		if r := t.regs[i]; r.InContext() {
			m[n] = r.Offset
		}
	}
	return m
}

// Operand resolves an assembler register name, without its % on amd64:
// "rax", "eax", "ax", "al", "ah", "r8d", "rip" on amd64; "x3", "w3", "sp",
// "wsp", "xzr", "fp", "lr" on arm64.
func (a *Arch) Operand(name string) (Operand, bool) {
	o, ok := a.tables().operands[name]
	return o, ok
}

// OperandName returns the assembler name of the low width bytes of the
// register reg (canonical name), as GCC writes it: ("rdi", 1) is "dil",
// ("r8", 2) is "r8w", ("x3", 4) is "w3".
func (a *Arch) OperandName(reg string, width int) (string, bool) {
	best := ""
	for n, o := range a.tables().operands {
		if o.Reg.Name == reg && o.Width == width && !o.HighByte && !o.Zero {
			// Prefer the name GCC prints: the shortest, then the
			// lexically first (r8b over r8l).
			if best == "" || len(n) < len(best) || len(n) == len(best) && n < best {
				best = n
			}
		}
	}
	return best, best != ""
}

// DWARFReg returns the register with DWARF number n.
func (a *Arch) DWARFReg(n int) (Reg, bool) {
	t := a.tables()
	i, ok := t.dwarf[n]
	if !ok {
		return Reg{}, false
	}
	return t.regs[i], true
}

// CArg returns integer argument i (from 0) of the C calling convention;
// ok is false past the registers (the argument is on the stack).
func (a *Arch) CArg(i int) (Reg, bool) { return a.seq(a.CArgs, i) }

// GoArg returns integer argument or result register i (from 0) of Go's
// ABIInternal; ok is false past the registers.
func (a *Arch) GoArg(i int) (Reg, bool) { return a.seq(a.GoIntArgs, i) }

func (a *Arch) seq(names []string, i int) (Reg, bool) {
	if i < 0 || i >= len(names) {
		return Reg{}, false
	}
	return a.Reg(names[i])
}

// String returns the GOARCH name.
func (a *Arch) String() string { return a.Name }

// All lists the tables, amd64 first.
func All() []*Arch { return []*Arch{AMD64, ARM64} }

// ForMachine returns the table of an ELF machine. EM_386 binaries run with
// the amd64 register file on a 64-bit kernel, so they get AMD64.
func ForMachine(m elf.Machine) (*Arch, error) {
	switch m {
	case elf.EM_X86_64, elf.EM_386:
		return AMD64, nil
	case elf.EM_AARCH64:
		return ARM64, nil
	}
	return nil, fmt.Errorf("machine %v: %w", m, ErrUnknown)
}

// ForGOARCH returns the table of a GOARCH value.
func ForGOARCH(goarch string) (*Arch, error) {
	for _, a := range All() {
		if a.Name == goarch {
			return a, nil
		}
	}
	return nil, fmt.Errorf("GOARCH %s: %w", goarch, ErrUnknown)
}

// Host returns the table of the running program's architecture, or nil.
func Host() *Arch {
	a, _ := ForGOARCH(runtime.GOARCH)
	return a
}

// newRegTables indexes regs (context slots first, in order) by name,
// alias and DWARF number.
func newRegTables(regs []Reg, aliases map[string]string, operands map[string]Operand) *regTables {
	t := &regTables{regs: regs, operands: operands,
		names: make(map[string]int, len(regs)+len(aliases)), dwarf: make(map[int]int, len(regs))}
	for i, r := range regs {
		t.names[r.Name] = i
		if r.DWARF >= 0 {
			t.dwarf[r.DWARF] = i
		}
	}
	for alias, name := range aliases {
		t.names[alias] = t.names[name]
	}
	return t
}
