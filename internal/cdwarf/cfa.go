package cdwarf

import (
	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/elfx"
)

// CFA at one address from the object's call frame information (.eh_frame,
// else .debug_frame): the minimum a DWARF location that uses
// DW_OP_call_frame_cfa needs at a probe, where a function without a frame
// pointer (-O2) moves its CFA with every push. elfx reads the rows (its
// parser is the one the unwinder's tables come from too); here only the
// CFA's rule is taken.

// cfaRule is where the CFA is: DWARF register reg + off.
type cfaRule struct {
	reg uint64
	off int64
}

// cfaAtPC returns the CFA rule in effect at pc in x's call frame
// information; false when no FDE covers pc or its CFA is not a register
// plus an offset (DW_CFA_def_cfa_expression).
func cfaAtPC(x *elfx.File, pc uint64) (cfaRule, bool) {
	if x == nil {
		return cfaRule{}, false
	}
	r, ok, _ := x.FrameRowAt(pc)
	if !ok || r.CFA.Kind != elfx.RuleCFA {
		return cfaRule{}, false
	}
	return cfaRule{reg: r.CFA.Reg, off: r.CFA.Offset}, true
}

// cfaFromCFI is the CFA at pc as a register name and offset, from the
// call frame information of the code object, else of the debug file the
// DWARF is from (its .debug_frame); "" when neither has it for pc.
func (fn *Func) cfaFromCFI(pc uint64, a *arch.Arch) (string, int64) {
	for _, x := range fn.f.frames {
		rule, ok := cfaAtPC(x, pc)
		if !ok {
			continue
		}
		reg, ok := a.DWARFReg(int(rule.reg))
		if !ok || rule.reg > 1<<16 || reg.Offset < 0 {
			return "", 0
		}
		return reg.Name, rule.off
	}
	return "", 0
}
