package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// TraceOptions adjust the translation of bcc trace specs. PID and TID
// filters (-p, -L) are applied by the caller, not written into the tree.
type TraceOptions struct {
	// StrSize, when > 0, is the size passed to str() for %s arguments
	// (trace's -Z); otherwise str() takes the compiler's default.
	StrSize int
}

const traceUsage = `a trace spec is [p|r|u]:[LIB]:FUNC[+OFF] [(FILTER)] ["FMT"[, ARGS...]]`

// ParseTraceSpec translates one bcc `trace` probe spec,
//
//	[p|r|u]:[LIB]:FUNC[+OFF][(SIGNATURE)] [(FILTER)] ["FMT"[, ARGS...]]
//
// into an ordinary probe: p: (or no type) becomes a uprobe, r: a uretprobe,
// u:LIB:[PROVIDER:]NAME a usdt probe; a bare FUNC has an empty target (the
// process given with -p). FILTER becomes the predicate and the body is
// printf(FMT, ARGS...) (printf("") without FMT), so each event prints one
// row; Probe.Trace marks the probe and carries the FUNC column's label.
//
// FILTER and ARGS are C expressions in bcc's terms and are rewritten into the
// language's: arg1..argN become arg0..argN-1, $retval retval, $pid tid (bcc's
// $pid is the thread), $tgid pid, $uid $gid $cpu uid gid cpu, $task curtask,
// ctx->REG reg("REG"), STRCMP("lit", e) str(e) == "lit", and the names of a
// SIGNATURE such as (char *path, int flags) casts of the matching argN. An
// argument printed with %s is wrapped in str(ARG) (str(ARG, StrSize) when
// StrSize > 0); one printed with %U becomes usym(ARG) printed with %s.
//
// The error, if any, is an *Error whose position lies in spec (file
// "trace", line 1).
func ParseTraceSpec(spec string, opts TraceOptions) (*Probe, error) {
	p := newParser("trace", spec, 0, len(spec))
	var probe *Probe
	if err := p.run(func() { probe = p.traceSpec(opts) }); err != nil {
		return nil, err
	}
	return probe, nil
}

// ParseTraceSpecs translates several trace specs (see ParseTraceSpec) into
// one program named "trace". Its Source is the specs joined by newlines, so
// that spec i is line i+1 in positions and error carets.
func ParseTraceSpecs(specs []string, opts TraceOptions) (*Program, error) {
	src := strings.Join(specs, "\n")
	prog := &Program{File: "trace", Source: src}
	if len(specs) == 0 {
		return nil, &Error{File: "trace", Msg: "no probe spec given", Hint: traceUsage}
	}
	off := 0
	for _, s := range specs {
		p := newParser("trace", src, off, off+len(s))
		var probe *Probe
		if err := p.run(func() { probe = p.traceSpec(opts) }); err != nil {
			return nil, err
		}
		prog.Probes = append(prog.Probes, probe)
		off += len(s) + 1
	}
	return prog, nil
}

// traceParam is a name declared by a spec's signature.
type traceParam struct {
	typ TypeName
	arg string // arg0, arg1, ...
}

