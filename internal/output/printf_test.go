package output

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		format string
		want   []Directive
	}{
		{"plain text", nil},
		{"100%% sure", nil},
		{"%d", []Directive{{Offset: 0, Text: "%d", Width: -1, Precision: -1, Verb: "d", Arg: ArgInt}}},
		{"a=%-08.3lld!", []Directive{{Offset: 2, Text: "%-08.3lld", Flags: Flags{Minus: true, Zero: true}, Width: 8, Precision: 3, Length: "ll", Verb: "d", Arg: ArgInt}}},
		{"%+ #x", []Directive{{Text: "%+ #x", Flags: Flags{Plus: true, Space: true, Hash: true}, Width: -1, Precision: -1, Verb: "x", Arg: ArgInt}}},
		{"%.s", []Directive{{Text: "%.s", Width: -1, Precision: 0, Verb: "s", Arg: ArgString}}},
		{"%hhu%hX%zo%ji%tx%Ld", []Directive{
			{Offset: 0, Text: "%hhu", Width: -1, Precision: -1, Length: "hh", Verb: "u", Arg: ArgInt},
			{Offset: 4, Text: "%hX", Width: -1, Precision: -1, Length: "h", Verb: "X", Arg: ArgInt},
			{Offset: 7, Text: "%zo", Width: -1, Precision: -1, Length: "z", Verb: "o", Arg: ArgInt},
			{Offset: 10, Text: "%ji", Width: -1, Precision: -1, Length: "j", Verb: "i", Arg: ArgInt},
			{Offset: 13, Text: "%tx", Width: -1, Precision: -1, Length: "t", Verb: "x", Arg: ArgInt},
			{Offset: 16, Text: "%Ld", Width: -1, Precision: -1, Length: "L", Verb: "d", Arg: ArgInt},
		}},
		{"%c %s %p %lp", []Directive{
			{Offset: 0, Text: "%c", Width: -1, Precision: -1, Verb: "c", Arg: ArgChar},
			{Offset: 3, Text: "%s", Width: -1, Precision: -1, Verb: "s", Arg: ArgString},
			{Offset: 6, Text: "%p", Width: -1, Precision: -1, Verb: "p", Arg: ArgPointer},
			{Offset: 9, Text: "%lp", Width: -1, Precision: -1, Length: "l", Verb: "p", Arg: ArgPointer},
		}},
		{"%r|%rx|%rh|%-12r", []Directive{
			{Offset: 0, Text: "%r", Width: -1, Precision: -1, Verb: "r", Arg: ArgBuffer},
			{Offset: 3, Text: "%rx", Width: -1, Precision: -1, Verb: "rx", Arg: ArgBuffer},
			{Offset: 7, Text: "%rh", Width: -1, Precision: -1, Verb: "rh", Arg: ArgBuffer},
			{Offset: 11, Text: "%-12r", Flags: Flags{Minus: true}, Width: 12, Precision: -1, Verb: "r", Arg: ArgBuffer},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, err := ParseFormat(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			got := f.Directives()
			if len(got) != len(tt.want) || f.NumArgs() != len(tt.want) {
				t.Fatalf("got %d directives %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("directive %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if f.String() != tt.format {
				t.Errorf("String() = %q", f.String())
			}
		})
	}
}

func TestParseFormatErrors(t *testing.T) {
	tests := []struct {
		format string
		offset int
		want   string
	}{
		{"abc %", 4, "at the end"},
		{"x=%*d", 2, "'*' widths"},
		{"%.*s", 0, "'*' precisions"},
		{"ok %d then %q", 11, `unknown conversion 'q'`},
		{"%f", 0, "floating-point"},
		{"%lf", 0, "floating-point"},
		{"%n", 0, "%n"},
		{"%1$d", 0, "positional"},
		{"%5%", 0, "literal percent"},
		{"%ls", 0, `length modifier "l" is not valid with %s`},
		{"%hhc", 0, "not valid with %c"},
		{"%lr", 0, "not valid with %r"},
		{"%-", 0, "no conversion character"},
		{"%99999d", 0, "width is larger"},
		{"%.99999d", 0, "precision is larger"},
		{"%y", 0, "valid conversions are"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			_, err := ParseFormat(tt.format)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if fe.Offset != tt.offset {
				t.Errorf("offset = %d, want %d (%v)", fe.Offset, tt.offset, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("byte %d", tt.offset)) {
				t.Errorf("error %q does not name the byte offset", err)
			}
		})
	}
}

func TestSprintf(t *testing.T) {
	buf := BufferValue([]byte("ab\x01\xffc"), false)
	tests := []struct {
		format string
		args   []Value
		want   string
	}{
		// bpftrace's own example, checked against bpftrace 0.17.
		{"%5d|%-5s|%x\n", []Value{IntValue(42, 8), StringValue("ab", false), IntValue(255, 8)}, "   42|ab   |ff\n"},
		// Buffers, checked against bpftrace 0.17: [ab\x01\xffc] [\x61\x62\x01\xff\x63] [61 62 01 ff 63].
		{"[%r] [%rx] [%rh]", []Value{buf, buf, buf}, `[ab\x01\xffc] [\x61\x62\x01\xff\x63] [61 62 01 ff 63]`},
		{"[%8r][%-8r][%.3r]", []Value{BufferValue([]byte("hi"), false), BufferValue([]byte("hi"), false), buf}, `[      hi][hi      ][ab\]`},
		{"%r", []Value{BufferValue([]byte("abc"), true)}, "abc..."},
		{"%rh", []Value{BufferValue(nil, false)}, ""},
		{"%r", []Value{StringValue("a\nb", false)}, `a\x0ab`},
		// Truncated strings end in the marker, counted in the width.
		{"[%s]", []Value{StringValue("abcdef", true)}, "[abcdef...]"},
		{"[%-10s]", []Value{StringValue("abc", true)}, "[abc...    ]"},
		{"[%.4s]", []Value{StringValue("abcdef", true)}, "[abcd]"},
		// Integer widths follow the declared type.
		{"%x %x %x", []Value{IntValue(-1, 4), IntValue(-1, 8), IntValue(-1, 1)}, "ffffffff ffffffffffffffff ffffffff"},
		{"%d %u", []Value{UintValue(math.MaxUint64, 8), UintValue(math.MaxUint64, 8)}, "-1 18446744073709551615"},
		{"%u", []Value{IntValue(-1, 1)}, "4294967295"},
		{"%hhx %hd", []Value{IntValue(0x1234, 8), UintValue(0xffff, 8)}, "34 -1"},
		{"%lx", []Value{IntValue(-1, 4)}, "ffffffffffffffff"},
		{"%d", []Value{IntValue(300, 1)}, "44"}, // int8 holds 300 as 44
		{"%d", []Value{UintValue(200, 1)}, "200"},
		{"%d", []Value{{Kind: KindInt, Int: -5, Signed: true}}, "-5"}, // Size 0 means 8
		// Pointers.
		{"%p %p %d", []Value{PointerValue(0), PointerValue(0xdead), PointerValue(7)}, "(nil) 0xdead 7"},
		{"%p", []Value{IntValue(-1, 8)}, "0xffffffffffffffff"},
		// %s prints any value.
		{"%s|%s|%s", []Value{IntValue(-3, 4), TupleValue(IntValue(1, 8), StringValue("a", false)), PointerValue(16)}, "-3|(1, a)|0x10"},
		{"%s|", []Value{StackValue([]string{"f+1", "main+2"})}, "\n        f+1\n        main+2\n|"},
		{"%c%c", []Value{IntValue('h', 1), IntValue('i'+256, 4)}, "hi"},
		// Misuse prints like Go's fmt.
		{"%d %d", []Value{IntValue(1, 8)}, "1 %!d(MISSING)"},
		{"%d", []Value{StringValue("abc", false)}, "%!d(string=abc)"},
		{"%c", []Value{StringValue("abc", false)}, "%!c(string=abc)"},
		{"%p", []Value{StringValue("abc", false)}, "%!p(string=abc)"},
		{"%r", []Value{IntValue(1, 8)}, "%!r(int=1)"},
		{"%d", nil, "%!d(MISSING)"},
		{"no args", []Value{IntValue(1, 8)}, "no args"},
		{"%%d", nil, "%d"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, err := ParseFormat(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Sprintf(tt.args); got != tt.want {
				t.Errorf("Sprintf = %q, want %q", got, tt.want)
			}
			var b bytes.Buffer
			if _, err := f.Fprintf(&b, tt.args); err != nil || b.String() != tt.want {
				t.Errorf("Fprintf = %q, %v", b.String(), err)
			}
		})
	}
}

// cCase is one printf call compared with C: the format, the C type of the
// argument and the argument as a C expression and as a Value.
type cCase struct {
	format string
	ctype  string
	cexpr  string
	v      Value
}

// cInts returns cases for one integer value of a C type under many
// formats.
func cInts(ctype string, signed bool, size int, x int64, formats ...string) []cCase {
	var cs []cCase
	for _, f := range formats {
		v := IntValue(x, size)
		if !signed {
			v = UintValue(uint64(x), size)
		}
		cs = append(cs, cCase{f, ctype, fmt.Sprintf("(%s)%dLL", ctype, x), v})
	}
	return cs
}

// cCall returns the C format and argument expression that state what
// uscope does with a typed value: a 64-bit value under a directive without
// a length modifier gets "ll" (uscope reads the declared width; C must be
// told), and under l, ll, z, j, t or L a narrower value is converted to
// (unsigned) long long first, as C converts a value to the modifier's type.
func cCall(c cCase) (string, string) {
	arg := "(" + c.ctype + ")(" + c.cexpr + ")"
	if c.v.Kind != KindInt {
		return c.format, arg
	}
	pf, err := ParseFormat(c.format)
	if err != nil {
		panic(err)
	}
	d := pf.Directives()[0]
	if d.Arg != ArgInt {
		return c.format, arg
	}
	switch d.Length {
	case "":
		if c.v.width() == 64 {
			t := d.Text
			return c.format[:d.Offset] + t[:len(t)-1] + "ll" + t[len(t)-1:] + c.format[d.Offset+len(t):], arg
		}
	case "hh", "h":
		return c.format, "(int)" + arg
	default:
		if c.v.Signed {
			return c.format, "(long long)" + arg
		}
		return c.format, "(unsigned long long)" + arg
	}
	return c.format, arg
}

func cQuote(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 32 || c > 126:
			fmt.Fprintf(&sb, "\\%03o", c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

func TestPrintfMatchesC(t *testing.T) {
	intFormats := []string{
		"%d", "%i", "%u", "%x", "%X", "%o", "[%8d]", "[%-8d]", "[%08d]", "[%+d]", "[% d]",
		"[%+08d]", "[% 8d]", "[%.5d]", "[%8.3d]", "[%-8.3d]", "[%08.3d]", "[%.0d]", "[%#o]",
		"[%#x]", "[%#X]", "[%#08x]", "[%#.6x]", "[%08x]", "[%-#10o]", "[%+u]", "[% x]",
		"%hhd", "%hhu", "%hhx", "%hd", "%hu", "%hx", "%ld", "%lu", "%lx", "%lld", "%llu",
		"%llx", "%zu", "%zd", "%jd", "%jx", "%td", "%lo", "[%.0x]", "[%#.0o]", "[%#.0x]",
		"[%5.0d]",
	}
	var cases []cCase
	for _, x := range []int64{0, 1, -1, 42, -42, 127, -128, 255} {
		cases = append(cases, cInts("int8_t", true, 1, x, intFormats...)...)
		cases = append(cases, cInts("uint8_t", false, 1, x, intFormats...)...)
	}
	for _, x := range []int64{0, 7, -7, 32767, -32768, 65535, 0x1234} {
		cases = append(cases, cInts("int16_t", true, 2, x, intFormats...)...)
		cases = append(cases, cInts("uint16_t", false, 2, x, intFormats...)...)
	}
	for _, x := range []int64{0, 1, -1, 123456, -123456, math.MaxInt32, math.MinInt32, 0xdeadbeef} {
		cases = append(cases, cInts("int32_t", true, 4, x, intFormats...)...)
		cases = append(cases, cInts("uint32_t", false, 4, x, intFormats...)...)
	}
	for _, x := range []int64{0, 1, -1, 1 << 40, -(1 << 40), math.MaxInt64, math.MinInt64, -0x123456789} {
		cases = append(cases, cInts("int64_t", true, 8, x, intFormats...)...)
		cases = append(cases, cInts("uint64_t", false, 8, x, intFormats...)...)
	}
	for _, f := range []string{"%c", "[%3c]", "[%-3c]"} {
		for _, x := range []int64{'a', 'Z', ' ', '~', 'a' + 256} {
			cases = append(cases, cCase{f, "int", fmt.Sprint(x), IntValue(x, 4)})
		}
	}
	for _, f := range []string{"%s", "[%10s]", "[%-10s]", "[%.2s]", "[%.0s]", "[%8.3s]", "[%-8.3s]", "[%05s]", "[%.10s]", "[%1s]"} {
		for _, s := range []string{"", "a", "hello", "hello, world"} {
			cases = append(cases, cCase{f, "const char *", cQuote(s), StringValue(s, false)})
		}
	}
	for _, f := range []string{"%p", "[%20p]", "[%-20p]", "[%020p]", "[%+p]", "[% p]", "[%.8p]", "[%10.3p]", "[%-8p]", "%lp"} {
		for _, p := range []uint64{0, 1, 0x1234, 0x7ffc12345678, math.MaxUint64} {
			cases = append(cases, cCase{f, "void *", fmt.Sprintf("(void *)(uintptr_t)%dULL", p), PointerValue(p)})
		}
	}
	cases = append(cases,
		cCase{"100%% %d%%", "int", "5", IntValue(5, 4)},
		cCase{"tab\there %d\n", "int", "-9", IntValue(-9, 4)},
	)

	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stdint.h>\nint main(void) {\n")
	for _, c := range cases {
		cf, arg := cCall(c)
		fmt.Fprintf(&src, "\tprintf(%s, %s); putchar(30);\n", cQuote(cf), arg)
	}
	src.WriteString("\treturn 0;\n}\n")
	bin := testutil.BuildC(t, "printf", src.String(), "-w")
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(string(out), "\x1e")
	if len(got) != len(cases)+1 {
		t.Fatalf("C printed %d records, want %d", len(got)-1, len(cases))
	}
	failures := 0
	for i, c := range cases {
		f, err := ParseFormat(c.format)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		if s := f.Sprintf([]Value{c.v}); s != got[i] {
			t.Errorf("printf(%q, (%s)%s) = %q, C prints %q", c.format, c.ctype, c.cexpr, s, got[i])
			if failures++; failures > 20 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d printf cases match C", len(cases))
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{
		"%d", "%-08.3lld|%s", "%r%rx%rh", "%%", "%", "%*d", "%.*s", "%5%", "%hhc",
		"x=%#o y=%+ d z=%p %c", "%1$d", "%.99999s", "%l", "%ll", "%lf", "\xff%s",
	} {
		f.Add(s)
	}
	args := []Value{
		IntValue(-1, 4), StringValue("str", true), BufferValue([]byte{0, 'a', 0xff}, false),
		PointerValue(0x1000), UintValue(math.MaxUint64, 8), IntValue('x', 1),
	}
	f.Fuzz(func(t *testing.T, s string) {
		pf, err := ParseFormat(s)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if fe.Offset < 0 || fe.Offset >= len(s) {
				t.Fatalf("error offset %d outside the format of %d bytes", fe.Offset, len(s))
			}
			if s[fe.Offset] != '%' {
				t.Fatalf("error offset %d does not point at a '%%'", fe.Offset)
			}
			return
		}
		for _, d := range pf.Directives() {
			if d.Offset < 0 || d.Offset+len(d.Text) > len(s) || s[d.Offset:d.Offset+len(d.Text)] != d.Text {
				t.Fatalf("directive %+v does not match the source", d)
			}
			if d.Width > MaxWidth || d.Precision > MaxWidth {
				t.Fatalf("directive %+v exceeds MaxWidth", d)
			}
		}
		// Formatting never panics and is bounded by the widths.
		for i := range args {
			rot := append(append([]Value(nil), args[i:]...), args[:i]...)
			for len(rot) < pf.NumArgs() {
				rot = append(rot, rot...)
			}
			out := pf.Sprintf(rot)
			if len(out) > len(s)+pf.NumArgs()*(MaxWidth+200) {
				t.Fatalf("output of %d bytes for %q", len(out), s)
			}
		}
		// A format without directives prints its text with %% collapsed.
		if pf.NumArgs() == 0 {
			if got, want := pf.Sprintf(nil), strings.ReplaceAll(s, "%%", "%"); got != want {
				t.Fatalf("Sprintf = %q, want %q", got, want)
			}
		}
	})
}

// Formatting integers, pointers, characters and strings allocates nothing:
// the session formats every event record with Append.
func TestAppendNoAlloc(t *testing.T) {
	f, err := ParseFormat("%d %5i %-8u %x %#X %08o %#o %.3d %+d % d %p %c %s %-6s|\n")
	if err != nil {
		t.Fatal(err)
	}
	args := []Value{IntValue(-42, 4), IntValue(7, 8), UintValue(123, 8), UintValue(0xbeef, 2), UintValue(0xbeef, 8),
		IntValue(8, 4), UintValue(0, 4), IntValue(5, 4), IntValue(3, 4), IntValue(3, 4), PointerValue(0x7ffc1234),
		IntValue('A', 1), StringValue("abc", false), StringValue("xy", false)}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = f.Append(buf[:0], args) }); n != 0 {
		t.Errorf("Append allocates %.1f times per call", n)
	}
	want := "-42     7 123      beef 0XBEEF 00000010 0 005 +3  3 0x7ffc1234 A abc xy    |\n"
	if got := string(buf); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// Writer.Printf formats into a bufio.Writer's free space, or into its own
// scratch buffer, without allocating.
func TestWriterPrintfNoAlloc(t *testing.T) {
	f, _ := ParseFormat("%d %d\n")
	args := []Value{IntValue(123456, 8), IntValue(4242, 4)}
	var sink bytes.Buffer
	bw := bufio.NewWriterSize(&sink, 1<<16)
	for name, w := range map[string]*Writer{"bufio": NewWriter(bw, Text), "plain": NewWriter(io.Discard, Text)} {
		if n := testing.AllocsPerRun(100, func() { _ = w.Printf(f, args) }); n != 0 {
			t.Errorf("%s: Printf allocates %.1f times per call", name, n)
		}
	}
	bw.Flush()
	if got := sink.String(); !strings.HasPrefix(got, "123456 4242\n123456 4242\n") {
		t.Errorf("output %q", got[:min(len(got), 40)])
	}
}
