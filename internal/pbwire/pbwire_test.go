package pbwire

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

var varints = []uint64{0, 1, 127, 128, 255, 300, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28,
	1<<35 - 1, 1 << 35, 1<<63 - 1, 1 << 63, math.MaxUint64, uint64(1<<64 - 42)}

// TestAgainstProtowire: every appender writes the bytes protowire writes.
func TestAgainstProtowire(t *testing.T) {
	for _, v := range varints {
		if got, want := AppendVarint([]byte{9}, v), protowire.AppendVarint([]byte{9}, v); !bytes.Equal(got, want) {
			t.Errorf("AppendVarint(%d) = %x, want %x", v, got, want)
		}
		if got, want := SizeVarint(v), protowire.SizeVarint(v); got != want {
			t.Errorf("SizeVarint(%d) = %d, want %d", v, got, want)
		}
		if got, want := AppendFixed64(nil, v), protowire.AppendFixed64(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendFixed64(%d) = %x, want %x", v, got, want)
		}
		if got, want := AppendFixed32(nil, uint32(v)), protowire.AppendFixed32(nil, uint32(v)); !bytes.Equal(got, want) {
			t.Errorf("AppendFixed32(%d) = %x, want %x", uint32(v), got, want)
		}
	}
	for _, num := range []Number{1, 2, 15, 16, 2047, 2048, 1<<29 - 1} {
		for _, typ := range []Type{VarintType, Fixed64Type, BytesType, Fixed32Type} {
			got := AppendTag(nil, num, typ)
			want := protowire.AppendTag(nil, protowire.Number(num), protowire.Type(typ))
			if !bytes.Equal(got, want) {
				t.Errorf("AppendTag(%d, %d) = %x, want %x", num, typ, got, want)
			}
		}
	}
	long := bytes.Repeat([]byte("x"), 300)
	for _, p := range [][]byte{nil, {}, []byte("uscope"), long} {
		if got, want := AppendBytes(nil, p), protowire.AppendBytes(nil, p); !bytes.Equal(got, want) {
			t.Errorf("AppendBytes(%q) = %x, want %x", p, got, want)
		}
		if got, want := AppendString(nil, string(p)), protowire.AppendString(nil, string(p)); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %x, want %x", p, got, want)
		}
	}
	minus2 := int64(-2)
	tag := func(b []byte, num Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, protowire.Number(num), typ)
	}
	for _, c := range []struct {
		name      string
		got, want []byte
	}{
		{"Varint", Varint(nil, 3, 300), protowire.AppendVarint(tag(nil, 3, protowire.VarintType), 300)},
		{"Varint negative", Varint(nil, 3, uint64(minus2)), protowire.AppendVarint(tag(nil, 3, protowire.VarintType), uint64(minus2))},
		{"Bool", Bool(Bool(nil, 1, true), 2, false), protowire.AppendVarint(tag(protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 1), 2, protowire.VarintType), 0)},
		{"Fixed64", Fixed64(nil, 17, 42), protowire.AppendFixed64(tag(nil, 17, protowire.Fixed64Type), 42)},
		{"Fixed32", Fixed32(nil, 8, 7), protowire.AppendFixed32(tag(nil, 8, protowire.Fixed32Type), 7)},
		{"Double", Double(nil, 4, -2.5), protowire.AppendFixed64(tag(nil, 4, protowire.Fixed64Type), math.Float64bits(-2.5))},
		{"Double NaN", Double(nil, 5, math.NaN()), protowire.AppendFixed64(tag(nil, 5, protowire.Fixed64Type), math.Float64bits(math.NaN()))},
		{"String", String(nil, 1, "héllo"), protowire.AppendString(tag(nil, 1, protowire.BytesType), "héllo")},
		{"Bytes", Bytes(nil, 2, long), protowire.AppendBytes(tag(nil, 2, protowire.BytesType), long)},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s = %x, want %x", c.name, c.got, c.want)
		}
	}
	// Packed: one length-delimited run of the values.
	var pv, pf, pd []byte
	for _, v := range varints {
		pv = protowire.AppendVarint(pv, v)
		pf = protowire.AppendFixed64(pf, v)
		pd = protowire.AppendFixed64(pd, math.Float64bits(float64(v)/3))
	}
	fs := make([]float64, len(varints))
	for i, v := range varints {
		fs[i] = float64(v) / 3
	}
	if got, want := PackedVarint(nil, 4, varints), protowire.AppendBytes(tag(nil, 4, protowire.BytesType), pv); !bytes.Equal(got, want) {
		t.Errorf("PackedVarint = %x, want %x", got, want)
	}
	if got, want := PackedFixed64(nil, 6, varints), protowire.AppendBytes(tag(nil, 6, protowire.BytesType), pf); !bytes.Equal(got, want) {
		t.Errorf("PackedFixed64 = %x, want %x", got, want)
	}
	if got, want := PackedDouble(nil, 7, fs), protowire.AppendBytes(tag(nil, 7, protowire.BytesType), pd); !bytes.Equal(got, want) {
		t.Errorf("PackedDouble = %x, want %x", got, want)
	}
	if b := PackedVarint(PackedFixed64(PackedDouble([]byte{1}, 1, nil), 2, nil), 3, nil); !bytes.Equal(b, []byte{1}) {
		t.Errorf("packed fields of no values wrote %x", b)
	}
}

