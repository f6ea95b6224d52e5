package lang

import "testing"

// TestParseTypeString: the type strings the parser writes for sizeof(TYPE)
// and typeof(TYPE) read back as the TypeName they came from; names that
// are no type are refused.
func TestParseTypeString(t *testing.T) {
	for _, ty := range []TypeName{
		{Name: "uint64"}, {Name: "uint64", Ptr: 1}, {Name: "struct Foo", Ptr: 2},
		{Name: "int8", Array: 4}, {Name: "int8", Array: -1}, {Name: "b", Ptr: 1},
	} {
		got, ok := ParseTypeString(ty.String())
		if !ok || got != ty {
			t.Errorf("ParseTypeString(%q) = %+v, %v; want %+v", ty.String(), got, ok, ty)
		}
	}
	for _, s := range []string{"", "pid", "x[0]", "x[", "*", "int8[z]"} {
		if ty, ok := ParseTypeString(s); ok {
			t.Errorf("ParseTypeString(%q) = %+v, want no type", s, ty)
		}
	}
	p, err := Parse("t", `begin { print(sizeof(typeof(typeof(uint32 *)))); print(typeof(pid)); }`)
	if err != nil {
		t.Fatal(err)
	}
	var calls []*Call
	Inspect(p.Probes[0], func(n Node) bool {
		if c, ok := n.(*Call); ok && c.Name == "typeof" {
			calls = append(calls, c)
			return false
		}
		return true
	})
	if len(calls) != 2 {
		t.Fatalf("%d typeof calls, want 2", len(calls))
	}
	if ty, ok := TypeArg(calls[0]); !ok || ty.Name != "uint32" || ty.Ptr != 1 || ty.Typeof != nil {
		t.Errorf("typeof(typeof(uint32 *)) = %+v, %v", ty, ok)
	}
	if ty, ok := TypeArg(calls[1]); !ok || ty.Typeof == nil {
		t.Errorf("typeof(pid) = %+v, %v; want the type of an expression", ty, ok)
	}
}
