package leb128

import (
	"encoding/binary"
	"math"
	"testing"
)

// The examples of DWARF 5 tables 7.6 and 7.7, and the ends of the range.
func TestUint(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want uint64
	}{
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
	} {
		b := append(append([]byte{}, c.b...), 0x55) // a byte after the number stays unread
		v, n := Uint(b)
		if v != c.want || n != len(c.b) {
			t.Errorf("Uint(% x) = %d, %d bytes; want %d, %d", c.b, v, n, c.want, len(c.b))
		}
	}
	for _, b := range [][]byte{nil, {0x80}, {0xff, 0xff}} {
		if v, n := Uint(b); v != 0 || n != 0 {
			t.Errorf("Uint(% x) = %d, %d bytes; want a truncated number (0, 0)", b, v, n)
		}
	}
}

func TestInt(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want int64
	}{
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
	} {
		b := append(append([]byte{}, c.b...), 0x55)
		v, n := Int(b)
		if v != c.want || n != len(c.b) {
			t.Errorf("Int(% x) = %d, %d bytes; want %d, %d", c.b, v, n, c.want, len(c.b))
		}
	}
	for _, b := range [][]byte{nil, {0x80}, {0xff, 0xff}} {
		if v, n := Int(b); v != 0 || n != 0 {
			t.Errorf("Int(% x) = %d, %d bytes; want a truncated number (0, 0)", b, v, n)
		}
	}
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