// traceSpec parses the spec between the lexer's position and its end.
func (p *parser) traceSpec(opts TraceOptions) *Probe {
	lx := p.lx
	specStart := lx.off
	p.skipSpace()
	head := lx.pos()
	for !lx.eof() && !isSpace(lx.at(0)) && lx.at(0) != '(' {
		lx.advance()
	}
	text := lx.src[head.Offset:lx.off]
	if text == "" {
		p.errAt(head, 1, traceUsage, "missing probe")
	}
	ap, label := p.traceHead(head, text)

	var params map[string]traceParam
	if !lx.eof() && lx.at(0) == '(' {
		if ap.Kind == KindUSDT {
			p.errAt(lx.pos(), 1, "use arg1, arg2, ... instead", "a USDT probe takes no signature")
		}
		params = p.traceSignature()
	}

	probe := &Probe{Pos: head, Points: []*AttachPoint{ap}}
	if t := p.peek(); t.is("(") {
		p.next()
		probe.Pred = p.bccExpr(p.parseExpr(), params)
		p.expect(")", "expected ')' to close the filter")
	}

	printf := &Call{Pos: head, Name: "printf", Args: []Expr{&StrLit{Pos: head}}}
	t := p.peek()
	switch {
	case t.kind == tString:
		p.next()
		printf.Pos = t.pos
		var args []Expr
		if p.peek().is(",") {
			p.next()
			args = append(args, p.parseExpr())
		} else if p.peek().kind != tEOF {
			args = append(args, p.parseExpr())
		}
		for p.peek().is(",") {
			p.next()
			args = append(args, p.parseExpr())
		}
		if e := p.peek(); e.kind != tEOF {
			p.unexpected(e, "expected ',' between arguments")
		}
		for i, a := range args {
			args[i] = p.bccExpr(a, params)
		}
		format := p.traceFormat(t, args, opts)
		printf.Args = append([]Expr{&StrLit{Pos: t.pos, Value: format}}, args...)
	case t.kind != tEOF:
		p.unexpected(t, traceUsage)
	}
	probe.Body = &Block{Pos: head, Stmts: []Stmt{&ExprStmt{X: printf}}}
	probe.Trace = &TraceInfo{Spec: strings.TrimSpace(lx.src[specStart:lx.end]), Label: label}
	return probe
}

// traceHead splits the probe part of a spec into an attach point and returns
// the label bcc prints in the FUNC column.
func (p *parser) traceHead(head Pos, text string) (*AttachPoint, string) {
	at := func(off int) Pos {
		return Pos{Line: head.Line, Col: head.Col + off, Offset: head.Offset + off}
	}
	type part struct {
		s   string
		off int
	}
	var parts []part
	off := 0
	for _, s := range strings.Split(text, ":") {
		parts = append(parts, part{s, off})
		off += len(s) + 1
	}
	ap := &AttachPoint{Pos: head, Raw: text, Kind: KindUprobe}
	typ := "p"
	var lib, fn part
	switch n := len(parts); {
	case n == 1:
		fn = parts[0]
	case n == 2:
		switch parts[0].s {
		case "p", "r", "u", "t":
			p.errAt(head, len(text), fmt.Sprintf("write %s::%s for the process given with -p, or %s:LIB:%s", parts[0].s, parts[1].s, parts[0].s, parts[1].s), "ambiguous spec %q: %q is read as the library", text, parts[0].s)
		}
		lib, fn = parts[0], parts[1]
	default:
		typ = parts[0].s
		lib, fn = parts[1], parts[n-1]
		switch typ {
		case "", "p", "r":
			lib.s = text[parts[1].off : parts[n-1].off-1]
		case "u":
			switch n {
			case 3:
			case 4:
				ap.Provider = parts[2].s
			default:
				p.errAt(at(parts[4].off-1), 1, "write u:LIB:[PROVIDER:]NAME", "too many ':' in USDT spec")
			}
		case "t":
			p.errAt(head, 1, "use p:LIB:FUNC, r:LIB:FUNC or u:LIB:[PROVIDER:]NAME", "tracepoints are kernel probes: uscope traces userspace")
		default:
			p.errAt(head, len(typ), "use p (entry), r (return) or u (USDT)", "unknown probe type %q: uscope traces userspace", typ)
		}
	}
	ap.Target = lib.s
	if fn.s == "" {
		p.errAt(at(fn.off-1), 1, traceUsage, "missing function name")
	}
	switch typ {
	case "u":
		ap.Kind, ap.Func = KindUSDT, fn.s
		return ap, fn.s
	case "r":
		ap.Kind = KindUretprobe
	}
	if isDigit(fn.s[0]) {
		v, msg := parseInt(fn.s)
		if msg != "" {
			p.errAt(at(fn.off), len(fn.s), "write an address as 0x401000 or a function name", "invalid address %q", fn.s)
		}
		ap.Addr, ap.HasAddr = v, true
		return ap, fn.s
	}
	ap.Func = fn.s
	if i := strings.LastIndexByte(fn.s, '+'); i >= 0 {
		name, offText := fn.s[:i], fn.s[i+1:]
		if name == "" {
			p.errAt(at(fn.off), len(fn.s), "write FUNC+OFFSET", "missing function name before '+'")
		}
		v, msg := parseInt(offText)
		if msg != "" || offText == "" {
			p.errAt(at(fn.off+i+1), len(offText), "write the offset as a number, like +0x10 or +16", "invalid offset %q", offText)
		}
		if ap.Kind == KindUretprobe {
			p.errAt(at(fn.off), len(fn.s), "use p: to probe inside the function, or drop the offset", "a return probe cannot attach at a function offset")
		}
		if strings.Contains(name, "*") {
			p.errAt(at(fn.off), len(fn.s), "name one function, or drop the offset", "an offset cannot be combined with a wildcard")
		}
		ap.Func, ap.Offset, ap.HasOffset = name, v, true
	}
	return ap, ap.Func
}

