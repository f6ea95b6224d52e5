package compile

import (
	"sort"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// lower is the first pass: it rewrites the sugar of the language into the
// smaller core the later passes know, once, on the AST and before any
// typing:
//
//   - x++ and x-- as statements become x += 1 and x -= 1 (as expressions
//     they stay IncDec: their value, old or new, is emitted as such);
//
//   - $x op= v becomes $x = $x op v; @m[k] op= v likewise, except += and
//     -=, which stay compound because they are emitted as atomic adds;
//
//   - delete(@m, k) and has_key(@m, k) become delete(@m[k]) and
//     has_key(@m[k]) (bpftrace accepts both forms);
//
//   - a unary + disappears;
//
//   - a ?: whose value is unused becomes an if statement;
//
//   - pid(), comm() and the other function forms of builtin identifiers
//     become the identifiers, and __builtin_NAME becomes NAME;
//
//   - positional parameters become literals: $N a number when its text is
//     one, else a string ("" or 0 when not given, as bpftrace), $# their
//     count.
//
//   - @m = { stmts; v } becomes { stmts; @m = v };
//
//   - a constant of a header given with --include (EPERM) becomes its
//     value;
//
//   - config().NAME and __builtin_config.NAME become the config
//     variable's value;
//
//   - getopt(NAME, DEFAULT) becomes the literal of the named option
//     --NAME=VALUE given after the program, or its default;
//
//   - the statement assert(COND, MSG) becomes
//     if (!(COND)) { errorf("assert failed: %s", MSG); exit(1); }, as
//     bpftrace main's stdlib macro is.
//
// Lowering fails only on named options that are wrong (a value of the
// wrong type, an option no getopt() reads); forms it does not recognize
// are left for check to report.
func lower(p *lang.Program, params []string, defines map[string]int64, config map[string]lang.Expr) []error {
	l := &lowerer{prog: p, args: splitProgramArgs(params), defines: defines, config: config}
	l.params = l.args.positional
	for _, pr := range p.Probes {
		if pr.Pred != nil {
			pr.Pred = l.lowerExpr(pr.Pred)
		}
		l.lowerBlock(pr.Body)
		resolveScopes(pr)
	}
	l.unusedOptions()
	return l.errs
}

func (l *lowerer) lowerBlock(b *lang.Block) {
	if b == nil {
		return
	}
	for i, s := range b.Stmts {
		b.Stmts[i] = l.lowerStmt(s)
	}
}

func (l *lowerer) lowerStmt(s lang.Stmt) lang.Stmt {
	switch s := s.(type) {
	case *lang.Block:
		l.lowerBlock(s)
	case *lang.ExprStmt:
		if inc, ok := s.X.(*lang.IncDec); ok {
			op := "+="
			if inc.Op == "--" {
				op = "-="
			}
			return l.lowerStmt(&lang.AssignStmt{Pos: inc.Pos, Op: op, LHS: inc.X, RHS: &lang.IntLit{Pos: inc.Pos, Value: 1, Text: "1"}})
		}
		if b, ok := s.X.(*lang.BlockExpr); ok && b.Value != nil {
			// { stmts; v } whose value is unused: a block that ends with v.
			stmts := append(append([]lang.Stmt(nil), b.Stmts...), &lang.ExprStmt{X: b.Value})
			return l.lowerStmt(&lang.Block{Pos: b.Pos, Stmts: stmts})
		}
		if c, ok := s.X.(*lang.Call); ok && c.Name == "assert" && len(c.Args) == 2 {
			p := c.Pos
			fail := &lang.Block{Pos: p, Stmts: []lang.Stmt{
				&lang.ExprStmt{X: &lang.Call{Pos: p, Name: "errorf", Args: []lang.Expr{&lang.StrLit{Pos: p, Value: "assert failed: %s"}, c.Args[1]}}},
				&lang.ExprStmt{X: &lang.Call{Pos: p, Name: "exit", Args: []lang.Expr{&lang.IntLit{Pos: p, Value: 1, Text: "1"}}}},
			}}
			return l.lowerStmt(&lang.IfStmt{Pos: p, Cond: &lang.Unary{Pos: p, Op: "!", X: c.Args[0]}, Then: fail})
		}
		if t, ok := s.X.(*lang.Ternary); ok && t.Then != nil {
			// c ? a : b whose value is unused is if (c) { a } else { b },
			// so the branches may be calls without a value (printf).
			p := t.Cond.Position()
			return l.lowerStmt(&lang.IfStmt{Pos: p, Cond: t.Cond,
				Then: &lang.Block{Pos: t.Then.Position(), Stmts: []lang.Stmt{&lang.ExprStmt{X: t.Then}}},
				Else: &lang.Block{Pos: t.Else.Position(), Stmts: []lang.Stmt{&lang.ExprStmt{X: t.Else}}}})
		}
		s.X = l.lowerExpr(s.X)
	case *lang.AssignStmt:
		s.RHS = l.lowerExpr(s.RHS)
		s.LHS = l.lowerExpr(s.LHS)
		if b, ok := s.RHS.(*lang.BlockExpr); ok && b.Value != nil && s.Op == "=" {
			if _, isMap := s.LHS.(*lang.MapExpr); isMap {
				// @m = { stmts; v }: the statements, then @m = v (v may
				// be an aggregation, which only a map assignment holds).
				out := &lang.Block{Pos: b.Pos, Stmts: append(append([]lang.Stmt(nil), b.Stmts...), &lang.AssignStmt{Pos: s.Pos, Op: "=", LHS: s.LHS, RHS: b.Value})}
				return out
			}
		}
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
		s.Cond = l.lowerExpr(s.Cond)
		l.lowerBlock(s.Then)
		if s.Else != nil {
			s.Else = l.lowerStmt(s.Else)
		}
	case *lang.WhileStmt:
		s.Cond = l.lowerExpr(s.Cond)
		l.lowerBlock(s.Body)
	case *lang.UnrollStmt:
		s.Count = l.lowerExpr(s.Count)
		l.lowerBlock(s.Body)
	case *lang.LetStmt:
		if s.Init != nil {
			s.Init = l.lowerExpr(s.Init)
		}
	case *lang.ForStmt:
		if s.Lo != nil {
			s.Lo, s.Hi = l.lowerExpr(s.Lo), l.lowerExpr(s.Hi)
		}
		if s.Map != nil {
			scopeLoopVar(s)
		}
		l.lowerBlock(s.Body)
	}
	return s
}

// scopeLoopVar gives the variable of a loop over a map a name of its own
// (bpftrace scopes it to the loop), so that two loops may bind $kv to
// elements of maps of different types.
func scopeLoopVar(s *lang.ForStmt) {
	old := s.Var.Name
	name := old + "'" + strconv.Itoa(s.Pos.Offset)
	s.Var.Name = name
	lang.Inspect(s.Body, func(n lang.Node) bool {
		if v, ok := n.(*lang.Var); ok && v.Name == old {
			v.Name = name
		}
		return true
	})
}

// positionalText lowers str($N) and str($N + K) to the text of the
// parameter (from its K-th byte), as bpftrace reads a parameter given to
// str() as a string whatever it looks like.
func (l *lowerer) positionalText(c *lang.Call) (lang.Expr, bool) {
	if c.Name != "str" || len(c.Args) != 1 {
		return nil, false
	}
	skip := uint64(0)
	arg := c.Args[0]
	if b, ok := arg.(*lang.Binary); ok && b.Op == "+" {
		k, isLit := b.Y.(*lang.IntLit)
		if !isLit {
			return nil, false
		}
		arg, skip = b.X, k.Value
	}
	p, ok := arg.(*lang.Positional)
	if !ok || p.N == 0 {
		return nil, false
	}
	v := ""
	if p.N <= len(l.params) {
		v = l.params[p.N-1]
	}
	if skip > uint64(len(v)) {
		skip = uint64(len(v))
	}
	return &lang.StrLit{Pos: c.Pos, Value: v[skip:]}, true
}

// compoundOps maps each compound assignment to its binary operator.
var compoundOps = map[string]string{
	"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>",
}

func (l *lowerer) lowerExprs(es []lang.Expr) {
	for i, e := range es {
		es[i] = l.lowerExpr(e)
	}
}

// lowerer holds what lowering needs: the program's arguments (positional
// parameters and named options), and the mistakes in named options.
type lowerer struct {
	prog   *lang.Program
	params []string
	args   *programArgs
	errs   []error
	// defines are the constants of --include's headers.
	defines map[string]int64
	// config are the values config().NAME reads (compiler.configValues).
	config map[string]lang.Expr
}

func (l *lowerer) lowerExpr(e lang.Expr) lang.Expr {
	switch x := e.(type) {
	case *lang.Positional:
		if x.N == 0 {
			return &lang.IntLit{Pos: x.Pos, Value: uint64(len(l.params)), Text: "$#"}
		}
		if x.N > len(l.params) {
			return &lang.IntLit{Pos: x.Pos, Value: 0, Text: "0"}
		}
		v := l.params[x.N-1]
		if n, err := strconv.ParseInt(v, 0, 64); err == nil {
			return &lang.IntLit{Pos: x.Pos, Value: uint64(n), Text: v}
		}
		if n, err := strconv.ParseUint(v, 0, 64); err == nil {
			return &lang.IntLit{Pos: x.Pos, Value: n, Text: v}
		}
		return &lang.StrLit{Pos: x.Pos, Value: v}
	case *lang.Ident:
		if n, ok := strings.CutPrefix(x.Name, "__builtin_"); ok && lookupBuiltin(n, false) != nil {
			x.Name = n
		}
		if v, ok := l.defines[x.Name]; ok && lookupBuiltin(x.Name, false) == nil {
			return &lang.IntLit{Pos: x.Pos, Value: uint64(v), Text: x.Name}
		}
	case *lang.Call:
		if s, ok := l.positionalText(x); ok {
			return s
		}
		l.lowerExprs(x.Args)
		if n, ok := strings.CutPrefix(x.Name, "__builtin_"); ok && (lookupBuiltin(n, true) != nil || lookupBuiltin(n, false) != nil) {
			x.Name = n
		}
		if x.Name == "getopt" && len(x.Args) > 0 {
			return l.getopt(x)
		}
		if c := containerOf(x); c != nil {
			return c
		}
		if len(x.Args) == 0 && lookupBuiltin(x.Name, true) == nil && lookupBuiltin(x.Name, false) != nil {
			// pid(), comm(): the function form of a builtin identifier.
			return &lang.Ident{Pos: x.Pos, Name: x.Name}
		}
		if x.Name == "delete" || x.Name == "has_key" {
			if me, ok := x.Args[0].(*lang.MapExpr); ok && len(x.Args) > 1 && me.Keys == nil {
				x.Args = []lang.Expr{&lang.MapExpr{Pos: me.Pos, Name: me.Name, Keys: x.Args[1:]}}
			}
		}
	case *lang.MapExpr:
		l.lowerExprs(x.Keys)
	case *lang.Unary:
		x.X = l.lowerExpr(x.X)
		if x.Op == "+" {
			return x.X
		}
	case *lang.IncDec:
		x.X = l.lowerExpr(x.X)
	case *lang.Binary:
		x.X, x.Y = l.lowerExpr(x.X), l.lowerExpr(x.Y)
	case *lang.Ternary:
		x.Cond, x.Then, x.Else = l.lowerExpr(x.Cond), l.lowerExpr(x.Then), l.lowerExpr(x.Else)
	case *lang.Cast:
		x.X = l.lowerExpr(x.X)
	case *lang.Field:
		x.X = l.lowerExpr(x.X)
		if l.isConfig(x.X) {
			return l.configField(x)
		}
	case *lang.Index:
		x.X, x.Index = l.lowerExpr(x.X), l.lowerExpr(x.Index)
	case *lang.Tuple:
		l.lowerExprs(x.Elems)
	case *lang.BlockExpr:
		for i, st := range x.Stmts {
			x.Stmts[i] = l.lowerStmt(st)
		}
		if x.Value != nil {
			x.Value = l.lowerExpr(x.Value)
		}
	}
	return e
}

// isConfig reports whether x is config() or __builtin_config.
func (l *lowerer) isConfig(x lang.Expr) bool {
	switch x := x.(type) {
	case *lang.Call:
		return x.Name == "config" && len(x.Args) == 0
	case *lang.Ident:
		return x.Name == "__builtin_config"
	}
	return false
}

// configField lowers config().NAME to the value of config variable NAME.
func (l *lowerer) configField(f *lang.Field) lang.Expr {
	v, ok := l.config[f.Name]
	if !ok {
		names := make([]string, 0, len(l.config))
		for n := range l.config {
			names = append(names, n)
		}
		sort.Strings(names)
		hint := "config() has " + strings.Join(names, ", ")
		if near := nearest(f.Name, names); near != "" {
			hint = "did you mean " + near + "?"
		}
		l.errs = append(l.errs, l.prog.Errorf(f, len(f.Name), hint, "config() has no variable %s", f.Name))
		return &lang.IntLit{Pos: f.Pos, Text: "0"}
	}
	switch v := v.(type) {
	case *lang.StrLit:
		return &lang.StrLit{Pos: f.Pos, Value: v.Value}
	case *lang.IntLit:
		return &lang.IntLit{Pos: f.Pos, Value: v.Value, Text: v.Text}
	}
	return v
}

// containerOf lowers container_of(ptr, typeof(struct Foo), member) to
// (struct Foo *)((uint64)ptr - offsetof(struct Foo, member)), as main's
// stdlib macro; nil when the call is not of that form.
func containerOf(x *lang.Call) lang.Expr {
	if x.Name != "container_of" || len(x.Args) != 3 {
		return nil
	}
	ty, ok := x.Args[1].(*lang.Call)
	if !ok || ty.Name != "typeof" || len(ty.Args) != 1 {
		return nil
	}
	name, ok := ty.Args[0].(*lang.Ident)
	member, ok2 := x.Args[2].(*lang.Ident)
	if !ok || !ok2 {
		return nil
	}
	addr := &lang.Cast{Pos: x.Pos, Type: lang.TypeName{Pos: x.Pos, Name: "uint64"}, X: x.Args[0]}
	off := &lang.Call{Pos: x.Pos, Name: "offsetof", Args: []lang.Expr{name, member}}
	return &lang.Cast{Pos: x.Pos, Type: lang.TypeName{Pos: x.Pos, Name: name.Name, Ptr: 1},
		X: &lang.Binary{Pos: x.Pos, Op: "-", X: addr, Y: off}}
}
