package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ArgKind is the kind of argument a printf directive consumes. The compiler
// checks each argument's type against it.
type ArgKind uint8

// Argument kinds of printf directives.
const (
	// ArgInt is an integer of any width (d i u x X o).
	ArgInt ArgKind = iota + 1
	// ArgString is a string (s). Other values are accepted too and print as
	// they would with print().
	ArgString
	// ArgChar is an integer printed as one byte (c).
	ArgChar
	// ArgPointer is an address (p).
	ArgPointer
	// ArgBuffer is a byte buffer from buf() (r rx rh).
	ArgBuffer
)

// String names the kind as a type a user would recognise.
func (k ArgKind) String() string {
	switch k {
	case ArgInt:
		return "integer"
	case ArgString:
		return "string"
	case ArgChar:
		return "character (integer)"
	case ArgPointer:
		return "pointer"
	case ArgBuffer:
		return "buffer"
	}
	return "ArgKind(" + strconv.Itoa(int(k)) + ")"
}

// Flags are the flag characters of a directive.
type Flags struct {
	Minus bool // '-': left-justify within the width
	Plus  bool // '+': always print a sign for signed conversions
	Space bool // ' ': a space where a '+' would go
	Hash  bool // '#': alternate form (0 for %o, 0x for %x)
	Zero  bool // '0': pad numbers with zeros
}

// Directive is one conversion specification of a printf format.
type Directive struct {
	// Offset is the byte offset of the directive's '%' in the format.
	Offset int
	// Text is the directive as written, such as "%-10s".
	Text  string
	Flags Flags
	// Width is the minimum field width, or -1 when absent.
	Width int
	// Precision is the precision, or -1 when absent.
	Precision int
	// Length is the length modifier as written: "", "hh", "h", "l", "ll",
	// "z", "j", "t" or "L".
	Length string
	// Verb is the conversion: d i u x X o c s p, or r, rx, rh.
	Verb string
	// Arg is the kind of argument the directive consumes.
	Arg ArgKind
	// cInt: without a length modifier, the argument is C's int or unsigned
	// int (Format.CInt).
	cInt bool
}

// piece is either a literal run of text or a directive.
type piece struct {
	lit string
	dir int // index into Format.dirs, or -1 for a literal
}

// Format is a parsed printf format: literal text and directives.
type Format struct {
	src    string
	pieces []piece
	dirs   []Directive
}

// FormatError reports an invalid printf format. Offset is the byte offset
// of the bad directive's '%' (or of the bad character), so that the
// compiler can point a caret at it.
type FormatError struct {
	Offset int
	Msg    string
}

// Error implements error.
func (e *FormatError) Error() string {
	return fmt.Sprintf("invalid printf format at byte %d: %s", e.Offset, e.Msg)
}

// MaxWidth bounds widths and precisions in formats, so that a format cannot
// ask for gigabytes of padding.
const MaxWidth = 4096

const validConversions = "valid conversions are %d %i %u %x %X %o %c %s %p %r %rx %rh and %%"

// ParseFormat parses a C printf format. The string is the format's value
// after the lexer has processed escapes such as \n. It accepts flags
// "-+ #0", a decimal width and precision, the length modifiers hh h l ll z j
// t L (accepted for compatibility: values arrive typed, see Format.Sprintf),
// and the conversions d i u x X o c s p, bpftrace's buffer conversions r rx
// rh, and "%%". Star widths, positional arguments and floating point are
// errors.
func ParseFormat(f string) (*Format, error) {
	pf := &Format{src: f}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			pf.pieces = append(pf.pieces, piece{lit: lit.String(), dir: -1})
			lit.Reset()
		}
	}
	i := 0
	for i < len(f) {
		c := f[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		start := i
		i++
		if i < len(f) && f[i] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		d, next, err := parseDirective(f, start)
		if err != nil {
			return nil, err
		}
		i = next
		flush()
		pf.pieces = append(pf.pieces, piece{dir: len(pf.dirs)})
		pf.dirs = append(pf.dirs, d)
	}
	flush()
	return pf, nil
}