// traceSignature parses (TYPE NAME, ...) after a function, binding each name
// to a cast of the matching argument.
func (p *parser) traceSignature() map[string]traceParam {
	params := map[string]traceParam{}
	p.expect("(", "")
	if p.peek().is(")") {
		p.next()
		return params
	}
	if p.peek().isWord("void") && p.peekN(1).is(")") {
		p.next()
		p.next()
		return params
	}
	for i := 0; ; i++ {
		ty := p.parseType()
		name := p.peek()
		if name.kind != tIdent || keywords[name.str] {
			p.unexpected(name, "expected a parameter name, like (char *path, int flags)")
		}
		p.next()
		if _, dup := params[name.str]; dup {
			p.errAt(name.pos, name.length(), "give each parameter its own name", "parameter %q declared twice", name.str)
		}
		params[name.str] = traceParam{typ: ty, arg: "arg" + strconv.Itoa(i)}
		t := p.peek()
		if t.is(",") {
			p.next()
			continue
		}
		if t.is(")") {
			p.next()
			return params
		}
		p.unexpected(t, "expected ',' or ')' in the signature")
	}
}

// bccVars maps bcc's $ variables to the language's builtins.
var bccVars = map[string]string{
	"retval": "retval", "pid": "tid", "tgid": "pid",
	"uid": "uid", "gid": "gid", "cpu": "cpu", "task": "curtask",
}

// rewrite replaces every node of e, children first, by f's result.
func rewrite(e Expr, f func(Expr) Expr) Expr {
	switch e := e.(type) {
	case *MapExpr:
		for i := range e.Keys {
			e.Keys[i] = rewrite(e.Keys[i], f)
		}
	case *Call:
		for i := range e.Args {
			e.Args[i] = rewrite(e.Args[i], f)
		}
	case *Unary:
		e.X = rewrite(e.X, f)
	case *IncDec:
		e.X = rewrite(e.X, f)
	case *Binary:
		e.X, e.Y = rewrite(e.X, f), rewrite(e.Y, f)
	case *Ternary:
		e.Cond, e.Then, e.Else = rewrite(e.Cond, f), rewrite(e.Then, f), rewrite(e.Else, f)
	case *Cast:
		e.X = rewrite(e.X, f)
	case *Field:
		e.X = rewrite(e.X, f)
	case *Index:
		e.X, e.Index = rewrite(e.X, f), rewrite(e.Index, f)
	case *Tuple:
		for i := range e.Elems {
			e.Elems[i] = rewrite(e.Elems[i], f)
		}
	}
	return f(e)
}

// bccArgNum returns N for an identifier argN.
func bccArgNum(name string) (int, bool) {
	if !strings.HasPrefix(name, "arg") || len(name) == 3 || len(name) > 6 {
		return 0, false
	}
	n, err := strconv.Atoi(name[3:])
	if err != nil || name[3] == '+' || name[3] == '-' {
		return 0, false
	}
	return n, true
}

// cast is the parameter's value: a cast of its argument to its type.
func (prm traceParam) cast(pos Pos) Expr {
	ty := prm.typ
	ty.Pos = pos
	return &Cast{Pos: pos, Type: ty, X: &Ident{Pos: pos, Name: prm.arg}}
}

// bccArg renames bcc's 1-based argN to the language's arg(N-1).
func (p *parser) bccArg(x *Ident) {
	if n, ok := bccArgNum(x.Name); ok {
		if n == 0 {
			p.errAt(x.Pos, len(x.Name), "use arg1 for the first argument", "bcc numbers arguments from arg1")
		}
		x.Name = "arg" + strconv.Itoa(n-1)
	}
}

