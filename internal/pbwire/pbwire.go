// Package pbwire writes, and reads back, the protocol buffers wire format:
// the few encodings uscope's pprof files and OTLP requests need, by hand,
// field by field.
//
// It exists for start-up's sake (issue 22): google.golang.org/protobuf,
// even its encoding/protowire alone, links an init that opens and reads
// the executable, and the generated OTLP types bring the whole protobuf
// runtime. What pbwire writes is plain protobuf; any protobuf library
// decodes it.
//
// Appenders take a buffer and return it extended, as strconv's Append
// functions do. A field is its tag (AppendTag) followed by its value; the
// Field helpers (Varint, Fixed64, Double, String, Bytes, ...) write both.
// A nested message is either encoded first and then appended with Bytes,
// or written in place between Open and Close, without a second buffer
// (the fields are moved once, by the few bytes the length leaves free).
//
// Reader reads fields back, for the short responses of OTLP receivers.
package pbwire

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
)

// Number is a field number, 1 to 2^29-1.
type Number int32

// Type is a wire type.
type Type int8

// The wire types uscope writes and reads.
const (
	VarintType  Type = 0 // int32, int64, uint32, uint64, bool, enum
	Fixed64Type Type = 1 // fixed64, sfixed64, double
	BytesType   Type = 2 // string, bytes, embedded messages, packed repeated fields
	Fixed32Type Type = 5 // fixed32, sfixed32, float
)

// AppendVarint appends v as a base-128 varint.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// SizeVarint is the length of v as a varint, 1 to 10 bytes.
func SizeVarint(v uint64) int {
	// 1 byte per 7 bits, at least one: (bits*9+64)/64 is ceil(bits/7) for
	// 0 < bits <= 64, and 1 for 0.
	return int(9*uint32(bits.Len64(v))+64) / 64
}

// AppendTag appends the tag of field num of wire type t.
func AppendTag(b []byte, num Number, t Type) []byte {
	return AppendVarint(b, uint64(num)<<3|uint64(t&7))
}

// AppendFixed64 appends v as 8 little-endian bytes.
func AppendFixed64(b []byte, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(b, v)
}

// AppendFixed32 appends v as 4 little-endian bytes.
func AppendFixed32(b []byte, v uint32) []byte {
	return binary.LittleEndian.AppendUint32(b, v)
}

// AppendBytes appends p with its length before it, as a length-delimited
// value.
func AppendBytes(b, p []byte) []byte {
	return append(AppendVarint(b, uint64(len(p))), p...)
}

// AppendString appends s with its length before it.
func AppendString(b []byte, s string) []byte {
	return append(AppendVarint(b, uint64(len(s))), s...)
}

// Varint appends field num holding v as a varint (int32, int64, uint32,
// uint64, enum; a negative int64 is passed as uint64(v), 10 bytes).
func Varint(b []byte, num Number, v uint64) []byte {
	return AppendVarint(AppendTag(b, num, VarintType), v)
}

// Bool appends field num holding v.
func Bool(b []byte, num Number, v bool) []byte {
	var u uint64
	if v {
		u = 1
	}
	return Varint(b, num, u)
}

// Fixed64 appends field num holding v as a fixed64.
func Fixed64(b []byte, num Number, v uint64) []byte {
	return AppendFixed64(AppendTag(b, num, Fixed64Type), v)
}

// Fixed32 appends field num holding v as a fixed32.
func Fixed32(b []byte, num Number, v uint32) []byte {
	return AppendFixed32(AppendTag(b, num, Fixed32Type), v)
}

// Double appends field num holding f as a double.
func Double(b []byte, num Number, f float64) []byte {
	return Fixed64(b, num, math.Float64bits(f))
}

// String appends field num holding s.
func String(b []byte, num Number, s string) []byte {
	return AppendString(AppendTag(b, num, BytesType), s)
}

// Bytes appends field num holding p: bytes, or an embedded message already
// encoded.
func Bytes(b []byte, num Number, p []byte) []byte {
	return AppendBytes(AppendTag(b, num, BytesType), p)
}

// PackedVarint appends the repeated field num holding vs, packed: one
// length-delimited run of varints. Nothing is written for no values.
func PackedVarint(b []byte, num Number, vs []uint64) []byte {
	if len(vs) == 0 {
		return b
	}
	n := 0
	for _, v := range vs {
		n += SizeVarint(v)
	}
	b = AppendVarint(AppendTag(b, num, BytesType), uint64(n))
	for _, v := range vs {
		b = AppendVarint(b, v)
	}
	return b
}

