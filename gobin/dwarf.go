package gobin

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"strings"
)

// Go-specific DWARF attributes (cmd/internal/dwarf): the reflect.Kind of a
// type, and for generic shapes the dictionary index of a type parameter.
const (
	attrGoKind      dwarf.Attr = 0x2900
	attrGoElem      dwarf.Attr = 0x2902
	attrGoDictIndex dwarf.Attr = 0x2906
)

// reflect.Kind values as stored in DW_AT_go_kind.
const (
	goKindBool          = 1
	goKindInt           = 2
	goKindInt64         = 6
	goKindUint          = 7
	goKindUintptr       = 12
	goKindFloat32       = 13
	goKindFloat64       = 14
	goKindComplex64     = 15
	goKindComplex128    = 16
	goKindArray         = 17
	goKindChan          = 18
	goKindFunc          = 19
	goKindInterface     = 20
	goKindMap           = 21
	goKindPointer       = 22
	goKindSlice         = 23
	goKindString        = 24
	goKindStruct        = 25
	goKindUnsafePointer = 26
)

// maxTypeDepth bounds the nesting of DWARF types followed, against cycles in
// hostile debug information.
const maxTypeDepth = 32

// maxTypeSize bounds the size of a type.
const maxTypeSize = 1 << 40

// A dwarfIndex maps names to the DWARF entries this package needs.
type dwarfIndex struct {
	d        *dwarf.Data
	funcs    map[string]dwarf.Offset // concrete subprograms by name
	abstract map[string]dwarf.Offset // abstract origins of inlined functions
	gType    dwarf.Offset            // runtime.g
	hasG     bool
}

// dwarfData returns the binary's DWARF index, built on first use.
func (b *Binary) dwarfData() (*dwarfIndex, error) {
	b.dwarfOnce.Do(func() {
		if b.f.Section(".debug_info") == nil && b.f.Section(".zdebug_info") == nil {
			b.dwarfErr = ErrNoDWARF
			return
		}
		d, err := b.f.DWARF()
		if err != nil {
			b.dwarfErr = fmt.Errorf("gobin: DWARF: %w", err)
			return
		}
		b.dw, b.dwarfErr = buildDwarfIndex(d)
	})
	return b.dw, b.dwarfErr
}

// HasDWARF reports whether the binary carries readable DWARF.
func (b *Binary) HasDWARF() bool {
	_, err := b.dwarfData()
	return err == nil
}

// buildDwarfIndex walks the top-level entries of every compilation unit.
func buildDwarfIndex(d *dwarf.Data) (*dwarfIndex, error) {
	x := &dwarfIndex{d: d, funcs: make(map[string]dwarf.Offset), abstract: make(map[string]dwarf.Offset)}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("gobin: DWARF: %w", err)
		}
		if e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit, 0:
			continue // descend into units; 0 ends one
		case dwarf.TagSubprogram:
			name, _ := e.Val(dwarf.AttrName).(string)
			if name != "" {
				m := x.funcs
				if _, inl := e.Val(dwarf.AttrInline).(int64); inl {
					m = x.abstract
				}
				if _, dup := m[name]; !dup {
					m[name] = e.Offset
				}
			}
		case dwarf.TagStructType:
			if name, _ := e.Val(dwarf.AttrName).(string); name == "runtime.g" && !x.hasG {
				x.gType, x.hasG = e.Offset, true
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return x, nil
}

// GoidOffset returns the offset of the goid field in runtime.g, the
// goroutine id a probe reads through the g pointer (R14 on amd64, R28 on
// arm64). It comes from DWARF when the binary has it (fromDWARF is true),
// else from the machine code of runtime.main, which reads the field (see
// goidFromCode), and only when that fails from a table per Go version.
func (b *Binary) GoidOffset() (off int, fromDWARF bool, err error) {
	off, src, err := b.GoidOffsetSource()
	return off, src == FromDWARF, err
}

