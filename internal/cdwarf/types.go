package cdwarf

import (
	"debug/dwarf"
	"fmt"
	"strings"
)

// Strip removes typedefs and qualifiers (const, volatile, restrict).
func Strip(t dwarf.Type) dwarf.Type {
	for i := 0; i < 64 && t != nil; i++ {
		switch x := t.(type) {
		case *dwarf.TypedefType:
			t = x.Type
		case *dwarf.QualType:
			t = x.Type
		default:
			return t
		}
	}
	return t
}

// TypeName spells a type as C (and bpftrace's -lv) does: "int",
// "const char*", "struct Foo*", "enum color", "int[3]".
func TypeName(t dwarf.Type) string {
	return typeName(t, 0)
}

func typeName(t dwarf.Type, depth int) string {
	if t == nil {
		return "void"
	}
	if depth > 16 {
		return "?"
	}
	switch x := t.(type) {
	case *dwarf.QualType:
		if _, ok := x.Type.(*dwarf.PtrType); ok {
			return typeName(x.Type, depth+1) + " " + x.Qual // char* const
		}
		in := typeName(x.Type, depth+1)
		if strings.HasPrefix(in, x.Qual+" ") {
			return in // const of an array of const (gcc): one const in C
		}
		return x.Qual + " " + in
	case *dwarf.PtrType:
		if _, ok := Strip(x.Type).(*dwarf.FuncType); ok {
			return funcPtrName(Strip(x.Type).(*dwarf.FuncType), depth)
		}
		return typeName(x.Type, depth+1) + "*"
	case *dwarf.StructType:
		if x.StructName == "" {
			return x.Kind + " <anon>"
		}
		return x.Kind + " " + x.StructName
	case *dwarf.EnumType:
		if x.EnumName == "" {
			return "enum <anon>"
		}
		return "enum " + x.EnumName
	case *dwarf.ArrayType:
		return fmt.Sprintf("%s[%d]", typeName(x.Type, depth+1), x.Count)
	case *dwarf.TypedefType:
		return x.Name
	case *dwarf.VoidType:
		return "void"
	case *dwarf.FuncType:
		return funcPtrName(x, depth)
	case *dwarf.UnspecifiedType:
		return x.Name
	}
	if n := t.Common().Name; n != "" {
		return n
	}
	return t.String()
}

func funcPtrName(f *dwarf.FuncType, depth int) string {
	var ps []string
	for _, p := range f.ParamType {
		ps = append(ps, typeName(p, depth+1))
	}
	return typeName(f.ReturnType, depth+1) + " (*)(" + strings.Join(ps, ", ") + ")"
}

// class is the SysV x86-64 classification of a value.
type class int

const (
	classInteger class = iota // general-purpose registers
	classSSE                  // vector registers, which uprobes cannot read
	classMemory               // on the stack
)

// classify says how a value of type t is passed, and in how many
// eightbytes.
func classify(t dwarf.Type) (class, int) {
	t = Strip(t)
	size := int(t.Size())
	if size <= 0 {
		size = 8
	}
	n := (size + 7) / 8
	switch x := t.(type) {
	case *dwarf.FloatType, *dwarf.ComplexType:
		if size > 16 {
			return classMemory, n
		}
		return classSSE, n
	case *dwarf.StructType, *dwarf.ArrayType:
		if size > 16 {
			return classMemory, n
		}
		if hasFloat(x, 0) {
			// Mixed classes go partly in SSE registers: not readable.
			return classSSE, n
		}
		return classInteger, n
	}
	return classInteger, n
}

func hasFloat(t dwarf.Type, depth int) bool {
	if depth > 8 {
		return false
	}
	switch x := Strip(t).(type) {
	case *dwarf.FloatType, *dwarf.ComplexType:
		return true
	case *dwarf.StructType:
		for _, f := range x.Field {
			if hasFloat(f.Type, depth+1) {
				return true
			}
		}
	case *dwarf.ArrayType:
		return hasFloat(x.Type, depth+1)
	}
	return false
}
