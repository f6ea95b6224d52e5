package resolve

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"golang.org/x/arch/x86/x86asm"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
)

// Return probes that never break C++ exceptions (issue 19).
//
// A kernel uretprobe replaces the return address on the stack with its
// trampoline; an exception unwinding through that frame finds no unwind
// information for the trampoline and the C++ runtime calls std::terminate.
// So in objects with C++ code (they use __gxx_personality_v0), a uretprobe
// on a function becomes plain uprobes with return semantics (Site.AtReturn,
// as for Go) on:
//
//   - every RET instruction: a return; retval is rax;
//   - every tail call, a jmp that leaves the function (direct, through the
//     GOT, or through memory at a base register as a virtual call does): the
//     function returns through its callee, so the probe fires there, when
//     the function is done; its return value is not known yet, so a program
//     that reads retval refuses such a function;
//   - every call of _Unwind_Resume: the end of a landing pad, where a frame
//     that ran its destructors is left by the exception that unwinds it.
//     Frames without destructors to run have no landing pad: the unwinder
//     leaves them without running any of their code, and no probe sees it.
//     A program that reads retval skips these sites (there is no value).
//
// A leaf function (no call, no tail call) keeps the kernel's uretprobe: no
// exception can unwind through it, and the trampoline costs less than a
// probe on RET, which the kernel single-steps (bench/cxxret).
//
// An indirect jmp through a register is taken as a jump table (switch) and
// stays inside the function. A function whose code cannot be decoded, or
// whose size is unknown, is refused with a line naming --kernel-uretprobe.

// maxReturnFunc bounds the code decoded for one function.
const maxReturnFunc = 1 << 20

// hasCxx reports whether the object has C++ code: it defines or imports the
// C++ personality routine, which every frame an exception can unwind with
// cleanups or handlers names.
func (o *object) hasCxx() bool {
	o.cxxOnce.Do(func() {
		if _, ok := o.f.Lookup("__gxx_personality_v0"); ok {
			o.cxx = true
			return
		}
		syms, err := o.f.ELF().DynamicSymbols()
		if err != nil {
			return
		}
		for _, s := range syms {
			if s.Name == "__gxx_personality_v0" {
				o.cxx = true
				return
			}
		}
	})
	return o.cxx
}

// unwindResumeSlots returns the GOT slots the dynamic linker fills with
// _Unwind_Resume's address (JUMP_SLOT and GLOB_DAT relocations).
func (o *object) unwindResumeSlots() map[uint64]bool {
	slots := map[uint64]bool{}
	ef := o.f.ELF()
	syms, err := ef.DynamicSymbols()
	if err != nil || ef.Class != elf.ELFCLASS64 {
		return slots
	}
	for _, name := range []string{".rela.plt", ".rela.dyn"} {
		sec := ef.Section(name)
		if sec == nil || sec.Type != elf.SHT_RELA {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			continue
		}
		for i := 0; i+24 <= len(data); i += 24 {
			off := binary.LittleEndian.Uint64(data[i:])
			info := binary.LittleEndian.Uint64(data[i+8:])
			sym, typ := info>>32, uint32(info)
			if typ != uint32(elf.R_X86_64_JMP_SLOT) && typ != uint32(elf.R_X86_64_GLOB_DAT) {
				continue
			}
			if sym >= 1 && sym-1 < uint64(len(syms)) && syms[sym-1].Name == "_Unwind_Resume" {
				slots[off] = true
			}
		}
	}
	return slots
}

// isUnwindResume reports whether a call to target calls _Unwind_Resume:
// the function itself, or a PLT stub that jumps through its GOT slot.
func (o *object) isUnwindResume(target uint64, slots map[uint64]bool) bool {
	if s, ok := o.f.Lookup("_Unwind_Resume"); ok && s.Addr == target && s.Addr != 0 {
		return true
	}
	if len(slots) == 0 {
		return false
	}
	code, ok := readCode(o, target, 16)
	if !ok {
		return false
	}
	pc := target
	for i := 0; i < 2 && len(code) > 0; i++ {
		inst, err := x86asm.Decode(code, 64)
		if err != nil {
			return false
		}
		if inst.Op == x86asm.JMP {
			if m, ok := inst.Args[0].(x86asm.Mem); ok && m.Base == x86asm.RIP {
				return slots[pc+uint64(inst.Len)+uint64(m.Disp)]
			}
			return false
		}
		// endbr64 first in .plt.sec stubs.
		pc += uint64(inst.Len)
		code = code[inst.Len:]
	}
	return false
}

// returnSite is one place a C++ function is left.
type returnSite struct {
	addr uint64
	how  string // "ret", "tail call", "unwind"
}

// codeRange is a piece of a function's code: the function, or the part of
// it that GCC moved out of line ("FUNC.cold": landing pads, unlikely paths).
type codeRange struct{ addr, end uint64 }

// cxxReturnSites finds where the function [addr, addr+size) is left, its
// FUNC.cold part included.
func (o *object) cxxReturnSites(name string, addr, size uint64) ([]returnSite, error) {
	if size == 0 || size > maxReturnFunc {
		what := "unknown"
		if size != 0 {
			what = "too large"
		}
		return nil, fmt.Errorf("its size is %s, so its return instructions cannot be found", what)
	}
	ranges := []codeRange{{addr, addr + size}}
	if c, ok := o.f.Lookup(name + ".cold"); ok && c.Size > 0 && c.Size <= maxReturnFunc {
		ranges = append(ranges, codeRange{c.Addr, c.Addr + c.Size})
	}
	inside := func(t uint64) bool {
		for _, r := range ranges {
			if t >= r.addr && t < r.end {
				return true
			}
		}
		return false
	}
	o.slotsOnce.Do(func() { o.slots = o.unwindResumeSlots() })
	var out []returnSite
	for _, r := range ranges {
		code, ok := readCode(o, r.addr, r.end-r.addr)
		if !ok {
			return nil, fmt.Errorf("its code cannot be read")
		}
		sites, err := o.exits(code, r.addr, inside)
		if err != nil {
			return nil, err
		}
		out = append(out, sites...)
	}
	return out, nil
}

