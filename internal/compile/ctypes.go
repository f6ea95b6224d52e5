package compile

import (
	"fmt"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// C types defined in programs (struct Foo { int a; char name[16]; }) and
// how their values are read from user memory.
//
// A cType is the layout of a value in the traced process: its size,
// alignment and, for structs and arrays, where each part is (x86-64's C
// ABI). The language Type of the same value is its layout in records and
// maps: integers in 8 bytes, char arrays as strings, other arrays and
// structs as tuples (printed [a, b] and { .a = 1 }).
type cType struct {
	kind   cKind
	size   int
	align  int
	signed bool
	// elem is an array's element or a pointer's target.
	elem *cType
	n    int // array length
	st   *cStruct
	// bits and bitOff describe a bit-field (set on the field's own type).
	bits, bitOff int
	// enum names the values of a C enum (from DWARF), printed by name.
	enum *EnumType
	// byteInt marks int8 and uint8 (int8_t, uint8_t): an array of them is
	// an array of integers, not a string as an array of char is.
	byteInt bool
}

type cKind int

const (
	cInt cKind = iota
	cPtr
	cArray
	cStructKind
	// cFloat is float or double: laid out, never read. A member of this
	// type prints as nothing (null in JSON), as bpftrace's "none" type.
	cFloat
)

// cStruct is a struct or union with its members laid out.
type cStruct struct {
	name   string
	union  bool
	size   int
	align  int
	fields []cField
}

type cField struct {
	name string
	off  int
	t    *cType
}

// structTypes lays out the structs a program defines, in order (a member
// may use a struct defined before it, or itself through a pointer).
func (c *compiler) structTypes(defs []*lang.StructDef) {
	c.structs = map[string]*cStruct{}
	for _, d := range defs {
		key := "struct " + d.Name
		if d.Union {
			key = "union " + d.Name
		}
		if _, dup := c.structs[key]; dup {
			c.report(c.prog.Errorf(d, len(key), "", "%s is defined twice", key))
			continue
		}
		st := &cStruct{name: key, union: d.Union}
		c.structs[key] = st // before its members: a member may point to it
		if err := c.layout(st, d); err != nil {
			c.report(err)
		}
	}
}

func (c *compiler) layout(st *cStruct, d *lang.StructDef) error {
	bit := 0 // the next free bit from the start of the struct
	st.align = 1
	for _, f := range d.Fields {
		t, err := c.memberType(f.Type)
		if err != nil {
			return err
		}
		if t.size == 0 && t.kind == cStructKind {
			return c.prog.Errorf(f, len(f.Name), "define it before this one", "%s has an incomplete type %s", f.Name, f.Type.Name)
		}
		align := t.align
		if d.Packed {
			align = 1
		}
		var at int
		switch {
		case st.union:
			at = 0
		case f.Type.Bits > 0:
			// The System V ABI's rule: a bit-field goes at the next free
			// bit unless it would cross a boundary of a unit of its type's
			// size (and alignment), where it starts the next unit. It is
			// read as the unit that holds it, shifted by its place there.
			unitBits := 8 * t.size
			if !d.Packed && bit/unitBits != (bit+f.Type.Bits-1)/unitBits {
				bit = alignUp(bit, unitBits)
			}
			unit := bit / unitBits * unitBits
			if d.Packed {
				unit = bit / 8 * 8
			}
			bf := *t
			bf.bits, bf.bitOff = f.Type.Bits, bit-unit
			bf.size = bitFieldRead(bf.bitOff, bf.bits, bf.size)
			t = &bf
			at = unit / 8
			bit += f.Type.Bits
		default:
			at = alignUp((bit+7)/8, align)
			bit = 8 * (at + t.size)
		}
		st.fields = append(st.fields, cField{name: f.Name, off: at, t: t})
		st.align = max(st.align, align)
		if st.union {
			st.size = max(st.size, t.size)
		}
	}
	if !st.union {
		st.size = (bit + 7) / 8
	}
	st.size = alignUp(st.size, st.align)
	return nil
}

func alignUp(n, a int) int {
	if a <= 1 {
		return n
	}
	return (n + a - 1) / a * a
}

// memberType resolves a member's declared type.
func (c *compiler) memberType(ct lang.CType) (*cType, error) {
	var t *cType
	switch {
	case ct.Inline != nil:
		st := &cStruct{name: "struct", union: ct.Inline.Union}
		if err := c.layout(st, ct.Inline); err != nil {
			return nil, err
		}
		t = &cType{kind: cStructKind, size: st.size, align: st.align, st: st}
	default:
		var err error
		if t, err = c.namedCType(ct.Name, ct.Pos, ct.Ptr > 0); err != nil {
			return nil, err
		}
	}
	for i := 0; i < ct.Ptr; i++ {
		t = &cType{kind: cPtr, size: 8, align: 8, elem: t}
	}
	for i := len(ct.Array) - 1; i >= 0; i-- {
		t = &cType{kind: cArray, size: t.size * ct.Array[i], align: t.align, elem: t, n: ct.Array[i]}
	}
	return t, nil
}

// namedCType is the C type of a type name: an integer type of the
// language, or a struct defined before (any struct behind a pointer).
func (c *compiler) namedCType(name string, pos lang.Pos, behindPtr bool) (*cType, error) {
	if it, ok := intTypes[name]; ok {
		return &cType{kind: cInt, size: it.Size, align: it.Size, signed: it.Signed, byteInt: name == "int8" || name == "uint8"}, nil
	}
	if n, ok := floatSizes[name]; ok {
		return &cType{kind: cFloat, size: n, align: n}, nil
	}
	if st, ok := c.structs[name]; ok {
		return &cType{kind: cStructKind, size: st.size, align: st.align, st: st}, nil
	}
	if behindPtr && (strings.HasPrefix(name, "struct ") || strings.HasPrefix(name, "union ")) {
		// A pointer to a struct not defined: its members cannot be read.
		return &cType{kind: cStructKind, align: 1, st: &cStruct{name: name}}, nil
	}
	return nil, &lang.Error{Pos: pos, Len: len(name), Msg: fmt.Sprintf("unknown type %q", name),
		Hint: "define it in the program: struct Foo { int a; }", File: c.prog.File, Source: c.prog.Source}
}

// floatSizes are the sizes of C's floating-point types on x86-64 and
// arm64.
var floatSizes = map[string]int{"float": 4, "double": 8}

// valueType is the language type of a C value read from memory.
func (c *compiler) valueType(t *cType) *Type {
	switch t.kind {
	case cFloat:
		return &Type{Kind: KindVoid, C: t} // no storage; decoded as no value
	case cInt:
		if t.bits > 0 {
			return &Type{Kind: KindInt, Size: 8, Signed: false, C: t}
		}
		return &Type{Kind: KindInt, Size: t.size, Signed: t.signed, C: t, Enum: t.enum}
	case cPtr:
		p := &Type{Kind: KindInt, Size: 8, C: t}
		switch t.elem.kind {
		case cInt:
			p.Pointee = &Type{Kind: KindInt, Size: t.elem.size, Signed: t.elem.signed}
		default:
			p.Pointee = c.valueType(t.elem)
		}
		return p
	case cArray:
		if t.elem.kind == cInt && t.elem.size == 1 && !t.elem.byteInt {
			// char name[16] is a string, as bpftrace prints it.
			return &Type{Kind: KindString, Size: t.n + 1, C: t}
		}
		a := &Type{Kind: KindTuple, Array: true, C: t}
		e := c.valueType(t.elem)
		for i := 0; i < t.n; i++ {
			a.Elems = append(a.Elems, e)
		}
		return a
	}
	r := &Type{Kind: KindTuple, Names: []string{}, C: t}
	for _, f := range t.st.fields {
		r.Names = append(r.Names, f.name)
		r.Elems = append(r.Elems, c.valueType(f.t))
	}
	return r
}

// bitFieldRead returns how many bytes a read of a bit-field takes from the
// start of its unit: the unit's size, or, when the field crosses it (a
// packed struct's bit-field that straddles a byte of its char unit), the
// smallest power of two that holds the field's last bit. Bit-fields are
// read as little-endian units, shifted by bitOff and masked.
func bitFieldRead(bitOff, bits, size int) int {
	need := (bitOff + bits + 7) / 8
	for size < need && size < 8 {
		size *= 2
	}
	return size
}
