package lang

import (
	"strconv"
	"strings"
)

// TypeArg reports whether e is a type used as a value, typeof(TYPE) or
// typeof(EXPR) (a macro's argument, sizeof's), and returns the type:
// TYPE itself, or a TypeName whose Typeof is EXPR. typeof(typeof(x)) is
// typeof(x).
func TypeArg(e Expr) (TypeName, bool) {
	c, ok := e.(*Call)
	if !ok || c.Name != "typeof" || len(c.Args) != 1 {
		return TypeName{}, false
	}
	if t, ok := TypeArg(c.Args[0]); ok {
		return t, true
	}
	if id, ok := c.Args[0].(*Ident); ok {
		if t, ok := ParseTypeString(id.Name); ok {
			t.Pos = id.Pos
			return t, true
		}
	}
	return TypeName{Pos: c.Pos, Typeof: c.Args[0]}, true
}

// ParseTypeString reads back the type the parser wrote as an identifier
// for sizeof(TYPE) and typeof(TYPE) (TypeName.String: "uint64 *",
// "struct Foo", "int8[4]"); ok is false for a name that is no type word
// (an expression's identifier, such as pid).
func ParseTypeString(s string) (TypeName, bool) {
	var t TypeName
	if i := strings.IndexByte(s, '['); i > 0 && strings.HasSuffix(s, "]") {
		n := s[i+1 : len(s)-1]
		s = s[:i]
		if n == "" {
			t.Array = -1
		} else if v, err := strconv.Atoi(n); err == nil && v > 0 {
			t.Array = v
		} else {
			return TypeName{}, false
		}
	}
	base := strings.TrimRight(s, " *")
	t.Ptr = strings.Count(s[len(base):], "*")
	t.Name = base
	first, _, _ := strings.Cut(base, " ")
	if base == "" || t.Ptr == 0 && t.Array == 0 && !isTypeWord(first) {
		return TypeName{}, false
	}
	return t, true
}
