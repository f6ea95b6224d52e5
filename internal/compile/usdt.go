package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt"
)

// usdtSpec returns the argument specs shared by every site of this program
// (sites are grouped by their spec string, so the first site speaks for all).
func (u *unit) usdtSpec() *usdt.Site {
	if len(u.sites) == 0 {
		return nil
	}
	return u.c.plan.Sites[u.sites[0]].USDT
}

func (k *checker) usdtArgType(e *lang.Ident, n int) (*Type, error) {
	site := k.usdtSpec()
	if n >= len(site.Args) {
		return nil, k.c.errorf(e, "", "usdt probe %s:%s has %d argument(s); %s does not exist", site.Provider, site.Name, len(site.Args), e.Name)
	}
	a := site.Args[n]
	if a.Err != nil {
		return nil, k.c.errorf(e, "use only the arguments this site provides, or name another probe", "%s of USDT probe %s:%s cannot be fetched at its site 0x%x in %s: %v", e.Name, site.Provider, site.Name, site.Addr, k.c.plan.Sites[k.sites[0]].Target, a.Err)
	}
	switch a.Kind {
	case usdt.ArgConst, usdt.ArgReg:
	case usdt.ArgMem, usdt.ArgMemIndex, usdt.ArgRIP:
		if (a.Symbol != "" || a.Kind == usdt.ArgRIP) && !a.Resolved {
			return nil, k.c.errorf(e, "", "%s of %s:%s at 0x%x refers to symbol %q, which is not in the symbol table", e.Name, site.Provider, site.Name, site.Addr, a.Symbol)
		}
	default:
		return nil, k.c.errorf(e, "", "%s of %s:%s has an unsupported form %q", e.Name, site.Provider, site.Name, a.Raw)
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
	t := g.typ(e)
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
	case usdt.ArgMem, usdt.ArgMemIndex:
		// base + index*scale + displacement; a non-PIE operand may have no
		// base (arr(,%rax,4)) and a symbol as its displacement.
		disp := a.Offset
		if a.Symbol != "" {
			disp = int64(a.SymbolAddr)
		}
		if a.Reg.Name != "" {
			g.emit(asm.LoadMem(asm.R0, regCtx, int16(a.Reg.PtRegsOffset), asm.DWord))
		} else {
			g.emit(asm.Mov.Imm(asm.R0, 0))
		}
		if a.Kind == usdt.ArgMemIndex && a.Index.Name != "" {
			g.emit(asm.LoadMem(asm.R1, regCtx, int16(a.Index.PtRegsOffset), asm.DWord))
			if a.Scale > 1 {
				g.emit(asm.Mul.Imm(asm.R1, int32(a.Scale)))
			}
			g.emit(asm.Add.Reg(asm.R0, asm.R1))
		}
		if disp == int64(int32(disp)) {
			g.emit(asm.Add.Imm(asm.R0, int32(disp)))
		} else {
			g.emit(asm.LoadImm(asm.R1, disp, asm.DWord), asm.Add.Reg(asm.R0, asm.R1))
		}
	case usdt.ArgRIP:
		// The runtime address of the global: the probe's ip, minus the
		// probe's link-time address, plus the symbol's.
		g.emit(
			asm.LoadMem(asm.R0, regCtx, ptRegs["ip"], asm.DWord),
			asm.LoadImm(asm.R1, int64(a.SymbolAddr-site.Addr), asm.DWord),
			asm.Add.Reg(asm.R0, asm.R1),
		)
	}
	return g.wrap(e, g.readUser(t))
}

// usdtShapeKey groups the USDT sites one program can serve: those with the
// same argument specs. A RIP-relative argument is fetched relative to the
// site's own address, so a site with one gets a program of its own.
func usdtShapeKey(s Site) string {
	for _, a := range s.USDT.Args {
		if a.Kind == usdt.ArgRIP {
			return fmt.Sprintf("%s@%s+%#x", s.USDT.ArgsRaw, s.AttachPath, s.Addr)
		}
	}
	return s.USDT.ArgsRaw
}
