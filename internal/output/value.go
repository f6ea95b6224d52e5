package output

import (
	"strconv"
	"strings"
)

// TruncMarker is appended to strings and buffers that the BPF side cut at
// their size limit (Value.Truncated). bpftrace marks truncated strings with
// "..." (its str_trunc_trailer), so uscope uses the same three ASCII dots to
// stay bpftrace-compatible rather than a Unicode ellipsis.
const TruncMarker = "..."

// ValueKind says which fields of a Value hold its data.
type ValueKind uint8

// The kinds of values that arrive from BPF records and maps.
const (
	// KindNone is the zero Value: no data. It prints as an empty string.
	KindNone ValueKind = iota
	// KindInt is an integer of Size bytes (1, 2, 4 or 8; 0 means 8). Signed
	// integers are in Int, unsigned ones in Uint.
	KindInt
	// KindString is a NUL-free string in Str; Truncated marks a string cut
	// at the BPF side's limit.
	KindString
	// KindBuffer is raw bytes in Bytes (bpftrace's buf()); Truncated marks a
	// buffer cut at its limit.
	KindBuffer
	// KindPointer is an address in Uint.
	KindPointer
	// KindTuple is a tuple of Elems.
	KindTuple
	// KindStack is a symbolized stack in Frames, innermost frame first, each
	// frame already formatted (see Frame).
	KindStack
)

