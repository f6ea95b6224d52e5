package compile

import "github.com/uscope/uscope/internal/lang"

// lower is the first pass: it rewrites the sugar of the language into the
// smaller core the later passes know, once, on the AST and before any
// typing:
//
//   - x++ and x-- as statements become x += 1 and x -= 1 (as expressions
//     they stay IncDec: their value, old or new, is emitted as such);
//   - $x op= v becomes $x = $x op v; @m[k] op= v likewise, except += and
//     -=, which stay compound because they are emitted as atomic adds;
//   - delete(@m, k) and has_key(@m, k) become delete(@m[k]) and
//     has_key(@m[k]) (bpftrace accepts both forms);
//   - a unary + disappears.
//
// Lowering never fails: forms it does not recognize are left for check to
// report.
func lower(p *lang.Program) {
	for _, pr := range p.Probes {
		if pr.Pred != nil {
			pr.Pred = lowerExpr(pr.Pred)
		}
		lowerBlock(pr.Body)
	}
}

func lowerBlock(b *lang.Block) {
	if b == nil {
		return
	}
	for i, s := range b.Stmts {
		b.Stmts[i] = lowerStmt(s)
	}
}

func lowerStmt(s lang.Stmt) lang.Stmt {
	switch s := s.(type) {
	case *lang.Block:
		lowerBlock(s)
	case *lang.ExprStmt:
		if inc, ok := s.X.(*lang.IncDec); ok {
			op := "+="
			if inc.Op == "--" {
				op = "-="
			}
			return lowerStmt(&lang.AssignStmt{Pos: inc.Pos, Op: op, LHS: inc.X, RHS: &lang.IntLit{Pos: inc.Pos, Value: 1, Text: "1"}})
		}
		s.X = lowerExpr(s.X)
	case *lang.AssignStmt:
		s.RHS = lowerExpr(s.RHS)
		s.LHS = lowerExpr(s.LHS)
		op, compound := compoundOps[s.Op]
		if !compound {
			break
		}
		if _, isMap := s.LHS.(*lang.MapExpr); isMap && (s.Op == "+=" || s.Op == "-=") {
			break
		}
		s.RHS = &lang.Binary{Pos: s.Pos, Op: op, X: s.LHS, Y: s.RHS}
		s.Op = "="
	case *lang.IfStmt:
		s.Cond = lowerExpr(s.Cond)
		lowerBlock(s.Then)
		if s.Else != nil {
			s.Else = lowerStmt(s.Else)
		}
	case *lang.WhileStmt:
		s.Cond = lowerExpr(s.Cond)
		lowerBlock(s.Body)
	case *lang.UnrollStmt:
		lowerBlock(s.Body)
	}
	return s
}

// compoundOps maps each compound assignment to its binary operator.
var compoundOps = map[string]string{
	"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>",
}

func lowerExprs(es []lang.Expr) {
	for i, e := range es {
		es[i] = lowerExpr(e)
	}
}

func lowerExpr(e lang.Expr) lang.Expr {
	switch x := e.(type) {
	case *lang.Call:
		lowerExprs(x.Args)
		if x.Name == "delete" || x.Name == "has_key" {
			if me, ok := x.Args[0].(*lang.MapExpr); ok && len(x.Args) > 1 && me.Keys == nil {
				x.Args = []lang.Expr{&lang.MapExpr{Pos: me.Pos, Name: me.Name, Keys: x.Args[1:]}}
			}
		}
	case *lang.MapExpr:
		lowerExprs(x.Keys)
	case *lang.Unary:
		x.X = lowerExpr(x.X)
		if x.Op == "+" {
			return x.X
		}
	case *lang.IncDec:
		x.X = lowerExpr(x.X)
	case *lang.Binary:
		x.X, x.Y = lowerExpr(x.X), lowerExpr(x.Y)
	case *lang.Ternary:
		x.Cond, x.Then, x.Else = lowerExpr(x.Cond), lowerExpr(x.Then), lowerExpr(x.Else)
	case *lang.Cast:
		x.X = lowerExpr(x.X)
	case *lang.Field:
		x.X = lowerExpr(x.X)
	case *lang.Index:
		x.X, x.Index = lowerExpr(x.X), lowerExpr(x.Index)
	case *lang.Tuple:
		lowerExprs(x.Elems)
	}
	return e
}
