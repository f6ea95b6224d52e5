package lang

import (
	"strings"
	"testing"
)

func TestFormatExpr(t *testing.T) {
	pos := Pos{Line: 1, Col: 1}
	id := func(s string) Expr { return &Ident{Pos: pos, Name: s} }
	num := func(v uint64) Expr { return &IntLit{Pos: pos, Value: v} }
	tests := []struct {
		e    Expr
		want string
	}{
		{num(7), "7"},
		{&IntLit{Value: 255, Text: "0xff"}, "0xff"},
		{&IntLit{Value: 10, Text: "0xff"}, "10"}, // stale Text is not trusted
		{&StrLit{Value: "a\"b\\c\n\t\r\x00\x01é"}, `"a\"b\\c\n\t\r\x00\x01é"`},
		{&Binary{Op: "-", X: id("a"), Y: &Binary{Op: "-", X: id("b"), Y: id("c")}}, "a - (b - c)"},
		{&Binary{Op: "-", X: &Binary{Op: "-", X: id("a"), Y: id("b")}, Y: id("c")}, "a - b - c"},
		{&Binary{Op: "*", X: &Binary{Op: "+", X: id("a"), Y: id("b")}, Y: id("c")}, "(a + b) * c"},
		{&Unary{Op: "-", X: &Unary{Op: "-", X: id("x")}}, "- -x"},
		{&Unary{Op: "-", X: &IncDec{Op: "--", X: &Var{Name: "x"}}}, "- --$x"},
		{&Unary{Op: "&", X: &Unary{Op: "&", X: id("x")}}, "& &x"},
		{&Unary{Op: "!", X: &Binary{Op: "==", X: id("a"), Y: num(1)}}, "!(a == 1)"},
		{&Unary{Op: "*", X: &Cast{Type: TypeName{Name: "int32", Ptr: 1}, X: id("p")}}, "*(int32 *)p"},
		{&Field{X: &Cast{Type: TypeName{Name: "struct s", Ptr: 1}, X: id("p")}, Name: "f", Arrow: true}, "((struct s *)p)->f"},
		{&Field{X: &Unary{Op: "*", X: id("p")}, Name: "f"}, "(*p).f"},
		{&Index{X: &Binary{Op: "+", X: id("p"), Y: num(1)}, Index: num(0)}, "(p + 1)[0]"},
		{&Ternary{Cond: &Ternary{Cond: id("a"), Then: id("b"), Else: id("c")}, Then: id("d"), Else: id("e")}, "(a ? b : c) ? d : e"},
		{&Binary{Op: "+", X: &Ternary{Cond: id("a"), Then: id("b"), Else: id("c")}, Y: num(1)}, "(a ? b : c) + 1"},
		{&MapExpr{Name: ""}, "@"},
		{&MapExpr{Name: "m", Keys: []Expr{id("a"), id("b")}}, "@m[a, b]"},
		{&Tuple{Elems: []Expr{num(1), &StrLit{Value: "x"}}}, `(1, "x")`},
		{&Call{Name: "count"}, "count()"},
		{&Positional{N: 2}, "$2"},
		{&IncDec{Op: "++", X: &MapExpr{Name: "m", Keys: []Expr{id("k")}}, Post: true}, "@m[k]++"},
	}
	for _, tt := range tests {
		if got := FormatExpr(tt.e); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

func TestAttachPointString(t *testing.T) {
	tests := []struct {
		ap   AttachPoint
		want string
	}{
		{AttachPoint{Kind: KindBegin}, "BEGIN"},
		{AttachPoint{Kind: KindUprobe, Target: "libc", Func: "malloc"}, "uprobe:libc:malloc"},
		{AttachPoint{Kind: KindUprobe, Func: "main"}, "uprobe::main"},
		{AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "f", Offset: 16, HasOffset: true}, "uprobe:/bin/x:f+0x10"},
		{AttachPoint{Kind: KindUprobe, Target: "/bin/x", Addr: 0x401000, HasAddr: true}, "uprobe:/bin/x:0x401000"},
		{AttachPoint{Kind: KindUretprobe, Target: "/a b", Func: "ns::f(int)"}, `uretprobe:"/a b":"ns::f(int)"`},
		{AttachPoint{Kind: KindUprobe, Target: "x", Func: "operator+"}, `uprobe:x:"operator+"`},
		{AttachPoint{Kind: KindUprobe, Target: "x", Func: "1abc"}, `uprobe:x:"1abc"`},
		{AttachPoint{Kind: KindUprobe, Target: "x", Func: `a"b\c`}, `uprobe:x:"a\"b\\c"`},
		{AttachPoint{Kind: KindUprobe, Target: "x", Func: "net/http.Get"}, `uprobe:x:"net/http.Get"`},
		{AttachPoint{Kind: KindUprobe, Target: "x", Lang: "cpp", Func: "ns::*"}, `uprobe:x:cpp:"ns::*"`},
		{AttachPoint{Kind: KindUSDT, Target: "/bin/py", Provider: "python", Func: "gc__start"}, "usdt:/bin/py:python:gc__start"},
		{AttachPoint{Kind: KindUSDT, Func: "gc__start"}, "usdt::gc__start"},
		{AttachPoint{Kind: KindInterval, IntervalNanos: 2e9}, "interval:s:2"},
		{AttachPoint{Kind: KindInterval, IntervalNanos: 1500e6}, "interval:ms:1500"},
		{AttachPoint{Kind: KindInterval, IntervalNanos: 3e3}, "interval:us:3"},
		{AttachPoint{Kind: KindInterval, IntervalNanos: 333}, "interval:ns:333"},
	}
	for _, tt := range tests {
		ap := tt.ap
		got := ap.String()
		if got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
			continue
		}
		p := mustParse(t, got+" {}")
		back := *p.Probes[0].Points[0]
		back.Pos, back.Raw = Pos{}, ""
		if back != ap {
			t.Errorf("%s parses to %+v, want %+v", got, back, ap)
		}
	}
}

