package compile

import "github.com/cilium/ebpf/asm"

// The process-tree filter (issue 19): a hook kept apart from the rest of
// code generation. With Options.FilterTree, every probe program (not BEGIN,
// END or interval, which run in uscope itself) starts by looking up the
// current process's tgid in the MapTree hash map and exits when it is not
// there. internal/attach.Tree fills the map with the traced process and
// keeps it equal to its descendants from fork and exit tracepoints.

// MapTree is the hash map (u32 tgid → u32) of the processes being traced.
const MapTree = "tree"

// TreeMaxEntries bounds the number of processes of one traced tree.
const TreeMaxEntries = 32768

// treeFilter emits the tgid check right after the prologue keeps ctx.
func (g *gen) treeFilter() {
	if !g.c.opts.FilterTree || g.special != nil {
		return
	}
	keyOff, _ := g.pushStack(8)
	g.emit(
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, keyOff, asm.R0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(MapTree),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(keyOff)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, g.exitLbl),
	)
	g.popStack(8)
}
