package lang

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// apField is one ':'-separated part of an attach point as scanned.
type apField struct {
	text string // decoded: quotes removed, \" and \\ unescaped
	pos  Pos
	end  int // offset just past the field
	// quoted reports whether any part of the field was in quotes.
	quoted bool
	// plus is the index in text of the last '+' outside quotes, or -1.
	plus int
}

func (f apField) length() int {
	if n := f.end - f.pos.Offset; n > 0 {
		return n
	}
	return 1
}

const kindsHint = "use uprobe, uretprobe, usdt, BEGIN, END, interval, profile or self:signal:SIGUSR1"

const attachHint = "a probe starts with an attach point such as uprobe:TARGET:FUNC, uretprobe:TARGET:FUNC, usdt:TARGET:NAME, BEGIN, END or interval:s:1"

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// scanField scans one field of an attach point. A field ends at ':', white
// space, ',', '{', '}' or the end; at '/' too unless slashOK (targets are
// paths). Parts in double quotes may contain any of these.
func (p *parser) scanField(slashOK bool) apField {
	lx := p.lx
	f := apField{pos: lx.pos(), plus: -1}
	var b strings.Builder
	for !lx.eof() {
		c := lx.at(0)
		if c == '"' {
			qs := lx.pos()
			f.quoted = true
			lx.advance()
			for {
				if lx.eof() || lx.at(0) == '\n' {
					p.errAt(qs, 1, `close it with '"' on the same line`, "unterminated string")
				}
				c := lx.at(0)
				if c == '"' {
					lx.advance()
					break
				}
				if c == '\\' && (lx.at(1) == '"' || lx.at(1) == '\\') {
					lx.advance()
					c = lx.at(0)
				}
				b.WriteByte(c)
				lx.advance()
			}
			continue
		}
		if c == ':' || isSpace(c) || c == ',' || c == '{' || c == '}' || c == '/' && !slashOK {
			break
		}
		if c == '+' {
			f.plus = b.Len()
		}
		b.WriteByte(c)
		lx.advance()
	}
	f.text = b.String()
	f.end = lx.off
	return f
}

// parseAttachPoint scans one attach point from the source and splits it.
func (p *parser) parseAttachPoint() *AttachPoint {
	if ap := p.positionalAttachPoint(); ap != nil {
		return ap
	}
	lx := p.lx
	start := lx.pos()
	var fields []apField
	for i := 0; ; i++ {
		// A source file with a directory as the third field of a uprobe
		// (uprobe:BIN:src/file.c:LINE) keeps its '/'.
		fields = append(fields, p.scanField(i == 1 || i == 2 && isUprobeKind(fields[0].text) && p.sourcePathAhead()))
		if lx.eof() || lx.at(0) != ':' {
			break
		}
		lx.advance()
	}
	ap := &AttachPoint{Pos: start, Raw: lx.src[start.Offset:lx.off]}
	kf := fields[0]
	kind := kf.text
	if kind == "" || kf.quoted || !isWordText(kind) || !isLetter(kind[0]) {
		n := 1
		if kf.end > kf.pos.Offset {
			n = kf.end - kf.pos.Offset
		}
		if lx.src[start.Offset] == '#' {
			p.errAt(start, 1, "uscope needs no C headers; remove the line", "preprocessor lines such as #include are not supported")
		}
		p.errAt(start, n, attachHint, "expected an attach point")
	}
	switch kind {
	case KindBegin, KindEnd, "begin", "end":
		if len(fields) > 1 {
			p.errAt(start, len(ap.Raw), "write "+kind+" alone", "%s takes no arguments", kind)
		}
		// bpftrace main writes begin and end; 0.17 BEGIN and END.
		ap.Kind = strings.ToUpper(kind)
	case "uprobe", "u":
		ap.Kind = KindUprobe
		p.uprobeParts(ap, fields)
	case "uretprobe", "ur":
		ap.Kind = KindUretprobe
		p.uprobeParts(ap, fields)
	case "usdt", "U":
		ap.Kind = KindUSDT
		p.usdtParts(ap, fields)
	case "interval", "i":
		ap.Kind = KindInterval
		p.intervalParts(ap, fields)
	case "profile", "p":
		ap.Kind = KindProfile
		p.profileParts(ap, fields)
	case "bench":
		ap.Kind = KindBench
		if len(fields) != 2 || fields[1].text == "" || !isWordText(fields[1].text) {
			p.errAt(start, len(ap.Raw), "write bench:NAME", "a bench probe is bench:NAME")
		}
		ap.Func = fields[1].text
	case KindSelf:
		ap.Kind = KindSelf
		if len(fields) != 3 || fields[1].text != "signal" || fields[2].text != "SIGUSR1" {
			p.errAt(start, len(ap.Raw), "write self:signal:SIGUSR1", "the self probe is self:signal:SIGUSR1")
		}
		ap.Func = "SIGUSR1"
	case "import":
		p.errAt(start, kf.length(), "write the code in place", "%s is not supported yet", kind)
	case "struct", "union", "enum", "typedef":
		p.errAt(start, kf.length(), "cast pointers to built-in types instead, like *(uint32 *)(arg0 + 8)", "type definitions are not supported")
	default:
		p.errAt(start, kf.length(), kindsHint, "unknown probe type %q: uscope traces userspace", kind)
	}
	return ap
}

