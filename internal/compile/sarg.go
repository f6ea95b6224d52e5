package compile

import (
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/internal/lang"
)

// sargN is bpftrace 0.17's stack argument: the N-th 64-bit word of the
// stack above the return address at a function's entry,
// *(uint64*)(sp + 8*(N+1)) on x86_64. bpftrace deprecated it in 0.21 and
// removed it in 0.25 (main refuses it); 0.17's scripts still run here, as a
// name main refuses cannot mean anything else in its programs.
func sargIndex(name string) (int, bool) {
	if !strings.HasPrefix(name, "sarg") {
		return 0, false
	}
	return argIndex(name[1:]) // sargN as argN
}

// sargType types sargN: a uprobe at a C function's entry.
func (k *checker) sargType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Ident)
	switch {
	case k.special != nil || k.shape.kind == lang.KindUSDT:
		return nil, k.c.errorf(e, "", "%s is only available in uprobes", e.Name)
	case k.shape.ret:
		return nil, k.c.errorf(e, "save it at entry: uprobe:...{ @a[tid] = "+e.Name+"; }", "%s is not available in a uretprobe", e.Name)
	case k.goSite() != nil:
		return nil, k.c.errorf(e, "use args.NAME or goarg(N)", "%s reads the C stack: not in probes on Go functions", e.Name)
	}
	return tU64, nil
}

// sargValue loads sargN: the stack pointer from the context, then the
// traced process's word at sp + CStackArgs + 8*N.
func (g *gen) sargValue(e lang.Expr) error {
	n, _ := sargIndex(e.(*lang.Ident).Name)
	g.emit(
		asm.LoadMem(asm.R0, regCtx, ptRegs["sp"], asm.DWord),
		asm.Add.Imm(asm.R0, int32(arch.AMD64.CStackArgs+8*n)),
	)
	return g.readUser(tU64, nil)
}