// TestOpenClose: a message written in place between Open and Close, nested
// and of every length class, is what Bytes of the same message writes.
func TestOpenClose(t *testing.T) {
	for _, n := range []int{0, 1, 126, 127, 128, 16383, 16384, 1 << 21} {
		inner := bytes.Repeat([]byte{0xab}, n)
		b := []byte("prefix")
		m := len(b)
		b = Open(b, 5)
		m2 := len(b)
		b = Open(b, 1)
		b = append(b, inner...)
		b = Close(b, m2)
		b = Varint(b, 2, 7)
		b = Close(b, m)
		b = Varint(b, 6, 1)

		msg := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), inner)
		msg = protowire.AppendVarint(protowire.AppendTag(msg, 2, protowire.VarintType), 7)
		want := protowire.AppendBytes(protowire.AppendTag([]byte("prefix"), 5, protowire.BytesType), msg)
		want = protowire.AppendVarint(protowire.AppendTag(want, 6, protowire.VarintType), 1)
		if !bytes.Equal(b, want) {
			t.Errorf("%d bytes nested: Open/Close wrote %d bytes, Bytes %d", n, len(b), len(want))
		}
	}
}

// TestReader reads back the fields an encoder wrote, values and all, and
// stops with ErrTruncated at every truncation of them.
func TestReader(t *testing.T) {
	var b []byte
	b = Varint(b, 1, 300)
	b = Fixed64(b, 2, 1<<60)
	b = Fixed32(b, 3, 99)
	b = String(b, 4, "partial")
	b = Varint(b, 1<<29-1, math.MaxUint64)
	r := NewReader(b)
	type field struct {
		num  Number
		typ  Type
		v    uint64
		data string
	}
	var got []field
	for r.Next() {
		got = append(got, field{r.Num, r.Type, r.Uint, string(r.Data)})
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	want := []field{{1, VarintType, 300, ""}, {2, Fixed64Type, 1 << 60, ""}, {3, Fixed32Type, 99, ""},
		{4, BytesType, 0, "partial"}, {1<<29 - 1, VarintType, math.MaxUint64, ""}}
	if len(got) != len(want) {
		t.Fatalf("read %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for i := 1; i < len(b); i++ {
		r := NewReader(b[:i])
		for r.Next() {
		}
		// A cut at a field's end is a shorter, valid message.
		if end := i == 3 || i == 12 || i == 17 || i == 26; end != (r.Err() == nil) {
			t.Errorf("cut at %d: err %v", i, r.Err())
		}
	}
	for _, bad := range [][]byte{{0x0b}, {0x00, 0x01}, bytes.Repeat([]byte{0xff}, 11), {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}} {
		r := NewReader(bad)
		for r.Next() {
		}
		if r.Err() == nil {
			t.Errorf("%x read without an error", bad)
		}
	}
}

// FuzzWire: for any values, the appenders write what protowire writes, and
// Reader reads back the values and nothing else; for any bytes, Reader
// agrees with protowire on where a message is malformed.
func FuzzWire(f *testing.F) {
	f.Add(uint64(300), int32(1), "uscope", []byte{0x08, 0x96, 0x01})
	f.Add(uint64(math.MaxUint64), int32(1<<29-1), "", []byte{0x0a, 0x05, 'x'})
	f.Fuzz(func(t *testing.T, v uint64, num int32, s string, raw []byte) {
		n := Number(num&(1<<29-1) | 1)
		var b []byte
		b = Varint(b, n, v)
		b = Fixed64(b, n, v)
		b = Fixed32(b, n, uint32(v))
		b = String(b, n, s)
		m := len(b)
		b = Open(b, n)
		b = String(b, 1, s)
		b = Close(b, m)
		pn := protowire.Number(n)
		var w []byte
		w = protowire.AppendVarint(protowire.AppendTag(w, pn, protowire.VarintType), v)
		w = protowire.AppendFixed64(protowire.AppendTag(w, pn, protowire.Fixed64Type), v)
		w = protowire.AppendFixed32(protowire.AppendTag(w, pn, protowire.Fixed32Type), uint32(v))
		w = protowire.AppendString(protowire.AppendTag(w, pn, protowire.BytesType), s)
		inner := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
		w = protowire.AppendBytes(protowire.AppendTag(w, pn, protowire.BytesType), inner)
		if !bytes.Equal(b, w) {
			t.Fatalf("wrote %x, protowire %x", b, w)
		}
		r := NewReader(b)
		wantU := []uint64{v, v, uint64(uint32(v))}
		for i := 0; i < 5; i++ {
			if !r.Next() || r.Num != n {
				t.Fatalf("field %d: not read (%v)", i, r.Err())
			}
			switch {
			case i < 3 && r.Uint != wantU[i]:
				t.Fatalf("field %d = %d, want %d", i, r.Uint, wantU[i])
			case i == 3 && string(r.Data) != s:
				t.Fatalf("string %q, want %q", r.Data, s)
			case i == 4 && !bytes.Equal(r.Data, inner):
				t.Fatalf("message %x, want %x", r.Data, inner)
			}
		}
		if r.Next() || r.Err() != nil {
			t.Fatalf("read past the end: %v", r.Err())
		}

		// Arbitrary input: valid for Reader exactly when protowire
		// parses every field (groups aside, which Reader refuses).
		ok, groups := true, false
		for p := raw; len(p) > 0; {
			num, typ, k := protowire.ConsumeTag(p)
			if k < 0 {
				ok = false
				break
			}
			if typ == protowire.StartGroupType || typ == protowire.EndGroupType {
				groups = true
				break
			}
			l := protowire.ConsumeFieldValue(num, typ, p[k:])
			if l < 0 {
				ok = false
				break
			}
			p = p[k+l:]
		}
		if groups {
			return
		}
		rr := NewReader(raw)
		for rr.Next() {
		}
		if (rr.Err() == nil) != ok {
			t.Fatalf("%x: Reader err %v, protowire valid %v", raw, rr.Err(), ok)
		}
	})
}