// bccExpr rewrites a bcc filter or argument into the language's terms.
func (p *parser) bccExpr(e Expr, params map[string]traceParam) Expr {
	return rewrite(e, func(e Expr) Expr {
		switch x := e.(type) {
		case *Ident:
			if prm, ok := params[x.Name]; ok {
				return prm.cast(x.Pos)
			}
			p.bccArg(x)
		case *Var:
			name, ok := bccVars[x.Name]
			if !ok {
				p.errAt(x.Pos, len(x.Name)+1, "bcc's trace knows $retval, $pid, $tgid, $uid, $gid, $cpu and $task", "unknown variable $%s", x.Name)
			}
			return &Ident{Pos: x.Pos, Name: name}
		case *Field:
			if id, ok := x.X.(*Ident); ok && id.Name == "ctx" && x.Arrow {
				return &Call{Pos: id.Pos, Name: "reg", Args: []Expr{&StrLit{Pos: x.Pos, Value: x.Name}}}
			}
		case *Call:
			if x.Name == "STRCMP" {
				return p.bccStrcmp(x)
			}
		}
		return e
	})
}

// bccStrcmp rewrites bcc's STRCMP("lit", e) (trace and argdist) as
// str(e) == "lit".
func (p *parser) bccStrcmp(x *Call) Expr {
	var lit *StrLit
	if len(x.Args) == 2 {
		lit, _ = x.Args[0].(*StrLit)
	}
	if lit == nil {
		p.errAt(x.Pos, len(x.Name), `write STRCMP("literal", expr)`, "STRCMP takes a string literal and an expression")
		return x
	}
	str := &Call{Pos: x.Pos, Name: "str", Args: []Expr{x.Args[1]}}
	return &Binary{Pos: x.Pos, Op: "==", X: str, Y: lit}
}

const formatHint = "bcc's trace formats are %d %i %u %x %o %c %s %p %U, with h, l or ll"

// traceFormat checks the directives of a trace format against its
// arguments, wraps %s arguments in str() and %U arguments in usym(), and
// returns the format to print (%U rewritten as %s).
func (p *parser) traceFormat(tok token, args []Expr, opts TraceOptions) string {
	f := tok.str
	var out strings.Builder
	n := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			out.WriteByte(f[i])
			continue
		}
		start := i
		i++
		if i < len(f) && f[i] == '%' {
			out.WriteString("%%")
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		for i < len(f) && (isDigit(f[i]) || f[i] == '.') {
			i++
		}
		for i < len(f) && strings.IndexByte("hlzjtL", f[i]) >= 0 {
			i++
		}
		if i >= len(f) {
			p.errAt(tok.pos, tok.length(), formatHint, "incomplete format directive %q", f[start:])
		}
		conv := f[i]
		dir := f[start : i+1]
		switch conv {
		case 'd', 'i', 'u', 'x', 'X', 'o', 'c', 'p', 's', 'U':
		case 'K':
			p.errAt(tok.pos, tok.length(), "use %U for user addresses, or %x", "%%K prints kernel symbols: uscope traces userspace")
		case '*':
			p.errAt(tok.pos, tok.length(), "write the width as a number", "'*' widths are not supported in %q", dir)
		default:
			p.errAt(tok.pos, tok.length(), formatHint, "unknown format directive %q", dir)
		}
		if n < len(args) {
			a := args[n]
			switch conv {
			case 's':
				call := &Call{Pos: a.Position(), Name: "str", Args: []Expr{a}}
				if opts.StrSize > 0 {
					s := strconv.Itoa(opts.StrSize)
					call.Args = append(call.Args, &IntLit{Pos: a.Position(), Value: uint64(opts.StrSize), Text: s})
				}
				args[n] = call
			case 'U':
				args[n] = &Call{Pos: a.Position(), Name: "usym", Args: []Expr{a}}
				dir = "%s"
			}
		}
		out.WriteString(dir)
		n++
	}
	if n != len(args) {
		p.errAt(tok.pos, tok.length(), "give one argument per % directive", "format has %d %s but %d %s given", n, plural(n, "directive"), len(args), plural(len(args), "argument"))
	}
	return out.String()
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
