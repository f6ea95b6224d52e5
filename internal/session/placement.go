package session

import (
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// programRegs returns the registers a program reads with reg(): an entry
// probe must not move past an instruction that writes one of them.
func programRegs(prog *lang.Program) []string {
	if prog == nil {
		return nil
	}
	var regs []string
	for _, pr := range prog.Probes {
		lang.Inspect(pr, func(n lang.Node) bool {
			if c, ok := n.(*lang.Call); ok && c.Name == "reg" && len(c.Args) == 1 {
				if s, ok := c.Args[0].(*lang.StrLit); ok {
					regs = append(regs, s.Value)
				}
			}
			return true
		})
	}
	return regs
}

// quietRingBufSize is the events ring buffer of a program that prints
// nothing per event (only exit() and print(@map) write records): the
// kernel maps the whole buffer into uscope twice, so it counts in uscope's
// memory.
const quietRingBufSize = 256 << 10

// ringBufSizeFor returns the ring buffer size for a program: the user's,
// compile's default when a probe may print per event, or quietRingBufSize
// (also for printing in BEGIN, END and interval probes only). A big buffer
// costs start-up time too: creating 8 MiB took 10 ms here, 256 KiB 0.5 ms.
func ringBufSizeFor(prog *lang.Program, user int) int {
	if user > 0 || prog == nil {
		return user
	}
	loud := false
	for _, pr := range prog.Probes {
		if onlySpecial(pr) {
			continue // BEGIN, END and interval print once per run or per tick
		}
		lang.Inspect(pr, func(n lang.Node) bool {
			if c, ok := n.(*lang.Call); ok {
				switch c.Name {
				case "printf", "print", "time", "cat", "join", "system", "errorf", "warnf":
					loud = true
				}
			}
			return !loud
		})
	}
	if loud {
		return 0
	}
	return quietRingBufSize
}

func onlySpecial(pr *lang.Probe) bool {
	for _, ap := range pr.Points {
		switch ap.Kind {
		case lang.KindBegin, lang.KindEnd, lang.KindInterval, lang.KindSelf:
		default:
			return false
		}
	}
	return true
}

// unmoveFrame rewrites the first frame of a user stack taken at an entry
// probe that placement moved forward (compile.Site.Moved): the frame is
// then the function's first instruction, as at an unmoved probe. The
// first frame of a stack taken by a uprobe program is the probe's address;
// it is recognized as FUNC+Moved of a moved site.
func (s *session) unmoveFrame(f *output.Frame) {
	if f.Off == 0 || f.Sym == "" {
		return
	}
	for i := range s.plan.Sites {
		site := &s.plan.Sites[i]
		if site.Moved == f.Off && site.Name() == f.Sym {
			f.Addr -= f.Off
			f.Off = 0
			return
		}
	}
}
