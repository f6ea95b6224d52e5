package session

import (
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

// resolverAdapter gives the compiler the sites internal/resolve finds.
type resolverAdapter struct{ r *resolve.Resolver }

func (a resolverAdapter) Resolve(ap *lang.AttachPoint) ([]compile.Site, error) {
	sites, err := a.r.Resolve(ap)
	if err != nil {
		return nil, err
	}
	out := make([]compile.Site, len(sites))
	for i, s := range sites {
		name := s.Display
		if name == "" {
			name = s.Func
		}
		out[i] = compile.Site{
			Kind: s.Kind, Probe: s.Probe, Target: s.Target, AttachPath: s.AttachPath,
			Func: name, Provider: s.Provider, FuncAddr: s.FuncAddr, Addr: s.Addr,
			Offset: s.Offset, RefCtrOffset: s.RefCtrOffset, USDT: s.USDT, GoBinary: s.GoBinary,
			GoFunc: s.GoFunc, GoEntry: s.GoEntry, GoAsm: s.GoAsm, AtReturn: s.AtReturn,
			Moved: s.Moved, Placement: s.Placement,
		}
		if s.GoFunc != "" {
			if b := a.r.GoBinary(s.AttachPath); b != nil {
				out[i].Go = b
			} else {
				out[i].GoFunc = ""
			}
		}
	}
	return out, nil
}
