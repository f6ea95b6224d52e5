package session

import (
	"debug/elf"
	"regexp"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/proc"
)

// goTypes names the dynamic types of Go interface values: per binary, its
// type data and the load bias of the traced process's mapping of it.
type goTypes struct {
	bin  *gobin.Binary
	bias uint64
	ok   bool
}

var procRoot = regexp.MustCompile(`^/proc/[0-9]+/root`)

// goTypeName is the name Go prints (%T) for the type an interface's first
// word (an itab, or the type descriptor of an empty interface) points to
// in the binary at path. A position-independent binary's addresses are
// taken back to link time with the traced process's load bias (-p, -c);
// without a process, or where the word is not the binary's (an itab the
// runtime built), there is no name and the word prints as an address.
func (s *session) goTypeName(path string, word uint64, empty bool) (string, bool) {
	if word == 0 {
		return "nil", true
	}
	if s.goTypes == nil {
		s.goTypes = map[string]*goTypes{}
	}
	gt, seen := s.goTypes[path]
	if !seen {
		gt = &goTypes{}
		s.goTypes[path] = gt
		b, err := gobin.OpenFile(path)
		if err != nil {
			// /proc/PID/root/FILE of a process that has exited: the same
			// file from uscope's mount namespace, when it is there.
			if m := procRoot.FindStringIndex(path); m != nil {
				path = path[m[1]:]
				b, err = gobin.OpenFile(path)
			}
		}
		if err == nil {
			gt.bin, gt.ok = b, true
			if f, err := elf.Open(path); err == nil {
				pie := f.Type == elf.ET_DYN
				f.Close()
				if pie {
					gt.ok = false
					if objs, err := proc.Objects(s.pid); err == nil && s.pid != 0 {
						for _, o := range objs {
							if o.Exe {
								gt.bias, gt.ok = o.Bias, true
							}
						}
					}
				}
			}
		}
	}
	if !gt.ok {
		return "", false
	}
	name, err := gt.bin.InterfaceTypeName(word-gt.bias, empty)
	return name, err == nil
}

// primeGoTypes opens, at the start, the binaries whose interface values
// the plan prints, so that a position-independent one's load bias is read
// while the traced process still runs.
func (s *session) primeGoTypes() {
	var walk func(t *compile.Type)
	walk = func(t *compile.Type) {
		if t == nil {
			return
		}
		if t.GoBinary != "" {
			s.goTypeName(t.GoBinary, 1, true) // opens and caches; the name is not wanted
		}
		for _, e := range t.Elems {
			walk(e)
		}
	}
	for _, p := range s.plan.Printfs {
		for _, a := range p.Args {
			walk(a.Type)
		}
	}
	for _, t := range s.plan.Values {
		walk(t)
	}
	for _, m := range s.plan.Maps {
		walk(m.Key)
		walk(m.Value)
	}
}
