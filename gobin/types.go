package gobin

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"sync"
)

// A Type is a Go type as DWARF describes it, with what a tracer needs to
// find the parts of a value in memory: the fields of a struct by name and
// offset, the type a pointer points to, the element type of a slice or an
// array. Strings, slices and interfaces are headers of two or three words
// (see ParamKind); their parts are not listed as Fields.
type Type struct {
	Name   string // e.g. "int32", "*net/http.Request", "main.Pair", "[]string"
	Kind   ParamKind
	Size   int // bytes
	Signed bool
	// Fields are a struct's fields in declaration order (embedded
	// structs are fields named after their type).
	Fields []Field
	// Len is an array's number of elements.
	Len int

	// The element: a pointer's pointee, a slice's or an array's element.
	// Types read from DWARF resolve it on first use, since types may refer
	// to themselves through pointers.
	elemOnce sync.Once
	elem     *Type
	elemErr  error
	resolve  func() (*Type, error)
}

// A Field is a field of a struct type.
type Field struct {
	Name   string
	Offset int // bytes from the start of the struct
	Type   *Type
}

// Elem returns the type a pointer points to, or the element type of a
// slice or an array. It is an error for other kinds and for pointers whose
// pointee DWARF does not describe (unsafe.Pointer).
func (t *Type) Elem() (*Type, error) {
	t.elemOnce.Do(func() {
		if t.elem != nil {
			return
		}
		if t.resolve == nil {
			t.elemErr = fmt.Errorf("gobin: %s (%v) has no element type", t.Name, t.Kind)
			return
		}
		t.elem, t.elemErr = t.resolve()
	})
	return t.elem, t.elemErr
}

// FieldByName returns the struct field called name.
func (t *Type) FieldByName(name string) (Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// PointerTo returns a pointer type to elem, for types built by hand (tests,
// layouts known without DWARF).
func PointerTo(elem *Type) *Type {
	return &Type{Name: "*" + elem.Name, Kind: KindPointer, Size: 8, elem: elem}
}

// SliceOf returns a slice type of elem, for types built by hand.
func SliceOf(elem *Type) *Type {
	return &Type{Name: "[]" + elem.Name, Kind: KindSlice, Size: 24, elem: elem}
}

// ArrayOf returns an array type of n elements of elem, for types built by
// hand.
func ArrayOf(n int, elem *Type) *Type {
	return &Type{Name: fmt.Sprintf("[%d]%s", n, elem.Name), Kind: KindArray, Size: n * elem.Size, Len: n, elem: elem}
}

// typeCache converts the package's DWARF type reader's types into Types
// and keeps them, so that a type is converted once per binary.
type typeCache struct {
	mu    sync.Mutex
	tr    *typeReader
	byRef map[*gtype]*Type
}

func (b *Binary) types() (*typeCache, *dwarfIndex, error) {
	x, err := b.dwarfData()
	if err != nil {
		return nil, nil, err
	}
	b.typesOnce.Do(func() {
		b.typeCache = &typeCache{
			tr:    &typeReader{d: x.d, ptrSize: int64(b.PtrSize), cache: make(map[dwarf.Offset]*gtype)},
			byRef: make(map[*gtype]*Type),
		}
	})
	return b.typeCache, x, nil
}

// ParamType returns the type of the parameter or result called name of the
// function fn (as Params names them: unnamed results are "~r0", ...). It
// returns ErrNoDWARF for binaries without debug information.
func (b *Binary) ParamType(fn, name string) (*Type, error) {
	tc, x, err := b.types()
	if err != nil {
		return nil, err
	}
	off, ok := x.funcs[fn]
	if !ok {
		if off, ok = x.abstract[fn]; !ok {
			return nil, fmt.Errorf("gobin: no DWARF for function %s", fn)
		}
	}
	decls, err := formalParams(x.d, off)
	if err != nil {
		return nil, fmt.Errorf("gobin: %s: %w", fn, err)
	}
	for _, d := range decls {
		if d.name == name {
			t, err := tc.at(d.typ)
			if err != nil {
				return nil, fmt.Errorf("gobin: %s: parameter %s: %w", fn, name, err)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("gobin: %s has no parameter %s", fn, name)
}

// at returns the Type of the DWARF type entry at off.
func (tc *typeCache) at(off dwarf.Offset) (*Type, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	g, err := tc.tr.typeAt(off, 0)
	if err != nil {
		return nil, err
	}
	return tc.convert(g), nil
}

// convert turns a gtype into a Type; tc.mu is held.
func (tc *typeCache) convert(g *gtype) *Type {
	if t, ok := tc.byRef[g]; ok {
		return t
	}
	t := &Type{Name: g.name, Kind: g.kind, Size: int(g.size), Signed: g.signed}
	tc.byRef[g] = t
	for i, f := range g.fields {
		name := ""
		if i < len(g.fieldNames) {
			name = g.fieldNames[i]
		}
		t.Fields = append(t.Fields, Field{Name: name, Offset: int(f.off), Type: tc.convert(f.t)})
	}
	switch {
	case g.kind == KindArray && g.elem != nil:
		t.Len = int(g.count)
		t.elem = tc.convert(g.elem)
	case g.hasElem:
		ref := g.elemRef
		t.resolve = func() (*Type, error) {
			e, err := tc.at(ref)
			if err != nil {
				return nil, err
			}
			return e, nil
		}
	case g.kind == KindPointer:
		t.resolve = func() (*Type, error) {
			return nil, errors.New("gobin: " + t.Name + " points to a type DWARF does not describe")
		}
	}
	return t
}