// positionalAttachPoint parses an attach point that uses positional
// parameters ($1 ...) as the text they expand to, or returns nil (the
// lexer unmoved) when the next attach point uses none.
func (p *parser) positionalAttachPoint() *AttachPoint {
	lx := p.lx
	saved := *lx
	start := lx.pos()
	for i := 0; ; i++ {
		p.scanField(i == 1)
		if lx.eof() || lx.at(0) != ':' {
			break
		}
		lx.advance()
	}
	raw := lx.src[start.Offset:lx.off]
	if !hasPositional(raw) {
		*lx = saved
		return nil
	}
	var b strings.Builder
	quoted := false
	for i := 0; i < len(raw); i++ {
		if raw[i] == '"' {
			quoted = !quoted
		}
		if quoted && raw[i] == '\\' && i+1 < len(raw) {
			b.WriteString(raw[i : i+2])
			i++
			continue
		}
		if quoted || raw[i] != '$' || i+1 >= len(raw) || !isDigit(raw[i+1]) {
			b.WriteByte(raw[i])
			continue
		}
		j := i + 1
		for j < len(raw) && isDigit(raw[j]) {
			j++
		}
		n, _ := strconv.Atoi(raw[i+1 : j])
		if n < 1 || n > len(p.params) {
			at := Pos{Line: start.Line, Col: start.Col + i, Offset: start.Offset + i}
			p.errAt(at, j-i, "give it after the program: uscope run -e 'PROGRAM' VALUE", "positional parameter $%s in an attach point was not given", raw[i+1:j])
		}
		b.WriteString(p.params[n-1])
		i = j - 1
	}
	text := b.String()
	sub := newParser(lx.file, text, 0, len(text))
	var ap *AttachPoint
	if err := sub.run(func() {
		ap = sub.parseAttachPoint()
		if !sub.lx.eof() {
			sub.errAt(sub.lx.pos(), 1, "a positional parameter in an attach point must expand to attach point text", "unexpected %q in the attach point %q", sub.lx.src[sub.lx.off:], text)
		}
	}); err != nil {
		err.Pos, err.Len, err.Source = start, len(raw), lx.src
		err.Msg += fmt.Sprintf(" (in %q, from %s)", text, raw)
		p.fail(err)
	}
	ap.Pos, ap.Raw = start, text
	return ap
}

// hasPositional reports whether s holds a positional parameter ($ and a
// digit) outside double quotes; an attach point without one is parsed as
// written ("f$1" is a function's name).
func hasPositional(s string) bool {
	quoted := false
	for i := 0; i+1 < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == '$' && isDigit(s[i+1]):
			return true
		}
	}
	return false
}