// String names the kind for error messages.
func (k ValueKind) String() string {
	switch k {
	case KindNone:
		return "none"
	case KindInt:
		return "int"
	case KindString:
		return "string"
	case KindBuffer:
		return "buffer"
	case KindPointer:
		return "pointer"
	case KindTuple:
		return "tuple"
	case KindStack:
		return "stack"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one typed value decoded from a BPF record or map: a printf
// argument, a map key or a map value.
type Value struct {
	Kind ValueKind
	// Int holds a signed integer (Kind == KindInt && Signed).
	Int int64
	// Uint holds an unsigned integer or a pointer.
	Uint uint64
	// Signed says whether an integer is signed.
	Signed bool
	// Size is an integer's width in bytes: 1, 2, 4 or 8; 0 means 8.
	Size int
	// Str holds a string; for KindInt, a name it prints as in text (an
	// enum value's enumerator, a Go interface's dynamic type).
	Str string
	// Bytes holds a buffer.
	Bytes []byte
	// Truncated marks a string or buffer cut at the BPF side's size limit;
	// it prints with TruncMarker appended.
	Truncated bool
	// Elems holds a tuple's elements.
	Elems []Value
	// Names, when set, name a tuple's elements: it is a record (a Go
	// struct, a function's arguments) and prints as { .a = 1, .b = 2 }.
	Names []string
	// Frames holds a stack's formatted frames, innermost first.
	Frames []string
	// StackMode is the bpftrace stack mode the frames were formatted in
	// ("", bpftrace, perf, raw, build_id): perf frames are indented with a
	// tab, raw and build_id ones not at all, as bpftrace prints them.
	StackMode string
	// Array marks a tuple that is a C array: it prints as [a, b].
	Array bool
	// Bool marks an integer that is a bool (a comparison, true, false): it
	// prints as true or false, and as 1 or 0 with printf's %d.
	Bool bool
}

// BoolValue returns a bool.
func BoolValue(b bool) Value {
	v := Value{Kind: KindInt, Size: 1, Bool: true}
	if b {
		v.Uint = 1
	}
	return v
}

// IntValue returns a signed integer of size bytes (1, 2, 4 or 8).
func IntValue(v int64, size int) Value {
	return Value{Kind: KindInt, Int: v, Signed: true, Size: size}
}

// UintValue returns an unsigned integer of size bytes (1, 2, 4 or 8).
func UintValue(v uint64, size int) Value {
	return Value{Kind: KindInt, Uint: v, Size: size}
}

// StringValue returns a string; truncated marks a string the BPF side cut.
func StringValue(s string, truncated bool) Value {
	return Value{Kind: KindString, Str: s, Truncated: truncated}
}

// BufferValue returns a byte buffer; truncated marks a buffer the BPF side cut.
func BufferValue(b []byte, truncated bool) Value {
	return Value{Kind: KindBuffer, Bytes: b, Truncated: truncated}
}

// EnumValue returns a value of a C enum: the integer v, which prints as
// its enumerator name in text (and printf's %s) when name is not empty,
// and as the number in JSON and printf's %d.
func EnumValue(v int64, name string) Value {
	return Value{Kind: KindInt, Int: v, Signed: true, Size: 8, Str: name}
}

// PointerValue returns an address.
func PointerValue(p uint64) Value {
	return Value{Kind: KindPointer, Uint: p, Size: 8}
}

// TupleValue returns a tuple of elems.
func TupleValue(elems ...Value) Value {
	return Value{Kind: KindTuple, Elems: elems}
}

// StackValue returns a stack of formatted frames, innermost first.
func StackValue(frames []string) Value {
	return Value{Kind: KindStack, Frames: frames}
}

// bits returns an integer's value as 64 bits: the value is first reduced to
// its declared width, then sign- or zero-extended as C converts it.
func (v Value) bits() uint64 {
	raw := v.Uint
	if v.Signed {
		raw = uint64(v.Int)
	}
	return extend(raw, v.width(), v.Signed)
}

// width returns an integer's width in bits.
func (v Value) width() int {
	switch v.Size {
	case 1, 2, 4:
		return v.Size * 8
	}
	return 64
}

// extend truncates x to w bits and extends it back to 64 bits, with the
// sign when signed is true.
func extend(x uint64, w int, signed bool) uint64 {
	if w >= 64 {
		return x
	}
	x &= 1<<uint(w) - 1
	if signed && x&(1<<uint(w-1)) != 0 {
		x |= ^uint64(0) << uint(w)
	}
	return x
}

// isNegative reports whether an integer value is below zero.
func (v Value) isNegative() bool {
	return v.Kind == KindInt && v.Signed && int64(v.bits()) < 0
}

// compareValues orders two values: integers numerically, strings and
// buffers bytewise, tuples element by element, other kinds by kind.
func compareValues(a, b Value) int {
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	switch a.Kind {
	case KindInt:
		an, bn := a.isNegative(), b.isNegative()
		switch {
		case an && !bn:
			return -1
		case bn && !an:
			return 1
		}
		return cmpUint(a.bits(), b.bits())
	case KindPointer:
		return cmpUint(a.Uint, b.Uint)
	case KindString:
		return strings.Compare(a.Str, b.Str)
	case KindBuffer:
		return strings.Compare(string(a.Bytes), string(b.Bytes))
	case KindTuple:
		return compareLists(a.Elems, b.Elems)
	case KindStack:
		return strings.Compare(strings.Join(a.Frames, "\n"), strings.Join(b.Frames, "\n"))
	}
	return 0
}

// compareLists orders value lists element by element, shorter first.
func compareLists(a, b []Value) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Indentation of stack frames, as bpftrace prints them.
const (
	// KeyIndent indents the frames of a stack used as a map key.
	KeyIndent = "    "
	// ValueIndent indents the frames of a stack printed with print() or
	// printf("%s"), or held as a map value.
	ValueIndent = "        "
	// PerfIndent indents frames in perf mode (ustack(perf)).
	PerfIndent = "\t"
)

// Text returns the value as bpftrace prints it in text output: integers in
// decimal, strings raw, buffers hex-escaped (like %r), pointers as 0x-hex,
// tuples as "(a, b)" and stacks one frame per line with ValueIndent.
func (v Value) Text() string {
	return v.text(ValueIndent)
}

// text renders v, indenting stack frames with indent.
func (v Value) text(indent string) string {
	switch v.Kind {
	case KindInt:
		if v.Bool {
			return strconv.FormatBool(v.bits() != 0)
		}
		if v.Str != "" {
			return v.Str // an enum's enumerator
		}
		if v.Signed {
			return strconv.FormatInt(int64(v.bits()), 10)
		}
		return strconv.FormatUint(v.bits(), 10)
	case KindString:
		if v.Truncated {
			return v.Str + TruncMarker
		}
		return v.Str
	case KindBuffer:
		s := FormatBuffer(v.Bytes, BufferEscaped)
		if v.Truncated {
			s += TruncMarker
		}
		return s
	case KindPointer:
		return "0x" + strconv.FormatUint(v.Uint, 16)
	case KindTuple:
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = e.text(indent)
			if len(v.Names) == len(v.Elems) {
				parts[i] = "." + v.Names[i] + " = " + parts[i]
			}
		}
		if len(v.Names) == len(v.Elems) && v.Names != nil {
			if len(parts) == 0 {
				return "{}"
			}
			return "{ " + strings.Join(parts, ", ") + " }"
		}
		if v.Array {
			return "[" + strings.Join(parts, ",") + "]"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case KindStack:
		switch v.StackMode {
		case "perf":
			indent = PerfIndent
		case "raw", "build_id":
			indent = ""
		}
		return FormatStack(v.Frames, indent)
	}
	return ""
}

// keyText renders a map key's parts as bpftrace does: "[a, b]", or "" for
// a map without keys. Stacks in keys use KeyIndent.
func keyText(key []Value) string {
	if len(key) == 0 {
		return ""
	}
	if len(key) == 1 && key[0].Kind == KindTuple && !key[0].Array && key[0].Names == nil {
		// A key that is one tuple is a key of several parts, as bpftrace
		// main prints it: @[$t] with $t = (1, "a") is @[1, a].
		key = key[0].Elems
	}
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = k.text(KeyIndent)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// BufferStyle selects how FormatBuffer prints bytes; the styles are those
// of bpftrace's %r, %rx and %rh.
type BufferStyle uint8

// Buffer styles.
const (
	// BufferEscaped (%r) prints printable ASCII as is and other bytes as \xNN.
	BufferEscaped BufferStyle = iota
	// BufferHexEscaped (%rx) prints every byte as \xNN.
	BufferHexEscaped
	// BufferHex (%rh) prints every byte as two hex digits, separated by spaces.
	BufferHex
)

// FormatBuffer returns b in the given style, with lower-case hex digits.
func FormatBuffer(b []byte, style BufferStyle) string {
	const hexdig = "0123456789abcdef"
	var sb strings.Builder
	sb.Grow(len(b) * 4)
	for i, c := range b {
		switch {
		case style == BufferEscaped && c >= 32 && c <= 126:
			sb.WriteByte(c)
		case style == BufferHex:
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteByte(hexdig[c>>4])
			sb.WriteByte(hexdig[c&15])
		default:
			sb.WriteString(`\x`)
			sb.WriteByte(hexdig[c>>4])
			sb.WriteByte(hexdig[c&15])
		}
	}
	return sb.String()
}
