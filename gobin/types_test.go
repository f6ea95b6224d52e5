package gobin

import (
	"errors"
	"testing"
)

// TestParamType reads parameter types from DWARF: struct fields by name,
// pointees and slice elements resolved on demand.
func TestParamType(t *testing.T) {
	t.Parallel()
	b := openBinary(t, testBinary(t, "plain"))
	cases := []struct {
		param, name string
		kind        ParamKind
		size        int
		// path of Elem / field steps to check, and what they give
		check func(t *testing.T, typ *Type)
	}{
		{"a", "int8", KindInt, 1, nil},
		{"h", "uint64", KindUint, 8, nil},
		{"s", "string", KindString, 16, nil},
		{"sl", "[]int", KindSlice, 24, func(t *testing.T, typ *Type) {
			e, err := typ.Elem()
			if err != nil || e.Name != "int" || e.Size != 8 || !e.Signed {
				t.Errorf("elem of []int = %+v, %v", e, err)
			}
		}},
		{"p", "main.Pair", KindStruct, 16, func(t *testing.T, typ *Type) {
			f, ok := typ.FieldByName("B")
			if !ok || f.Offset != 8 || f.Type.Kind != KindInt {
				t.Errorf("Pair.B = %+v, %v", f, ok)
			}
		}},
		{"ptr", "*main.Server", KindPointer, 8, func(t *testing.T, typ *Type) {
			e, err := typ.Elem()
			if err != nil {
				t.Fatal(err)
			}
			f, ok := e.FieldByName("n")
			if e.Name != "main.Server" || !ok || f.Offset != 0 || f.Type.Size != 8 {
				t.Errorf("*main.Server elem = %+v", e)
			}
		}},
		{"fn", "func(int) int", KindFunc, 8, nil},
	}
	for _, tc := range cases {
		typ, err := b.ParamType("main.widths", tc.param)
		if err != nil {
			t.Errorf("%s: %v", tc.param, err)
			continue
		}
		if typ.Name != tc.name || typ.Kind != tc.kind || typ.Size != tc.size {
			t.Errorf("%s: got %s %v/%d, want %s %v/%d", tc.param, typ.Name, typ.Kind, typ.Size, tc.name, tc.kind, tc.size)
			continue
		}
		if tc.check != nil {
			tc.check(t, typ)
		}
	}
	if _, err := b.ParamType("main.widths", "nope"); err == nil {
		t.Error("ParamType of a missing parameter succeeded")
	}
	if _, err := b.ParamType("main.widths", "~r0"); err != nil {
		t.Errorf("result ~r0: %v", err)
	}
	if _, err := openBinary(t, testBinary(t, "stripped")).ParamType("main.widths", "a"); !errors.Is(err, ErrNoDWARF) {
		t.Errorf("stripped: err %v, want ErrNoDWARF", err)
	}
}

// TestHandBuiltTypes checks the constructors for types without DWARF.
func TestHandBuiltTypes(t *testing.T) {
	i32 := &Type{Name: "int32", Kind: KindInt, Size: 4, Signed: true}
	p := PointerTo(i32)
	if e, err := p.Elem(); err != nil || e != i32 || p.Name != "*int32" {
		t.Errorf("PointerTo: %+v %v", p, err)
	}
	if e, err := SliceOf(i32).Elem(); err != nil || e != i32 {
		t.Errorf("SliceOf: %v", err)
	}
	a := ArrayOf(3, i32)
	if e, err := a.Elem(); err != nil || e != i32 || a.Size != 12 || a.Len != 3 {
		t.Errorf("ArrayOf: %+v %v", a, err)
	}
	if _, err := i32.Elem(); err == nil {
		t.Error("int32 has an element type")
	}
}
