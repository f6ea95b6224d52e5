package cdwarf

import (
	"debug/dwarf"
	"maps"
	"slices"
	"sort"
)

// Inline is one instance of a function inlined into another
// (DW_TAG_inlined_subroutine).
type Inline struct {
	// Name is the inlined function's name; Outer the function it was
	// inlined into.
	Name, Outer string
	// Addr is where the instance starts (DW_AT_entry_pc, else its lowest
	// address).
	Addr uint64
	// Params are its parameters, located there by DWARF when it does.
	Params []Param

	outer dwarf.Offset
	of    *File // the File whose DIEs outer is in
}

// Inlined returns every inlined instance of the function named name,
// ordered by address.
func (f *File) Inlined(name string) []Inline {
	f.inlOnce.Do(f.buildInlines)
	return f.inlines[name]
}

// withSplitInlines adds the instances of the split units to the object's.
func (f *File) withSplitInlines() {
	for _, s := range f.splits {
		for _, n := range s.InlinedNames() {
			f.inlines[n] = append(f.inlines[n], s.Inlined(n)...)
		}
	}
}

// InlinedNames lists the functions that have inlined instances.
func (f *File) InlinedNames() []string {
	f.inlOnce.Do(f.buildInlines)
	return slices.Sorted(maps.Keys(f.inlines))
}

// InlineAt returns the instance of name that starts at addr.
func (f *File) InlineAt(name string, addr uint64) (*Inline, bool) {
	for i, in := range f.Inlined(name) {
		if in.Addr == addr {
			return &f.Inlined(name)[i], true
		}
	}
	return nil, false
}

// OuterFunc is the function an instance was inlined into, whose frame
// base its parameters' locations use.
func (f *File) OuterFunc(in *Inline) (*Func, error) {
	if in.of != nil {
		return in.of.funcAt(in.outer)
	}
	return f.funcAt(in.outer)
}

func (f *File) buildInlines() {
	f.inlines = map[string][]Inline{}
	r := f.d.Reader()
	var outer dwarf.Offset
	var outerName string
	depth := 0
	subDepth := -1
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			if depth <= subDepth {
				subDepth, outer = -1, 0
			}
			continue
		}
		if e.Tag == dwarf.TagSubprogram && outer == 0 {
			if e.Val(dwarf.AttrLowpc) != nil || e.Val(dwarf.AttrRanges) != nil {
				outer, subDepth = e.Offset, depth
				if ns := f.names(e); len(ns) > 0 {
					outerName = ns[0]
				}
			} else if e.Children {
				r.SkipChildren()
				continue
			}
		}
		if e.Tag == dwarf.TagInlinedSubroutine && outer != 0 {
			in := Inline{Outer: outerName, outer: outer, of: f}
			if ns := f.names(e); len(ns) > 0 {
				in.Name = ns[0]
			}
			if a, ok := e.Val(dwarf.AttrEntrypc).(uint64); ok {
				in.Addr = a
			}
			rs, _ := f.d.Ranges(e)
			if in.Addr == 0 || e.AttrField(dwarf.AttrEntrypc) != nil && e.AttrField(dwarf.AttrEntrypc).Class == dwarf.ClassConstant {
				if off, ok := e.Val(dwarf.AttrEntrypc).(int64); ok && len(rs) > 0 {
					in.Addr = rs[0][0] + uint64(off)
				} else {
					for _, rg := range rs {
						if in.Addr == 0 || rg[0] < in.Addr {
							in.Addr = rg[0]
						}
					}
				}
			}
			if in.Name != "" && in.Addr != 0 && len(f.inlines[in.Name]) < 1<<16 {
				in.Params = f.inlineParams(e)
				f.inlines[in.Name] = append(f.inlines[in.Name], in)
			}
		}
		if e.Children {
			depth++
		}
	}
	f.withSplitInlines()
	for n := range f.inlines {
		s := f.inlines[n]
		sort.Slice(s, func(i, j int) bool { return s[i].Addr < s[j].Addr })
	}
}

// inlineParams reads the formal parameters of an inlined instance.
func (f *File) inlineParams(e *dwarf.Entry) []Param {
	if !e.Children {
		return nil
	}
	r := f.d.Reader()
	r.Seek(e.Offset)
	if _, err := r.Next(); err != nil {
		return nil
	}
	var out []Param
	for {
		c, err := r.Next()
		if err != nil || c == nil || c.Tag == 0 {
			return out
		}
		if c.Tag == dwarf.TagFormalParameter {
			if p := f.varOf(c); p.Name != "" && p.Type != nil {
				out = append(out, p)
			}
		}
		if c.Children {
			r.SkipChildren()
		}
	}
}
