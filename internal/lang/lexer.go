package lang

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// tokKind is the class of a token.
type tokKind int

const (
	tEOF        tokKind = iota
	tIdent              // name, keyword or builtin
	tInt                // integer or character literal
	tString             // "..." with escapes decoded in token.str
	tVar                // $name
	tPositional         // $N
	tMap                // @name or bare @
	tOp                 // operator or punctuation; token.text holds it
)

// token is one lexical token.
type token struct {
	kind tokKind
	pos  Pos
	end  int    // byte offset just past the token
	text string // the token as written
	str  string // decoded string, or the name of an identifier, variable or map
	val  uint64 // value of an integer literal, number of a positional parameter
}

// is reports whether t is the operator or punctuation op.
func (t token) is(op string) bool { return t.kind == tOp && t.text == op }

// isWord reports whether t is the identifier (or keyword) w.
func (t token) isWord(w string) bool { return t.kind == tIdent && t.str == w }

// length is how many bytes the token spans, at least 1.
func (t token) length() int {
	if n := t.end - t.pos.Offset; n > 0 {
		return n
	}
	return 1
}

// describe names the token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tIdent:
		if keywords[t.str] {
			return fmt.Sprintf("keyword %q", t.str)
		}
		return fmt.Sprintf("identifier %q", t.str)
	case tInt:
		return "number " + t.text
	case tString:
		s := t.text
		if len(s) > 24 {
			s = s[:20] + `..."`
		}
		return "string " + s
	case tVar:
		return "variable " + t.text
	case tPositional:
		return "parameter " + t.text
	case tMap:
		return "map " + t.text
	}
	return "'" + t.text + "'"
}

// keywords are the identifiers the grammar reserves.
var keywords = map[string]bool{
	"if": true, "else": true, "while": true, "unroll": true, "return": true,
	"for": true, "break": true, "continue": true, "let": true, "true": true, "false": true,
	"struct": true, "union": true, "enum": true,
}

// operators lists the operators and punctuation, longest first so that the
// lexer takes the longest match.
var operators = []string{
	"<<=", ">>=",
	"->", "++", "--", "&&", "||", "==", "!=", "<=", ">=", "<<", ">>",
	"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
	"..", "(", ")", "{", "}", "[", "]", ",", ";", "?", ":", ".",
	"+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "<", ">", "=",
}

// lexer splits source text into tokens. It reads src[off:end] and keeps the
// line and column of its position.
type lexer struct {
	file      string
	src       string
	end       int
	off       int
	line      int
	lineStart int // offset of the first byte of the current line
}

func newLexer(file, src string, start, end int) *lexer {
	lx := &lexer{file: file, src: src, end: end, line: 1}
	lx.seek(start)
	return lx
}

// seek moves the lexer forward to offset off.
func (lx *lexer) seek(off int) {
	for lx.off < off {
		lx.advance()
	}
}

// reset moves the lexer back to position p, which it has passed.
func (lx *lexer) reset(p Pos) {
	lx.off, lx.line, lx.lineStart = p.Offset, p.Line, p.Offset-p.Col+1
}

// pos is the lexer's current position.
func (lx *lexer) pos() Pos {
	return Pos{Line: lx.line, Col: lx.off - lx.lineStart + 1, Offset: lx.off}
}

// advance steps over one byte.
func (lx *lexer) advance() {
	if lx.off >= len(lx.src) {
		return
	}
	if lx.src[lx.off] == '\n' {
		lx.line++
		lx.lineStart = lx.off + 1
	}
	lx.off++
}

// at returns the byte at offset off from the current position, or 0 past
// the end.
func (lx *lexer) at(i int) byte {
	if lx.off+i >= lx.end || lx.off+i < 0 {
		return 0
	}
	return lx.src[lx.off+i]
}

func (lx *lexer) eof() bool { return lx.off >= lx.end }

func (lx *lexer) errorf(pos Pos, n int, hint, format string, args ...any) *Error {
	if n < 1 {
		n = 1
	}
	return &Error{File: lx.file, Pos: pos, Len: n, Msg: fmt.Sprintf(format, args...), Hint: hint, Source: lx.src}
}

