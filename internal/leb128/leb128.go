// Package leb128 decodes the variable-length integers of DWARF (LEB128,
// DWARF 5 section 7.6): the one decoder of elfx's call frame information
// and of cdwarf's expressions and location lists.
package leb128

// Uint decodes the unsigned LEB128 number at the start of b and returns it
// with the number of bytes it takes; n is 0 when b ends inside the number.
// Bits beyond the 64th are dropped (an over-long encoding is read whole).
func Uint(b []byte) (v uint64, n int) {
	for i, c := range b {
		if shift := 7 * i; shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// Int decodes the signed LEB128 number at the start of b and returns it
// with the number of bytes it takes; n is 0 when b ends inside the number.
// Bits beyond the 64th are dropped.
func Int(b []byte) (v int64, n int) {
	for i, c := range b {
		shift := 7 * i
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			if shift += 7; shift < 64 && c&0x40 != 0 {
				v |= -1 << shift // sign-extend
			}
			return v, i + 1
		}
	}
	return 0, 0
}
