package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of blocks and expressions, so that hostile
// input cannot exhaust the stack.
const maxDepth = 1000

// The grammar, informally (C precedence and associativity for operators):
//
//	program    = [ "#!" line ] probe { probe }
//	probe      = attach { "," attach } [ "/" expr "/" ] block
//	attach     = BEGIN | END | KIND ":" field { ":" field }   (see AttachPoint)
//	block      = "{" { stmt [ ";" ] } "}"
//	stmt       = expr [ assignop expr ] | if | while | unroll | "return" | block
//	if         = "if" "(" expr ")" block [ "else" ( if | block ) ]
//	while      = "while" "(" expr ")" block
//	unroll     = "unroll" "(" expr ")" block
//	expr       = binary [ "?" expr ":" expr ]
//	binary     = unary { binop unary }         (|| && | ^ & == != < <= > >= << >> + - * / %)
//	unary      = ( "-" | "!" | "~" | "*" | "&" | "++" | "--" ) unary | "(" type ")" unary | postfix
//	postfix    = primary { "." name | "->" name | "[" expr "]" | "++" | "--" }
//	primary    = INT | CHAR | STRING | $name | $N | @name [ "[" expr { "," expr } "]" ]
//	           | name [ "(" [ expr { "," expr } ] ")" ] | "(" expr { "," expr } ")"
//	type       = ( struct|union|enum name | C type words | name ) { "*" }
//
// Simple statements are separated by ';' (optional before '}'); a '/' that
// cannot be followed by an operand ends a predicate.

// Parse parses a program in uscope's bpftrace-compatible language. file names
// the source in messages ("stdin" for a one-liner, as bpftrace names it). The error, if any, is an
// *Error for the first mistake in the text.
func Parse(file, src string) (*Program, error) {
	return ParseParams(file, src, nil)
}

// ParseParams is Parse with the program's positional parameters, which
// attach points may use as bpftrace allows: i:ms:$1, BEG$1, or $1 for a
// whole attach point. Elsewhere $N is an expression, left to the compiler.
func ParseParams(file, src string, params []string) (*Program, error) {
	p := newParser(file, src, 0, len(src))
	p.params = params
	prog := &Program{File: file, Source: src}
	err := p.run(func() {
		p.skipShebang()
		for {
			p.resync()
			p.skipSpace()
			if p.lx.eof() {
				break
			}
			if p.atStructDef() {
				prog.Structs = append(prog.Structs, p.parseStructDef(true))
				if p.peek().is(";") {
					p.next()
				}
				continue
			}
			if p.atWord("macro") {
				prog.Macros = append(prog.Macros, p.parseMacro())
				continue
			}
			if p.lx.at(0) == '#' {
				if d := p.parseDirective(); d != nil {
					prog.Directives = append(prog.Directives, d)
					continue
				}
			}
			if p.atEnumDef() {
				prog.Enums = append(prog.Enums, p.parseEnumDef())
				if p.peek().is(";") {
					p.next()
				}
				continue
			}
			if p.atMapDecl() {
				prog.MapDecls = append(prog.MapDecls, p.parseMapDecl())
				continue
			}
			if p.atConfig() {
				if len(prog.Probes) > 0 {
					p.errAt(p.lx.pos(), 6, "move it to the top of the program", "a config block must come before every probe")
				}
				prog.Config = append(prog.Config, p.parseConfig()...)
				continue
			}
			prog.Probes = append(prog.Probes, p.parseProbe())
		}
		if len(prog.Probes) == 0 {
			p.errAt(p.lx.pos(), 1, "write a probe such as: uprobe:libc:malloc { @bytes = hist(arg0); }", "program has no probes")
		}
	})
	if err != nil {
		return nil, err
	}
	return prog, nil
}

// parser is a recursive-descent parser over a lexer. Attach points are read
// straight from the source (their syntax differs from the token grammar);
// everything else goes through tokens, with lookahead kept in la.
type parser struct {
	lx    *lexer
	la    []token
	last  int // offset just past the last token consumed
	depth int
	// params are the positional parameters attach points may use.
	params []string
}

// bailout carries the first error up the parser's stack.
type bailout struct{ err *Error }

func newParser(file, src string, start, end int) *parser {
	return &parser{lx: newLexer(file, src, start, end)}
}

// run calls f and turns a bailout into an error. Other panics propagate.
func (p *parser) run(f func()) (err *Error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			err = b.err
		}
	}()
	f()
	return nil
}

func (p *parser) fail(err *Error) { panic(bailout{err}) }

// errAt stops parsing with an error at pos underlining n bytes.
func (p *parser) errAt(pos Pos, n int, hint, format string, args ...any) {
	p.fail(p.lx.errorf(pos, n, hint, format, args...))
}

// unexpected stops parsing with "unexpected TOKEN; hint".
func (p *parser) unexpected(t token, hint string) {
	pos := t.pos
	if t.kind == tEOF {
		pos = p.endPos(pos)
	}
	p.errAt(pos, t.length(), hint, "unexpected %s", t.describe())
}

