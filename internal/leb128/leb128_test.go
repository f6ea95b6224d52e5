package leb128

import (
	"encoding/binary"
	"math"
	"testing"
)

// lebCase is an encoding and the number it stands for.
type lebCase[T uint64 | int64] struct {
	b    []byte
	want T
}

// checkDecoder runs dec over cases, each followed by a byte it must not
// read, and over truncated encodings, which decode to (0, 0).
func checkDecoder[T uint64 | int64](t *testing.T, name string, dec func([]byte) (T, int), cases []lebCase[T]) {
	t.Helper()
	for _, c := range cases {
		b := append(append([]byte{}, c.b...), 0x55)
		v, n := dec(b)
		if v != c.want || n != len(c.b) {
			t.Errorf("%s(% x) = %d, %d bytes; want %d, %d", name, c.b, v, n, c.want, len(c.b))
		}
	}
	for _, b := range [][]byte{nil, {0x80}, {0xff, 0xff}} {
		if v, n := dec(b); v != 0 || n != 0 {
			t.Errorf("%s(% x) = %d, %d bytes; want a truncated number (0, 0)", name, b, v, n)
		}
	}
}

// The examples of DWARF 5 tables 7.6 and 7.7, and the ends of the range.
func TestUint(t *testing.T) {
	checkDecoder(t, "Uint", Uint, []lebCase[uint64]{
		{[]byte{0x02}, 2},
		{[]byte{0x7f}, 127},
		{[]byte{0x80, 0x01}, 128},
		{[]byte{0x81, 0x01}, 129},
		{[]byte{0x82, 0x01}, 130},
		{[]byte{0xb9, 0x64}, 12857},
		{[]byte{0x00}, 0},
		{[]byte{0x80, 0x80, 0x00}, 0}, // over-long, as padding linkers write
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, math.MaxUint64},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, math.MaxUint64}, // bits past 64 dropped
	})
}

func TestInt(t *testing.T) {
	checkDecoder(t, "Int", Int, []lebCase[int64]{
		{[]byte{0x02}, 2},
		{[]byte{0x7e}, -2},
		{[]byte{0xff, 0x00}, 127},
		{[]byte{0x81, 0x7f}, -127},
		{[]byte{0x80, 0x01}, 128},
		{[]byte{0x80, 0x7f}, -128},
		{[]byte{0x81, 0x01}, 129},
		{[]byte{0xff, 0x7e}, -129},
		{[]byte{0x40}, -64},
		{[]byte{0xc0, 0x00}, 64},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, math.MinInt64},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, math.MaxInt64},
	})
}

// FuzzUint checks Uint against encoding/binary's Uvarint (the same
// encoding) wherever Uvarint accepts the input, and that neither decoder
// reads past the number.
func FuzzUint(f *testing.F) {
	f.Add([]byte{0xb9, 0x64})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n := Uint(b)
		if n < 0 || n > len(b) || n > 0 && b[n-1]&0x80 != 0 {
			t.Fatalf("Uint(% x) took %d bytes", b, n)
		}
		if w, m := binary.Uvarint(b); m > 0 && (v != w || n != m) {
			t.Fatalf("Uint(% x) = %d, %d; Uvarint %d, %d", b, v, n, w, m)
		}
		s, sn := Int(b)
		if sn != n {
			t.Fatalf("Int(% x) took %d bytes, Uint %d", b, sn, n)
		}
		if n > 0 && n < 9 {
			// Below 64 bits: the signed value is the unsigned one, sign-extended.
			bits := 7 * n
			if want := int64(v<<(64-bits)) >> (64 - bits); s != want {
				t.Fatalf("Int(% x) = %d, want %d", b, s, want)
			}
		}
	})
}
