package compile

import (
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt"
)

// usdtSpec returns the argument specs shared by every site of this program
// (sites are grouped by their spec string, so the first site speaks for all).
func (g *gen) usdtSpec() *usdt.Site {
	if len(g.sites) == 0 {
		return nil
	}
	return g.c.plan.Sites[g.sites[0]].USDT
}

func (g *gen) usdtArgType(e *lang.Ident, n int) (*Type, error) {
	site := g.usdtSpec()
	if site == nil {
		return tS64, nil // type inference before sites are known
	}
	if n >= len(site.Args) {
		return nil, g.c.errorf(e, "", "usdt probe %s:%s has %d argument(s); %s does not exist", site.Provider, site.Name, len(site.Args), e.Name)
	}
	a := site.Args[n]
	if a.Err != nil {
		return nil, g.c.errorf(e, "", "%s of %s:%s at 0x%x cannot be read: %v", e.Name, site.Provider, site.Name, site.Addr, a.Err)
	}
	size := a.Size
	if size != 1 && size != 2 && size != 4 && size != 8 {
		size = 8
	}
	return &Type{Kind: KindInt, Size: size, Signed: a.Signed}, nil
}

// usdtArg loads argument n of the probe as its spec says, with reads of
// exactly the argument's width.
func (g *gen) usdtArg(e *lang.Ident, n int) error {
	t, err := g.usdtArgType(e, n)
	if err != nil {
		return err
	}
	site := g.usdtSpec()
	a := site.Args[n]
	switch a.Kind {
	case usdt.ArgConst:
		g.emit(asm.LoadImm(asm.R0, a.Offset, asm.DWord))
		g.truncate(asm.R0, t)
		return nil
	case usdt.ArgReg:
		g.emit(asm.LoadMem(asm.R0, regCtx, int16(a.Reg.PtRegsOffset), asm.DWord))
		g.truncate(asm.R0, t)
		return nil
	case usdt.ArgMem:
		g.emit(
			asm.LoadMem(asm.R0, regCtx, int16(a.Reg.PtRegsOffset), asm.DWord),
			asm.Add.Imm(asm.R0, int32(a.Offset)),
		)
	case usdt.ArgMemIndex:
		g.emit(asm.LoadMem(asm.R0, regCtx, int16(a.Reg.PtRegsOffset), asm.DWord))
		if a.Index.Name != "" {
			g.emit(asm.LoadMem(asm.R1, regCtx, int16(a.Index.PtRegsOffset), asm.DWord))
			if a.Scale > 1 {
				g.emit(asm.Mul.Imm(asm.R1, int32(a.Scale)))
			}
			g.emit(asm.Add.Reg(asm.R0, asm.R1))
		}
		g.emit(asm.Add.Imm(asm.R0, int32(a.Offset)))
	case usdt.ArgRIP:
		if !a.Resolved {
			return g.c.errorf(e, "", "%s of %s:%s refers to symbol %q, which is not in the symbol table", e.Name, site.Provider, site.Name, a.Symbol)
		}
		// The runtime address of the global: the probe's ip, minus the
		// probe's link-time address, plus the symbol's.
		g.emit(
			asm.LoadMem(asm.R0, regCtx, ptRegs["ip"], asm.DWord),
			asm.LoadImm(asm.R1, int64(a.SymbolAddr-site.Addr), asm.DWord),
			asm.Add.Reg(asm.R0, asm.R1),
		)
	default:
		return g.c.errorf(e, "", "%s of %s:%s has an unsupported form %q", e.Name, site.Provider, site.Name, a.Raw)
	}
	return g.wrap(e, g.readUser(t))
}
