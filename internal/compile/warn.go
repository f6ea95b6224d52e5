package compile

import (
	"github.com/uscope/uscope/internal/lang"
)

// The warnings pass: mistakes that do not stop the program, found on the
// checked program and kept in Plan.Diagnostics, in bpftrace's words: a
// declared map no probe uses, a statement after exit(), return, break or
// continue.
func (c *compiler) warnings() {
	used := map[string]bool{}
	for _, pr := range c.prog.Probes {
		lang.Inspect(pr, func(n lang.Node) bool {
			if m, ok := n.(*lang.MapExpr); ok {
				used[m.Name] = true
			}
			return true
		})
	}
	for _, d := range c.prog.MapDecls {
		if !used[d.Name] {
			c.warn(d, len("let @")+len(d.Name), "remove the declaration, or use the map", "Unused map: @%s", d.Name)
		}
	}
	for _, pr := range c.prog.Probes {
		lang.Inspect(pr, func(n lang.Node) bool {
			switch n := n.(type) {
			case *lang.Block:
				c.unreachable(n.Stmts)
			case *lang.BlockExpr:
				c.unreachable(n.Stmts)
			}
			return true
		})
	}
}

// unreachable warns at the first statement after one that leaves the
// block.
func (c *compiler) unreachable(stmts []lang.Stmt) {
	for i, s := range stmts[:max(len(stmts)-1, 0)] {
		if leaves(s) {
			next := stmts[i+1]
			c.warn(next, nodeLen(next), "remove it, or move it before the statement that leaves", "Unreachable statement")
			return
		}
	}
}

// leaves reports whether a statement always leaves its block.
func leaves(s lang.Stmt) bool {
	switch s := s.(type) {
	case *lang.ReturnStmt, *lang.BreakStmt, *lang.ContinueStmt:
		return true
	case *lang.ExprStmt:
		call, ok := s.X.(*lang.Call)
		return ok && call.Name == "exit"
	}
	return false
}

func (c *compiler) warn(n lang.Node, length int, hint, format string, args ...any) {
	e := c.prog.Errorf(n, length, hint, format, args...)
	e.Warning = true
	c.plan.Diagnostics = append(c.plan.Diagnostics, e)
}