// parseDirective parses the directive whose '%' is at f[start]. It returns
// the directive and the offset after it.
func parseDirective(f string, start int) (Directive, int, error) {
	d := Directive{Offset: start, Width: -1, Precision: -1}
	fail := func(off int, format string, args ...any) (Directive, int, error) {
		return d, 0, &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	i := start + 1
	if i >= len(f) {
		return fail(start, "'%%' at the end of the format; write %%%% for a literal percent sign")
	}
	// Flags.
flags:
	for ; i < len(f); i++ {
		switch f[i] {
		case '-':
			d.Flags.Minus = true
		case '+':
			d.Flags.Plus = true
		case ' ':
			d.Flags.Space = true
		case '#':
			d.Flags.Hash = true
		case '0':
			d.Flags.Zero = true
		default:
			break flags
		}
	}
	// Width.
	if i < len(f) && f[i] == '*' {
		return fail(start, "'*' widths are not supported; write the width as a number, such as %%8d")
	}
	w, n, ok := parseNum(f[i:])
	if !ok {
		return fail(start, "width is larger than %d", MaxWidth)
	}
	if n > 0 {
		d.Width = w
		i += n
		if i < len(f) && f[i] == '$' {
			return fail(start, "positional arguments (%%N$) are not supported")
		}
	}
	// Precision.
	if i < len(f) && f[i] == '.' {
		i++
		if i < len(f) && f[i] == '*' {
			return fail(start, "'*' precisions are not supported; write the precision as a number, such as %%.8s")
		}
		p, n, ok := parseNum(f[i:])
		if !ok {
			return fail(start, "precision is larger than %d", MaxWidth)
		}
		d.Precision = p // "%.s" means precision 0, as in C
		i += n
	}
	// Length modifier.
	for _, l := range []string{"hh", "h", "ll", "l", "z", "j", "t", "L"} {
		if strings.HasPrefix(f[i:], l) {
			d.Length = l
			i += len(l)
			break
		}
	}
	if i >= len(f) {
		return fail(start, "directive %q has no conversion character; %s", f[start:], validConversions)
	}
	// Conversion.
	c := f[i]
	i++
	switch c {
	case 'd', 'i', 'u', 'x', 'X', 'o':
		d.Verb, d.Arg = string(c), ArgInt
	case 'c':
		d.Verb, d.Arg = "c", ArgChar
	case 's':
		d.Verb, d.Arg = "s", ArgString
	case 'p':
		d.Verb, d.Arg = "p", ArgPointer
	case 'r':
		d.Verb, d.Arg = "r", ArgBuffer
		if i < len(f) && (f[i] == 'x' || f[i] == 'h') {
			d.Verb += string(f[i])
			i++
		}
	case '%':
		return fail(start, "a literal percent sign takes no flags, width or precision; write %%%%")
	case 'f', 'F', 'e', 'E', 'g', 'G', 'a', 'A':
		return fail(start, "floating-point conversion %%%c is not supported; %s", c, validConversions)
	case 'n':
		return fail(start, "%%n is not supported")
	default:
		return fail(start, "unknown conversion %q in %q; %s", c, f[start:i], validConversions)
	}
	if d.Length != "" {
		switch d.Verb {
		case "c", "s", "r", "rx", "rh":
			return fail(start, "length modifier %q is not valid with %%%s; length modifiers apply to %%d %%i %%u %%x %%X %%o %%p", d.Length, d.Verb)
		}
	}
	d.Text = f[start:i]
	return d, i, nil
}

// parseNum reads a decimal number at the start of s. It returns the value,
// the count of digits, and false when the value exceeds MaxWidth.
func parseNum(s string) (int, int, bool) {
	v, n := 0, 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		n++
		if v > MaxWidth {
			return 0, n, false
		}
	}
	return v, n, true
}

// String returns the format as it was parsed.
func (f *Format) String() string { return f.src }

// Directives returns the format's directives in order; each consumes one
// argument.
func (f *Format) Directives() []Directive {
	return append([]Directive(nil), f.dirs...)
}

// NumArgs returns how many arguments the format consumes.
func (f *Format) NumArgs() int { return len(f.dirs) }

// CInt makes directives without a length modifier convert their integer
// to C's int or unsigned int, as bpftrace main's printf does (%ld for 64
// bits); without it they read the value at its own width (at least 32
// bits), as bcc's trace does.
func (f *Format) CInt() {
	for i := range f.dirs {
		f.dirs[i].cInt = true
	}
}