// endPos moves an end-of-input position back over trailing white space, so
// that the caret shows just after the last text rather than on an empty
// line.
func (p *parser) endPos(eof Pos) Pos {
	src := p.lx.src
	off := eof.Offset
	for off > 0 && off <= len(src) && isSpace(src[off-1]) {
		off--
	}
	if off == eof.Offset {
		return eof
	}
	line := eof.Line - strings.Count(src[off:eof.Offset], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return Pos{Line: line, Col: off - start + 1, Offset: off}
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		t := p.peek()
		p.errAt(t.pos, t.length(), "split the expression or block into smaller parts", "program is nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

// peekN returns the token n places ahead without consuming it.
func (p *parser) peekN(n int) token {
	for len(p.la) <= n {
		t, err := p.lx.next()
		if err != nil {
			p.fail(err)
		}
		p.la = append(p.la, t)
	}
	return p.la[n]
}

func (p *parser) peek() token { return p.peekN(0) }

// next consumes and returns the next token.
func (p *parser) next() token {
	t := p.peek()
	p.la = p.la[1:]
	p.last = t.end
	return t
}

// expect consumes the operator op or stops with an error whose hint is hint
// (or "expected 'op'").
func (p *parser) expect(op, hint string) token {
	t := p.peek()
	if !t.is(op) {
		if hint == "" {
			hint = "expected '" + op + "'"
		}
		p.unexpected(t, hint)
	}
	return p.next()
}

// resync drops the lookahead and moves the lexer back to the first token not
// consumed, so that raw scanning of attach points can start there.
func (p *parser) resync() {
	if len(p.la) > 0 {
		p.lx.reset(p.la[0].pos)
		p.la = p.la[:0]
	}
}

func (p *parser) skipSpace() {
	if err := p.lx.skipSpace(); err != nil {
		p.fail(err)
	}
}

// skipShebang skips a "#!" first line.
func (p *parser) skipShebang() {
	if p.lx.off == 0 && p.lx.at(0) == '#' && p.lx.at(1) == '!' {
		for !p.lx.eof() && p.lx.at(0) != '\n' {
			p.lx.advance()
		}
	}
}

// parseProbe parses ATTACH[, ATTACH...] [/PRED/] { BODY }. The lexer is at
// the first attach point and the lookahead is empty.
func (p *parser) parseProbe() *Probe {
	probe := &Probe{}
	for {
		probe.Points = append(probe.Points, p.parseAttachPoint())
		p.skipSpace()
		if p.lx.eof() || p.lx.at(0) != ',' {
			break
		}
		comma := p.lx.pos()
		p.lx.advance()
		p.skipSpace()
		if p.lx.eof() || p.lx.at(0) == '{' || p.lx.at(0) == '/' {
			p.errAt(comma, 1, "remove the ',' or add another attach point", "expected an attach point after ','")
		}
	}
	probe.Pos = probe.Points[0].Pos
	last := probe.Points[len(probe.Points)-1]
	adjacent := p.lx.off == last.Pos.Offset+len(last.Raw)

	t := p.peek()
	if t.is("/") {
		p.next()
		probe.Pred = p.parsePredicate(adjacent)
		t = p.peek()
		if !t.is("{") {
			p.errAt(t.pos, t.length(), "expected '{' after the predicate", "missing '{' after predicate")
		}
	} else if !t.is("{") {
		p.errAt(t.pos, t.length(), fmt.Sprintf("expected '{', ',' or a /predicate/, found %s", t.describe()), "missing '{' after attach point")
	}
	probe.Body = p.parseBlock()
	return probe
}

// parsePredicate parses the expression between slashes and the closing
// slash. When the predicate touches the attach point (f/...), a mistake is
// likely a '/' in an unquoted function name, and the hint says so.
func (p *parser) parsePredicate(adjacent bool) (pred Expr) {
	if adjacent {
		defer func() {
			if r := recover(); r != nil {
				if b, ok := r.(bailout); ok && b.err.Hint != "" {
					b.err.Hint += `; if the function name contains '/', quote it: uprobe:/bin/app:"net/http.Get"`
				}
				panic(r)
			}
		}()
	}
	pred = p.parseExpr()
	t := p.peek()
	if !t.is("/") {
		p.unexpected(t, "expected '/' to end the predicate")
	}
	p.next()
	return pred
}

// parseBlock parses { statements }.
func (p *parser) parseBlock() *Block {
	open := p.peek()
	if !open.is("{") {
		p.unexpected(open, "expected '{' to start a block")
	}
	stmts, _ := p.parseStmts(false)
	return &Block{Pos: open.pos, Stmts: stmts}
}

// parseStmts parses the statements between '{' (at the head of the
// lookahead) and '}'. With valueOK, a last expression without ';' is the
// block's value (a block expression).
func (p *parser) parseStmts(valueOK bool) (stmts []Stmt, value Expr) {
	open := p.next()
	p.enter()
	defer p.leave()
	for {
		t := p.peek()
		switch {
		case t.is("}"):
			p.next()
			return stmts, nil
		case t.is(";"):
			p.next()
			continue
		case t.kind == tEOF:
			p.errAt(p.endPos(t.pos), 1, fmt.Sprintf("expected '}' to close the block opened at %s", open.pos), "unexpected end of input")
		}
		s, needSemi := p.parseStmt()
		if es, ok := s.(*ExprStmt); ok && valueOK && p.peek().is("}") {
			p.next()
			return stmts, es.X
		}
		if is, ok := s.(*IfStmt); ok && valueOK && p.peek().is("}") {
			if v, ok := ifValue(is); ok {
				p.next()
				return stmts, v
			}
		}
		stmts = append(stmts, s)
		t = p.peek()
		if t.is(";") {
			p.next()
			continue
		}
		if needSemi && !t.is("}") {
			p.unexpected(t, "expected ';' or '}' after statement")
		}
	}
}

// assignOps are the assignment operators.
var assignOps = map[string]bool{
	"=": true, "+=": true, "-=": true, "*=": true, "/=": true, "%=": true,
	"&=": true, "|=": true, "^=": true, "<<=": true, ">>=": true,
}

// parseStmt parses one statement. needSemi reports whether a ';' or '}'
// must follow it (block statements need neither).
func (p *parser) parseStmt() (s Stmt, needSemi bool) {
	t := p.peek()
	switch {
	case t.isWord("if"):
		return p.parseIf(), false
	case t.isWord("while"):
		p.next()
		cond := p.parseCond("while")
		return &WhileStmt{Pos: t.pos, Cond: cond, Body: p.parseBlock()}, false
	case t.isWord("unroll"):
		p.next()
		n := p.parseCond("unroll")
		return &UnrollStmt{Pos: t.pos, Count: n, Body: p.parseBlock()}, false
	case t.isWord("return"):
		p.next()
		if n := p.peek(); !n.is(";") && !n.is("}") && n.kind != tEOF {
			// return EXPR: a probe's value is not used; EXPR runs for
			// its effects, as in bpftrace.
			x := p.parseExpr()
			return &Block{Pos: t.pos, Stmts: []Stmt{&ExprStmt{X: x}, &ReturnStmt{Pos: t.pos}}}, true
		}
		return &ReturnStmt{Pos: t.pos}, true
	case t.isWord("else"):
		p.errAt(t.pos, t.length(), "else must follow the block of an if", "'else' without 'if'")
	case t.is("{"):
		return p.parseBlock(), false
	case t.isWord("for"):
		return p.parseFor(), false
	case t.isWord("let"):
		return p.parseLet(), true
	case t.isWord("break"):
		p.next()
		return &BreakStmt{Pos: t.pos}, true
	case t.isWord("continue"):
		p.next()
		return &ContinueStmt{Pos: t.pos}, true
	}
	x := p.parseExpr()
	op := p.peek()
	if id, ok := x.(*Ident); ok && id.Name == "_" && op.is("=") {
		// _ = EXPR discards the value, as in bpftrace.
		p.next()
		return &ExprStmt{X: p.parseExpr()}, true
	}
	if op.kind == tOp && assignOps[op.text] {
		if !isLvalue(x) {
			p.errAt(t.pos, p.last-t.pos.Offset, "assign to a $variable or an @map element", "cannot assign to %s", FormatExpr(x))
		}
		p.next()
		rhs := p.parseExpr()
		return &AssignStmt{Pos: t.pos, Op: op.text, LHS: x, RHS: rhs}, true
	}
	return &ExprStmt{X: x}, true
}

// isLvalue reports whether x can be assigned or incremented.
func isLvalue(x Expr) bool {
	switch x.(type) {
	case *Var, *MapExpr:
		return true
	}
	return false
}

// parseLet parses let $x [: type] [= value].
func (p *parser) parseLet() *LetStmt {
	kw := p.next()
	v := p.peek()
	if v.kind != tVar {
		p.unexpected(v, "write let $name = value")
	}
	p.next()
	s := &LetStmt{Pos: kw.pos, Var: &Var{Pos: v.pos, Name: v.str}}
	if p.peek().is(":") {
		p.next()
		ty := p.parseType()
		if p.peek().is("[") {
			// let $w: struct W[10], let $p: struct Foo *[2]: an array.
			p.next()
			n := p.peek()
			if n.kind != tInt || n.val == 0 {
				p.unexpected(n, "expected the array's length, e.g. int32[4]")
			}
			p.next()
			ty.Array = int(n.val)
			p.expect("]", "expected ']' after the array's length")
		}
		s.Type = &ty
	}
	if p.peek().is("=") {
		p.next()
		s.Init = p.parseExpr()
	}
	return s
}

// parseDirective parses a #define NAME INTEGER or #include <HEADER> line,
// or returns nil for another line starting with '#' (the attach point
// parser says what is wrong with it).
func (p *parser) parseDirective() *Directive {
	start := p.lx.pos()
	rest := p.lx.src[p.lx.off:p.lx.end]
	line := rest
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		line = rest[:i]
	}
	words := strings.Fields(strings.TrimPrefix(line, "#"))
	if len(words) == 0 {
		return nil
	}
	d := &Directive{Pos: start}
	switch {
	case words[0] == "include" && len(words) == 2:
		d.Include = words[1]
	case words[0] == "define" && len(words) >= 2:
		d.Name = words[1]
		if name, _, ok := strings.Cut(d.Name, "("); ok {
			p.errAt(start, len(line), "use a macro: macro "+name+"(a, b) { ... }", "uscope has no C preprocessor: cannot #define the function-like macro %s", name)
		}
		text := strings.TrimSpace(strings.Join(words[2:], " "))
		v, err := strconv.ParseInt(strings.TrimRight(strings.Trim(text, "()"), "uUlL"), 0, 64)
		if err != nil || !isWordText(d.Name) {
			p.errAt(start, len(line), "uscope has no C preprocessor: #define gives integer constants only, e.g. #define N 16", "cannot #define %s as %q", d.Name, text)
		}
		d.Value = v
	default:
		return nil
	}
	for i := 0; i < len(line); i++ {
		p.lx.advance()
	}
	return d
}

// parseFor parses for ($v : lo..hi) { } and for ($kv : @map) { }; the
// parentheses are optional, as in bpftrace.
func (p *parser) parseFor() *ForStmt {
	kw := p.next()
	paren := p.peek().is("(")
	if paren {
		p.next()
	}
	v := p.peek()
	if v.kind != tVar {
		p.unexpected(v, "write for ($i : 0..10) { ... } or for ($kv : @map) { ... }")
	}
	p.next()
	p.expect(":", "expected ':' after the loop variable")
	s := &ForStmt{Pos: kw.pos, Var: &Var{Pos: v.pos, Name: v.str}}
	first := p.parseUnary()
	if p.peek().is("..") {
		p.next()
		s.Lo, s.Hi = first, p.parseUnary()
	} else if m, ok := first.(*MapExpr); ok && m.Keys == nil {
		s.Map = m
	} else {
		p.errAt(first.Position(), 1, "write for ($i : 0..10) or for ($kv : @map)", "a for loop runs over a range lo..hi or a whole map")
	}
	if paren {
		p.expect(")", "expected ')' after the loop's range")
	}
	if t := p.peek(); !t.is("{") {
		p.unexpected(t, "expected '{' after for (...)")
	}
	s.Body = p.parseBlock()
	return s
}

// parseCond parses the condition of if/while or count of unroll:
// parenthesized, or for if and while a bare expression before '{' as
// bpftrace main allows.
func (p *parser) parseCond(kw string) Expr {
	hint := fmt.Sprintf("write %s (...) { ... }", kw)
	if kw != "unroll" && !p.peek().is("(") {
		x := p.parseUnaryChain()
		if t := p.peek(); !t.is("{") {
			p.unexpected(t, fmt.Sprintf("expected '{' after %s's condition", kw))
		}
		return x
	}
	p.expect("(", hint)
	x := p.parseExpr()
	p.expect(")", "expected ')' to close the "+kw+" condition")
	if t := p.peek(); !t.is("{") {
		p.unexpected(t, fmt.Sprintf("expected '{' after %s (...)", kw))
	}
	return x
}

// ifValue turns an if statement that ends a block expression into the
// value it gives, when every branch ends with an expression and there is
// an else: { ...; if (c) { a } else { b } } gives a or b.
func ifValue(s *IfStmt) (Expr, bool) {
	blockValue := func(b *Block) (Expr, bool) {
		if b == nil || len(b.Stmts) == 0 {
			return nil, false
		}
		var v Expr
		switch last := b.Stmts[len(b.Stmts)-1].(type) {
		case *ExprStmt:
			v = last.X
		case *IfStmt:
			var ok bool
			if v, ok = ifValue(last); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
		return &BlockExpr{Pos: b.Pos, Stmts: b.Stmts[:len(b.Stmts)-1], Value: v}, true
	}
	then, ok := blockValue(s.Then)
	if !ok {
		return nil, false
	}
	var els Expr
	switch e := s.Else.(type) {
	case *Block:
		els, ok = blockValue(e)
	case *IfStmt:
		els, ok = ifValue(e)
	default:
		ok = false
	}
	if !ok {
		return nil, false
	}
	return &Ternary{Pos: s.Pos, Cond: s.Cond, Then: then, Else: els}, true
}

// parseIfExpr parses if (c) { ...; a } else { ...; b } where a value is
// expected, as main allows: a ?: of two block expressions.
func (p *parser) parseIfExpr() Expr {
	kw := p.next()
	cond := p.parseCond("if")
	x := &Ternary{Pos: kw.pos, Cond: cond, Then: p.parseBlockExpr()}
	if !p.peek().isWord("else") {
		p.unexpected(p.peek(), "an if that gives a value needs an else: if (c) { a } else { b }")
	}
	x.Else = parseElse(p, p.parseIfExpr, func() Expr { return p.parseBlockExpr() })
	return x
}

func (p *parser) parseIf() *IfStmt {
	kw := p.next()
	cond := p.parseCond("if")
	s := &IfStmt{Pos: kw.pos, Cond: cond, Then: p.parseBlock()}
	if p.peek().isWord("else") {
		s.Else = parseElse(p, func() Stmt { return p.parseIf() }, func() Stmt { return p.parseBlock() })
	}
	return s
}

// parseElse parses an else and what follows it, for if statements and if
// expressions alike: another if (elseIf, one nesting level deeper) or a
// block.
func parseElse[T any](p *parser, elseIf, block func() T) T {
	p.next() // else
	if p.peek().isWord("if") {
		p.enter()
		defer p.leave()
		return elseIf()
	}
	if t := p.peek(); !t.is("{") {
		p.unexpected(t, "expected '{' or 'if' after else")
	}
	return block()
}

// parseExpr parses a full expression (a ternary).
func (p *parser) parseExpr() Expr {
	p.enter()
	defer p.leave()
	cond := p.parseBinary(1)
	t := p.peek()
	if !t.is("?") {
		return cond
	}
	p.next()
	if p.peek().is(":") {
		// cond ?: else
		p.next()
		return &Ternary{Pos: t.pos, Cond: cond, Else: p.parseExpr()}
	}
	then := p.parseExpr()
	p.expect(":", "expected ':' in cond ? a : b")
	els := p.parseExpr()
	return &Ternary{Pos: t.pos, Cond: cond, Then: then, Else: els}
}

// binPrec gives the precedence of each binary operator; higher binds
// tighter. All are left-associative.
var binPrec = map[string]int{
	"||": 1,
	"&&": 2,
	"|":  3,
	"^":  4,
	"&":  5,
	"==": 6, "!=": 6,
	"<": 7, "<=": 7, ">": 7, ">=": 7,
	"<<": 8, ">>": 8,
	"+": 9, "-": 9,
	"*": 10, "/": 10, "%": 10,
}

// Precedence levels above the binary operators, for the printer.
const (
	precTernary = 0
	precUnary   = 11
	precPostfix = 12
	precPrimary = 13
)

// parseBinary parses operators of precedence minPrec and above by
// precedence climbing.
func (p *parser) parseBinary(minPrec int) Expr {
	x := p.parseUnary()
	for {
		t := p.peek()
		if t.kind != tOp {
			return x
		}
		prec, ok := binPrec[t.text]
		if !ok || prec < minPrec {
			return x
		}
		if t.text == "/" && !canStartExpr(p.peekN(1)) {
			// Not a division: the '/' closes a predicate (/pid == 1/ {).
			return x
		}
		p.next()
		y := p.parseBinary(prec + 1)
		x = &Binary{Pos: t.pos, Op: t.text, X: x, Y: y}
	}
}

// canStartExpr reports whether an expression can begin with t.
func canStartExpr(t token) bool {
	switch t.kind {
	case tEOF:
		return false
	case tOp:
		switch t.text {
		case "(", "-", "!", "~", "*", "&", "++", "--":
			return true
		}
		return false
	case tIdent:
		return !keywords[t.str] || t.str == "struct" || t.str == "union" || t.str == "enum"
	}
	return true
}

// parseUnary parses prefix operators and casts.
func (p *parser) parseUnary() Expr {
	t := p.peek()
	if t.kind != tOp {
		return p.parsePostfix()
	}
	switch t.text {
	case "-", "!", "~", "*", "&":
		p.next()
		p.enter()
		x := p.parseUnary()
		p.leave()
		return &Unary{Pos: t.pos, Op: t.text, X: x}
	case "++", "--":
		p.next()
		p.enter()
		start := p.peek()
		x := p.parseUnary()
		p.leave()
		if !isLvalue(x) {
			p.errAt(start.pos, p.last-start.pos.Offset, "apply "+t.text+" to a $variable or an @map element", "cannot apply %s to %s", t.text, FormatExpr(x))
		}
		return &IncDec{Pos: t.pos, Op: t.text, X: x}
	case "(":
		if p.castAhead() {
			p.next()
			ty := p.parseType()
			if p.peek().is("[") && ty.Ptr == 0 {
				// (int8[8])x, (uint8[])x: an integer as an array.
				p.next()
				ty.Array = -1
				if n := p.peek(); n.kind == tInt {
					p.next()
					if n.val == 0 || n.val > 64 {
						p.errAt(n.pos, n.length(), "", "an array cast has 1 to 64 elements")
					}
					ty.Array = int(n.val)
				}
				p.expect("]", "expected ']' after the array's length")
			}
			p.expect(")", "expected ')' after the type of a cast")
			p.enter()
			x := p.parseUnary()
			p.leave()
			return &Cast{Pos: t.pos, Type: ty, X: x}
		}
	}
	return p.parsePostfix()
}

// typeWords are the single-word type names of casts.
var typeWords = map[string]bool{
	"int8": true, "int16": true, "int32": true, "int64": true,
	"uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"uchar": true, "ushort": true, "uint": true, "ulong": true, "uintptr": true,
	"bool": true, "void": true, "float": true, "double": true,
}

// typeAliases maps kernel and C spellings to the language's type names.
var typeAliases = map[string]string{
	"u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
	"s8": "int8", "s16": "int16", "s32": "int32", "s64": "int64",
	"__u8": "uint8", "__u16": "uint16", "__u32": "uint32", "__u64": "uint64",
	"__s8": "int8", "__s16": "int16", "__s32": "int32", "__s64": "int64",
	"int8_t": "int8", "int16_t": "int16", "int32_t": "int32", "int64_t": "int64",
	"uint8_t": "uint8", "uint16_t": "uint16", "uint32_t": "uint32", "uint64_t": "uint64",
	"uintptr_t": "uintptr", "_Bool": "bool",
}

// cWords are C's basic type keywords, which combine (unsigned long long).
var cWords = map[string]bool{"char": true, "short": true, "int": true, "long": true, "signed": true, "unsigned": true}

// typeQualifiers are accepted in casts and dropped.
var typeQualifiers = map[string]bool{"const": true, "volatile": true, "restrict": true}

// isTypeWord reports whether an identifier starts a type: a type name, a
// qualifier, struct/union/enum, or a C typedef ending in _t.
func isTypeWord(s string) bool {
	return typeWords[s] || typeAliases[s] != "" || cWords[s] || typeQualifiers[s] ||
		s == "struct" || s == "union" || s == "enum" || len(s) > 2 && strings.HasSuffix(s, "_t")
}

// castAhead reports whether the '(' at the head of the lookahead starts a
// cast: ( TYPEWORD ... ), ( NAME * ... ), or ( NAME ) before an operand.
func (p *parser) castAhead() bool {
	t := p.peekN(1)
	if t.kind != tIdent || keywords[t.str] && t.str != "struct" && t.str != "union" && t.str != "enum" {
		return false
	}
	if isTypeWord(t.str) {
		return true
	}
	i := 2
	for p.peekN(i).is("*") {
		i++
		if i > maxDepth {
			return false
		}
	}
	if !p.peekN(i).is(")") {
		return false
	}
	if i > 2 {
		return true // (NAME *) cannot be an expression
	}
	// (NAME) is a cast when an operand follows that cannot continue an
	// expression: (mytype)arg0, but not (pid) - 1.
	switch n := p.peekN(3); n.kind {
	case tIdent:
		return !keywords[n.str] || n.str == "struct" || n.str == "union" || n.str == "enum"
	case tInt, tString, tVar, tPositional, tMap:
		return true
	case tOp:
		return n.text == "(" || n.text == "!" || n.text == "~"
	}
	return false
}

// cTypeName folds a combination of C's basic type words into one name:
// unsigned long long -> ulong, short int -> short, unsigned -> uint.
func cTypeName(words []string) (string, bool) {
	var signed, unsigned, char, short, int_, long int
	for _, w := range words {
		switch w {
		case "signed":
			signed++
		case "unsigned":
			unsigned++
		case "char":
			char++
		case "short":
			short++
		case "int":
			int_++
		case "long":
			long++
		}
	}
	u := ""
	if unsigned > 0 {
		u = "u"
	}
	switch {
	case signed+unsigned > 1 || char > 1 || short > 1 || int_ > 1 || long > 2 ||
		char+short+min(long, 1) > 1 || char > 0 && int_ > 0:
		return "", false
	case char > 0:
		return u + "char", true
	case short > 0:
		return u + "short", true
	case long > 0:
		return u + "long", true
	}
	return u + "int", true
}

// parseType parses the type of a cast: a name, then '*'s. Type names are
// normalized: C's combinations fold into one word (unsigned long -> ulong),
// kernel and stdint spellings become the language's (u32, uint32_t ->
// uint32), qualifiers (const, volatile) are dropped, and struct, union and
// enum keep their keyword ("struct foo").
func (p *parser) parseType() TypeName {
	start := p.peek()
	ty := TypeName{Pos: start.pos}
	for {
		t := p.peek()
		if t.kind == tIdent && typeQualifiers[t.str] {
			p.next()
			continue
		}
		break
	}
	t := p.peek()
	switch {
	case t.kind == tIdent && t.str == "typeof" && p.peekN(1).is("("):
		// typeof(TYPE) is TYPE; typeof(EXPR) the type of EXPR.
		p.next()
		if p.typeAhead() {
			p.next()
			ty = p.parseType()
		} else {
			p.next()
			ty.Typeof = p.parseExpr()
		}
		p.expect(")", "expected ')' after typeof's type or expression")
	case t.kind != tIdent || keywords[t.str] && t.str != "struct" && t.str != "union" && t.str != "enum":
		p.unexpected(t, "expected a type name")
	case t.str == "struct" || t.str == "union" || t.str == "enum":
		p.next()
		n := p.peek()
		if n.kind != tIdent || keywords[n.str] {
			p.unexpected(n, "expected a name after "+t.str)
		}
		p.next()
		ty.Name = t.str + " " + n.str
	case cWords[t.str]:
		var words []string
		for {
			w := p.peek()
			if w.kind == tIdent && typeQualifiers[w.str] {
				p.next()
				continue
			}
			if w.kind != tIdent || !cWords[w.str] {
				break
			}
			p.next()
			words = append(words, w.str)
		}
		name, ok := cTypeName(words)
		if !ok {
			p.errAt(t.pos, p.last-t.pos.Offset, "use a C type such as unsigned long, or int8..int64 and uint8..uint64", "invalid type %q", strings.Join(words, " "))
		}
		ty.Name = name
	default:
		p.next()
		ty.Name = t.str
		if a := typeAliases[t.str]; a != "" {
			ty.Name = a
		}
	}
	for {
		t := p.peek()
		if t.is("*") {
			p.next()
			ty.Ptr++
			continue
		}
		if t.kind == tIdent && typeQualifiers[t.str] {
			p.next()
			continue
		}
		break
	}
	return ty
}

// parsePostfix parses a primary expression and its postfix operators.
func (p *parser) parsePostfix() Expr {
	x := p.parsePrimary()
	for {
		t := p.peek()
		switch {
		case t.is(".") || t.is("->"):
			p.next()
			n := p.peek()
			if n.kind != tIdent && !(n.kind == tInt && t.text == "." && isDigit(n.text[0]) && !strings.ContainsAny(n.text, "xXbB_")) {
				p.unexpected(n, "expected a field name after '"+t.text+"'")
			}
			p.next()
			x = &Field{Pos: t.pos, X: x, Name: n.text, Arrow: t.text == "->"}
		case t.is("["):
			p.next()
			i := p.parseExpr()
			p.expect("]", "expected ']' after the index")
			x = &Index{Pos: t.pos, X: x, Index: i}
		case t.is("++") || t.is("--"):
			if !isLvalue(x) {
				p.errAt(t.pos, t.length(), "apply "+t.text+" to a $variable or an @map element", "cannot apply %s to %s", t.text, FormatExpr(x))
			}
			p.next()
			x = &IncDec{Pos: t.pos, Op: t.text, X: x, Post: true}
		default:
			return x
		}
	}
}

// parseList parses comma-separated expressions up to the closing operator,
// which it consumes.
func (p *parser) parseList(close, what string) []Expr {
	var xs []Expr
	if p.peek().is(close) {
		p.next()
		return xs
	}
	for {
		xs = append(xs, p.parseExpr())
		t := p.peek()
		if t.is(",") {
			p.next()
			continue
		}
		if t.is(close) {
			p.next()
			return xs
		}
		p.unexpected(t, fmt.Sprintf("expected ',' or '%s' in %s", close, what))
	}
}

// parsePrimary parses literals, names, calls, maps and parentheses.
func (p *parser) parsePrimary() Expr {
	t := p.peek()
	switch t.kind {
	case tInt:
		p.next()
		return &IntLit{Pos: t.pos, Value: t.val, Text: t.text}
	case tString:
		p.next()
		return &StrLit{Pos: t.pos, Value: t.str}
	case tVar:
		p.next()
		return &Var{Pos: t.pos, Name: t.str}
	case tPositional:
		p.next()
		return &Positional{Pos: t.pos, N: int(t.val)}
	case tMap:
		p.next()
		m := &MapExpr{Pos: t.pos, Name: t.str}
		if p.peek().is("[") {
			open := p.next()
			if p.peek().is("]") {
				p.errAt(open.pos, 2, "write @name[key] or @name", "empty map key")
			}
			m.Keys = p.parseList("]", "map keys")
		}
		return m
	case tIdent:
		if t.str == "true" || t.str == "false" {
			p.next()
			v := uint64(0)
			if t.str == "true" {
				v = 1
			}
			return &IntLit{Pos: t.pos, Value: v, Text: t.str}
		}
		if t.str == "if" {
			return p.parseIfExpr()
		}
		if keywords[t.str] {
			p.unexpected(t, "expected an expression")
		}
		p.next()
		if (t.str == "sizeof" || t.str == "typeof") && p.peek().is("(") && p.typeAhead() {
			// sizeof(TYPE), typeof(TYPE): the type travels as an
			// identifier "struct Foo *".
			p.next()
			ty := p.parseType()
			p.expect(")", "expected ')' after the type")
			return &Call{Pos: t.pos, Name: t.str, Args: []Expr{&Ident{Pos: ty.Pos, Name: ty.String()}}}
		}
		if t.str == "offsetof" && p.peek().is("(") {
			return p.parseOffsetof(t)
		}
		if p.peek().is("(") {
			p.next()
			return &Call{Pos: t.pos, Name: t.str, Args: p.parseList(")", "the arguments of "+t.str+"()")}
		}
		return &Ident{Pos: t.pos, Name: t.str}
	case tOp:
		if t.is("{") {
			return p.parseBlockExpr()
		}
		if t.is("(") {
			p.next()
			if p.peek().kind == tIdent && p.peekN(1).is("=") {
				return p.parseRecord(t)
			}
			first := p.parseExpr()
			if p.peek().is(",") {
				elems := []Expr{first}
				for p.peek().is(",") {
					p.next()
					elems = append(elems, p.parseExpr())
				}
				p.expect(")", "expected ',' or ')' in a tuple")
				return &Tuple{Pos: t.pos, Elems: elems}
			}
			p.expect(")", fmt.Sprintf("expected ')' to close the '(' at %s", t.pos))
			return first
		}
	}
	p.unexpected(t, "expected an expression")
	return nil
}

// parseOffsetof parses offsetof(TYPE, member[.member...]) or
// offsetof(EXPR, member...) after its name: the type travels as an
// identifier ("struct Foo"), as sizeof's does, and the member path as an
// identifier "a.b".
func (p *parser) parseOffsetof(name token) Expr {
	isType := p.typeAhead()
	p.next()
	var of Expr
	if isType {
		ty := p.parseType()
		of = &Ident{Pos: ty.Pos, Name: ty.String()}
	} else {
		of = p.parseExpr()
	}
	p.expect(",", "offsetof takes a struct and a member: offsetof(struct Foo, x)")
	first := p.next()
	if first.kind != tIdent {
		p.unexpected(first, "expected a member name")
	}
	path := first.str
	for p.peek().is(".") {
		p.next()
		m := p.next()
		if m.kind != tIdent {
			p.unexpected(m, "expected a member name after '.'")
		}
		path += "." + m.str
	}
	p.expect(")", "expected ')' after the member")
	return &Call{Pos: name.pos, Name: "offsetof", Args: []Expr{of, &Ident{Pos: first.pos, Name: path}}}
}

// parseRecord parses a record after its '(': name = expr { , name = expr } ).
func (p *parser) parseRecord(open token) Expr {
	r := &Tuple{Pos: open.pos}
	seen := map[string]bool{}
	for {
		name := p.next()
		if name.kind != tIdent {
			p.unexpected(name, "expected a field name in a record: (name = value, ...)")
		}
		if seen[name.str] {
			p.errAt(name.pos, len(name.str), "", "field %q appears twice in the record", name.str)
		}
		seen[name.str] = true
		p.expect("=", "expected '=' after a record's field name")
		r.Names = append(r.Names, name.str)
		r.Elems = append(r.Elems, p.parseExpr())
		if !p.peek().is(",") {
			break
		}
		p.next()
	}
	p.expect(")", fmt.Sprintf("expected ',' or ')' in the record opened at %s", open.pos))
	return r
}

// parseUnaryChain parses a condition written without parentheses: binary
// operators are allowed, but a '{' ends it (it opens the block).
func (p *parser) parseUnaryChain() Expr { return p.parseBinary(1) }

// atConfig reports whether the source continues with config = {.
func (p *parser) atConfig() bool {
	rest := p.lx.src[p.lx.off:p.lx.end]
	word, ok := strings.CutPrefix(rest, "config")
	if !ok {
		return false
	}
	return strings.HasPrefix(strings.TrimLeft(word, " \t\r\n"), "=")
}

// parseConfig parses config = { key = value; ... }: values are numbers,
// words or strings.
func (p *parser) parseConfig() []*ConfigItem {
	p.next() // config
	p.expect("=", "write config = { key = value; ... }")
	p.expect("{", "write config = { key = value; ... }")
	var items []*ConfigItem
	for {
		t := p.peek()
		switch {
		case t.is("}"):
			p.next()
			return items
		case t.is(";"):
			p.next()
			continue
		case t.kind != tIdent:
			p.unexpected(t, "expected a config key such as max_strlen")
		}
		p.next()
		p.expect("=", "write "+t.str+" = value")
		v := p.next()
		it := &ConfigItem{Pos: t.pos, Key: t.str, Len: v.end - t.pos.Offset}
		switch v.kind {
		case tInt:
			it.Value = strconv.FormatUint(v.val, 10)
		case tString:
			it.Value = v.str
		case tIdent:
			it.Value = v.str
		default:
			p.unexpected(v, "expected a number, a word or a string as the value of "+t.str)
		}
		items = append(items, it)
	}
}

// atStructDef reports whether the source continues with a struct or union
// definition: struct NAME {.
func (p *parser) atStructDef() bool {
	rest := p.lx.src[p.lx.off:p.lx.end]
	for _, kw := range []string{"struct", "union"} {
		if after, ok := strings.CutPrefix(rest, kw); ok && len(after) > 0 && isSpace(after[0]) {
			after = strings.TrimLeft(after, " \t\r\n")
			i := 0
			for i < len(after) && (isLetter(after[i]) || isDigit(after[i])) {
				i++
			}
			return i > 0 && strings.HasPrefix(strings.TrimLeft(after[i:], " \t\r\n"), "{")
		}
	}
	return false
}

// atEnumDef reports whether the source continues with enum [NAME] {.
func (p *parser) atEnumDef() bool {
	after, ok := strings.CutPrefix(p.lx.src[p.lx.off:p.lx.end], "enum")
	if !ok || after == "" || !(isSpace(after[0]) || after[0] == '{') {
		return false
	}
	after = strings.TrimLeft(after, " \t\r\n")
	i := 0
	for i < len(after) && (isLetter(after[i]) || isDigit(after[i])) {
		i++
	}
	return strings.HasPrefix(strings.TrimLeft(after[i:], " \t\r\n"), "{")
}

// parseEnumDef parses enum [NAME] { A [= N], ... [,] }.
func (p *parser) parseEnumDef() *EnumDef {
	kw := p.next()
	d := &EnumDef{Pos: kw.pos}
	if t := p.peek(); t.kind == tIdent {
		p.next()
		d.Name = t.str
	}
	open := p.expect("{", "expected '{' to start the enumerators")
	next := int64(0)
	seen := map[string]bool{}
	for !p.peek().is("}") {
		n := p.next()
		if n.kind != tIdent || keywords[n.str] {
			if n.kind == tEOF {
				p.errAt(p.endPos(n.pos), 1, fmt.Sprintf("expected '}' to close the enum opened at %s", open.pos), "unexpected end of input")
			}
			p.unexpected(n, "expected an enumerator's name")
		}
		if seen[n.str] {
			p.errAt(n.pos, len(n.str), "", "enumerator %s appears twice", n.str)
		}
		seen[n.str] = true
		if p.peek().is("=") {
			p.next()
			neg := false
			if p.peek().is("-") {
				p.next()
				neg = true
			}
			v := p.next()
			if v.kind != tInt {
				p.unexpected(v, "expected the enumerator's value, an integer")
			}
			next = int64(v.val)
			if neg {
				next = -next
			}
		}
		d.Values = append(d.Values, EnumValue{Pos: n.pos, Name: n.str, Value: next})
		next++
		if !p.peek().is(",") {
			break
		}
		p.next()
	}
	p.expect("}", fmt.Sprintf("expected ',' or '}' in the enum opened at %s", open.pos))
	return d
}

// parseStructDef parses struct|union [NAME] { members }; named says a
// name is required (at the top of a program).
// parseAttributes parses the GCC attributes after a struct's '}':
// __attribute__((packed)), __attribute__((aligned(N))), several in one
// list or one after another. packed is kept; others are read and ignored.
func (p *parser) parseAttributes(d *StructDef) {
	for p.peek().kind == tIdent && p.peek().str == "__attribute__" {
		p.next()
		p.expect("(", "write __attribute__((packed))")
		p.expect("(", "write __attribute__((packed))")
		for {
			a := p.next()
			if a.kind != tIdent {
				p.unexpected(a, "expected an attribute such as packed")
			}
			if a.str == "packed" || a.str == "__packed__" {
				d.Packed = true
			}
			if p.peek().is("(") {
				p.next()
				p.parseList(")", "the arguments of "+a.str)
			}
			if !p.peek().is(",") {
				break
			}
			p.next()
		}
		p.expect(")", "expected ')' to close the attribute list")
		p.expect(")", "expected '))' after the attributes")
	}
}

func (p *parser) parseStructDef(named bool) *StructDef {
	kw := p.next()
	d := &StructDef{Pos: kw.pos, Union: kw.str == "union"}
	if t := p.peek(); t.kind == tIdent && !keywords[t.str] {
		p.next()
		d.Name = t.str
	} else if named {
		p.unexpected(t, "expected the name of the "+kw.str)
	}
	open := p.expect("{", "expected '{' to start the members of "+kw.str+" "+d.Name)
	for {
		t := p.peek()
		switch {
		case t.is("}"):
			p.next()
			p.parseAttributes(d)
			return d
		case t.is(";"):
			p.next()
			continue
		case t.kind == tEOF:
			p.errAt(p.endPos(t.pos), 1, fmt.Sprintf("expected '}' to close the %s opened at %s", kw.str, open.pos), "unexpected end of input")
		}
		d.Fields = append(d.Fields, p.parseMembers()...)
	}
}

// parseMembers parses one member declaration: a type and one or more
// declarators (int a, *b, c[4];).
func (p *parser) parseMembers() []*FieldDef {
	start := p.peek()
	base := CType{Pos: start.pos}
	firstPtr := 0
	if (start.isWord("struct") || start.isWord("union")) && p.peekN(1).is("{") || (start.isWord("struct") || start.isWord("union")) && p.peekN(2).is("{") {
		base.Inline = p.parseStructDef(false)
		if base.Inline.Name != "" {
			base.Name = "struct " + base.Inline.Name
		}
	} else {
		ty := p.parseType()
		firstPtr = ty.Ptr // the '*'s parseType took belong to the first declarator
		base.Name = ty.Name
	}
	var out []*FieldDef
	for {
		ct := base
		ct.Ptr, firstPtr = firstPtr, 0
		for p.peek().is("*") {
			p.next()
			ct.Ptr++
		}
		n := p.peek()
		if n.kind != tIdent || keywords[n.str] {
			p.unexpected(n, "expected a member name")
		}
		p.next()
		for p.peek().is("[") {
			p.next()
			d := p.next()
			if d.kind != tInt {
				p.unexpected(d, "expected the array's length")
			}
			ct.Array = append(ct.Array, int(d.val))
			p.expect("]", "expected ']' after the array's length")
		}
		if p.peek().is(":") {
			p.next()
			w := p.next()
			if w.kind != tInt || w.val == 0 || w.val > 64 {
				p.unexpected(w, "expected a bit-field width from 1 to 64")
			}
			ct.Bits = int(w.val)
		}
		out = append(out, &FieldDef{Pos: n.pos, Name: n.str, Type: ct})
		if !p.peek().is(",") {
			break
		}
		p.next()
	}
	if t := p.peek(); !t.is(";") && !t.is("}") {
		p.unexpected(t, "expected ';' after a member")
	}
	return out
}

// typeAhead reports whether the '(' at the head of the lookahead is
// followed by a type (sizeof(struct Foo), sizeof(int32 *)).
func (p *parser) typeAhead() bool {
	t := p.peekN(1)
	if t.kind != tIdent {
		return false
	}
	if t.str == "struct" || t.str == "union" || t.str == "enum" || isTypeWord(t.str) {
		return true
	}
	return p.peekN(2).is("*")
}

// atMapDecl reports whether the source continues with let @name.
func (p *parser) atMapDecl() bool {
	rest, ok := strings.CutPrefix(p.lx.src[p.lx.off:p.lx.end], "let")
	return ok && strings.HasPrefix(strings.TrimLeft(rest, " \t\r\n"), "@")
}

// parseMapDecl parses let @m = KIND(N); at the top of a program.
func (p *parser) parseMapDecl() *MapDecl {
	p.next() // let
	m := p.next()
	if m.kind != tMap {
		p.unexpected(m, "write let @name = hash(N);")
	}
	p.expect("=", "write let @"+m.str+" = hash(N);")
	k := p.next()
	switch k.str {
	case "hash", "lruhash", "percpuhash", "percpulruhash", "percpuarray":
	default:
		p.errAt(k.pos, k.length(), "use hash, lruhash, percpuhash, percpulruhash or percpuarray", "unknown map kind %q", k.text)
	}
	p.expect("(", "write "+k.str+"(N)")
	n := p.next()
	if n.kind != tInt || n.val == 0 || n.val > 1<<24 {
		p.unexpected(n, "expected the map's number of elements")
	}
	p.expect(")", "expected ')' after the map's size")
	if p.peek().is(";") {
		p.next()
	}
	return &MapDecl{Pos: m.pos, Name: m.str, Kind: k.str, Size: int(n.val)}
}

// atWord reports whether the source continues with the word w.
func (p *parser) atWord(w string) bool {
	rest, ok := strings.CutPrefix(p.lx.src[p.lx.off:p.lx.end], w)
	return ok && (rest == "" || !isLetter(rest[0]) && !isDigit(rest[0]))
}

// parseMacro parses macro NAME(PARAMS) { BODY }.
func (p *parser) parseMacro() *MacroDef {
	kw := p.next() // macro
	n := p.next()
	if n.kind != tIdent || keywords[n.str] {
		p.unexpected(n, "expected the macro's name")
	}
	d := &MacroDef{Pos: kw.pos, Name: n.str}
	p.expect("(", "write macro "+n.str+"(params) { ... }")
	for !p.peek().is(")") {
		t := p.next()
		switch t.kind {
		case tIdent:
			d.Params = append(d.Params, t.str)
		case tVar:
			d.Params = append(d.Params, "$"+t.str)
		case tMap:
			d.Params = append(d.Params, "@"+t.str)
		default:
			p.unexpected(t, "expected a parameter: name, $var or @map")
		}
		if p.peek().is(",") {
			p.next()
		} else if !p.peek().is(")") {
			p.unexpected(p.peek(), "expected ',' or ')' after a parameter")
		}
	}
	p.next()
	if t := p.peek(); !t.is("{") {
		p.unexpected(t, "expected '{' to start the macro's body")
	}
	d.Body = p.parseBlockExpr()
	return d
}

// parseBlockExpr parses { statements [value] }: a last expression without
// ';' is the block's value.
func (p *parser) parseBlockExpr() *BlockExpr {
	pos := p.peek().pos
	stmts, value := p.parseStmts(true)
	return &BlockExpr{Pos: pos, Stmts: stmts, Value: value}
}
