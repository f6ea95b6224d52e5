package lang

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// sexpr renders a node as a compact S-expression, for table tests.
func sexpr(n Node) string {
	switch n := n.(type) {
	case nil:
		return "<nil>"
	case *IntLit:
		return fmt.Sprint(n.Value)
	case *StrLit:
		return fmt.Sprintf("%q", n.Value)
	case *Var:
		return "$" + n.Name
	case *Positional:
		return fmt.Sprintf("$%d", n.N)
	case *MapExpr:
		if n.Keys == nil {
			return "@" + n.Name
		}
		return "(@" + n.Name + " " + sexprs(n.Keys) + ")"
	case *Ident:
		return n.Name
	case *Call:
		if len(n.Args) == 0 {
			return "(" + n.Name + ")"
		}
		return "(" + n.Name + " " + sexprs(n.Args) + ")"
	case *Unary:
		return "(" + n.Op + " " + sexpr(n.X) + ")"
	case *IncDec:
		if n.Post {
			return "(post" + n.Op + " " + sexpr(n.X) + ")"
		}
		return "(" + n.Op + "pre " + sexpr(n.X) + ")"
	case *Binary:
		return "(" + n.Op + " " + sexpr(n.X) + " " + sexpr(n.Y) + ")"
	case *Ternary:
		return "(? " + sexpr(n.Cond) + " " + sexpr(n.Then) + " " + sexpr(n.Else) + ")"
	case *Cast:
		return fmt.Sprintf("(cast %q %s)", n.Type.String(), sexpr(n.X))
	case *Field:
		op := "."
		if n.Arrow {
			op = "->"
		}
		return "(" + op + " " + sexpr(n.X) + " " + n.Name + ")"
	case *Index:
		return "(index " + sexpr(n.X) + " " + sexpr(n.Index) + ")"
	case *Tuple:
		return "(tuple " + sexprs(n.Elems) + ")"
	case *ExprStmt:
		return sexpr(n.X)
	case *AssignStmt:
		return "(" + n.Op + " " + sexpr(n.LHS) + " " + sexpr(n.RHS) + ")"
	case *IfStmt:
		s := "(if " + sexpr(n.Cond) + " " + sexpr(n.Then)
		if n.Else != nil {
			s += " else " + sexpr(n.Else)
		}
		return s + ")"
	case *WhileStmt:
		return "(while " + sexpr(n.Cond) + " " + sexpr(n.Body) + ")"
	case *UnrollStmt:
		return "(unroll " + sexpr(n.Count) + " " + sexpr(n.Body) + ")"
	case *ReturnStmt:
		return "return"
	case *Block:
		var parts []string
		for _, s := range n.Stmts {
			parts = append(parts, sexpr(s))
		}
		return "{" + strings.Join(parts, "; ") + "}"
	}
	return fmt.Sprintf("<%T>", n)
}

func sexprs(xs []Expr) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, sexpr(x))
	}
	return strings.Join(parts, " ")
}

// ignoredFields are left out of structural comparisons: positions, source
// text and spellings that Format canonicalizes.
var ignoredFields = map[string]bool{"Pos": true, "Raw": true, "Text": true, "Source": true, "File": true, "Trace": true}

// sameTree reports whether two trees are equal apart from ignoredFields,
// and where they differ.
func sameTree(a, b any) (bool, string) {
	return sameValue(reflect.ValueOf(a), reflect.ValueOf(b), "")
}

func sameValue(a, b reflect.Value, path string) (bool, string) {
	if a.IsValid() != b.IsValid() {
		return false, path
	}
	if !a.IsValid() {
		return true, ""
	}
	if a.Type() != b.Type() {
		return false, fmt.Sprintf("%s: %s vs %s", path, a.Type(), b.Type())
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() == b.IsNil() {
				return true, ""
			}
			return false, path + ": nil vs non-nil"
		}
		return sameValue(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			name := a.Type().Field(i).Name
			if ignoredFields[name] {
				continue
			}
			if ok, where := sameValue(a.Field(i), b.Field(i), path+"."+name); !ok {
				return false, where
			}
		}
		return true, ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false, fmt.Sprintf("%s: len %d vs %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if ok, where := sameValue(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return false, where
			}
		}
		return true, ""
	}
	if a.Interface() != b.Interface() {
		return false, fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface())
	}
	return true, ""
}

// checkPositions checks that every node of prog has a valid position that
// agrees with src.
func checkPositions(t testing.TB, prog *Program) {
	t.Helper()
	src := prog.Source
	check := func(n Node, p Pos) {
		t.Helper()
		if !p.IsValid() || p.Col < 1 || p.Offset < 0 || p.Offset > len(src) {
			t.Fatalf("%T has bad position %+v (source length %d)", n, p, len(src))
		}
		if want := posOf(src, p.Offset); want != p {
			t.Fatalf("%T position %+v, but offset %d is at %+v", n, p, p.Offset, want)
		}
	}
	for _, pr := range prog.Probes {
		Inspect(pr, func(n Node) bool {
			check(n, n.Position())
			if c, ok := n.(*Cast); ok {
				check(n, c.Type.Pos)
			}
			return true
		})
	}
}

// posOf computes the position of a byte offset in src.
func posOf(src string, off int) Pos {
	line, start := 1, 0
	for i := 0; i < off && i < len(src); i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return Pos{Line: line, Col: off - start + 1, Offset: off}
}

// mustParse parses src or fails the test with the error's detail.
func mustParse(t testing.TB, src string) *Program {
	t.Helper()
	p, err := Parse("test.bt", src)
	if err != nil {
		t.Fatalf("Parse(%q):\n%s", src, detail(err))
	}
	return p
}

func detail(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Detail()
	}
	return err.Error()
}

// checkRoundTrip checks that Format's output parses back to the same tree
// and formats identically.
func checkRoundTrip(t testing.TB, prog *Program) {
	t.Helper()
	out := Format(prog)
	again, err := Parse("formatted.bt", out)
	if err != nil {
		t.Fatalf("Format output does not parse:\n%s\n--- output:\n%s", detail(err), out)
	}
	if ok, where := sameTree(prog, again); !ok {
		t.Fatalf("Format output parses to a different tree at %s\n--- output:\n%s", where, out)
	}
	// Trace comments are not part of the tree.
	var kept []string
	for _, line := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(line, "// trace: ") {
			kept = append(kept, line)
		}
	}
	if out2 := Format(again); out2 != strings.Join(kept, "") {
		t.Fatalf("Format is not stable:\n%s\n--- second:\n%s", out, out2)
	}
}

func reflectTypeName(v any) string { return reflect.TypeOf(v).String() }
