package resolve

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
)

// Source-line probes: uprobe:BIN:FILE:LINE, uprobe:BIN:FUNC:LINE (LINE
// counted from the function's declaration line, as perf probe counts) and
// bpftrace's uprobe:BIN@FILE:LINE: a uprobe at every address where the
// line table says the line begins (cdwarf.LineAddrs), so that a line the
// optimizer duplicated is probed everywhere.

// lineProbe is a line probe's parts; ok is false for other attach points.
func lineProbe(ap *lang.AttachPoint) (bin, file, fn string, line int, ok bool) {
	if ap.Kind == lang.KindUSDT {
		return "", "", "", 0, false
	}
	if ap.HasLine {
		return ap.Target, ap.File, ap.Func, ap.Line, true
	}
	at := strings.LastIndexByte(ap.Target, '@')
	if at <= 0 || ap.HasOffset {
		return "", "", "", 0, false
	}
	bin, file = ap.Target[:at], ap.Target[at+1:]
	line, convErr := strconv.Atoi(ap.Func)
	if ap.HasAddr && ap.Func == "" && !strings.Contains(ap.Raw, ":0x") {
		line, convErr = int(ap.Addr), nil // the parser read the line as an address
	}
	if file == "" || convErr != nil || line <= 0 {
		return "", "", "", 0, false
	}
	if _, statErr := os.Stat(ap.Target); statErr == nil {
		return "", "", "", 0, false // a file whose name holds '@'
	}
	return bin, file, "", line, true
}

// lineSites resolves a line probe; ok is false for other attach points.
func (r *Resolver) lineSites(ap *lang.AttachPoint) (sites []Site, ok bool, err error) {
	bin, file, fn, line, ok := lineProbe(ap)
	if !ok {
		return nil, false, nil
	}
	if ap.Kind == lang.KindUretprobe {
		return nil, true, errorf("use uprobe:", nil, "a source line has no return: %s", ap.Raw)
	}
	targets, err := r.Targets(bin)
	if err != nil {
		return nil, true, err
	}
	if line < 0 {
		hint := fmt.Sprintf("list them: uscope list %s 'uprobe:*:%s:*'", shellWord(bin), file)
		if fn != "" {
			hint = "count lines from the function's own line: uprobe:BIN:" + fn + ":3"
		}
		return nil, true, errorf(hint, nil, "a line probe needs a line number: %s", ap.Raw)
	}
	for _, t := range targets {
		f, err := cdwarf.Open(t.AttachPath)
		if err != nil {
			return nil, true, errorf("build it with -g, or install its debug file", err, "%s: source lines need DWARF: %v", t.Path, err)
		}
		want, abs := file, line
		if fn != "" {
			var decl int
			want, decl, err = f.FuncLine(fn)
			if err != nil {
				f.Close()
				return nil, true, errorf(fmt.Sprintf("name a function of %s, or write uprobe:BIN:FILE:LINE", shellWord(t.Path)), err, "%s: %v", t.Path, err)
			}
			abs = decl + line
		}
		addrs, _, err := f.LineAddrs(want, abs)
		f.Close()
		if err != nil {
			if fn != "" {
				err = fmt.Errorf("line %d of %s is line %d of %s, which has no code", line, fn, abs, want)
			}
			return nil, true, errorf(fmt.Sprintf("list its lines: uscope list %s 'uprobe:*:%s:*'", shellWord(t.Path), filepath.Base(want)), err, "%s: %v", t.Path, err)
		}
		for _, a := range addrs {
			sub := *ap
			sub.Target, sub.Func, sub.File, sub.HasLine, sub.HasAddr, sub.Addr = t.Path, "", "", false, true, a
			ss, err := r.Resolve(&sub)
			if err != nil {
				return nil, true, err
			}
			for i := range ss {
				ss[i].Probe = lineProbeName(ap, t.Path, file, line)
			}
			sites = append(sites, ss...)
		}
	}
	return sites, true, nil
}

// lineProbeName is the probe as its sites name it: the form written, on
// the object's path.
func lineProbeName(ap *lang.AttachPoint, path, file string, line int) string {
	if !ap.HasLine {
		return fmt.Sprintf("%s:%s@%s:%d", ap.Kind, path, file, line)
	}
	p := *ap
	p.Target = path
	return p.String()
}
