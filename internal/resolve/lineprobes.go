package resolve

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
)

// Source-line probes, bpftrace's uprobe:BIN@FILE:LINE: a uprobe at every
// address where the line table says the line begins (cdwarf.LineAddrs), so
// that a line the optimizer duplicated is probed everywhere.

// lineSites resolves a line probe; ok is false for other attach points.
func (r *Resolver) lineSites(ap *lang.AttachPoint) (sites []Site, ok bool, err error) {
	at := strings.LastIndexByte(ap.Target, '@')
	if ap.Kind == lang.KindUSDT || at <= 0 || ap.HasOffset {
		return nil, false, nil
	}
	bin, file := ap.Target[:at], ap.Target[at+1:]
	line, convErr := strconv.Atoi(ap.Func)
	if ap.HasAddr && ap.Func == "" && !strings.Contains(ap.Raw, ":0x") {
		line, convErr = int(ap.Addr), nil // the parser read the line as an address
	}
	if file == "" || convErr != nil || line <= 0 {
		return nil, false, nil
	}
	if _, statErr := os.Stat(ap.Target); statErr == nil {
		return nil, false, nil // a file whose name holds '@'
	}
	if ap.Kind == lang.KindUretprobe {
		return nil, true, errorf("use uprobe:", nil, "a source line has no return: %s", ap.Raw)
	}
	targets, err := r.Targets(bin)
	if err != nil {
		return nil, true, err
	}
	for _, t := range targets {
		f, err := cdwarf.Open(t.AttachPath)
		if err != nil {
			return nil, true, errorf("build it with -g, or install its debug file", err, "%s: source lines need DWARF: %v", t.Path, err)
		}
		addrs, _, err := f.LineAddrs(file, line)
		f.Close()
		if err != nil {
			return nil, true, errorf(fmt.Sprintf("list its lines: uscope list -v %s", shellWord(t.Path)), err, "%s: %v", t.Path, err)
		}
		for _, a := range addrs {
			sub := *ap
			sub.Target, sub.Func, sub.HasAddr, sub.Addr = t.Path, "", true, a
			ss, err := r.Resolve(&sub)
			if err != nil {
				return nil, true, err
			}
			for i := range ss {
				ss[i].Probe = fmt.Sprintf("%s:%s@%s:%d", ap.Kind, t.Path, file, line)
			}
			sites = append(sites, ss...)
		}
	}
	return sites, true, nil
}
