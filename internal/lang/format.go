package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// Format prints a program in canonical source form: long probe kinds, one
// statement per line, tabs, and only the parentheses precedence needs.
// Parsing the result gives the same tree (positions and Raw aside). Probes
// from trace specs are preceded by a comment naming the spec.
func Format(p *Program) string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	for _, d := range p.Directives {
		if d.Include != "" {
			fmt.Fprintf(&b, "#include %s\n", d.Include)
		} else {
			fmt.Fprintf(&b, "#define %s %d\n", d.Name, d.Value)
		}
	}
	for i, pr := range p.Probes {
		if i > 0 {
			b.WriteByte('\n')
		}
		formatProbe(&b, pr)
	}
	return b.String()
}

func formatProbe(b *strings.Builder, pr *Probe) {
	if pr.Trace != nil {
		spec := strings.ReplaceAll(pr.Trace.Spec, "\n", " ")
		fmt.Fprintf(b, "// trace: %s\n", spec)
	}
	for i, ap := range pr.Points {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(ap.String())
	}
	if pr.Pred != nil {
		pred := FormatExpr(pr.Pred)
		b.WriteString(" /")
		if strings.HasPrefix(pred, "*") || strings.HasPrefix(pred, "/") {
			b.WriteByte(' ') // not a comment
		}
		b.WriteString(pred)
		b.WriteByte('/')
	}
	b.WriteByte(' ')
	formatBlock(b, pr.Body, 0)
	b.WriteByte('\n')
}

func indent(b *strings.Builder, depth int) {
	for i := 0; i < depth; i++ {
		b.WriteByte('\t')
	}
}

// formatBlock prints { ... } with its statements at depth+1; the caller has
// placed the opening brace's line.
func formatBlock(b *strings.Builder, blk *Block, depth int) {
	b.WriteString("{\n")
	if blk != nil {
		for _, s := range blk.Stmts {
			indent(b, depth+1)
			formatStmt(b, s, depth+1)
			b.WriteByte('\n')
		}
	}
	indent(b, depth)
	b.WriteByte('}')
}

func formatStmt(b *strings.Builder, s Stmt, depth int) {
	switch s := s.(type) {
	case *ExprStmt:
		b.WriteString(FormatExpr(s.X))
		b.WriteByte(';')
	case *AssignStmt:
		fmt.Fprintf(b, "%s %s %s;", FormatExpr(s.LHS), s.Op, FormatExpr(s.RHS))
	case *IfStmt:
		for {
			fmt.Fprintf(b, "if (%s) ", FormatExpr(s.Cond))
			formatBlock(b, s.Then, depth)
			if s.Else == nil {
				return
			}
			b.WriteString(" else ")
			next, ok := s.Else.(*IfStmt)
			if !ok {
				blk, _ := s.Else.(*Block)
				formatBlock(b, blk, depth)
				return
			}
			s = next
		}
	case *WhileStmt:
		fmt.Fprintf(b, "while (%s) ", FormatExpr(s.Cond))
		formatBlock(b, s.Body, depth)
	case *UnrollStmt:
		fmt.Fprintf(b, "unroll (%s) ", FormatExpr(s.Count))
		formatBlock(b, s.Body, depth)
	case *ReturnStmt:
		b.WriteString("return;")
	case *BreakStmt:
		b.WriteString("break;")
	case *ContinueStmt:
		b.WriteString("continue;")
	case *LetStmt:
		b.WriteString("let $" + s.Var.Name)
		if s.Type != nil {
			b.WriteString(": " + s.Type.String())
		}
		if s.Init != nil {
			b.WriteString(" = " + FormatExpr(s.Init))
		}
		b.WriteByte(';')
	case *ForStmt:
		if s.Map != nil {
			fmt.Fprintf(b, "for ($%s : %s) ", s.Var.Name, FormatExpr(s.Map))
		} else {
			fmt.Fprintf(b, "for ($%s : %s..%s) ", s.Var.Name, FormatExpr(s.Lo), FormatExpr(s.Hi))
		}
		formatBlock(b, s.Body, depth)
	case *Block:
		formatBlock(b, s, depth)
	default:
		fmt.Fprintf(b, "/* %T */;", s)
	}
}