// skipSpace skips white space and comments.
func (lx *lexer) skipSpace() *Error {
	for !lx.eof() {
		c := lx.at(0)
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			lx.advance()
		case c == '/' && lx.at(1) == '/':
			for !lx.eof() && lx.at(0) != '\n' {
				lx.advance()
			}
		case c == '/' && lx.at(1) == '*':
			start := lx.pos()
			lx.advance()
			lx.advance()
			for {
				if lx.eof() {
					return lx.errorf(start, 2, "close it with '*/'", "unterminated comment")
				}
				if lx.at(0) == '*' && lx.at(1) == '/' {
					lx.advance()
					lx.advance()
					break
				}
				lx.advance()
			}
		default:
			return nil
		}
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// next returns the next token.
func (lx *lexer) next() (token, *Error) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	start := lx.pos()
	if lx.eof() {
		return token{kind: tEOF, pos: start, end: lx.off}, nil
	}
	tok := token{pos: start}
	c := lx.at(0)
	switch {
	case isLetter(c):
		lx.word()
		tok.kind = tIdent
	case isDigit(c):
		v, err := lx.number(start)
		if err != nil {
			return token{}, err
		}
		tok.kind, tok.val = tInt, v
	case c == '\'':
		v, err := lx.char(start)
		if err != nil {
			return token{}, err
		}
		tok.kind, tok.val = tInt, v
	case c == '"':
		s, err := lx.quoted(start)
		if err != nil {
			return token{}, err
		}
		tok.kind, tok.str = tString, s
	case c == '$':
		lx.advance()
		switch {
		case isLetter(lx.at(0)):
			tok.kind = tVar
			tok.str = lx.word()
		case isDigit(lx.at(0)):
			d := lx.off
			for isDigit(lx.at(0)) {
				lx.advance()
			}
			n, err := strconv.ParseUint(lx.src[d:lx.off], 10, 31)
			if err != nil {
				return token{}, lx.errorf(start, lx.off-start.Offset, "", "positional parameter %s is out of range", lx.src[start.Offset:lx.off])
			}
			tok.kind, tok.val = tPositional, n
		case lx.at(0) == '#':
			// $#: how many positional parameters were given.
			lx.advance()
			tok.kind, tok.val = tPositional, 0
		default:
			return token{}, lx.errorf(start, 1, "write a variable as $name or a positional parameter as $1", "'$' must be followed by a name or a number")
		}
	case c == '@':
		lx.advance()
		tok.kind = tMap
		if isLetter(lx.at(0)) || isDigit(lx.at(0)) {
			tok.str = lx.word()
		}
	default:
		for _, op := range operators {
			if strings.HasPrefix(lx.src[lx.off:lx.end], op) {
				for range op {
					lx.advance()
				}
				tok.kind = tOp
				break
			}
		}
		if tok.kind != tOp {
			return token{}, lx.errorf(start, 1, "", "unexpected character %s", quoteByte(c))
		}
	}
	tok.end = lx.off
	tok.text = lx.src[start.Offset:lx.off]
	if tok.kind == tIdent {
		tok.str = tok.text
	}
	return tok, nil
}

// quoteByte renders a byte for a message.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("'\\x%02x'", c)
}

// word scans letters, digits and underscores and returns them.
func (lx *lexer) word() string {
	s := lx.off
	for isLetter(lx.at(0)) || isDigit(lx.at(0)) {
		lx.advance()
	}
	return lx.src[s:lx.off]
}

// number scans an integer literal: decimal, 0x hex, 0b binary or 0 octal,
// with '_' separators.
func (lx *lexer) number(start Pos) (uint64, *Error) {
	s := lx.off
	for isLetter(lx.at(0)) || isDigit(lx.at(0)) {
		lx.advance()
	}
	text := lx.src[s:lx.off]
	if v, ok := parseDuration(text); ok {
		return v, nil
	}
	v, msg := parseInt(text)
	if msg != "" {
		return 0, lx.errorf(start, len(text), "write integers as 123, 0x7b, 0173, 0b1111011, 1_000 or 1e3", "%s", msg)
	}
	return v, nil
}

// durationUnits are the suffixes of duration literals (1s, 10ms), whose
// value is in nanoseconds, as in bpftrace.
var durationUnits = []struct {
	suffix string
	nanos  uint64
}{{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}}

// parseDuration parses a decimal number with a duration unit.
func parseDuration(text string) (uint64, bool) {
	for _, u := range durationUnits {
		digits, ok := strings.CutSuffix(text, u.suffix)
		if !ok || digits == "" || digits[0] == '0' && len(digits) > 1 {
			continue
		}
		n, err := strconv.ParseUint(strings.ReplaceAll(digits, "_", ""), 10, 64)
		if err != nil || n > (1<<64-1)/u.nanos {
			continue
		}
		return n * u.nanos, true
	}
	return 0, false
}

// parseInt parses an integer literal as the language writes it. It returns
// a message when the text is not a valid literal.
func parseInt(text string) (uint64, string) {
	digits, base := text, 10
	switch {
	case len(text) > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'):
		digits, base = text[2:], 16
	case len(text) > 1 && text[0] == '0' && (text[1] == 'b' || text[1] == 'B'):
		digits, base = text[2:], 2
	case len(text) > 1 && text[0] == '0':
		digits, base = text[1:], 8
	}
	if base == 10 {
		if i := strings.IndexByte(text, 'e'); i > 0 {
			return parseExponent(text, text[:i], text[i+1:])
		}
	}
	clean := strings.ReplaceAll(digits, "_", "")
	if clean == "" || strings.HasPrefix(digits, "_") || strings.HasSuffix(digits, "_") || strings.Contains(digits, "__") {
		return 0, fmt.Sprintf("invalid number %q", text)
	}
	for i := 0; i < len(clean); i++ {
		c := clean[i]
		var ok bool
		switch base {
		case 16:
			ok = isHex(c)
		case 10:
			ok = isDigit(c)
		case 8:
			ok = c >= '0' && c <= '7'
		case 2:
			ok = c == '0' || c == '1'
		}
		if !ok {
			if base == 8 && isDigit(c) {
				return 0, fmt.Sprintf("invalid digit %q in octal number %q", c, text)
			}
			return 0, fmt.Sprintf("invalid number %q", text)
		}
	}
	v, err := strconv.ParseUint(clean, base, 64)
	if err != nil {
		return 0, fmt.Sprintf("number %q does not fit in 64 bits", text)
	}
	return v, ""
}

