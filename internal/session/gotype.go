package session

import (
	"debug/elf"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lazy"
	"github.com/uscope/uscope/proc"
)

// goTypes names the dynamic types of Go interface values: per binary, its
// type data and the load bias of the traced process's mapping of it.
type goTypes struct {
	bin  *gobin.Binary
	bias uint64
	ok   bool
}

var procRoot = lazy.Regexp(`^/proc/[0-9]+/root`)

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
	gt := s.goBinary(path)
	if !gt.ok {
		return "", false
	}
	name, err := gt.bin.InterfaceTypeName(word-gt.bias, empty)
	return name, err == nil
}

// goBinary opens the Go binary at path once, with its load bias in the
// traced process when it is position-independent.
func (s *session) goBinary(path string) *goTypes {
	if gt, ok := s.goTypes[path]; ok {
		return gt
	}
	if s.goTypes == nil {
		s.goTypes = map[string]*goTypes{}
	}
	gt := &goTypes{}
	s.goTypes[path] = gt
	b, err := gobin.OpenFile(path)
	if err != nil {
		// /proc/PID/root/FILE of a process that has exited: the same
		// file from uscope's mount namespace, when it is there.
		if m := procRoot().FindStringIndex(path); m != nil {
			path = path[m[1]:]
			b, err = gobin.OpenFile(path)
		}
	}
	if err != nil {
		return gt
	}
	gt.bin, gt.ok = b, true
	f, err := elf.Open(path)
	if err != nil || f.Type != elf.ET_DYN {
		if f != nil {
			f.Close()
		}
		return gt
	}
	f.Close()
	gt.ok = false
	if s.pid == 0 {
		return gt
	}
	if objs, err := proc.Objects(s.pid); err == nil {
		for _, o := range objs {
			if o.Exe {
				gt.bias, gt.ok = o.Bias, true
			}
		}
	}
	return gt
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
			s.goBinary(t.GoBinary)
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