// FormatStmt prints a statement in canonical source form, for messages.
func FormatStmt(st Stmt) string {
	var b strings.Builder
	formatStmt(&b, st, 0)
	return strings.TrimSuffix(b.String(), ";")
}

// FormatExpr prints an expression in canonical source form, for messages
// and for Format.
func FormatExpr(e Expr) string {
	var b strings.Builder
	formatExpr(&b, e, precTernary)
	return b.String()
}

// exprPrec is the precedence level of an expression as printed.
func exprPrec(e Expr) int {
	switch e := e.(type) {
	case *Ternary:
		return precTernary
	case *Binary:
		if p, ok := binPrec[e.Op]; ok {
			return p
		}
		return 1
	case *Unary, *Cast:
		return precUnary
	case *IncDec:
		if e.Post {
			return precPostfix
		}
		return precUnary
	case *Field, *Index:
		return precPostfix
	}
	return precPrimary
}

// formatExpr prints e, in parentheses when its precedence is below min.
func formatExpr(b *strings.Builder, e Expr, min int) {
	if e == nil {
		b.WriteString("/* nil */0")
		return
	}
	paren := exprPrec(e) < min
	if paren {
		b.WriteByte('(')
	}
	switch e := e.(type) {
	case *IntLit:
		b.WriteString(intText(e))
	case *StrLit:
		b.WriteString(QuoteString(e.Value))
	case *Var:
		b.WriteString("$" + e.Name)
	case *Positional:
		if e.N == 0 {
			b.WriteString("$#")
		} else {
			b.WriteString("$" + strconv.Itoa(e.N))
		}
	case *MapExpr:
		b.WriteString("@" + e.Name)
		if e.Keys != nil {
			b.WriteByte('[')
			formatList(b, e.Keys)
			b.WriteByte(']')
		}
	case *Ident:
		b.WriteString(e.Name)
	case *Call:
		b.WriteString(e.Name)
		b.WriteByte('(')
		formatList(b, e.Args)
		b.WriteByte(')')
	case *Unary:
		b.WriteString(e.Op)
		var x strings.Builder
		formatExpr(&x, e.X, precUnary)
		// Keep "- -x" and "& &x" from lexing as "--" and "&&".
		if s := x.String(); s != "" && (e.Op == "-" || e.Op == "&") && s[0] == e.Op[0] {
			b.WriteByte(' ')
		}
		b.WriteString(x.String())
	case *IncDec:
		if e.Post {
			formatExpr(b, e.X, precPostfix)
			b.WriteString(e.Op)
		} else {
			b.WriteString(e.Op)
			formatExpr(b, e.X, precUnary)
		}
	case *Binary:
		p := exprPrec(e)
		formatExpr(b, e.X, p)
		fmt.Fprintf(b, " %s ", e.Op)
		formatExpr(b, e.Y, p+1)
	case *Ternary:
		formatExpr(b, e.Cond, precTernary+1)
		if e.Then == nil {
			b.WriteString(" ?: ")
			formatExpr(b, e.Else, precTernary)
			break
		}
		b.WriteString(" ? ")
		formatExpr(b, e.Then, precTernary)
		b.WriteString(" : ")
		formatExpr(b, e.Else, precTernary)
	case *Cast:
		b.WriteString("(" + e.Type.String() + ")")
		if e.Type.Ptr == 0 && !isTypeWord(firstWord(e.Type.Name)) {
			// (name) alone reads as a cast only before a plain operand.
			formatExpr(b, e.X, precPrimary)
		} else {
			formatExpr(b, e.X, precUnary)
		}
	case *Field:
		formatExpr(b, e.X, precPostfix)
		if e.Arrow {
			b.WriteString("->")
		} else {
			b.WriteByte('.')
		}
		b.WriteString(e.Name)
	case *Index:
		formatExpr(b, e.X, precPostfix)
		b.WriteByte('[')
		formatExpr(b, e.Index, precTernary)
		b.WriteByte(']')
	case *Tuple:
		b.WriteByte('(')
		if e.Names != nil {
			for i, x := range e.Elems {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(e.Names[i] + "=")
				formatExpr(b, x, precTernary)
			}
		} else {
			formatList(b, e.Elems)
		}
		b.WriteByte(')')
	case *BlockExpr:
		b.WriteString("{ ")
		for _, st := range e.Stmts {
			formatStmt(b, st, 0)
			b.WriteByte(' ')
		}
		if e.Value != nil {
			formatExpr(b, e.Value, precTernary)
			b.WriteByte(' ')
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "/* %T */0", e)
	}
	if paren {
		b.WriteByte(')')
	}
}