// isWordText reports whether s is letters, digits and underscores.
func isWordText(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// colonBefore returns the position of the ':' that precedes field f.
func colonBefore(f apField) Pos {
	return Pos{Line: f.pos.Line, Col: f.pos.Col - 1, Offset: f.pos.Offset - 1}
}

// uprobeParts fills target, function, offset or address of a uprobe or
// uretprobe: KIND:TARGET:FUNC[+OFF], KIND:TARGET:0xADDR, KIND:TARGET:cpp:FUNC
// and, for the process given with -p, KIND::FUNC or KIND:FUNC.
func (p *parser) uprobeParts(ap *AttachPoint, fields []apField) {
	long := ap.Kind
	var fn apField
	switch {
	case len(fields) == 1:
		p.errAt(ap.Pos, len(ap.Raw), fmt.Sprintf("write %s:TARGET:FUNC, or %s::FUNC for the process given with -p", long, long), "missing target and function")
	case len(fields) == 2:
		fn = fields[1]
		if strings.Contains(fn.text, "/") && !fn.quoted {
			p.errAt(fn.pos, fn.length(), fmt.Sprintf("write %s:%s:FUNC", long, fn.text), "missing function name after target %q", fn.text)
		}
	case len(fields) == 3:
		ap.Target = fields[1].text
		fn = fields[2]
	case len(fields) == 4 && !fields[3].quoted && isLineText(fields[3].text) && !(!fields[2].quoted && (fields[2].text == "cpp" || fields[2].text == "c++")):
		p.lineParts(ap, fields)
		return
	case len(fields) == 4 && !fields[2].quoted && (fields[2].text == "cpp" || fields[2].text == "c++"):
		ap.Target = fields[1].text
		ap.Lang = "cpp"
		fn = fields[3]
	default:
		f := fields[3]
		p.errAt(colonBefore(f), 1, fmt.Sprintf(`quote names that contain ':', like %s:/bin/app:"ns::Class::method"`, long), "too many ':' in attach point")
	}
	if fn.text == "" {
		p.errAt(colonBefore(fn), 1, fmt.Sprintf("write %s:TARGET:FUNC", long), "missing function name")
	}
	if !fn.quoted && isDigit(fn.text[0]) {
		v, msg := parseInt(fn.text)
		if msg != "" {
			p.errAt(fn.pos, fn.length(), "write an address as 0x401000 or a function name", "invalid address %q", fn.text)
		}
		ap.Addr, ap.HasAddr = v, true
		return
	}
	ap.Func = fn.text
	if fn.plus < 0 {
		return
	}
	name, off := fn.text[:fn.plus], fn.text[fn.plus+1:]
	offPos := Pos{Line: fn.pos.Line, Col: fn.end - len(off) - fn.pos.Offset + fn.pos.Col, Offset: fn.end - len(off)}
	if name == "" {
		p.errAt(fn.pos, fn.length(), "write FUNC+OFFSET", "missing function name before '+'")
	}
	v, msg := parseInt(off)
	if msg != "" || off == "" {
		p.errAt(offPos, len(off), `write the offset as a number, like +0x10 or +16; quote function names that contain '+': "operator+"`, "invalid offset %q", off)
	}
	if ap.Kind == KindUretprobe {
		p.errAt(fn.pos, fn.length(), fmt.Sprintf("use uprobe:%s:%s to probe inside the function, or drop the offset", ap.Target, fn.text), "uretprobe cannot attach at a function offset")
	}
	if strings.Contains(name, "*") {
		p.errAt(fn.pos, fn.length(), "name one function, or drop the offset", "an offset cannot be combined with a wildcard")
	}
	ap.Func, ap.Offset, ap.HasOffset = name, v, true
}

// usdtParts fills a usdt attach point: usdt:TARGET:[PROVIDER:]NAME, and for
// the process given with -p, usdt::[PROVIDER:]NAME or usdt:NAME.
func (p *parser) usdtParts(ap *AttachPoint, fields []apField) {
	var name apField
	switch len(fields) {
	case 1:
		p.errAt(ap.Pos, len(ap.Raw), "write usdt:TARGET:[PROVIDER:]NAME, or usdt::NAME for the process given with -p", "missing target and probe name")
	case 2:
		name = fields[1]
		if strings.Contains(name.text, "/") && !name.quoted {
			p.errAt(name.pos, name.length(), fmt.Sprintf("write usdt:%s:[PROVIDER:]NAME", name.text), "missing probe name after target %q", name.text)
		}
	case 3:
		ap.Target = fields[1].text
		name = fields[2]
	case 4:
		ap.Target, ap.Provider = fields[1].text, fields[2].text
		name = fields[3]
	default:
		p.errAt(colonBefore(fields[4]), 1, "write usdt:TARGET:[PROVIDER:]NAME; quote a target that contains ':'", "too many ':' in attach point")
	}
	if name.text == "" {
		p.errAt(colonBefore(name), 1, "write usdt:TARGET:[PROVIDER:]NAME", "missing probe name")
	}
	ap.Func = name.text
}

// intervalUnits maps interval units to nanoseconds; hz is handled apart.
var intervalUnits = map[string]uint64{"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}

const intervalHint = "write interval:s:N, interval:ms:N, interval:us:N, interval:ns:N or interval:hz:N"

// intervalParts fills IntervalNanos from interval:UNIT:N or interval:NUNIT.
func (p *parser) intervalParts(ap *AttachPoint, fields []apField) {
	var unit, num string
	var at apField
	switch len(fields) {
	case 2:
		at = fields[1]
		i := 0
		for i < len(at.text) && (isDigit(at.text[i]) || at.text[i] == '_') {
			i++
		}
		num, unit = at.text[:i], at.text[i:]
	case 3:
		unit, num, at = fields[1].text, fields[2].text, fields[2]
		if _, ok := intervalUnits[unit]; !ok && unit != "hz" {
			f := fields[1]
			p.errAt(f.pos, f.length(), intervalHint, "unknown interval unit %q", unit)
		}
	default:
		p.errAt(ap.Pos, len(ap.Raw), intervalHint, "malformed interval probe")
	}
	if _, ok := intervalUnits[unit]; !ok && unit != "hz" {
		p.errAt(at.pos, at.length(), intervalHint, "malformed interval probe")
	}
	n, msg := parseInt(num)
	if msg != "" || num == "" {
		p.errAt(at.pos, at.length(), intervalHint, "invalid interval %q", num)
	}
	if n == 0 {
		p.errAt(at.pos, at.length(), "the period must be positive", "interval of zero")
	}
	if unit == "hz" {
		if n > 1e9 {
			p.errAt(at.pos, at.length(), "use at most 1000000000 hz", "interval frequency is too high")
		}
		ap.IntervalNanos = 1e9 / n
		return
	}
	mul := intervalUnits[unit]
	if n > math.MaxUint64/mul {
		p.errAt(at.pos, at.length(), "use a shorter period", "interval is too long")
	}
	ap.IntervalNanos = n * mul
}

// Line probes (issue 17): KIND:TARGET:FILE:LINE, where FILE names a source
// file (it has a source extension or a '/'), and KIND:TARGET:FUNC:LINE,
// LINE counted from the function's own line. LINE is decimal, or '*' (to
// list a file's lines).

func isUprobeKind(k string) bool {
	return k == "uprobe" || k == "u" || k == "uretprobe" || k == "ur"
}

func isLineText(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// sourceExts are the extensions that make a field a source file.
var sourceExts = map[string]bool{
	"c": true, "h": true, "cc": true, "cp": true, "cpp": true, "cxx": true, "c++": true, "C": true,
	"hh": true, "hpp": true, "hxx": true, "h++": true, "H": true, "inl": true, "ipp": true, "tcc": true,
	"ixx": true, "cppm": true, "i": true, "ii": true, "s": true, "S": true, "rs": true, "m": true, "mm": true,
	"f": true, "f90": true, "d": true, "zig": true, "y": true, "l": true,
}

// IsSourceFile reports whether a probe's field names a source file rather
// than a function: a name with a source extension (.c, .cpp, .h...) or
// with a '/'.
func IsSourceFile(s string) bool {
	if strings.Contains(s, "/") {
		return true
	}
	i := strings.LastIndexByte(s, '.')
	return i > 0 && sourceExts[s[i+1:]]
}

// sourcePathAhead reports whether the field at the lexer is a path with a
// '/' followed by ":LINE" (digits or '*') and the end of the attach point:
// uprobe:BIN:src/file.c:12 rather than a function and a predicate.
func (p *parser) sourcePathAhead() bool {
	src, i := p.lx.src, p.lx.off
	slash, start := false, i
	for ; i < len(src); i++ {
		c := src[i]
		if c == ':' || isSpace(c) || c == ',' || c == '{' || c == '}' || c == '"' {
			break
		}
		if c == '/' {
			slash = true
			continue
		}
		if !isLetter(c) && !isDigit(c) && c != '.' && c != '-' && c != '+' {
			return false
		}
	}
	if !slash || i == start || i >= len(src) || src[i] != ':' {
		return false
	}
	i++
	j := i
	for j < len(src) && (isDigit(src[j]) || src[j] == '*' && j == i) {
		j++
	}
	if j == i || !isLineText(src[i:j]) {
		return false
	}
	return j == len(src) || isSpace(src[j]) || src[j] == '{' || src[j] == ',' || src[j] == '/'
}

// lineParts fills a line probe's target, file or function, and line.
func (p *parser) lineParts(ap *AttachPoint, fields []apField) {
	ap.Target = fields[1].text
	where, lf := fields[2], fields[3]
	if where.text == "" {
		p.errAt(colonBefore(lf), 1, fmt.Sprintf("write %s:TARGET:FILE:LINE or %s:TARGET:FUNC:LINE", ap.Kind, ap.Kind), "missing source file or function before the line")
	}
	if IsSourceFile(where.text) {
		ap.File = where.text
	} else {
		ap.Func = where.text
	}
	ap.HasLine, ap.Line = true, -1
	if lf.text != "*" {
		v, _ := parseInt(lf.text)
		ap.Line = int(v)
	}
	if ap.File != "" && ap.Line == 0 {
		p.errAt(lf.pos, lf.length(), "source lines count from 1", "line 0 of %s", ap.File)
	}
	if ap.Kind == KindUretprobe {
		p.errAt(lf.pos, lf.length(), fmt.Sprintf("use uprobe:%s:%s:%s", ap.Target, where.text, lf.text), "a source line has no return")
	}
}