// parseExponent parses an integer in scientific notation, such as 1e6.
func parseExponent(text, coef, exp string) (uint64, string) {
	c, msg := parseInt(coef)
	if msg != "" || coef[0] == '0' && len(coef) > 1 {
		return 0, fmt.Sprintf("invalid number %q", text)
	}
	if exp == "" || len(exp) > 2 {
		return 0, fmt.Sprintf("invalid number %q", text)
	}
	for i := 0; i < len(exp); i++ {
		if !isDigit(exp[i]) {
			return 0, fmt.Sprintf("invalid number %q", text)
		}
	}
	e, _ := strconv.Atoi(exp)
	for ; e > 0; e-- {
		if c > math.MaxUint64/10 {
			return 0, fmt.Sprintf("number %q does not fit in 64 bits", text)
		}
		c *= 10
	}
	return c, ""
}

const escapeHint = `valid escapes are \n \t \r \\ \" \' \0, \xHH and \NNN (octal)`

// escape decodes one escape sequence; the lexer is on the backslash.
func (lx *lexer) escape() (byte, *Error) {
	bs := lx.pos()
	lx.advance()
	if lx.eof() || lx.at(0) == '\n' {
		return 0, lx.errorf(bs, 1, escapeHint, "incomplete escape sequence")
	}
	c := lx.at(0)
	lx.advance()
	switch c {
	case 'n':
		return '\n', nil
	case 't':
		return '\t', nil
	case 'r':
		return '\r', nil
	case 'a':
		return '\a', nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'v':
		return '\v', nil
	case 'e':
		return 0x1b, nil
	case '\\', '"', '\'', '?':
		return c, nil
	case 'x':
		v, n := 0, 0
		for n < 2 && isHex(lx.at(0)) {
			d, _ := strconv.ParseUint(string(lx.at(0)), 16, 8)
			v = v*16 + int(d)
			lx.advance()
			n++
		}
		if n == 0 {
			return 0, lx.errorf(bs, 2, escapeHint, `\x must be followed by hex digits`)
		}
		return byte(v), nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v, n := int(c-'0'), 1
		for n < 3 && lx.at(0) >= '0' && lx.at(0) <= '7' {
			v = v*8 + int(lx.at(0)-'0')
			lx.advance()
			n++
		}
		if v > 255 {
			return 0, lx.errorf(bs, lx.off-bs.Offset, escapeHint, "octal escape is larger than 255")
		}
		return byte(v), nil
	}
	seq := `\` + string(c)
	if c < 0x20 || c >= 0x7f {
		seq = fmt.Sprintf(`\ followed by byte 0x%02x`, c)
	}
	return 0, lx.errorf(bs, 2, escapeHint, "unknown escape sequence %s", seq)
}

// quoted scans a double-quoted string and returns its decoded value.
func (lx *lexer) quoted(start Pos) (string, *Error) {
	lx.advance()
	var b strings.Builder
	for {
		// A string may span lines, as in bpftrace (echo '"a\n"' in a
		// shell that expands \n gives one).
		if lx.eof() {
			return "", lx.errorf(start, 1, `close it with '"'`, "unterminated string")
		}
		c := lx.at(0)
		if c == '"' {
			lx.advance()
			return b.String(), nil
		}
		if c == '\\' {
			e, err := lx.escape()
			if err != nil {
				return "", err
			}
			b.WriteByte(e)
			continue
		}
		b.WriteByte(c)
		lx.advance()
	}
}

// char scans a character literal such as 'a' or '\n'.
func (lx *lexer) char(start Pos) (uint64, *Error) {
	lx.advance()
	var v byte
	switch c := lx.at(0); {
	case lx.eof() || c == '\n':
		return 0, lx.errorf(start, 1, "close it with \"'\"", "unterminated character literal")
	case c == '\'':
		return 0, lx.errorf(start, 2, "write one character between quotes, like 'a'", "empty character literal")
	case c == '\\':
		e, err := lx.escape()
		if err != nil {
			return 0, err
		}
		v = e
	default:
		v = c
		lx.advance()
	}
	if lx.at(0) != '\'' {
		for !lx.eof() && lx.at(0) != '\'' && lx.at(0) != '\n' {
			lx.advance()
		}
		if lx.at(0) != '\'' {
			return 0, lx.errorf(start, 1, "close it with \"'\"", "unterminated character literal")
		}
		return 0, lx.errorf(start, lx.off-start.Offset+1, `write one byte between quotes, like 'a', or use a "string"`, "character literal is longer than one byte")
	}
	lx.advance()
	return uint64(v), nil
}