// PackedFixed64 appends the repeated fixed64 field num holding vs, packed.
// Nothing is written for no values.
func PackedFixed64(b []byte, num Number, vs []uint64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = AppendVarint(AppendTag(b, num, BytesType), uint64(8*len(vs)))
	for _, v := range vs {
		b = AppendFixed64(b, v)
	}
	return b
}

// PackedDouble appends the repeated double field num holding fs, packed.
// Nothing is written for no values.
func PackedDouble(b []byte, num Number, fs []float64) []byte {
	if len(fs) == 0 {
		return b
	}
	b = AppendVarint(AppendTag(b, num, BytesType), uint64(8*len(fs)))
	for _, f := range fs {
		b = AppendFixed64(b, math.Float64bits(f))
	}
	return b
}

// lenRoom is the room Open leaves for a message's length: a varint of up
// to 2^35-1, more than any buffer uscope writes.
const lenRoom = 5

// Open starts the embedded message field num in place: it appends the tag
// and room for the length. Append the message's fields to the buffer,
// then call Close with at, the length of the buffer before Open:
//
//	at := len(b)
//	b = pbwire.Open(b, 2)
//	b = pbwire.String(b, 1, "uscope")
//	b = pbwire.Close(b, at)
//
// Opens nest, each Close ending the latest Open.
func Open(b []byte, num Number) []byte {
	b = AppendTag(b, num, BytesType)
	return append(b, make([]byte, lenRoom)...)
}

// Close ends the message that Open started at offset at (the buffer's
// length before Open): it writes the length of the fields appended since
// and moves them to follow it, so that the result is what Bytes(b, num,
// fields) would have written.
func Close(b []byte, at int) []byte {
	for b[at]&0x80 != 0 { // the tag
		at++
	}
	at++
	start := at + lenRoom
	n := len(b) - start
	if n >= 1<<(7*lenRoom) {
		panic("pbwire: message too long for Open")
	}
	l := SizeVarint(uint64(n))
	AppendVarint(b[at:at], uint64(n))
	copy(b[at+l:], b[start:])
	return b[:at+l+n]
}

// ErrTruncated is returned by Reader for a field that runs past the end of
// its message, or an overlong varint.
var ErrTruncated = errors.New("pbwire: truncated or malformed field")

// Reader reads the fields of one message in order.
type Reader struct {
	b   []byte
	err error
	// Num and Type are the current field's number and wire type.
	Num  Number
	Type Type
	// Uint is the value of a varint, fixed64 or fixed32 field; Data that
	// of a length-delimited field (a slice of the message read).
	Uint uint64
	Data []byte
}

// NewReader returns a Reader of the message msg.
func NewReader(msg []byte) *Reader { return &Reader{b: msg} }

// Next reads the next field into r.Num, r.Type and r.Uint or r.Data; it
// returns false at the end of the message or at an error (Err).
func (r *Reader) Next() bool {
	if r.err != nil || len(r.b) == 0 {
		return false
	}
	tag, ok := r.varint()
	if !ok {
		return false
	}
	r.Num, r.Type, r.Uint, r.Data = Number(tag>>3), Type(tag&7), 0, nil
	if r.Num <= 0 || tag>>3 > math.MaxInt32 {
		r.err = ErrTruncated
		return false
	}
	switch r.Type {
	case VarintType:
		r.Uint, ok = r.varint()
		return ok
	case Fixed64Type:
		if len(r.b) < 8 {
			r.err = ErrTruncated
			return false
		}
		r.Uint, r.b = binary.LittleEndian.Uint64(r.b), r.b[8:]
	case Fixed32Type:
		if len(r.b) < 4 {
			r.err = ErrTruncated
			return false
		}
		r.Uint, r.b = uint64(binary.LittleEndian.Uint32(r.b)), r.b[4:]
	case BytesType:
		n, ok := r.varint()
		if !ok {
			return false
		}
		if n > uint64(len(r.b)) {
			r.err = ErrTruncated
			return false
		}
		r.Data, r.b = r.b[:n:n], r.b[n:]
	default:
		r.err = errors.New("pbwire: unsupported wire type (groups)")
		return false
	}
	return true
}

// Err is the error that ended Next, or nil at the end of the message.
func (r *Reader) Err() error { return r.err }

func (r *Reader) varint() (uint64, bool) {
	var v uint64
	for i := 0; i < 10 && i < len(r.b); i++ {
		c := r.b[i]
		if i == 9 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.b = r.b[i+1:]
			return v, true
		}
	}
	r.err = ErrTruncated
	return 0, false
}
