package usdt

import (
	"debug/elf"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors an [Arg] or a [Site] wraps; test them with errors.Is.
var (
	// ErrSyntax marks an argument spec that does not follow the grammar.
	ErrSyntax = errors.New("malformed argument spec")
	// ErrUnsupported marks a well-formed argument that a uprobe program
	// cannot fetch: a vector or high-byte register, a 16- or 24-byte
	// value, a RIP-relative operand without a symbol, an unknown machine.
	ErrUnsupported = errors.New("unsupported")
	// ErrUnresolved marks an argument whose address depends on a symbol
	// that the lookup did not find (or found more than once).
	ErrUnresolved = errors.New("unresolved symbol")
)

// ArgKind tells where an argument's value lives.
type ArgKind int

// The argument kinds. The zero value, ArgUnsupported, is the kind of an
// argument whose location could not be understood.
const (
	// ArgUnsupported: the value cannot be located (see Arg.Err).
	ArgUnsupported ArgKind = iota
	// ArgConst: the value is Offset itself ($5 on x86, 5 on arm64).
	ArgConst
	// ArgReg: the value is in register Reg (%eax, x3).
	ArgReg
	// ArgMem: the value is in memory at Reg + displacement (-8(%rbp),
	// (%rsp), [sp, 96], [x0]).
	ArgMem
	// ArgMemIndex: the value is in memory at Reg + Index*Scale +
	// displacement (-96(%rbp,%rax,8), [x0, x1]). Reg is the zero Reg
	// when the operand has no base (arr(,%rax,4) in non-PIE code).
	ArgMemIndex
	// ArgRIP: the value is in memory at a link-time address, SymbolAddr,
	// which the consumer relocates by the object's load bias. It is
	// written sym+off(%rip) on x86-64 (Reg is rip) or as a bare absolute
	// address (Reg is the zero Reg).
	ArgRIP
)

var argKindNames = [...]string{"unsupported", "const", "reg", "mem", "mem-index", "rip"}

// String returns a short lower-case name of the kind.
func (k ArgKind) String() string {
	if k >= 0 && int(k) < len(argKindNames) {
		return argKindNames[k]
	}
	return "ArgKind(" + strconv.Itoa(int(k)) + ")"
}

// Arg is one decoded argument of a USDT call site, such as "-4@-20(%rbp)".
//
// The displacement of a memory operand is Offset, unless Symbol is set: then
// it is SymbolAddr (Symbol's link-time address plus Offset, valid when
// Resolved), which the consumer relocates by the object's load bias.
type Arg struct {
	// Size is the value's width in bytes: 1, 2, 4 or 8. 16 and 24 (structs
	// passed by value) are parsed but flagged in Err. For the size-less
	// legacy x86 form (%rdi) it is the width of the register name.
	Size int
	// Signed is true for a negative size in the spec (-4@...).
	Signed bool
	// Float is true for the Nf@ form: the bytes hold an IEEE float, which
	// can be fetched like an integer of the same size. Whether a float in
	// a vector register can be fetched is told by Err.
	Float bool
	// Kind tells where the value lives and which fields below are used.
	Kind ArgKind
	// Reg is the register for ArgReg and the base for ArgMem and
	// ArgMemIndex (rip for x86 ArgRIP).
	Reg Reg
	// Index and Scale are the index register and its multiplier (1, 2, 4
	// or 8) for ArgMemIndex.
	Index Reg
	Scale int
	// Offset is the value of an ArgConst, truncated to Size and extended
	// by Signed as the program sees it (2@$-1 is 65535; an unsigned
	// 64-bit immediate keeps its bits), and the numeric displacement of a
	// memory operand.
	Offset int64
	// Symbol names the symbol in a displacement (ArgRIP, or a non-PIE
	// absolute displacement such as arr(,%rax,4)).
	Symbol string
	// SymbolAddr is the link-time address Symbol+Offset, or the absolute
	// address of an ArgRIP without symbol; valid when Resolved.
	SymbolAddr uint64
	// Resolved reports whether SymbolAddr is known.
	Resolved bool
	// Raw is the spec as written in the note, such as "8@24+mp_(%rip)".
	Raw string
	// Err tells why the value cannot be fetched; nil when it can. The
	// other fields hold whatever could be parsed.
	Err error
}

// String describes the argument as type, operand and, where they apply,
// the resolved address and the problem: "s32 -8(%rbp)", "u8 $5",
// "s64 glob+8(%rip) = 0x4010", "f64 %xmm0 (unsupported: SSE register)".
func (a Arg) String() string {
	var b strings.Builder
	switch {
	case a.Float:
		b.WriteByte('f')
	case a.Signed:
		b.WriteByte('s')
	default:
		b.WriteByte('u')
	}
	b.WriteString(strconv.Itoa(a.Size * 8))
	b.WriteByte(' ')
	b.WriteString(operandOf(strings.TrimSpace(a.Raw)))
	if a.Resolved && (a.Symbol != "" || a.Kind == ArgRIP) {
		fmt.Fprintf(&b, " = %#x", a.SymbolAddr)
	}
	if a.Err != nil {
		b.WriteString(" (")
		b.WriteString(a.Err.Error())
		b.WriteByte(')')
	}
	return b.String()
}

// operandOf returns the part of a spec after the size.
func operandOf(raw string) string {
	if i := strings.IndexByte(raw, '@'); i >= 0 {
		return raw[i+1:]
	}
	return raw
}

// ParseArgs splits an argument string from a stapsdt note into arguments
// and decodes each for the object's machine (its e_machine, not the host's).
// Arguments are separated by blanks outside brackets, so arm64's
// "-4@[sp, 96]" stays one argument. An empty string, or one starting with
// ':', has no arguments. A bad argument never hides the others: it is
// returned with Err set.
func ParseArgs(spec string, machine elf.Machine) []Arg {
	toks := splitArgs(spec)
	if len(toks) == 0 {
		return nil
	}
	args := make([]Arg, len(toks))
	for i, t := range toks {
		args[i] = ParseArg(t, machine)
	}
	return args
}

// splitArgs splits a spec string at blanks that are outside brackets and
// parentheses. A blank inside brackets still ends an argument when what
// follows starts a new one (N@), so an unbalanced bracket spoils only its
// own argument.
func splitArgs(spec string) []string {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec[0] == ':' {
		return nil
	}
	var toks []string
	start, depth := -1, 0
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if isBlank(c) {
			if start < 0 {
				continue
			}
			if depth == 0 || startsSpec(strings.TrimLeft(spec[i:], " \t\n\r\v\f")) {
				toks = append(toks, spec[start:i])
				start, depth = -1, 0
			}
			continue
		}
		if start < 0 {
			start = i
		}
		switch c {
		case '(', '[':
			depth++
		case ')', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	if start >= 0 {
		toks = append(toks, spec[start:])
	}
	return toks
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// startsSpec reports whether s begins with a size prefix: -?digits f? @.
func startsSpec(s string) bool {
	s = strings.TrimPrefix(s, "-")
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return false
	}
	s = strings.TrimPrefix(s[n:], "f")
	return strings.HasPrefix(s, "@")
}

// ParseArg decodes one argument spec such as "-4@-20(%rbp)" for the given
// machine. Supported machines are EM_X86_64, EM_386 (with the 64-bit
// register file a 64-bit kernel gives 32-bit tasks) and EM_AARCH64. The
// result always has Raw set; problems are reported in Err.
func ParseArg(s string, machine elf.Machine) Arg {
	a := Arg{Raw: s}
	s = strings.TrimSpace(s)
	x86 := machine == elf.EM_X86_64 || machine == elf.EM_386
	if machine != elf.EM_AARCH64 && !x86 {
		a.Err = fmt.Errorf("%w: argument specs of machine %v", ErrUnsupported, machine)
		return a
	}
	op := s
	sized := false
	if at := strings.IndexByte(s, '@'); at >= 0 {
		sized = true
		op = s[at+1:]
		a.Err = a.parseSize(s[:at])
	} else if !x86 {
		a.Err = fmt.Errorf("%w: no size@ prefix in %q", ErrSyntax, s)
		return a
	}
	op = strings.TrimSpace(op)
	var err error
	if op == "" {
		err = fmt.Errorf("%w: no operand in %q", ErrSyntax, s)
	} else if x86 {
		err = a.parseX86(op, machine, sized)
	} else {
		err = a.parseARM64(op)
	}
	// A malformed operand outranks an unsupported size.
	if a.Err == nil || err != nil && errors.Is(err, ErrSyntax) && !errors.Is(a.Err, ErrSyntax) {
		a.Err = err
	}
	if a.Err != nil && errors.Is(a.Err, ErrSyntax) {
		a.Kind = ArgUnsupported
	}
	if a.Kind == ArgConst {
		a.Offset = extend(a.Offset, a.Size, a.Signed)
	}
	return a
}

// extend truncates v to size bytes and sign- or zero-extends it back, as
// the traced program sees an immediate that the compiler printed
// sign-extended (2@$-1 is 65535).
func extend(v int64, size int, signed bool) int64 {
	if size <= 0 || size >= 8 {
		return v
	}
	shift := uint(64 - 8*size)
	if signed {
		return v << shift >> shift
	}
	return int64(uint64(v) << shift >> shift)
}

// parseSize decodes the "-4", "8f" part of a spec.
func (a *Arg) parseSize(s string) error {
	t := strings.TrimSpace(s)
	if r, ok := strings.CutPrefix(t, "-"); ok {
		a.Signed = true
		t = r
	}
	if r, ok := strings.CutSuffix(t, "f"); ok {
		a.Float = true
		t = r
	}
	if t == "" || t[0] < '0' || t[0] > '9' {
		return fmt.Errorf("%w: bad size %q", ErrSyntax, s)
	}
	n, err := strconv.ParseUint(t, 10, 16)
	if err != nil {
		return fmt.Errorf("%w: bad size %q", ErrSyntax, s)
	}
	a.Size = int(n)
	switch n {
	case 1, 2, 4, 8:
		return nil
	case 16, 24:
		return fmt.Errorf("%w: %d-byte argument", ErrUnsupported, n)
	}
	return fmt.Errorf("%w: bad size %q", ErrSyntax, s)
}

// parseX86 decodes an AT&T operand.
func (a *Arg) parseX86(op string, m elf.Machine, sized bool) error {
	if strings.ContainsRune(op, ':') {
		a.Kind = ArgUnsupported
		return fmt.Errorf("%w: segment-relative operand", ErrUnsupported)
	}
	switch op[0] {
	case '$':
		v, err := parseNum(op[1:])
		if err != nil {
			if isIdent(op[1:]) {
				return fmt.Errorf("%w: symbolic immediate", ErrUnsupported)
			}
			return err
		}
		a.Kind, a.Offset = ArgConst, v
		if !sized {
			a.Size = 8
		}
		return nil
	case '%':
		r, err := x86Reg(op, m)
		if err != nil {
			if !sized && errors.Is(err, ErrUnsupported) {
				a.Size = 8
			}
			return err
		}
		a.Kind, a.Reg = ArgReg, r.reg
		if !sized {
			a.Size = r.width
		}
		return nil
	}
	if !sized {
		a.Size = 8
	}
	open := strings.IndexByte(op, '(')
	if open < 0 {
		// An absolute address: glob, glob+8, 0x601040 (i386, non-PIE).
		sym, off, err := parseDisp(op)
		if err != nil {
			return err
		}
		a.Kind, a.Symbol, a.Offset = ArgRIP, sym, off
		if sym == "" {
			a.SymbolAddr, a.Resolved = uint64(off), true
		}
		return nil
	}
	if op[len(op)-1] != ')' {
		return fmt.Errorf("%w: operand %q does not end in ')'", ErrSyntax, op)
	}
	sym, off, err := parseDisp(op[:open])
	if err != nil {
		return err
	}
	a.Symbol, a.Offset = sym, off
	parts := strings.Split(op[open+1:len(op)-1], ",")
	if len(parts) > 3 {
		return fmt.Errorf("%w: too many terms in %q", ErrSyntax, op)
	}
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	addrWidth := 8
	if m == elf.EM_386 {
		addrWidth = 4
	}
	if parts[0] != "" {
		b, err := x86Reg(parts[0], m)
		if err != nil {
			return err
		}
		if b.reg == regRIP() {
			if len(parts) > 1 {
				return fmt.Errorf("%w: %%rip with an index in %q", ErrSyntax, op)
			}
			a.Kind, a.Reg = ArgRIP, regRIP()
			if sym == "" {
				return fmt.Errorf("%w: RIP-relative operand without a symbol", ErrUnsupported)
			}
			return nil
		}
		if b.width != addrWidth {
			return fmt.Errorf("%w: %d-byte address register %s", ErrUnsupported, b.width, parts[0])
		}
		a.Reg = b.reg
	}
	if len(parts) == 1 {
		if parts[0] == "" {
			return fmt.Errorf("%w: empty parentheses in %q", ErrSyntax, op)
		}
		a.Kind = ArgMem
		return nil
	}
	if parts[1] == "" {
		return fmt.Errorf("%w: no index register in %q", ErrSyntax, op)
	}
	ix, err := x86Reg(parts[1], m)
	if err != nil {
		return err
	}
	if ix.reg == regRIP() || ix.reg == regRSP() {
		return fmt.Errorf("%w: %s cannot be an index", ErrSyntax, parts[1])
	}
	if ix.width != addrWidth {
		return fmt.Errorf("%w: %d-byte index register %s", ErrUnsupported, ix.width, parts[1])
	}
	a.Index, a.Scale = ix.reg, 1
	if len(parts) == 3 {
		switch parts[2] {
		case "1", "2", "4", "8":
			a.Scale = int(parts[2][0] - '0')
		default:
			return fmt.Errorf("%w: bad scale %q", ErrSyntax, parts[2])
		}
	}
	a.Kind = ArgMemIndex
	return nil
}

// parseARM64 decodes an arm64 operand: 5, -3, x3, w3, sp, [x0], [sp, 96],
// [x0, x1], [x0, x1, lsl 3].
func (a *Arg) parseARM64(op string) error {
	if op[0] == '[' {
		if op[len(op)-1] != ']' {
			return fmt.Errorf("%w: operand %q does not end in ']'", ErrSyntax, op)
		}
		parts := strings.Split(op[1:len(op)-1], ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if len(parts) > 3 {
			return fmt.Errorf("%w: too many terms in %q", ErrSyntax, op)
		}
		base, w, zero, err := arm64Reg(parts[0])
		if err != nil {
			return err
		}
		if w != 8 || zero || base.Name == "pc" {
			return fmt.Errorf("%w: bad base register %s", ErrSyntax, parts[0])
		}
		a.Reg = base
		if len(parts) == 1 {
			a.Kind = ArgMem
			return nil
		}
		if v, err := parseNum(strings.TrimPrefix(parts[1], "#")); err == nil {
			if len(parts) == 3 {
				return fmt.Errorf("%w: shift after an offset in %q", ErrSyntax, op)
			}
			a.Kind, a.Offset = ArgMem, v
			return nil
		}
		ix, w, zero, err := arm64Reg(parts[1])
		if err != nil {
			return err
		}
		if zero || ix.Name == "sp" || ix.Name == "pc" {
			return fmt.Errorf("%w: bad index register %s", ErrSyntax, parts[1])
		}
		a.Kind, a.Index, a.Scale = ArgMemIndex, ix, 1
		if w != 8 {
			return fmt.Errorf("%w: extended 32-bit index register %s", ErrUnsupported, parts[1])
		}
		if len(parts) == 3 {
			sh, ok := strings.CutPrefix(parts[2], "lsl")
			if !ok {
				return fmt.Errorf("%w: index extension %q", ErrUnsupported, parts[2])
			}
			n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(sh), "#"), 10, 8)
			if err != nil || n > 3 || sh == "" || !isBlank(sh[0]) && sh[0] != '#' {
				return fmt.Errorf("%w: bad shift %q", ErrSyntax, parts[2])
			}
			a.Scale = 1 << n
		}
		return nil
	}
	if c := op[0]; c == '-' || c == '#' || c >= '0' && c <= '9' {
		v, err := parseNum(strings.TrimPrefix(op, "#"))
		if err != nil {
			return err
		}
		a.Kind, a.Offset = ArgConst, v
		return nil
	}
	r, _, zero, err := arm64Reg(op)
	if err != nil {
		return err
	}
	if zero {
		a.Kind = ArgConst
		return nil
	}
	a.Kind, a.Reg = ArgReg, r
	return nil
}

// parseNum parses a decimal or 0x-hex integer with an optional sign. Values
// from -2^63 to 2^64-1 are accepted; those above 2^63-1 keep their bits.
func parseNum(s string) (int64, error) {
	t := s
	neg := false
	if r, ok := strings.CutPrefix(t, "-"); ok {
		neg, t = true, r
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	if t == "" || t[0] < '0' || t[0] > '9' {
		return 0, fmt.Errorf("%w: bad number %q", ErrSyntax, s)
	}
	base := 10
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		base, t = 16, t[2:]
	}
	u, err := strconv.ParseUint(t, base, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad number %q", ErrSyntax, s)
	}
	if neg {
		if u > 1<<63 {
			return 0, fmt.Errorf("%w: number %q out of range", ErrSyntax, s)
		}
		return int64(-u), nil // two's complement on purpose
	}
	return int64(u), nil // a u64 immediate above MaxInt64 keeps its bits
}

// parseDisp parses a displacement expression: a sum of numbers and at most
// one symbol with a plus sign ("-8", "glob", "glob+8", "24+mp_", "sym-4").
func parseDisp(s string) (sym string, off int64, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, nil
	}
	neg := false
	for i := 0; i < len(s); {
		switch s[i] {
		case '+':
			neg = false
			i++
			continue
		case '-':
			neg = true
			i++
			continue
		}
		if isBlank(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] != '+' && s[j] != '-' && !isBlank(s[j]) {
			j++
		}
		term := s[i:j] // non-empty: s[i] is no operator or blank
		if c := term[0]; c >= '0' && c <= '9' {
			v, err := parseNum(term)
			if err != nil {
				return "", 0, err
			}
			if neg {
				v = -v
			}
			off += v
		} else {
			if !isIdent(term) || sym != "" || neg {
				return "", 0, fmt.Errorf("%w: bad displacement %q", ErrSyntax, s)
			}
			sym = term
		}
		neg = false
		i = j
		// Two terms need an operator between them.
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i < len(s) && s[i] != '+' && s[i] != '-' {
			return "", 0, fmt.Errorf("%w: bad displacement %q", ErrSyntax, s)
		}
	}
	if last := s[len(s)-1]; last == '+' || last == '-' {
		return "", 0, fmt.Errorf("%w: bad displacement %q", ErrSyntax, s)
	}
	return sym, off, nil
}

// isIdent reports whether s is an assembler symbol name.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '.' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
