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
	if xt.Kind == KindTuple && xt.Array {
		n, ok := constInt(e.Index)
		if !ok {
			return nil, true, k.c.errorf(e.Index, "", "an array value is indexed with a constant")
		}
		if n < 0 || int(n) >= len(xt.Elems) {
			return nil, true, k.c.errorf(e.Index, "", "the index %d is out of bounds for array of size %d", n, len(xt.Elems))
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
