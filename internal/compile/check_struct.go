package compile

import (
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// fieldType types X.NAME and X->NAME: a member of a struct in user memory
// (through a pointer to a struct the program defines, or a struct read
// there), or an element of a record or tuple value ($s.m, $t.0).
func (k *checker) fieldType(e *lang.Field) (*Type, error) {
	xt, err := k.typeOf(e.X)
	if err != nil {
		return nil, err
	}
	st := k.structAt(e.X, xt)
	if st != nil {
		for _, f := range st.fields {
			if f.name == e.Name {
				if f.t.kind == cFloat {
					return nil, k.c.errorf(e, "print the whole struct, or read the bits: *(uint32 *)&(...)."+e.Name, "%s.%s is floating-point, which uscope does not read", st.name, e.Name)
				}
				k.info.mem[e] = f.t
				return k.c.valueType(f.t), nil
			}
		}
		if len(st.fields) == 0 {
			return nil, k.c.errorf(e, "define its members: "+st.name+" { ... }", "%s has no members uscope knows", st.name)
		}
		return nil, k.c.errorf(e, "members: "+memberNames(st), "%s has no member %s", st.name, e.Name)
	}
	if xt.Kind == KindTuple {
		for i, n := range xt.Names {
			if n == e.Name {
				k.info.elems[e] = i
				return xt.Elems[i], nil
			}
		}
		if i, err := strconv.Atoi(e.Name); err == nil && xt.Names == nil && i >= 0 && i < len(xt.Elems) {
			k.info.elems[e] = i
			return xt.Elems[i], nil
		}
		if xt.Names != nil {
			return nil, k.c.errorf(e, "fields: "+strings.Join(xt.Names, ", "), "%v has no field %s", xt, e.Name)
		}
		return nil, k.c.errorf(e, "tuples have elements .0 to ."+strconv.Itoa(len(xt.Elems)-1), "%v has no element %s", xt, e.Name)
	}
	return nil, k.c.errorf(e, "cast it to a struct the program defines: ((struct Foo *)arg0)->field; in Go functions args.NAME", "%v has no fields", xt)
}

// structAt is the struct whose member X.NAME selects: X points to one
// (-> or ., as bpftrace allows both), or is one in user memory.
func (k *checker) structAt(x lang.Expr, xt *Type) *cStruct {
	if c := k.info.mem[x]; c != nil && c.kind == cStructKind {
		return c.st
	}
	if xt.Kind == KindInt && xt.Pointee != nil {
		if c := xt.Pointee.C; c != nil && c.kind == cStructKind {
			return c.st
		}
	}
	return nil
}

func memberNames(st *cStruct) string {
	var names []string
	for _, f := range st.fields {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// aggIndex types X[i] on an array in user memory or an array value; ok is
// false for pointers, which the caller handles.
func (k *checker) aggIndex(e *lang.Index, xt *Type) (*Type, bool, error) {
	if c := k.info.mem[e.X]; c != nil && c.kind == cArray {
		if _, err := k.scalarType(e.Index); err != nil {
			return nil, true, err
		}
		if n, ok := constInt(e.Index); ok && (n < 0 || int(n) >= c.n) && c.n > 0 {
			return nil, true, k.c.errorf(e.Index, "", "the index %d is out of bounds for array of size %d", n, c.n)
		}
		k.info.mem[e] = c.elem
		return k.c.valueType(c.elem), true, nil
	}
	if xt.Kind == KindString {
		// A character of a string value; past its end, 0.
		if _, err := k.scalarType(e.Index); err != nil {
			return nil, true, err
		}
		k.info.strIndex[e] = true
		return intTypes["int8"], true, nil
	}
	if xt.Kind == KindTuple && (xt.Array || !xt.MultiKey) {
		// An array value, or a tuple indexed as main allows: $t[1 + 1]
		// is $t.2.
		n, ok := foldInt(e.Index)
		if !ok {
			what := "an array value"
			if !xt.Array {
				what = "a tuple"
			}
			return nil, true, k.c.errorf(e.Index, "", "%s is indexed with a constant", what)
		}
		if xt.Array && (n < 0 || int(n) >= len(xt.Elems)) {
			return nil, true, k.c.errorf(e.Index, "", "the index %d is out of bounds for array of size %d", n, len(xt.Elems))
		}
		if n < 0 || int(n) >= len(xt.Elems) {
			return nil, true, k.c.errorf(e.Index, "tuples have elements 0 to "+strconv.Itoa(len(xt.Elems)-1), "the index %d is out of bounds for %v", n, xt)
		}
		k.info.Types[e.Index] = tS64
		k.info.elems[e] = int(n)
		return xt.Elems[n], true, nil
	}
	if xt.Kind == KindInt && xt.Pointee != nil && xt.Pointee.C != nil && xt.Pointee.C.kind != cInt && xt.Pointee.C.kind != cPtr {
		if _, err := k.scalarType(e.Index); err != nil {
			return nil, true, err
		}
		k.info.mem[e] = xt.Pointee.C
		return xt.Pointee, true, nil
	}
	return nil, false, nil
}

// offsetofType types offsetof(struct Foo, a.b) and offsetof(EXPR, a.b):
// the byte offset of the member in the struct, a constant.
func (k *checker) offsetofType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if len(e.Args) != 2 {
		return nil, k.c.errorf(e, "offsetof(struct Foo, member)", "offsetof takes a struct and a member")
	}
	path, ok := e.Args[1].(*lang.Ident)
	if !ok {
		return nil, k.c.errorf(e.Args[1], "offsetof(struct Foo, member)", "offsetof's second argument is a member name")
	}
	var st *cStruct
	if id, ok := e.Args[0].(*lang.Ident); ok && k.c.structs[id.Name] != nil {
		st = k.c.structs[id.Name]
	} else {
		xt, err := k.typeOf(e.Args[0])
		if err != nil {
			return nil, err
		}
		if st = k.structAt(e.Args[0], xt); st == nil {
			return nil, k.c.errorf(e.Args[0], "give a struct the program defines: offsetof(struct Foo, member)", "offsetof needs a struct, not %v", xt)
		}
	}
	off := 0
	for i, name := range strings.Split(path.Name, ".") {
		if i > 0 {
			if st == nil {
				return nil, k.c.errorf(path, "", "%s is not a struct", strings.Join(strings.Split(path.Name, ".")[:i], "."))
			}
		}
		var found *cField
		for j := range st.fields {
			if st.fields[j].name == name {
				found = &st.fields[j]
			}
		}
		if found == nil {
			return nil, k.c.errorf(path, "members: "+memberNames(st), "%s has no member %s", st.name, name)
		}
		off += found.off
		st = nil
		if found.t.kind == cStructKind {
			st = found.t.st
		}
	}
	k.info.consts[e] = int64(off)
	return tU64, nil
}
