package compile

import (
	"fmt"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt"
	"github.com/uscope/uscope/usdt/usdtbpf"
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
// exactly the argument's width (the instructions of usdtbpf.FetchArg);
// check refused the forms it cannot fetch.
func (g *gen) usdtArg(e *lang.Ident, n int) error {
	site := g.usdtSpec()
	a := site.Args[n]
	var slot int16
	if a.Kind == usdt.ArgMem || a.Kind == usdt.ArgMemIndex || a.Kind == usdt.ArgRIP {
		var err error
		if slot, err = g.pushStack(8); err != nil {
			return g.wrap(e, err)
		}
		defer g.popStack(8)
	}
	insns, err := usdtbpf.FetchArg(a, site.Addr, regCtx, slot)
	if err != nil {
		return g.wrap(e, err)
	}
	g.emit(insns...)
	return nil
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
