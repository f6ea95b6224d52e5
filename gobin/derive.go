package gobin

import (
	"debug/elf"
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// This file derives, from a binary's own machine code, facts about the Go
// runtime that otherwise come from per-version tables: the offset of
// runtime.g.goid and the register that holds g. A table keyed by the Go
// version breaks with every release that moves a field; the code that reads
// the field moves with it.

// A Source says where a derived fact came from.
type Source string

// Sources of runtime layout facts, most trusted first.
const (
	FromDWARF Source = "DWARF"
	FromCode  Source = "machine code"
	FromTable Source = "version table"
)

// GoidInfo is the goid offset found each way GoidOffset knows, for
// diagnostics and cross-checks: 0 with an error where a way failed.
type GoidInfo struct {
	DWARF, Code, Table          int
	DWARFErr, CodeErr, TableErr error
}

// GoidSources derives the goid offset every way: from DWARF, from the
// machine code of runtime.main, and from the version table.
func (b *Binary) GoidSources() GoidInfo {
	var gi GoidInfo
	if x, err := b.dwarfData(); err != nil {
		gi.DWARFErr = err
	} else {
		gi.DWARF, gi.DWARFErr = x.goidFromDWARF()
	}
	gi.Code, gi.CodeErr = b.goidFromCode()
	gi.Table, gi.TableErr = goidOffsetFor(b.GoVersion, b.PtrSize)
	return gi
}

// goidFromCode finds the goid offset in runtime.main, which since Go 1.16
// begins tracing init tasks with
//
//	inittrace.id = getg().goid
//
// compiled on amd64 to a load from the g register (R14 in ABIInternal code,
// a register loaded from thread-local storage before Go 1.17) stored
// straight into the global inittrace:
//
//	mov 0x98(%r14),%rcx
//	mov %rcx,runtime.inittrace+8(%rip)
//
// It is the only load from g in runtime.main whose value goes straight to
// a global. runtime.goroutineheader, which prints "goroutine N", must read
// the same offset from its argument; that is checked too.
func (b *Binary) goidFromCode() (int, error) {
	if b.Machine != elf.EM_X86_64 {
		return 0, fmt.Errorf("deriving the goid offset from machine code is implemented for amd64, not %v", b.Machine)
	}
	fn, ok := b.FuncByName("runtime.main")
	if !ok {
		return 0, errors.New("no runtime.main in the function table")
	}
	code, err := b.Code(fn)
	if err != nil {
		return 0, err
	}
	cands := goidStores(code, fn.Entry)
	if len(cands) == 0 {
		return 0, errors.New("runtime.main stores no field of g into a global (no inittrace.id = getg().goid)")
	}
	for _, c := range cands[1:] {
		if c != cands[0] {
			return 0, fmt.Errorf("runtime.main stores several fields of g into globals (offsets %#x and %#x)", cands[0], c)
		}
	}
	off := cands[0]
	if h, ok := b.FuncByName("runtime.goroutineheader"); ok {
		if hc, err := b.Code(h); err == nil && !loadsDisp(hc, h.Entry, off) {
			return 0, fmt.Errorf("runtime.main reads goid at %#x, but runtime.goroutineheader never loads that offset", off)
		}
	}
	return off, nil
}

// goidStores returns the displacement of every 8-byte load from the g
// register that the next instruction stores into a RIP-relative global.
func goidStores(code []byte, entry uint64) []int {
	var out []int
	gRegs := map[x86asm.Reg]bool{x86asm.R14: true}
	var prev x86asm.Inst
	havePrev := false
	_ = walk(code, entry, func(inst x86asm.Inst, pc uint64) {
		defer func() { prev, havePrev = inst, true }()
		if inst.Op != x86asm.MOV || inst.DataSize != 64 {
			return
		}
		// A load of g from thread-local storage (ABI0 code).
		if dst, ok := inst.Args[0].(x86asm.Reg); ok {
			if src, ok := inst.Args[1].(x86asm.Mem); ok && (src.Segment == x86asm.FS || src.Segment == x86asm.GS) {
				gRegs[dst] = true
				return
			}
		}
		if !havePrev || prev.Op != x86asm.MOV || prev.DataSize != 64 {
			return
		}
		dst, ok1 := inst.Args[0].(x86asm.Mem)
		val, ok2 := inst.Args[1].(x86asm.Reg)
		if !ok1 || !ok2 || dst.Base != x86asm.RIP || dst.Index != 0 {
			return
		}
		ld, ok1 := prev.Args[0].(x86asm.Reg)
		src, ok2 := prev.Args[1].(x86asm.Mem)
		if !ok1 || !ok2 || ld != val || !gRegs[src.Base] || src.Index != 0 || src.Segment != 0 {
			return
		}
		// g's first words are the stack bounds and guards, m at 0x30;
		// the goid is well past them.
		if src.Disp >= 0x40 && src.Disp < 0x400 {
			out = append(out, int(src.Disp))
		}
	})
	return out
}

// loadsDisp reports whether code loads 8 bytes from disp off a register
// other than the stack pointer.
func loadsDisp(code []byte, entry uint64, disp int) bool {
	found := false
	_ = walk(code, entry, func(inst x86asm.Inst, pc uint64) {
		if inst.Op != x86asm.MOV || inst.DataSize != 64 {
			return
		}
		if m, ok := inst.Args[1].(x86asm.Mem); ok && m.Base != x86asm.RSP && m.Base != x86asm.RIP && m.Index == 0 && int(m.Disp) == disp {
			found = true
		}
	})
	return found
}

// GRegister returns the register that holds the current goroutine's g at
// the entry and returns of Go (ABIInternal) functions, derived from the
// stack-check prologue of runtime.main, which compares the stack pointer
// with g.stackguard0 through it ("r14" on amd64 since Go 1.17). It is an
// error when the prologue loads g from thread-local storage instead (Go
// before 1.17, where no register holds g).
func (b *Binary) GRegister() (string, error) {
	switch b.Machine {
	case elf.EM_X86_64:
	case elf.EM_AARCH64:
		if b.GoVersionAtLeast(1, 18) {
			return "x28", nil // not derived: no arm64 decoder here
		}
		return "", fmt.Errorf("%s on arm64 keeps g in thread-local storage, not in a register", b.GoVersion)
	default:
		return "", fmt.Errorf("no g register known for %v", b.Machine)
	}
	fn, ok := b.FuncByName("runtime.main")
	if !ok {
		return "", errors.New("no runtime.main in the function table")
	}
	code, err := b.Code(fn)
	if err != nil {
		return "", err
	}
	off := 0
	for n := 0; n < maxPrologueInsns && off < len(code); n++ {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len == 0 {
			break
		}
		off += inst.Len
		switch inst.Op {
		case x86asm.MOV:
			if m, ok := inst.Args[1].(x86asm.Mem); ok && (m.Segment == x86asm.FS || m.Segment == x86asm.GS) {
				return "", fmt.Errorf("%s loads g from thread-local storage: no register holds it", b.GoVersion)
			}
		case x86asm.CMP:
			if m, ok := inst.Args[1].(x86asm.Mem); ok && m.Disp == 0x10 && m.Base != 0 && m.Base != x86asm.RSP {
				return regName(m.Base), nil
			}
		}
	}
	return "", errors.New("runtime.main has no stack check through a g register")
}

// regName returns x86asm's register name in lower case ("r14").
func regName(r x86asm.Reg) string {
	s := []byte(r.String())
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			s[i] = c + 'a' - 'A'
		}
	}
	return string(s)
}
