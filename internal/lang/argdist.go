package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// ArgdistSpec is one probe spec of bcc's argdist, translated into the
// language's terms. bcc writes it
//
//	{p,r,u}:[LIBRARY]:FUNCTION(SIGNATURE)[:TYPE[,TYPE...]:EXPR[,EXPR...][:FILTER]][#LABEL]
//
// p counts at function entry, r at return (where $retval, $latency and
// $entry(PARAM) are known), u at a USDT probe (arguments arg1..argN).
// SIGNATURE names the parameters as in C, so that EXPR and FILTER can use
// them; TYPE says how each EXPR is kept (char* reads a string).
type ArgdistSpec struct {
	// Raw is the spec as written.
	Raw string
	// Label is the text after '#', or "".
	Label string
	// Type is "p", "r" or "u".
	Type string
	// Point is where the values are collected: a uprobe, a uretprobe or a
	// usdt probe.
	Point *AttachPoint
	// Entry is, for an r: spec that uses $entry() or $latency, the uprobe
	// on the same function whose Saves keep the entry values per thread;
	// nil otherwise.
	Entry *AttachPoint
	Saves []ArgdistSave
	// Exprs are the values collected, each already converted to its TYPE
	// (a cast, or str() for char*).
	Exprs []ArgdistExpr
	// Filter is the condition values are collected under, or nil.
	Filter Expr
	// Default is set when the spec gives no expression: a p: or u: spec
	// then counts calls (Exprs is the constant 1) and an r: spec collects
	// the return value as an int.
	Default bool
}

// ArgdistExpr is one collected expression.
type ArgdistExpr struct {
	// Text is the expression as written ("size", "$retval"), which bcc
	// shows in the EVENT column and as the histogram's heading.
	Text string
	// Type is the TYPE given for it.
	Type TypeName
	// X is the expression in the language, converted to Type.
	X Expr
}

// ArgdistSave is a value an entry probe keeps for the return probe, in the
// map @Map keyed by thread id: a parameter for $entry(PARAM), or the entry
// time for $latency.
type ArgdistSave struct {
	Map string
	X   Expr
}

const argdistUsage = "an argdist spec is {p,r,u}:[LIBRARY]:FUNCTION(SIGNATURE)[:TYPE[,TYPE...]:EXPR[,EXPR...][:FILTER]][#LABEL]"

// ParseArgdistSpec translates one argdist spec. index numbers the spec
// among those of one command, so that the maps of its entry probe have
// names of their own (@__lat<index>, @__entry<index>_<param>). strSize,
// when > 0, is the size of the strings read for char* values.
//
// Expressions are C in bcc's terms and are rewritten into the language's:
// the SIGNATURE's names become casts of the matching argN (entry probes),
// arg1..argN become arg0..argN-1, $retval retval, $PID pid, $latency the
// nanoseconds since the entry and $entry(PARAM) the parameter's value at
// the entry, both kept per thread by the entry probe.
func ParseArgdistSpec(spec string, index, strSize int) (*ArgdistSpec, error) {
	// $entry(NAME) becomes the identifier __entry_NAME, which has the same
	// length, so that positions in errors still point into the spec.
	work := spec
	for i := strings.Index(work, "$entry("); i >= 0; i = strings.Index(work, "$entry(") {
		j := i + len("$entry(")
		k := j
		for k < len(work) && (isLetter(work[k]) || isDigit(work[k])) {
			k++
		}
		if k == j || k >= len(work) || work[k] != ')' {
			return nil, &Error{File: "argdist", Source: spec, Pos: specPos(spec, i), Len: len("$entry("),
				Msg: "$entry() takes a parameter name", Hint: "e.g. $entry(size) in r:c:malloc(size_t size):u64:$entry(size)"}
		}
		work = work[:i] + "__entry_" + work[j:k] + work[k+1:]
	}
	p := newParser("argdist", work, 0, len(work))
	var out *ArgdistSpec
	err := p.run(func() { out = p.argdistSpec(spec, index, strSize) })
	if err != nil {
		err.Source = spec
		return nil, err
	}
	return out, nil
}

// specPos is the position of byte off of a one-line spec.
func specPos(spec string, off int) Pos { return Pos{Line: 1, Col: off + 1, Offset: off} }

// specPart is a piece of a spec and where it starts.
type specPart struct {
	s   string
	off int
}

// splitTop splits s (which starts at offset base) at sep where no
// parenthesis, bracket or quotes are open.
func splitTop(s string, base int, sep byte) []specPart {
	var parts []specPart
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, specPart{s[start:i], base + start})
			start = i + 1
		}
	}
	return append(parts, specPart{s[start:], base + start})
}