// exits decodes code (at link-time address addr) and returns its exits.
func (o *object) exits(code []byte, addr uint64, inside func(uint64) bool) ([]returnSite, error) {
	var out []returnSite
	for off := 0; off < len(code); {
		pc := addr + uint64(off)
		if n := gobin.VEXLen(code[off:]); n > 0 {
			off += n // AVX: neither a return, a jump nor a call
			continue
		}
		if isEndbr(code[off:]) {
			off += 4 // x86asm does not know endbr64/endbr32
			continue
		}
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len <= 0 || inst.Op == 0 {
			return nil, fmt.Errorf("its instruction at 0x%x cannot be decoded, so a return could be missed", pc)
		}
		next := pc + uint64(inst.Len)
		switch {
		case inst.Op == x86asm.RET:
			out = append(out, returnSite{pc, "ret"})
		case inst.Op == x86asm.JMP || isJcc(inst.Op):
			switch a := inst.Args[0].(type) {
			case x86asm.Rel:
				if !inside(next + uint64(int64(a))) {
					out = append(out, returnSite{pc, "tail call"})
				}
			case x86asm.Mem:
				// Through the GOT, or a virtual call's vtable slot; a table
				// indexed by a register is a switch.
				if a.Base == x86asm.RIP || (a.Index == 0 && a.Base != 0) {
					out = append(out, returnSite{pc, "tail call"})
				}
			}
		case inst.Op == x86asm.CALL:
			out = append(out, returnSite{pc, "call"}) // not an exit: see leaf
			switch a := inst.Args[0].(type) {
			case x86asm.Rel:
				if o.isUnwindResume(next+uint64(int64(a)), o.slots) {
					out = append(out, returnSite{pc, "unwind"})
				}
			case x86asm.Mem:
				if a.Base == x86asm.RIP && o.slots[next+uint64(a.Disp)] {
					out = append(out, returnSite{pc, "unwind"})
				}
			}
		}
		off += inst.Len
	}
	return out, nil
}

// isJcc reports whether op is a conditional jump (a conditional tail call
// when it leaves the function).
func isJcc(op x86asm.Op) bool {
	switch op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE,
		x86asm.JNE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS:
		return true
	}
	return false
}

// cxxReturns turns the uretprobe sites of functions of a C++ object into
// AtReturn sites on their exits (see above). Sites of a wildcard whose
// function cannot be handled are an error too: a uretprobe that may miss
// returns must not be trusted.
func (r *Resolver) cxxReturns(o *object, ap *lang.AttachPoint, sites []Site) ([]Site, error) {
	if ap.Kind != lang.KindUretprobe || ap.HasAddr || ap.HasOffset || r.opts.KernelUretprobe ||
		o.f.Machine() != elf.EM_X86_64 || o.goBinary() != nil || !o.hasCxx() {
		return sites, nil
	}
	t := o.target
	out := make([]Site, 0, len(sites))
	var noExit []string
	for _, s := range sites {
		rets, err := o.cxxReturnSites(s.Func, s.FuncAddr, s.Size)
		if err != nil {
			return nil, errorf("or use --kernel-uretprobe, which an exception thrown through it turns into std::terminate", nil,
				"uretprobe on C++ function %s in %s: %v", s.Name(), t.Path, err)
		}
		if leaf(rets) {
			// No call and no tail call: no exception can unwind through
			// it, and the kernel's uretprobe is cheaper than a probe on a
			// RET, which the kernel single-steps.
			out = append(out, s)
			continue
		}
		n := 0
		for _, rs := range rets {
			if rs.how == "call" {
				continue
			}
			if r.opts.ReadsRetval && rs.how == "tail call" {
				return nil, errorf("leave retval out, or use --kernel-uretprobe", nil,
					"uretprobe on C++ function %s in %s: it returns through a tail call at 0x%x, where its return value is not known yet", s.Name(), t.Path, rs.addr)
			}
			if r.opts.ReadsRetval && rs.how == "unwind" {
				continue
			}
			off, err := o.f.AddrToOffset(rs.addr)
			if err != nil {
				return nil, errorf("", err, "exit of %s in %s at 0x%x is outside the executable segments", s.Name(), t.Path, rs.addr)
			}
			e := s
			e.Addr, e.Offset, e.AtReturn, e.Moved, e.Placement = rs.addr, off, true, 0, "at "+rs.how
			out = append(out, e)
			n++
		}
		if n == 0 {
			noExit = append(noExit, s.Name())
		}
	}
	if len(out) == 0 && len(noExit) > 0 {
		return nil, errorf("probe its callers instead", nil, "C++ function %s in %s never returns (no RET, tail call or landing pad)", noExit[0], t.Path)
	}
	return out, nil
}

// leaf reports whether a function's exits hold no call and no tail call.
func leaf(sites []returnSite) bool {
	for _, s := range sites {
		if s.how == "call" || s.how == "tail call" || s.how == "unwind" {
			return false
		}
	}
	return true
}

// isEndbr reports whether b starts with endbr64 or endbr32 (f3 0f 1e fa/fb).
func isEndbr(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && (b[3] == 0xfa || b[3] == 0xfb)
}
