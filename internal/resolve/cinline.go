package resolve

import (
	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
)

// Inlined instances of C and C++ functions (DW_TAG_inlined_subroutine):
// with Options.ProbeInline (bpftrace's probe_inline), a uprobe on FUNC
// also attaches where each instance starts, and a name that exists only
// inlined (a static inline function) resolves to its instances.

// cInlineApplies says whether a probe gets the inlined instances.
func (r *Resolver) cInlineApplies(o *object, ap *lang.AttachPoint) bool {
	return r.opts.ProbeInline && ap.Kind == lang.KindUprobe && !ap.HasAddr && !ap.HasOffset && o.goBinary() == nil
}

// cInlineSites adds to sites the inlined instances of their functions.
func (r *Resolver) cInlineSites(o *object, ap *lang.AttachPoint, sites []Site, err error) ([]Site, error) {
	if err != nil || !r.cInlineApplies(o, ap) {
		return sites, err
	}
	f, derr := cdwarf.Open(o.target.AttachPath)
	if derr != nil {
		return sites, nil
	}
	defer f.Close()
	done := map[string]bool{}
	out := sites
	for _, s := range sites {
		if done[s.Func] || s.GoFunc != "" {
			continue
		}
		done[s.Func] = true
		out = append(out, r.inlineInstances(o, ap, f, s.Func, s.Probe)...)
	}
	return out, nil
}

// cInlineOnly resolves a uprobe whose pattern names no function of the
// symbol table but functions DWARF has only inlined.
func (r *Resolver) cInlineOnly(o *object, ap *lang.AttachPoint, g Glob) []Site {
	if !r.cInlineApplies(o, ap) {
		return nil
	}
	f, err := cdwarf.Open(o.target.AttachPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	m := newNameMatcher(g, "")
	var out []Site
	for _, name := range f.InlinedNames() {
		if ok, _ := m.match(name); ok {
			out = append(out, r.inlineInstances(o, ap, f, name, ProbeName(ap.Kind, o.target.Name(), name))...)
		}
	}
	return out
}

func (r *Resolver) inlineInstances(o *object, ap *lang.AttachPoint, f *cdwarf.File, name, probe string) []Site {
	t := o.target
	var out []Site
	for _, in := range f.Inlined(name) {
		off, err := o.f.AddrToOffset(in.Addr)
		if err != nil || !o.f.InExecSegment(in.Addr) {
			continue
		}
		out = append(out, Site{
			Kind: ap.Kind, Probe: probe, Target: t.Path, AttachPath: t.AttachPath,
			Func: name, Display: name, Addr: in.Addr, Offset: off, Inlined: in.Outer,
		})
	}
	return out
}
