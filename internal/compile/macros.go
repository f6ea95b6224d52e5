package compile

import (
	"fmt"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// expandMacros is the first pass: every call of a macro the program
// defines (and a bare name for a macro without parameters) becomes a
// block expression, the macro's body with its parameters substituted:
// an expression parameter (x) by the argument, a variable parameter ($a)
// and a map parameter (@b) by the variable or map passed. Variables the
// body creates are renamed apart, so a macro never touches the caller's
// (bpftrace's hygienic macros).
func (c *compiler) expandMacros() {
	if len(c.prog.Macros) == 0 {
		return
	}
	m := &macroExpander{c: c, defs: map[string]*lang.MacroDef{}}
	for _, d := range c.prog.Macros {
		if _, dup := m.defs[d.Name]; dup {
			c.report(c.prog.Errorf(d, len(d.Name), "", "macro %s is defined twice", d.Name))
		}
		m.defs[d.Name] = d
	}
	for _, pr := range c.prog.Probes {
		if pr.Pred != nil {
			pr.Pred = m.expr(pr.Pred, 0)
		}
		m.block(pr.Body.Stmts, 0)
	}
}

type macroExpander struct {
	c     *compiler
	defs  map[string]*lang.MacroDef
	count int
}

// maxMacroDepth bounds macros that call macros (and recursion).
const maxMacroDepth = 32

func (m *macroExpander) block(stmts []lang.Stmt, depth int) {
	for _, s := range stmts {
		m.stmt(s, depth)
	}
}

func (m *macroExpander) stmt(s lang.Stmt, depth int) {
	switch s := s.(type) {
	case *lang.Block:
		m.block(s.Stmts, depth)
	case *lang.ExprStmt:
		s.X = m.expr(s.X, depth)
	case *lang.AssignStmt:
		s.LHS, s.RHS = m.expr(s.LHS, depth), m.expr(s.RHS, depth)
	case *lang.IfStmt:
		s.Cond = m.expr(s.Cond, depth)
		m.block(s.Then.Stmts, depth)
		if s.Else != nil {
			m.stmt(s.Else, depth)
		}
	case *lang.WhileStmt:
		s.Cond = m.expr(s.Cond, depth)
		m.block(s.Body.Stmts, depth)
	case *lang.UnrollStmt:
		m.block(s.Body.Stmts, depth)
	case *lang.LetStmt:
		if s.Init != nil {
			s.Init = m.expr(s.Init, depth)
		}
	case *lang.ForStmt:
		if s.Lo != nil {
			s.Lo, s.Hi = m.expr(s.Lo, depth), m.expr(s.Hi, depth)
		}
		m.block(s.Body.Stmts, depth)
	}
}

func (m *macroExpander) exprs(es []lang.Expr, depth int) {
	for i, e := range es {
		es[i] = m.expr(e, depth)
	}
}

func (m *macroExpander) expr(e lang.Expr, depth int) lang.Expr {
	switch x := e.(type) {
	case *lang.Call:
		m.exprs(x.Args, depth)
		// A macro named as a builtin function overrides it when its
		// parameters fit the call; otherwise the builtin is called.
		if d, ok := m.defs[x.Name]; ok && (len(d.Params) == len(x.Args) || lookupBuiltin(x.Name, true) == nil && lookupBuiltin(x.Name, false) == nil) {
			return m.expand(d, x, x.Args, depth)
		}
	case *lang.Ident:
		if d, ok := m.defs[x.Name]; ok && len(d.Params) == 0 {
			return m.expand(d, x, nil, depth)
		}
	case *lang.MapExpr:
		m.exprs(x.Keys, depth)
	case *lang.Unary:
		x.X = m.expr(x.X, depth)
	case *lang.IncDec:
		x.X = m.expr(x.X, depth)
	case *lang.Binary:
		x.X, x.Y = m.expr(x.X, depth), m.expr(x.Y, depth)
	case *lang.Ternary:
		x.Cond, x.Else = m.expr(x.Cond, depth), m.expr(x.Else, depth)
		if x.Then != nil {
			x.Then = m.expr(x.Then, depth)
		}
	case *lang.Cast:
		x.X = m.expr(x.X, depth)
	case *lang.Field:
		x.X = m.expr(x.X, depth)
	case *lang.Index:
		x.X, x.Index = m.expr(x.X, depth), m.expr(x.Index, depth)
	case *lang.Tuple:
		m.exprs(x.Elems, depth)
	case *lang.BlockExpr:
		m.block(x.Stmts, depth)
		if x.Value != nil {
			x.Value = m.expr(x.Value, depth)
		}
	}
	return e
}

// expand returns the body of macro d for one call, its parameters bound
// to args.
func (m *macroExpander) expand(d *lang.MacroDef, call lang.Node, args []lang.Expr, depth int) lang.Expr {
	fail := func(hint, format string, a ...any) lang.Expr {
		m.c.report(m.c.prog.Errorf(call, len(d.Name), hint, format, a...))
		return &lang.IntLit{Pos: call.Position(), Text: "0"}
	}
	if depth >= maxMacroDepth {
		return fail("", "macro %s calls macros %d deep (recursion?)", d.Name, depth)
	}
	if len(args) != len(d.Params) {
		return fail("macro "+d.Name+"("+strings.Join(d.Params, ", ")+")", "macro %s takes %d argument(s), got %d", d.Name, len(d.Params), len(args))
	}
	m.count++
	b := &binding{exprs: map[string]lang.Expr{}, vars: map[string]string{}, maps: map[string]string{}, suffix: fmt.Sprintf("__m%d", m.count), c: m.c}
	if mc, ok := call.(*lang.Call); ok {
		b.from = mc
	} else if id, ok := call.(*lang.Ident); ok {
		b.from = &lang.Call{Pos: id.Pos, Name: id.Name}
	}
	for i, p := range d.Params {
		switch {
		case strings.HasPrefix(p, "$"):
			v, ok := args[i].(*lang.Var)
			if !ok {
				return fail("pass a $variable", "macro %s expects a variable for %s, got %s", d.Name, p, lang.FormatExpr(args[i]))
			}
			b.vars[p[1:]] = v.Name
		case strings.HasPrefix(p, "@"):
			me, ok := args[i].(*lang.MapExpr)
			if !ok || me.Keys != nil {
				return fail("pass a whole @map", "macro %s expects a map for %s, got %s", d.Name, p, lang.FormatExpr(args[i]))
			}
			b.maps[p[1:]] = me.Name
		default:
			b.exprs[p] = args[i]
		}
	}
	body := b.blockExpr(d.Body)
	body.Pos = call.Position()
	if len(body.Stmts) == 0 && body.Value != nil {
		// { v }: the value itself, so that a macro may give printf its
		// format ("hi") or any other literal an argument must be.
		return m.expr(body.Value, depth+1)
	}
	return m.expr(body, depth+1)
}

// binding substitutes one expansion's parameters while copying a body.
type binding struct {
	exprs  map[string]lang.Expr
	vars   map[string]string // parameter $a -> the caller's variable
	maps   map[string]string // parameter @b -> the caller's map
	suffix string            // renames the body's own variables
	// from is the macro's call, noted for the calls copied out of its
	// body (compiler.expandedFrom: errorf's "expanded from").
	from *lang.Call
	c    *compiler
}

func (b *binding) blockExpr(x *lang.BlockExpr) *lang.BlockExpr {
	out := &lang.BlockExpr{Pos: x.Pos}
	for _, s := range x.Stmts {
		out.Stmts = append(out.Stmts, b.stmt(s))
	}
	if x.Value != nil {
		out.Value = b.expr(x.Value)
	}
	return out
}

func (b *binding) block(x *lang.Block) *lang.Block {
	if x == nil {
		return nil
	}
	out := &lang.Block{Pos: x.Pos}
	for _, s := range x.Stmts {
		out.Stmts = append(out.Stmts, b.stmt(s))
	}
	return out
}

func (b *binding) stmt(s lang.Stmt) lang.Stmt {
	switch s := s.(type) {
	case *lang.Block:
		return b.block(s)
	case *lang.ExprStmt:
		return &lang.ExprStmt{X: b.expr(s.X)}
	case *lang.AssignStmt:
		return &lang.AssignStmt{Pos: s.Pos, Op: s.Op, LHS: b.expr(s.LHS), RHS: b.expr(s.RHS)}
	case *lang.IfStmt:
		out := &lang.IfStmt{Pos: s.Pos, Cond: b.expr(s.Cond), Then: b.block(s.Then)}
		if s.Else != nil {
			out.Else = b.stmt(s.Else)
		}
		return out
	case *lang.WhileStmt:
		return &lang.WhileStmt{Pos: s.Pos, Cond: b.expr(s.Cond), Body: b.block(s.Body)}
	case *lang.UnrollStmt:
		return &lang.UnrollStmt{Pos: s.Pos, Count: b.expr(s.Count), Body: b.block(s.Body)}
	case *lang.LetStmt:
		out := &lang.LetStmt{Pos: s.Pos, Var: b.expr(s.Var).(*lang.Var), Type: s.Type}
		if s.Type != nil && s.Type.Typeof != nil {
			ty := *s.Type
			ty.Typeof = b.expr(ty.Typeof) // typeof(x) of a parameter x
			out.Type = &ty
		}
		if s.Init != nil {
			out.Init = b.expr(s.Init)
		}
		return out
	case *lang.ForStmt:
		out := &lang.ForStmt{Pos: s.Pos, Var: b.expr(s.Var).(*lang.Var), Body: b.block(s.Body)}
		if s.Map != nil {
			out.Map = b.expr(s.Map).(*lang.MapExpr)
		} else {
			out.Lo, out.Hi = b.expr(s.Lo), b.expr(s.Hi)
		}
		return out
	case *lang.ReturnStmt:
		return &lang.ReturnStmt{Pos: s.Pos}
	case *lang.BreakStmt:
		return &lang.BreakStmt{Pos: s.Pos}
	case *lang.ContinueStmt:
		return &lang.ContinueStmt{Pos: s.Pos}
	}
	return s
}

// typeParam substitutes a macro parameter used as a type, t or t * where
// the argument is typeof(TYPE) or typeof(EXPR): the argument's type with
// ty's pointers and array length added.
func (b *binding) typeParam(ty lang.TypeName) (lang.TypeName, bool) {
	if ty.Typeof != nil {
		return ty, false
	}
	a, ok := b.exprs[ty.Name]
	if !ok {
		return ty, false
	}
	at, ok := lang.TypeArg(a)
	if !ok || at.Typeof != nil && ty.Array != 0 {
		return ty, false
	}
	at.Pos = ty.Pos
	at.Ptr += ty.Ptr
	if ty.Array != 0 {
		at.Array = ty.Array
	}
	if at.Typeof != nil {
		at.Typeof = cloneExpr(at.Typeof)
	}
	return at, true
}

func (b *binding) list(es []lang.Expr) []lang.Expr {
	if es == nil {
		return nil
	}
	out := make([]lang.Expr, len(es))
	for i, e := range es {
		out[i] = b.expr(e)
	}
	return out
}

// expr copies an expression, substituting parameters.
func (b *binding) expr(e lang.Expr) lang.Expr {
	switch x := e.(type) {
	case *lang.Ident:
		if a, ok := b.exprs[x.Name]; ok {
			return cloneExpr(a)
		}
		return &lang.Ident{Pos: x.Pos, Name: x.Name}
	case *lang.Var:
		if v, ok := b.vars[x.Name]; ok {
			return &lang.Var{Pos: x.Pos, Name: v}
		}
		return &lang.Var{Pos: x.Pos, Name: x.Name + b.suffix}
	case *lang.MapExpr:
		name := x.Name
		if n, ok := b.maps[name]; ok {
			name = n
		}
		return &lang.MapExpr{Pos: x.Pos, Name: name, Keys: b.list(x.Keys)}
	case *lang.IntLit:
		c := *x
		return &c
	case *lang.StrLit:
		c := *x
		return &c
	case *lang.Positional:
		c := *x
		return &c
	case *lang.Call:
		out := &lang.Call{Pos: x.Pos, Name: x.Name, Args: b.list(x.Args)}
		if (x.Name == "sizeof" || x.Name == "typeof") && len(x.Args) == 1 {
			if id, ok := x.Args[0].(*lang.Ident); ok {
				// sizeof(t *) of a type parameter t, written as a type.
				if ty, ok := lang.ParseTypeString(id.Name); ok {
					if ty, ok := b.typeParam(ty); ok {
						out.Args[0] = &lang.Ident{Pos: id.Pos, Name: ty.String()}
					}
				}
			}
		}
		if b.from != nil && b.c != nil {
			if b.c.expandedFrom == nil {
				b.c.expandedFrom = map[*lang.Call][]*lang.Call{}
			}
			b.c.expandedFrom[out] = append(append([]*lang.Call(nil), b.c.expandedFrom[x]...), b.from)
		}
		return out
	case *lang.Unary:
		return &lang.Unary{Pos: x.Pos, Op: x.Op, X: b.expr(x.X)}
	case *lang.IncDec:
		return &lang.IncDec{Pos: x.Pos, Op: x.Op, X: b.expr(x.X), Post: x.Post}
	case *lang.Binary:
		return &lang.Binary{Pos: x.Pos, Op: x.Op, X: b.expr(x.X), Y: b.expr(x.Y)}
	case *lang.Ternary:
		out := &lang.Ternary{Pos: x.Pos, Cond: b.expr(x.Cond), Else: b.expr(x.Else)}
		if x.Then != nil {
			out.Then = b.expr(x.Then)
		}
		return out
	case *lang.Cast:
		ty := x.Type
		if t, ok := b.typeParam(ty); ok {
			ty = t // (t *)x of a type parameter t
		} else if ty.Typeof != nil {
			ty.Typeof = b.expr(ty.Typeof)
		}
		return &lang.Cast{Pos: x.Pos, Type: ty, X: b.expr(x.X)}
	case *lang.Field:
		return &lang.Field{Pos: x.Pos, X: b.expr(x.X), Name: x.Name, Arrow: x.Arrow}
	case *lang.Index:
		return &lang.Index{Pos: x.Pos, X: b.expr(x.X), Index: b.expr(x.Index)}
	case *lang.Tuple:
		return &lang.Tuple{Pos: x.Pos, Elems: b.list(x.Elems), Names: x.Names}
	case *lang.BlockExpr:
		return b.blockExpr(x)
	}
	return e
}

// cloneExpr copies an argument, so that each place a macro uses it is a
// node of its own (types are recorded per node): a binding with nothing
// to substitute and no suffix copies as it is.
func cloneExpr(e lang.Expr) lang.Expr {
	return (&binding{}).expr(e)
}