// GoidOffsetSource is GoidOffset, saying where the offset came from.
func (b *Binary) GoidOffsetSource() (int, Source, error) {
	if x, derr := b.dwarfData(); derr == nil {
		if off, err := x.goidFromDWARF(); err == nil {
			return off, FromDWARF, nil
		}
	}
	off, cerr := b.goidFromCode()
	if cerr == nil {
		return off, FromCode, nil
	}
	off, terr := goidOffsetFor(b.GoVersion, b.PtrSize)
	if terr != nil {
		return 0, "", fmt.Errorf("gobin: goid offset: no DWARF; from the code: %v; %v", cerr, terr)
	}
	return off, FromTable, nil
}

func (x *dwarfIndex) goidFromDWARF() (int, error) {
	if !x.hasG {
		return 0, errors.New("no runtime.g in DWARF")
	}
	r := x.d.Reader()
	r.Seek(x.gType)
	if _, err := r.Next(); err != nil {
		return 0, err
	}
	for {
		e, err := r.Next()
		if err != nil {
			return 0, err
		}
		if e == nil || e.Tag == 0 {
			break
		}
		if e.Tag == dwarf.TagMember {
			if name, _ := e.Val(dwarf.AttrName).(string); name == "goid" {
				if loc, ok := e.Val(dwarf.AttrDataMemberLoc).(int64); ok && loc >= 0 && loc < 1<<20 {
					return int(loc), nil
				}
				return 0, errors.New("runtime.g.goid has no constant offset")
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return 0, errors.New("runtime.g has no goid member")
}

// goidOffsets is the offset of runtime.g.goid on 64-bit targets by Go minor
// version (Go 1.x). Go 1.23 added g.syscallbp before goid; Go 1.25 removed
// gobuf.ret. Tests check the entries they can against DWARF.
var goidOffsets = []struct {
	from, to int // Go 1.from to Go 1.to, inclusive
	off      int
}{
	{13, 22, 152},
	{23, 24, 160},
	{25, 27, 152},
}

// goidOffsetFor returns the table's goid offset for a Go version.
func goidOffsetFor(version string, ptrSize int) (int, error) {
	major, minor, ok := parseGoVersion(version)
	if !ok {
		return 0, fmt.Errorf("unknown Go version %q", version)
	}
	if ptrSize != 8 {
		return 0, fmt.Errorf("no table for %d-bit targets; DWARF needed", ptrSize*8)
	}
	if major == 1 {
		for _, e := range goidOffsets {
			if minor >= e.from && minor <= e.to {
				return e.off, nil
			}
		}
	}
	return 0, fmt.Errorf("no table entry for %s; DWARF needed", version)
}

// A gtype is a Go type as far as the calling convention cares.
type gtype struct {
	name   string
	kind   ParamKind
	size   int64
	align  int64
	signed bool
	fields []gfield // struct fields
	// fieldNames are the names of fields, in the same order.
	fieldNames []string
	elem       *gtype // array element
	count      int64  // array length
	// elemRef is the DWARF entry of a pointer's pointee or a slice's
	// element, not followed here (types may refer to themselves).
	elemRef dwarf.Offset
	hasElem bool
}

type gfield struct {
	off int64
	t   *gtype
}

// typeReader resolves DWARF type entries into gtypes.
type typeReader struct {
	d       *dwarf.Data
	ptrSize int64
	cache   map[dwarf.Offset]*gtype
}

func (tr *typeReader) entry(off dwarf.Offset) (*dwarf.Entry, *dwarf.Reader, error) {
	r := tr.d.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, fmt.Errorf("no DWARF entry at %#x", off)
	}
	return e, r, nil
}

// typeAt resolves the type entry at off.
func (tr *typeReader) typeAt(off dwarf.Offset, depth int) (*gtype, error) {
	if t, ok := tr.cache[off]; ok {
		if t == nil {
			return nil, fmt.Errorf("recursive DWARF type at %#x", off)
		}
		return t, nil
	}
	if depth > maxTypeDepth {
		return nil, fmt.Errorf("DWARF type nesting deeper than %d at %#x", maxTypeDepth, off)
	}
	tr.cache[off] = nil // in progress
	t, err := tr.resolve(off, depth)
	if err == nil && (t.size < 0 || t.size > maxTypeSize) {
		err = fmt.Errorf("DWARF type %q at %#x: size %d", t.name, off, t.size)
	}
	if err != nil {
		delete(tr.cache, off)
		return nil, err
	}
	tr.cache[off] = t
	return t, nil
}

func (tr *typeReader) resolve(off dwarf.Offset, depth int) (*gtype, error) {
	e, r, err := tr.entry(off)
	if err != nil {
		return nil, err
	}
	name, _ := e.Val(dwarf.AttrName).(string)
	size, hasSize := e.Val(dwarf.AttrByteSize).(int64)
	goKind, hasKind := e.Val(attrGoKind).(int64)
	under, hasUnder := e.Val(dwarf.AttrType).(dwarf.Offset)

	t := &gtype{name: name, size: size}
	underlying := func() (*gtype, error) {
		if !hasUnder {
			return nil, fmt.Errorf("DWARF type %q at %#x has no underlying type", name, off)
		}
		return tr.typeAt(under, depth+1)
	}
	scalar := func(k ParamKind, signed bool) (*gtype, error) {
		if !hasSize || size <= 0 || size > 16 {
			return nil, fmt.Errorf("DWARF type %q at %#x: bad size %d", name, off, size)
		}
		t.kind, t.signed, t.align = k, signed, size
		if k == KindComplex {
			t.align = size / 2
		}
		return t, nil
	}
	word := func(k ParamKind) (*gtype, error) {
		t.kind, t.size, t.align = k, tr.ptrSize, tr.ptrSize
		if k == KindPointer && hasUnder {
			t.elemRef, t.hasElem = under, true
		}
		return t, nil
	}

	if e.Tag == dwarf.TagTypedef && !hasKind {
		// A plain alias (or a generic shape's .paramN): the underlying
		// type, under the alias's name unless that is a shape
		// placeholder.
		u, err := underlying()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(name, ".param") || name == "" {
			return u, nil
		}
		c := *u
		c.name = name
		return &c, nil
	}
	if hasKind {
		switch goKind {
		case goKindBool:
			return scalar(KindBool, false)
		case goKindInt, 3, 4, 5, goKindInt64:
			return scalar(KindInt, true)
		case goKindUint, 8, 9, 10, 11, goKindUintptr:
			return scalar(KindUint, false)
		case goKindFloat32, goKindFloat64:
			return scalar(KindFloat, false)
		case goKindComplex64, goKindComplex128:
			return scalar(KindComplex, false)
		case goKindPointer, goKindUnsafePointer:
			return word(KindPointer)
		case goKindMap:
			return word(KindMap)
		case goKindChan:
			return word(KindChan)
		case goKindFunc:
			return word(KindFunc)
		case goKindString:
			t.kind, t.size, t.align = KindString, 2*tr.ptrSize, tr.ptrSize
			return t, nil
		case goKindSlice:
			t.kind, t.size, t.align = KindSlice, 3*tr.ptrSize, tr.ptrSize
			t.elemRef, t.hasElem = e.Val(attrGoElem).(dwarf.Offset)
			return t, nil
		case goKindInterface:
			t.kind, t.size, t.align = KindInterface, 2*tr.ptrSize, tr.ptrSize
			return t, nil
		case goKindArray:
			return tr.array(t, e, r, underlying)
		case goKindStruct:
			return tr.structure(t, e, r, depth)
		}
		return nil, fmt.Errorf("DWARF type %q at %#x: unknown Go kind %d", name, off, goKind)
	}
	// Debug information without Go kinds: go by the DWARF tags.
	switch e.Tag {
	case dwarf.TagBaseType:
		enc, _ := e.Val(dwarf.AttrEncoding).(int64)
		switch enc {
		case 0x02: // DW_ATE_boolean
			return scalar(KindBool, false)
		case 0x04: // DW_ATE_float
			return scalar(KindFloat, false)
		case 0x03: // DW_ATE_complex_float
			return scalar(KindComplex, false)
		case 0x05, 0x06: // DW_ATE_signed, signed_char
			return scalar(KindInt, true)
		case 0x07, 0x08: // DW_ATE_unsigned, unsigned_char
			return scalar(KindUint, false)
		}
		return nil, fmt.Errorf("DWARF base type %q at %#x: unknown encoding %d", name, off, enc)
	case dwarf.TagPointerType, dwarf.TagSubroutineType:
		return word(KindPointer)
	case dwarf.TagStructType:
		return tr.structure(t, e, r, depth)
	case dwarf.TagArrayType:
		return tr.array(t, e, r, underlying)
	case dwarf.TagConstType, dwarf.TagVolatileType:
		return underlying()
	}
	return nil, fmt.Errorf("DWARF entry at %#x (%v) is not a type this package understands", off, e.Tag)
}

// structure reads a struct's members.
func (tr *typeReader) structure(t *gtype, e *dwarf.Entry, r *dwarf.Reader, depth int) (*gtype, error) {
	t.kind = KindStruct
	t.align = 1
	if t.size < 0 {
		return nil, fmt.Errorf("struct %q: bad size %d", t.name, t.size)
	}
	type member struct {
		off  int64
		typ  dwarf.Offset
		name string
	}
	var members []member
	if e.Children {
		for {
			m, err := r.Next()
			if err != nil {
				return nil, err
			}
			if m == nil || m.Tag == 0 {
				break
			}
			if m.Tag == dwarf.TagMember {
				loc, ok1 := m.Val(dwarf.AttrDataMemberLoc).(int64)
				typ, ok2 := m.Val(dwarf.AttrType).(dwarf.Offset)
				if !ok1 || !ok2 || loc < 0 || loc > t.size {
					return nil, fmt.Errorf("struct %q: member without a usable offset or type", t.name)
				}
				name, _ := m.Val(dwarf.AttrName).(string)
				members = append(members, member{loc, typ, name})
			}
			if m.Children {
				r.SkipChildren()
			}
		}
	}
	for _, m := range members {
		ft, err := tr.typeAt(m.typ, depth+1)
		if err != nil {
			return nil, fmt.Errorf("struct %q: %w", t.name, err)
		}
		if ft.size > t.size-m.off {
			return nil, fmt.Errorf("struct %q: member at %d of size %d overflows size %d", t.name, m.off, ft.size, t.size)
		}
		t.fields = append(t.fields, gfield{m.off, ft})
		t.fieldNames = append(t.fieldNames, m.name)
		t.align = max(t.align, ft.align)
	}
	return t, nil
}

// array reads an array's element type and length.
func (tr *typeReader) array(t *gtype, e *dwarf.Entry, r *dwarf.Reader, underlying func() (*gtype, error)) (*gtype, error) {
	t.kind = KindArray
	elem, err := underlying()
	if err != nil {
		return nil, err
	}
	t.elem = elem
	t.align = elem.align
	t.count = -1
	if e.Children {
		for {
			s, err := r.Next()
			if err != nil {
				return nil, err
			}
			if s == nil || s.Tag == 0 {
				break
			}
			if s.Tag == dwarf.TagSubrangeType {
				if c, ok := s.Val(dwarf.AttrCount).(int64); ok {
					t.count = c
				} else if ub, ok := s.Val(dwarf.AttrUpperBound).(int64); ok {
					t.count = ub + 1
				}
			}
			if s.Children {
				r.SkipChildren()
			}
		}
	}
	if t.count < 0 && elem.size > 0 {
		t.count = t.size / elem.size
	}
	ok := t.count >= 0
	if elem.size > 0 {
		ok = ok && t.size%elem.size == 0 && t.size/elem.size == t.count
	} else {
		ok = ok && t.size == 0
	}
	if !ok {
		return nil, fmt.Errorf("array %q: %d elements of %d bytes in %d bytes", t.name, t.count, elem.size, t.size)
	}
	return t, nil
}
