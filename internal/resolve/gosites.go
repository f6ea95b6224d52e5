package resolve

import (
	"errors"
	"fmt"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
)

// GoBinary returns the Go view of the object at path (a Target's
// AttachPath), or nil when it is not a Go binary or cannot be opened.
func (r *Resolver) GoBinary(path string) *gobin.Binary {
	r.mu.Lock()
	o := r.objects[path]
	r.mu.Unlock()
	if o == nil {
		return nil
	}
	return o.goBinary()
}

// goSites adjusts the sites of a uprobe or uretprobe in a Go binary for the
// functions that are Go code (from pclntab):
//
//   - an entry probe moves past the stack-check prologue (gobin.PrologueEnd):
//     a call that must grow its stack runs the check, calls morestack and
//     starts over, so a probe on the first instruction would fire twice;
//     and the instruction after the check is usually one the kernel
//     emulates (push %rbp) rather than single-steps;
//   - a uretprobe becomes one site per RET instruction (gobin.RetSites),
//     attached as a plain uprobe with return semantics (AtReturn): a kernel
//     uretprobe replaces the return address on the goroutine's stack, which
//     the Go runtime must be able to read when it moves or scans the stack.
//
// Other sites (C code of cgo binaries) are kept as they are.
func (r *Resolver) goSites(o *object, ap *lang.AttachPoint, sites []Site) ([]Site, error) {
	b := o.goBinary()
	if b == nil {
		return sites, nil
	}
	t := o.target
	out := make([]Site, 0, len(sites))
	var noRet []string
	for _, s := range sites {
		fn, ok := b.FuncAt(s.Addr)
		if !ok || (s.FuncAddr != 0 && fn.Entry != s.FuncAddr) {
			out = append(out, s)
			continue
		}
		s.GoFunc, s.GoAsm = fn.Name, fn.Asm
		s.GoEntry = s.Addr == fn.Entry
		atFunc := !ap.HasAddr && !ap.HasOffset
		if ap.Kind == lang.KindUretprobe {
			if !atFunc {
				return nil, errorf(fmt.Sprintf("use uretprobe:%s:%s, which probes its RET instructions", shellWord(t.Path), quoteField(fn.Name, false)), nil,
					"a uretprobe inside Go function %s cannot be attached: a kernel uretprobe rewrites the return address on a goroutine stack, which Go moves", fn.Name)
			}
			rets, err := goReturns(b, fn)
			if err != nil {
				return nil, errorf("", err, "%s in %s: %v", fn.Name, t.Path, err)
			}
			if len(rets) == 0 {
				noRet = append(noRet, fn.Name)
				continue
			}
			for _, ret := range rets {
				off, err := o.f.AddrToOffset(ret)
				if err != nil {
					return nil, errorf("", err, "RET of %s in %s is at 0x%x, outside the executable segments", fn.Name, t.Path, ret)
				}
				rs := s
				rs.Addr, rs.Offset, rs.AtReturn, rs.GoEntry = ret, off, true, false
				out = append(out, rs)
			}
			continue
		}
		if atFunc && !fn.Asm {
			addr, ok, err := b.PrologueEnd(fn)
			if err != nil && !errors.Is(err, gobin.ErrUnsupportedArch) {
				return nil, errorf("", err, "%s in %s: %v", fn.Name, t.Path, err)
			}
			if ok {
				off, err := o.f.AddrToOffset(addr)
				if err != nil {
					return nil, errorf("", err, "%s in %s: 0x%x is outside the executable segments", fn.Name, t.Path, addr)
				}
				s.Addr, s.Offset = addr, off
			}
		}
		out = append(out, s)
	}
	if r.opts.ProbeInline && ap.Kind == lang.KindUprobe && !ap.HasAddr && !ap.HasOffset {
		done := map[string]bool{}
		for _, s := range sites {
			if s.GoFunc != "" && !done[s.Func] {
				done[s.Func] = true
				out = append(out, r.goInlineSites(o, s, b)...)
			}
		}
	}
	if len(out) == 0 && len(noRet) > 0 {
		return nil, errorf("probe its callers instead", nil, "%s in %s never returns with a RET instruction (it ends in a jump, a panic or an endless loop)", noRet[0], t.Path)
	}
	return out, nil
}

// goReturns returns where to probe the returns of fn: each RET instruction,
// or the NOP just before it where the kernel emulates that instead of
// single-stepping the RET (gobin.ReturnProbeSites). A set that may miss a
// RET is an error: returns would go unseen.
func goReturns(b *gobin.Binary, fn gobin.Func) ([]uint64, error) {
	rets, err := b.ReturnProbeSites(fn)
	if errors.Is(err, gobin.ErrUnsupportedArch) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("cannot find every RET instruction (%v); not attaching a return probe that could miss returns", err)
	}
	return rets, nil
}

// goInlineSites returns a site for each inlined copy of the Go function of
// s (gobin.InlinedCopies), for a uprobe under Options.ProbeInline: the
// copy's first instruction, in the function that holds it. Such a site is
// not the function's entry (no arguments by the ABI there) but is Go code
// (goid reads as anywhere in Go). func names the inlined function.
func (r *Resolver) goInlineSites(o *object, s Site, b *gobin.Binary) []Site {
	copies, err := b.InlinedCopies(s.Func)
	if err != nil {
		return nil
	}
	var out []Site
	for _, c := range copies {
		off, err := o.f.AddrToOffset(c.Addr)
		if err != nil {
			continue
		}
		is := s
		is.Addr, is.Offset, is.Size = c.Addr, off, 0
		is.FuncAddr = 0
		is.GoFunc, is.GoEntry, is.GoAsm, is.AtReturn = c.Outer, false, false, false
		is.Moved, is.Placement = 0, ""
		is.Inlined = c.Outer
		out = append(out, is)
	}
	return out
}

// goInlineOnly resolves a uprobe whose pattern names no function of the
// table but functions that exist only inlined.
func (r *Resolver) goInlineOnly(o *object, ap *lang.AttachPoint, g Glob) []Site {
	b := o.goBinary()
	if b == nil {
		return nil
	}
	t := o.target
	m := newNameMatcher(g, "")
	var out []Site
	for _, name := range b.InlinedNames() {
		if ok, _ := m.match(name); !ok {
			continue
		}
		s := Site{
			Kind: ap.Kind, Probe: ProbeName(ap.Kind, t.Name(), name), Target: t.Path, AttachPath: t.AttachPath,
			Func: name, Display: name, GoBinary: true,
		}
		out = append(out, r.goInlineSites(o, s, b)...)
	}
	return out
}

// SetProbeInline sets Options.ProbeInline, for a program whose config block
// says probe_inline = 1 (bpftrace's key, default 0). Call it before the
// program's attach points are resolved.
func (r *Resolver) SetProbeInline(on bool) {
	r.mu.Lock()
	r.opts.ProbeInline = on
	r.mu.Unlock()
}
