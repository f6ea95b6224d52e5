package lang

// Inspect walks the tree rooted at n in depth-first order, calling f for
// each node before its children; when f returns false, the node's children
// are skipped. Nil children are not visited. n may be a *Probe, *AttachPoint,
// *Block, a Stmt or an Expr.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	expr := func(e Expr) {
		if e != nil {
			Inspect(e, f)
		}
	}
	exprs := func(es []Expr) {
		for _, e := range es {
			expr(e)
		}
	}
	switch n := n.(type) {
	case *Probe:
		for _, ap := range n.Points {
			if ap != nil {
				Inspect(ap, f)
			}
		}
		expr(n.Pred)
		if n.Body != nil {
			Inspect(n.Body, f)
		}
	case *Block:
		for _, s := range n.Stmts {
			if s != nil {
				Inspect(s, f)
			}
		}
	case *ExprStmt:
		expr(n.X)
	case *AssignStmt:
		expr(n.LHS)
		expr(n.RHS)
	case *IfStmt:
		expr(n.Cond)
		if n.Then != nil {
			Inspect(n.Then, f)
		}
		if n.Else != nil {
			Inspect(n.Else, f)
		}
	case *WhileStmt:
		expr(n.Cond)
		if n.Body != nil {
			Inspect(n.Body, f)
		}
	case *UnrollStmt:
		expr(n.Count)
		if n.Body != nil {
			Inspect(n.Body, f)
		}
	case *LetStmt:
		expr(n.Var)
		expr(n.Init)
	case *ForStmt:
		expr(n.Var)
		expr(n.Lo)
		expr(n.Hi)
		if n.Map != nil {
			Inspect(n.Map, f)
		}
		if n.Body != nil {
			Inspect(n.Body, f)
		}
	case *MapExpr:
		exprs(n.Keys)
	case *Call:
		exprs(n.Args)
	case *Unary:
		expr(n.X)
	case *IncDec:
		expr(n.X)
	case *Binary:
		expr(n.X)
		expr(n.Y)
	case *Ternary:
		expr(n.Cond)
		expr(n.Then)
		expr(n.Else)
	case *Cast:
		expr(n.X)
	case *Field:
		expr(n.X)
	case *Index:
		expr(n.X)
		expr(n.Index)
	case *Tuple:
		exprs(n.Elems)
	case *BlockExpr:
		for _, st := range n.Stmts {
			if st != nil {
				Inspect(st, f)
			}
		}
		expr(n.Value)
	}
}
