package compile

import (
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// unmoveIP turns the instruction pointer in R0 into the address of the
// function's first instruction at sites that placement moved forward
// (Site.Moved): programs see the same ip wherever the probe sits. The
// distance is a constant of the program, whose sites all share it (see
// shape.moved).
func (g *gen) unmoveIP() {
	if g.shape.moved != 0 {
		g.emit(asm.Sub.Imm(asm.R0, int32(g.shape.moved)))
	}
}

// readsIP reports whether a probe reads the instruction pointer (ip,
// reg("ip"), reg("rip")).
func readsIP(pr *lang.Probe) bool {
	found := false
	lang.Inspect(pr, func(n lang.Node) bool {
		switch n := n.(type) {
		case *lang.Ident:
			if n.Name == "ip" {
				found = true
			}
		case *lang.Call:
			if n.Name == "reg" && len(n.Args) == 1 {
				if s, ok := n.Args[0].(*lang.StrLit); ok && (s.Value == "ip" || s.Value == "rip") {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