// Sprintf formats args with C semantics and returns the text.
//
// Integers are converted as C converts a value of their declared type
// (Value.Size, Value.Signed) passed with the matching length modifier: %d
// and %i read the bits as signed, %u %x %X %o as unsigned, at the wider of
// the value's width and int (so -1 as int32 prints ffffffff with %x, -1 as
// int64 prints ffffffffffffffff, and an int8 -1 prints 4294967295 with %u
// after C's promotion to int). An explicit hh or h narrows to 8 or 16 bits;
// l, ll, z, j, t and L widen to 64 bits, converting the value as C converts
// it to the modifier's type (sign-extending signed values). %p prints 0x-prefixed hex and
// "(nil)" for 0, like glibc. %c prints the low byte. %s prints strings, and
// any other value as print() would. %r prints a buffer with printable ASCII
// kept and other bytes as \xNN, %rx every byte as \xNN, %rh as spaced hex
// pairs; width, precision and '-' apply to the result as for %s (bpftrace
// 0.17 ignores them there). Strings and buffers with Truncated set end in
// TruncMarker, counted as part of the string for width and precision.
//
// A missing argument prints as %!d(MISSING) and an argument of the wrong
// kind as %!d(string=abc), as Go's fmt does; the compiler prevents both.
func (f *Format) Sprintf(args []Value) string {
	return string(f.Append(nil, args))
}

// Fprintf formats args like Sprintf and writes the text to w.
func (f *Format) Fprintf(w io.Writer, args []Value) (int, error) {
	return w.Write(f.Append(nil, args))
}

// Append formats args like Sprintf and appends the text to dst.
func (f *Format) Append(dst []byte, args []Value) []byte {
	for _, p := range f.pieces {
		if p.dir < 0 {
			dst = append(dst, p.lit...)
			continue
		}
		d := &f.dirs[p.dir]
		if p.dir >= len(args) {
			dst = append(dst, "%!"+d.Verb+"(MISSING)"...)
			continue
		}
		dst = d.appendArg(dst, args[p.dir])
	}
	return dst
}

// appendArg formats one argument.
func (d *Directive) appendArg(dst []byte, v Value) []byte {
	switch d.Arg {
	case ArgInt:
		if v.Kind != KindInt && v.Kind != KindPointer {
			return badArg(dst, d, v)
		}
		return d.appendInt(dst, v)
	case ArgChar:
		if v.Kind != KindInt {
			return badArg(dst, d, v)
		}
		return d.padByte(dst, byte(v.bits()))
	case ArgPointer:
		if v.Kind != KindInt && v.Kind != KindPointer {
			return badArg(dst, d, v)
		}
		return d.appendPointer(dst, v)
	case ArgString:
		return d.appendString(dst, v.text(ValueIndent))
	case ArgBuffer:
		var b []byte
		switch v.Kind {
		case KindBuffer:
			b = v.Bytes
		case KindString:
			b = []byte(v.Str)
		default:
			return badArg(dst, d, v)
		}
		style := BufferEscaped
		switch d.Verb {
		case "rx":
			style = BufferHexEscaped
		case "rh":
			style = BufferHex
		}
		s := FormatBuffer(b, style)
		if v.Truncated {
			s += TruncMarker
		}
		return d.appendString(dst, s)
	}
	return badArg(dst, d, v)
}

// badArg prints an argument of the wrong kind the way Go's fmt does.
func badArg(dst []byte, d *Directive, v Value) []byte {
	return append(dst, "%!"+d.Verb+"("+v.Kind.String()+"="+v.text(ValueIndent)+")"...)
}

// convWidth returns the width in bits at which an integer directive reads v.
func (d *Directive) convWidth(v Value) int {
	switch d.Length {
	case "hh":
		return 8
	case "h":
		return 16
	case "l", "ll", "z", "j", "t", "L":
		return 64
	}
	if v.Kind == KindPointer {
		return 64
	}
	if d.cInt {
		return 32
	}
	return max(32, v.width())
}

