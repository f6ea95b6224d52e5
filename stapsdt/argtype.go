package stapsdt

import "fmt"

// ArgType is the declared type of a probe argument. It fixes the size and
// signedness the argument spec in the probe's note announces to tracers, and
// how [Probe.Fire] converts the value it is given.
type ArgType int

// The argument types. String and Pointer are both passed as 8-byte unsigned
// values; a String argument points at a NUL-terminated copy of the string.
const (
	Int8 ArgType = iota + 1
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Pointer
	String
)

// MaxArgs is the largest number of arguments a probe can take: the integer
// argument registers the trampoline loads.
const MaxArgs = 6

var argTypeNames = [...]string{
	Int8:    "Int8",
	Uint8:   "Uint8",
	Int16:   "Int16",
	Uint16:  "Uint16",
	Int32:   "Int32",
	Uint32:  "Uint32",
	Int64:   "Int64",
	Uint64:  "Uint64",
	Pointer: "Pointer",
	String:  "String",
}

// valid reports whether t is one of the declared constants.
func (t ArgType) valid() bool { return t >= Int8 && t <= String }

// String returns the constant's name, or ArgType(N) for an invalid value.
func (t ArgType) String() string {
	if t.valid() {
		return argTypeNames[t]
	}
	return fmt.Sprintf("ArgType(%d)", int(t))
}

// Size returns the argument's size in bytes as the note announces it: 1, 2,
// 4 or 8, or 0 for an invalid type.
func (t ArgType) Size() int {
	switch t {
	case Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32:
		return 4
	case Int64, Uint64, Pointer, String:
		return 8
	}
	return 0
}

// Signed reports whether the note announces the argument as signed (a
// negative size in the spec).
func (t ArgType) Signed() bool {
	switch t {
	case Int8, Int16, Int32, Int64:
		return true
	}
	return false
}

// normalize sign- or zero-extends the low Size() bytes of v to 64 bits, so
// that a tracer reading the whole register sees the declared value.
func (t ArgType) normalize(v uint64) uint64 {
	switch t {
	case Int8:
		return uint64(int64(int8(v)))
	case Uint8:
		return uint64(uint8(v))
	case Int16:
		return uint64(int64(int16(v)))
	case Uint16:
		return uint64(uint16(v))
	case Int32:
		return uint64(int64(int32(v)))
	case Uint32:
		return uint64(uint32(v))
	}
	return v
}
