package compile

import (
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// Scopes of $variables, resolved after lowering. As in bpftrace main, a
// variable belongs to the block where it is first assigned or declared
// with let, and a let in an inner block, or in a later block, is a new
// variable: every variable that is its own gets its own name here
// ("x", then "x#2" ...), so the passes after see distinct names.
//
// bpftrace 0.17's programs use a variable assigned inside a block after
// the block (if (c) { $s = "a" } else { $s = "b" } print($s)), which main
// rejects. Both can be had: a name used outside every block that assigns
// it keeps 0.17's meaning, one variable for the whole probe, for all its
// assignments that are not a let or a loop's variable.

// scopeSep separates a variable's name from the number that tells apart
// the variables of one name; displayVar removes it in messages.
const scopeSep = "#"

// displayVar is the name of a variable as the program writes it.
func displayVar(name string) string {
	n, _, _ := strings.Cut(name, scopeSep)
	return n
}

type scopeDecl struct {
	name     string
	explicit bool // let, or a for loop's variable
	vars     []*lang.Var
}

type scoper struct {
	scopes  []map[string]*scopeDecl
	decls   []*scopeDecl
	escaped map[string][]*lang.Var // uses no enclosing declaration binds
}

// resolveScopes renames the variables of one probe by scope.
func resolveScopes(p *lang.Probe) {
	s := &scoper{escaped: map[string][]*lang.Var{}}
	if p.Pred != nil {
		s.expr(p.Pred)
	}
	if p.Body != nil {
		s.block(p.Body.Stmts)
	}
	byName := map[string][]*scopeDecl{}
	for _, d := range s.decls {
		byName[d.name] = append(byName[d.name], d)
	}
	for name, ds := range byName {
		_, escapes := s.escaped[name]
		n := 0
		if escapes {
			n = 1 // the probe-wide variable keeps the name
		}
		for _, d := range ds {
			if escapes && !d.explicit {
				continue
			}
			n++
			if n == 1 {
				continue
			}
			for _, v := range d.vars {
				v.Name = name + scopeSep + strconv.Itoa(n)
			}
		}
	}
}

func (s *scoper) push() { s.scopes = append(s.scopes, map[string]*scopeDecl{}) }
func (s *scoper) pop()  { s.scopes = s.scopes[:len(s.scopes)-1] }

func (s *scoper) lookup(name string) *scopeDecl {
	for i := len(s.scopes) - 1; i >= 0; i-- {
		if d := s.scopes[i][name]; d != nil {
			return d
		}
	}
	return nil
}

func (s *scoper) declare(v *lang.Var, explicit bool) {
	d := &scopeDecl{name: v.Name, explicit: explicit, vars: []*lang.Var{v}}
	s.scopes[len(s.scopes)-1][v.Name] = d
	s.decls = append(s.decls, d)
}

func (s *scoper) use(v *lang.Var) {
	if d := s.lookup(v.Name); d != nil {
		d.vars = append(d.vars, v)
		return
	}
	s.escaped[v.Name] = append(s.escaped[v.Name], v)
}

func (s *scoper) block(stmts []lang.Stmt) {
	s.push()
	for _, st := range stmts {
		s.stmt(st)
	}
	s.pop()
}

func (s *scoper) stmt(st lang.Stmt) {
	switch st := st.(type) {
	case *lang.Block:
		s.block(st.Stmts)
	case *lang.ExprStmt:
		s.expr(st.X)
	case *lang.AssignStmt:
		s.expr(st.RHS)
		if v, ok := st.LHS.(*lang.Var); ok {
			if s.lookup(v.Name) == nil && st.Op == "=" {
				s.declare(v, false)
			} else {
				s.use(v)
			}
			return
		}
		s.expr(st.LHS)
	case *lang.LetStmt:
		if st.Init != nil {
			s.expr(st.Init)
		}
		s.declare(st.Var, true)
	case *lang.IfStmt:
		s.expr(st.Cond)
		if st.Then != nil {
			s.block(st.Then.Stmts)
		}
		if st.Else != nil {
			s.stmt(st.Else)
		}
	case *lang.WhileStmt:
		s.expr(st.Cond)
		if st.Body != nil {
			s.block(st.Body.Stmts)
		}
	case *lang.UnrollStmt:
		s.expr(st.Count)
		if st.Body != nil {
			s.block(st.Body.Stmts)
		}
	case *lang.ForStmt:
		s.expr(st.Lo)
		s.expr(st.Hi)
		if st.Map != nil {
			s.expr(st.Map)
		}
		s.push()
		s.declare(st.Var, true)
		if st.Body != nil {
			s.block(st.Body.Stmts)
		}
		s.pop()
	default:
		if st != nil {
			lang.Inspect(st, s.visit)
		}
	}
}

func (s *scoper) expr(e lang.Expr) {
	if e != nil {
		lang.Inspect(e, s.visit)
	}
}

// visit resolves the variables of an expression; a block expression is a
// scope of its own.
func (s *scoper) visit(n lang.Node) bool {
	switch n := n.(type) {
	case *lang.Var:
		s.use(n)
	case *lang.BlockExpr:
		s.push()
		for _, st := range n.Stmts {
			s.stmt(st)
		}
		s.expr(n.Value)
		s.pop()
		return false
	}
	return true
}