// appendInt formats an integer conversion: d i u x X o. It allocates
// nothing: the digits are built in an array on the stack.
func (d *Directive) appendInt(dst []byte, v Value) []byte {
	w := d.convWidth(v)
	bits := v.bits()
	if v.Kind == KindPointer {
		bits = v.Uint
	}
	var mag uint64
	var sign string
	switch d.Verb {
	case "d", "i":
		s := int64(extend(bits, w, true))
		mag = uint64(s)
		if s < 0 {
			mag = -mag
			sign = "-"
		} else if d.Flags.Plus {
			sign = "+"
		} else if d.Flags.Space {
			sign = " "
		}
	default:
		mag = extend(bits, w, false)
	}
	base := 10
	switch d.Verb {
	case "x", "X":
		base = 16
	case "o":
		base = 8
	}
	var buf [24]byte
	digits := buf[:0]
	if !(d.Precision == 0 && mag == 0) {
		digits = strconv.AppendUint(digits, mag, base)
	}
	if d.Verb == "X" {
		for i, c := range digits {
			if c >= 'a' && c <= 'f' {
				digits[i] = c - 'a' + 'A'
			}
		}
	}
	zeros := 0 // leading zeros from the precision or '#' with %o
	if len(digits) < d.Precision {
		zeros = d.Precision - len(digits)
	}
	prefix := sign
	if d.Flags.Hash {
		switch d.Verb {
		case "o":
			if zeros == 0 && (len(digits) == 0 || digits[0] != '0') {
				zeros = 1
			}
		case "x":
			if mag != 0 {
				prefix = "0x"
			}
		case "X":
			if mag != 0 {
				prefix = "0X"
			}
		}
	}
	return d.padNumber(dst, prefix, zeros, digits)
}

// appendPointer formats %p as glibc does: "(nil)" for 0, else like %#lx
// with the '+' and ' ' flags honoured.
func (d *Directive) appendPointer(dst []byte, v Value) []byte {
	p := v.Uint
	if v.Kind == KindInt {
		p = v.bits()
	}
	if p == 0 {
		return d.pad(dst, "(nil)")
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], p, 16)
	zeros := 0
	if len(digits) < d.Precision {
		zeros = d.Precision - len(digits)
	}
	prefix := "0x"
	if d.Flags.Plus {
		prefix = "+0x"
	} else if d.Flags.Space {
		prefix = " 0x"
	}
	return d.padNumber(dst, prefix, zeros, digits)
}

// padNumber writes prefix, zeros '0's and digits padded to the width: with
// more zeros after the prefix for the '0' flag (unless a precision or '-'
// is given), else with spaces.
func (d *Directive) padNumber(dst []byte, prefix string, zeros int, digits []byte) []byte {
	n := len(prefix) + zeros + len(digits)
	if d.Width > n && d.Flags.Zero && !d.Flags.Minus && d.Precision < 0 {
		zeros += d.Width - n
		n = d.Width
	}
	fill := d.Width - n
	if !d.Flags.Minus {
		dst = appendRepeat(dst, ' ', fill)
	}
	dst = append(dst, prefix...)
	dst = appendRepeat(dst, '0', zeros)
	dst = append(dst, digits...)
	if d.Flags.Minus {
		dst = appendRepeat(dst, ' ', fill)
	}
	return dst
}

// appendRepeat appends n copies of c (none when n <= 0).
func appendRepeat(dst []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, c)
	}
	return dst
}

// appendString writes s cut to the precision and padded to the width.
func (d *Directive) appendString(dst []byte, s string) []byte {
	if d.Precision >= 0 && len(s) > d.Precision {
		s = s[:d.Precision]
	}
	return d.pad(dst, s)
}

// padByte writes one byte padded like pad.
func (d *Directive) padByte(dst []byte, c byte) []byte {
	if !d.Flags.Minus {
		dst = appendRepeat(dst, ' ', d.Width-1)
	}
	dst = append(dst, c)
	if d.Flags.Minus {
		dst = appendRepeat(dst, ' ', d.Width-1)
	}
	return dst
}

// pad writes s padded with spaces to the width, on the right for '-'.
func (d *Directive) pad(dst []byte, s string) []byte {
	n := d.Width - len(s)
	if d.Flags.Minus {
		dst = append(dst, s...)
	}
	for ; n > 0; n-- {
		dst = append(dst, ' ')
	}
	if !d.Flags.Minus {
		dst = append(dst, s...)
	}
	return dst
}