// firstWord returns s up to its first space.
func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

func formatList(b *strings.Builder, xs []Expr) {
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		formatExpr(b, x, precTernary)
	}
}

// intText returns the literal as written when that still reads as its
// value, else its decimal form.
func intText(e *IntLit) string {
	if e.Text != "" {
		lx := newLexer("", e.Text, 0, len(e.Text))
		if t, err := lx.next(); err == nil && t.kind == tInt && t.val == e.Value && t.end == len(e.Text) {
			return e.Text
		}
	}
	return strconv.FormatUint(e.Value, 10)
}

// QuoteString returns s as a double-quoted string literal of the language.
func QuoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// String returns the type as written in a cast: "uint8 *", "struct foo **".
func (t TypeName) String() string {
	if t.Typeof != nil {
		return "typeof(" + FormatExpr(t.Typeof) + ")" + strings.Repeat("*", t.Ptr)
	}
	base := t.Name
	if t.Ptr > 0 {
		base += " " + strings.Repeat("*", t.Ptr)
	}
	switch {
	case t.Array > 0:
		return base + "[" + strconv.Itoa(t.Array) + "]"
	case t.Array < 0:
		return base + "[]"
	}
	return base
}

// String returns the attach point in canonical form: the long kind, parts
// quoted where needed, offsets and addresses in hex, intervals in the
// largest exact unit. Parsing it gives the same attach point.
func (a *AttachPoint) String() string {
	switch a.Kind {
	case KindBegin, KindEnd:
		return a.Kind
	case KindInterval:
		n := a.IntervalNanos
		switch {
		case n != 0 && n%1e9 == 0:
			return fmt.Sprintf("interval:s:%d", n/1e9)
		case n != 0 && n%1e6 == 0:
			return fmt.Sprintf("interval:ms:%d", n/1e6)
		case n != 0 && n%1e3 == 0:
			return fmt.Sprintf("interval:us:%d", n/1e3)
		}
		return fmt.Sprintf("interval:ns:%d", n)
	case KindProfile:
		return profileString(a)
	case KindBench:
		return KindBench + ":" + a.Func
	case KindUSDT:
		s := a.Kind + ":" + quoteTarget(a.Target) + ":"
		if a.Provider != "" {
			s += quoteName(a.Provider) + ":"
		}
		return s + quoteName(a.Func)
	}
	s := a.Kind + ":" + quoteTarget(a.Target) + ":"
	if a.Lang != "" {
		s += a.Lang + ":"
	}
	if a.HasLine {
		line := "*"
		if a.Line >= 0 {
			line = strconv.Itoa(a.Line)
		}
		if a.File != "" {
			return s + quoteField(a.File, `:",{}\`) + ":" + line
		}
		return s + quoteName(a.Func) + ":" + line
	}
	if a.HasAddr {
		return s + fmt.Sprintf("%#x", a.Addr)
	}
	s += quoteName(a.Func)
	if a.HasOffset {
		s += fmt.Sprintf("+%#x", a.Offset)
	}
	return s
}

// quoteField quotes an attach point part when it holds a byte in bad or
// one that ends a part; empty parts stay empty.
func quoteField(s, bad string) string {
	need := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) || strings.IndexByte(bad, c) >= 0 {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// quoteTarget and quoteName quote a '$' too: f$1 would read as a
// positional parameter.
func quoteTarget(s string) string { return quoteField(s, `:",{}\$`) }

func quoteName(s string) string {
	if s != "" && isDigit(s[0]) {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return quoteField(s, `:",{}\/+$`)
}
