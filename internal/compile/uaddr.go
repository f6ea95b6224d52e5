package compile

import (
	"debug/elf"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/lang"
)

// uaddr("sym") is the address of a symbol of the probed object, looked up
// when the program is compiled, as bpftrace does. In an executable linked
// at a fixed address it is the symbol's value. In a PIE or a shared
// library it is moved by the object's load bias, which the probe computes
// from its own instruction pointer: ip - the probed address (so one probed
// address per program, and not on the kernel's return trampoline, whose
// ip is the caller's).

type uaddrRef struct {
	addr uint64
	// biased: add ip - site to addr (a PIE or a shared library).
	biased bool
	site   uint64
}

func (k *checker) uaddrType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	lit, ok := e.Args[0].(*lang.StrLit)
	if !ok {
		return nil, k.c.errorf(e, `uaddr("symbol")`, "uaddr() takes the name of a symbol as a string literal")
	}
	if len(k.sites) == 0 || k.special != nil {
		return nil, k.c.errorf(e, "", "uaddr() is for uprobes, uretprobes and USDT probes")
	}
	s := k.c.plan.Sites[k.sites[0]]
	for _, i := range k.sites[1:] {
		if k.c.plan.Sites[i].AttachPath != s.AttachPath {
			return nil, k.c.errorf(e, "write one probe per object", "uaddr() in a probe on several objects (%s, %s)", s.Target, k.c.plan.Sites[i].Target)
		}
	}
	f, err := elfx.Open(s.AttachPath)
	if err != nil {
		return nil, k.c.errorf(e, "", "uaddr(%q): %v", lit.Value, err)
	}
	defer f.Close()
	sym, found := f.Lookup(lit.Value)
	if !found {
		var names []string
		if all, err := f.Symbols(); err == nil {
			for _, x := range all {
				if x.Type == elf.STT_OBJECT || x.Type == elf.STT_FUNC {
					names = append(names, x.Name)
				}
			}
		}
		hint := ""
		if near := nearest(lit.Value, names); near != "" {
			hint = "did you mean " + near + "?"
		}
		return nil, k.c.errorf(e.Args[0], hint, "uaddr(%q): no such symbol in %s", lit.Value, s.Target)
	}
	ref := uaddrRef{addr: sym.Addr}
	if f.Type() == elf.ET_DYN {
		if len(k.sites) > 1 {
			return nil, k.c.errorf(e, "probe one function", "uaddr() in a probe on %d sites of %s, a PIE or library: the load bias is taken from the probed address", len(k.sites), s.Target)
		}
		if k.shape.ret && !k.shape.atReturn {
			return nil, k.c.errorf(e, "read it in a uprobe", "uaddr() in a uretprobe of %s, a PIE or library: the return trampoline hides the probed address", s.Target)
		}
		ref.biased, ref.site = true, s.Addr
	}
	k.info.uaddrs[e] = ref
	target, ok := map[uint64]string{1: "uint8", 2: "uint16", 4: "uint32"}[sym.Size]
	if !ok {
		target = "uint64"
	}
	return &Type{Kind: KindInt, Size: 8, Pointee: intTypes[target]}, nil
}

func (g *gen) uaddr(n lang.Expr) error {
	ref := g.info.uaddrs[n]
	g.emit(asm.LoadImm(asm.R0, int64(ref.addr), asm.DWord))
	if ref.biased {
		g.emit(
			asm.LoadMem(asm.R1, regCtx, ptRegs["ip"], asm.DWord),
			asm.Add.Reg(asm.R0, asm.R1),
			asm.LoadImm(asm.R1, int64(ref.site), asm.DWord),
			asm.Sub.Reg(asm.R0, asm.R1),
		)
	}
	return nil
}