func (p *parser) argdistSpec(raw string, index, strSize int) *ArgdistSpec {
	work := p.lx.src
	at := func(off int) Pos { return specPos(work, off) }
	body := work
	out := &ArgdistSpec{Raw: raw}
	if i := strings.IndexByte(work, '#'); i >= 0 {
		body, out.Label = work[:i], strings.TrimSpace(raw[i+1:])
	}
	parts := splitTop(body, 0, ':')
	if len(parts) < 3 {
		p.errAt(at(0), len(body), argdistUsage, "give at least the probe type, the library and the function signature")
	}
	if len(parts) > 6 {
		p.errAt(at(parts[6].off-1), 1, argdistUsage, "too many ':'-separated parts")
	}
	typ := strings.TrimSpace(parts[0].s)
	switch typ {
	case "p", "r", "u":
	case "t":
		p.errAt(at(parts[0].off), len(parts[0].s), "use p:, r: or u:", "tracepoints are kernel probes: uscope traces userspace")
	default:
		p.errAt(at(parts[0].off), max(1, len(parts[0].s)), "use p (entry), r (return) or u (USDT)", "probe type must be p, r or u, not %q", typ)
	}
	out.Type = typ

	// FUNCTION(SIGNATURE)
	fp := parts[2]
	open := strings.IndexByte(fp.s, '(')
	close := strings.LastIndexByte(fp.s, ')')
	name := ""
	if open > 0 {
		name = strings.TrimSpace(fp.s[:open])
	}
	if open <= 0 || close < open || strings.TrimSpace(fp.s[close+1:]) != "" || name == "" {
		p.errAt(at(fp.off), max(1, len(fp.s)), "write the function with its signature, like malloc(size_t size) or read()", "function signature %q has an invalid format", fp.s)
	}
	sp := newParser("argdist", work, fp.off+open, fp.off+close+1)
	var params map[string]traceParam
	if err := sp.run(func() { params = sp.traceSignature() }); err != nil {
		p.fail(err)
	}

	lib := strings.TrimSpace(parts[1].s)
	ap := &AttachPoint{Pos: at(0), Raw: strings.TrimSpace(body[:fp.off+len(fp.s)]), Target: lib, Func: name}
	switch typ {
	case "p":
		ap.Kind = KindUprobe
	case "r":
		ap.Kind = KindUretprobe
	case "u":
		ap.Kind = KindUSDT
		if len(params) > 0 {
			p.errAt(at(fp.off+open), close-open+1, "write NAME() and use arg1, arg2, ...", "a USDT probe takes no signature")
		}
	}
	out.Point = ap

	conv := &argdistConv{p: p, spec: out, params: params, index: index}
	if len(parts) == 4 {
		p.errAt(at(parts[3].off), max(1, len(parts[3].s)), argdistUsage, "give the expressions after their types: TYPE:EXPR")
	}
	if len(parts) >= 5 {
		types := splitTop(parts[3].s, parts[3].off, ',')
		exprs := splitTop(parts[4].s, parts[4].off, ',')
		if len(types) != len(exprs) {
			p.errAt(at(parts[3].off), len(parts[3].s)+1+len(parts[4].s), "give one type per expression", "%d types but %d expressions", len(types), len(exprs))
		}
		for i, e := range exprs {
			ty := p.argdistType(types[i])
			x := conv.expr(e)
			out.Exprs = append(out.Exprs, ArgdistExpr{Text: strings.TrimSpace(raw[e.off : e.off+len(e.s)]), Type: ty, X: convertTo(x, ty, strSize)})
		}
	} else {
		out.Default = true
		pos := at(0)
		if typ == "r" {
			ty := TypeName{Pos: pos, Name: "int"}
			out.Exprs = []ArgdistExpr{{Text: "retval", Type: ty, X: &Cast{Pos: pos, Type: ty, X: &Ident{Pos: pos, Name: "retval"}}}}
		} else {
			out.Exprs = []ArgdistExpr{{Type: TypeName{Pos: pos, Name: "uint64"}, X: &IntLit{Pos: pos, Value: 1, Text: "1"}}}
		}
	}
	if len(parts) == 6 {
		if f := parts[5]; strings.TrimSpace(f.s) != "" {
			out.Filter = conv.expr(f)
		}
	}
	if len(out.Saves) > 0 {
		entry := *ap
		entry.Kind = KindUprobe
		out.Entry = &entry
	}
	return out
}

// argdistType parses a TYPE of a spec.
func (p *parser) argdistType(part specPart) TypeName {
	tp := newParser("argdist", p.lx.src, part.off, part.off+len(part.s))
	var ty TypeName
	if err := tp.run(func() {
		tp.skipSpace()
		if tp.peek().kind == tEOF {
			tp.errAt(specPos(p.lx.src, part.off), 1, "e.g. u64, size_t, int or char*", "missing type")
		}
		ty = tp.parseType()
		if t := tp.peek(); t.kind != tEOF {
			tp.unexpected(t, "a TYPE is a C type such as u64, size_t, int or char*")
		}
	}); err != nil {
		p.fail(err)
	}
	return ty
}