func TestFormatProgram(t *testing.T) {
	p := mustParse(t, `u:libc:malloc,ur:libc:malloc/ *(uint8*)arg0/{if(1){@x++}else{$y=2}}BEGIN{}`)
	want := `uprobe:libc:malloc,
uretprobe:libc:malloc / *(uint8 *)arg0/ {
	if (1) {
		@x++;
	} else {
		$y = 2;
	}
}

BEGIN {
}
`
	if got := Format(p); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if Format(nil) != "" {
		t.Error("Format(nil) not empty")
	}
}

func TestInspect(t *testing.T) {
	p := mustParse(t, `uprobe:a:b /pid > 1/ { $x = (int8)-arg0; if ($x) { @m[tid, 1]++ } else { while (1) { unroll(2) { f(a.b[c] ? (1, 2) : 3) } } } }`)
	var kinds []string
	Inspect(p.Probes[0], func(n Node) bool {
		kinds = append(kinds, strings.TrimPrefix(reflectTypeName(n), "*lang."))
		return true
	})
	got := strings.Join(kinds, " ")
	want := "Probe AttachPoint Binary Ident IntLit Block AssignStmt Var Cast Unary Ident IfStmt Var Block ExprStmt IncDec MapExpr Ident IntLit Block WhileStmt IntLit Block UnrollStmt IntLit Block ExprStmt Call Ternary Index Field Ident Ident Tuple IntLit IntLit IntLit"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Returning false prunes.
	n := 0
	Inspect(p.Probes[0], func(node Node) bool {
		n++
		_, isBlock := node.(*Block)
		return !isBlock
	})
	if n != 6 { // Probe, AttachPoint, Binary, Ident, IntLit, Block
		t.Errorf("visited %d nodes with pruning, want 6", n)
	}
}