// convertTo converts a collected value to its TYPE: char* reads a string,
// other pointers are kept as addresses, integers are cast.
func convertTo(x Expr, ty TypeName, strSize int) Expr {
	pos := x.Position()
	if c, ok := x.(*Cast); ok && c.Type.Name == ty.Name && c.Type.Ptr == ty.Ptr && ty.Ptr == 0 {
		return x // a parameter of this very type
	}
	switch {
	case ty.Ptr == 1 && (ty.Name == "char" || ty.Name == "uchar" || ty.Name == "int8" || ty.Name == "uint8"):
		if id, ok := x.(*Ident); ok && id.Name == "comm" {
			return x // $COMM is a string already
		}
		call := &Call{Pos: pos, Name: "str", Args: []Expr{x}}
		if strSize > 0 {
			call.Args = append(call.Args, &IntLit{Pos: pos, Value: uint64(strSize), Text: strconv.Itoa(strSize)})
		}
		return call
	case ty.Ptr > 0:
		return &Cast{Pos: pos, Type: TypeName{Pos: ty.Pos, Name: "uint64"}, X: x}
	}
	return &Cast{Pos: pos, Type: ty, X: x}
}

// argdistConv rewrites the expressions of one spec.
type argdistConv struct {
	p      *parser
	spec   *ArgdistSpec
	params map[string]traceParam
	index  int
}

// expr parses and rewrites one EXPR or FILTER.
func (c *argdistConv) expr(part specPart) Expr {
	ep := newParser("argdist", c.p.lx.src, part.off, part.off+len(part.s))
	var x Expr
	if err := ep.run(func() {
		ep.skipSpace()
		if ep.peek().kind == tEOF {
			ep.errAt(specPos(c.p.lx.src, part.off), 1, argdistUsage, "missing expression")
		}
		x = ep.parseExpr()
		if t := ep.peek(); t.kind != tEOF {
			ep.unexpected(t, "expected the end of the expression; separate expressions with ','")
		}
	}); err != nil {
		c.p.fail(err)
	}
	return rewrite(x, c.node)
}

// save records a value the entry probe keeps and returns its map.
func (c *argdistConv) save(name string, x Expr) string {
	for _, s := range c.spec.Saves {
		if s.Map == name {
			return name
		}
	}
	c.spec.Saves = append(c.spec.Saves, ArgdistSave{Map: name, X: x})
	return name
}

func perThread(pos Pos, name string) *MapExpr {
	return &MapExpr{Pos: pos, Name: name, Keys: []Expr{&Ident{Pos: pos, Name: "tid"}}}
}

func (c *argdistConv) node(e Expr) Expr {
	p, ret := c.p, c.spec.Type == "r"
	switch x := e.(type) {
	case *Call:
		if x.Name == "STRCMP" {
			return p.bccStrcmp(x)
		}
	case *Ident:
		if strings.HasPrefix(x.Name, "__entry_") {
			name := strings.TrimPrefix(x.Name, "__entry_")
			n := len(x.Name)
			prm, ok := c.params[name]
			switch {
			case !ret:
				p.errAt(x.Pos, n, "$entry() is for r: specs; in a p: spec use the parameter's name", "$entry(%s) outside a return probe", name)
			case !ok:
				p.errAt(x.Pos, n, "declare it in the signature, like r:c:read(int fd, void *buf, size_t count)", "$entry(%s): no such parameter", name)
			}
			m := c.save(fmt.Sprintf("__entry%d_%s", c.index, name), prm.cast(x.Pos))
			return perThread(x.Pos, m)
		}
		if prm, ok := c.params[x.Name]; ok {
			if ret {
				p.errAt(x.Pos, len(x.Name), fmt.Sprintf("write $entry(%s)", x.Name), "parameter %q is not known at the return; its value at the entry is $entry(%s)", x.Name, x.Name)
			}
			return prm.cast(x.Pos)
		}
		p.bccArg(x)
	case *Var:
		switch x.Name {
		case "retval":
			if !ret {
				p.errAt(x.Pos, len(x.Name)+1, "use an r: spec", "$retval is only known in return probes")
			}
			return &Ident{Pos: x.Pos, Name: "retval"}
		case "latency":
			if !ret {
				p.errAt(x.Pos, len(x.Name)+1, "use an r: spec", "$latency is only known in return probes")
			}
			m := c.save(fmt.Sprintf("__lat%d", c.index), &Ident{Pos: x.Pos, Name: "nsecs"})
			return &Binary{Pos: x.Pos, Op: "-", X: &Ident{Pos: x.Pos, Name: "nsecs"}, Y: perThread(x.Pos, m)}
		case "PID":
			return &Ident{Pos: x.Pos, Name: "pid"}
		case "COMM":
			return &Ident{Pos: x.Pos, Name: "comm"}
		}
		if name, ok := bccVars[x.Name]; ok {
			return &Ident{Pos: x.Pos, Name: name}
		}
		p.errAt(x.Pos, len(x.Name)+1, "argdist knows $retval, $latency, $entry(PARAM), $PID and $COMM", "unknown variable $%s", x.Name)
	}
	return e
}
