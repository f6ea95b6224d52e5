package gobin

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// ErrNotAType is returned by TypeName for an address outside the binary's
// type data.
var ErrNotAType = errors.New("not the address of a type of this binary")

// Offsets in the runtime's type descriptor (internal/abi.Type): Size_ and
// PtrBytes (two words), Hash (4 bytes), TFlag, Align_, FieldAlign_, Kind_
// (a byte each), Equal and GCData (two words), then Str, the name's offset
// from moduledata.types (int32). The same from Go 1.14 through 1.27.
const (
	tflagExtraStar = 1 << 1 // Str has a '*' that is not part of the name
)

func typeTFlagOff(ptr uint64) uint64 { return 2*ptr + 4 }
func typeStrOff(ptr uint64) uint64   { return 4*ptr + 8 }

// typesRange is moduledata's [types, etypes): the section every type
// descriptor and type name lies in.
type typesRange struct {
	once       sync.Once
	lo, hi     uint64
	err        error
	varintName bool
}

// TypeName returns the name Go prints for the type whose runtime type
// descriptor (*_type, internal/abi.Type) is at the link-time address addr:
// "main.Circle", "*main.Square", "[]int", "map[string]int". It is what the
// first word of an empty interface (any) holds, and the _type field of the
// itab in the first word of any other interface. A running PIE's
// addresses must have the load bias taken off first. The types section is
// found through runtime.firstmoduledata, by its contents, so it works on
// stripped binaries and every toolchain from Go 1.17.
func (b *Binary) TypeName(addr uint64) (string, error) {
	tr := &b.rtypes
	tr.once.Do(func() {
		lo, hi, err := b.findTypes()
		tr.lo, tr.hi, tr.err = lo, hi, err
		tr.varintName = b.GoVersionAtLeast(1, 17) || b.GoVersion == ""
	})
	if tr.err != nil {
		return "", tr.err
	}
	return b.typeNameIn(addr)
}

// typeNameIn is TypeName within b.rtypes' bounds.
func (b *Binary) typeNameIn(addr uint64) (string, error) {
	tr := &b.rtypes
	p := uint64(b.PtrSize)
	if addr < tr.lo || addr >= tr.hi || tr.hi-addr < typeStrOff(p)+4 {
		return "", fmt.Errorf("%#x: %w (types are in [%#x, %#x))", addr, ErrNotAType, tr.lo, tr.hi)
	}
	hdr, err := b.mem.read(addr, int(typeStrOff(p)+4))
	if err != nil {
		return "", err
	}
	tflag := hdr[typeTFlagOff(p)]
	str := int32(b.mem.order.Uint32(hdr[typeStrOff(p):]))
	if str <= 0 || uint64(str) >= tr.hi-tr.lo {
		return "", fmt.Errorf("%#x: %w (its name offset %d is outside the types section)", addr, ErrNotAType, str)
	}
	name, err := b.readName(tr.lo+uint64(str), tr.hi, tr.varintName)
	if err != nil {
		return "", fmt.Errorf("%#x: %w", addr, err)
	}
	if tflag&tflagExtraStar != 0 && len(name) > 0 && name[0] == '*' {
		name = name[1:]
	}
	return name, nil
}

// maxTypeName bounds a type name's length.
const maxTypeName = 4096

// readName decodes an abi.Name at addr: a flags byte, then the length (a
// uvarint from Go 1.17, two big-endian bytes before) and the bytes.
func (b *Binary) readName(addr, limit uint64, varint bool) (string, error) {
	head, err := b.mem.read(addr, int(min(limit-addr, 1+binary.MaxVarintLen64)))
	if err != nil || len(head) < 3 {
		return "", fmt.Errorf("type name at %#x: unreadable", addr)
	}
	var n uint64
	var k int
	if varint {
		n, k = binary.Uvarint(head[1:])
		if k <= 0 {
			return "", fmt.Errorf("type name at %#x: bad length", addr)
		}
	} else {
		n, k = uint64(binary.BigEndian.Uint16(head[1:])), 2
	}
	start := addr + 1 + uint64(k)
	if n > maxTypeName || start+n > limit {
		return "", fmt.Errorf("type name at %#x: length %d runs past the types section", addr, n)
	}
	s, err := b.mem.read(start, int(n))
	if err != nil {
		return "", err
	}
	return string(s), nil
}

// findTypes returns moduledata's types and etypes. After text (found by
// textFromModuledata) moduledata holds etext, the data and bss bounds,
// end, gcdata, gcbss, types, etypes, then (Go 1.20 on) rodata and gofunc,
// textsectmap and typelinks, a []int32 of type offsets from types. The
// fields are found by what they hold rather than by a layout per version:
// types and etypes are two ascending words in one segment, followed within
// a few words by a slice whose first element, taken as an offset from
// types, is a type descriptor with a readable name. Go 1.27 has
// typedesclen between them and the itabs' offset and size after
// (typesGo127).
func (b *Binary) findTypes() (uint64, uint64, error) {
	md, err := b.findModuledata()
	if err != nil {
		return 0, 0, err
	}
	p := uint64(b.PtrSize)
	nw := 2 * maxModuledataWord
	w := func(i int) uint64 {
		v, err := b.mem.ptr(md + uint64(i)*p)
		if err != nil {
			return 0
		}
		return v
	}
	for i := mdWordText + 4; i+1 < nw; i++ {
		if lo, hi, ok := b.typesGo127(w, i); ok {
			return lo, hi, nil
		}
		lo, hi := w(i), w(i+1)
		if lo == 0 || lo >= hi || b.mem.progFor(lo, int(min(hi-lo, 1<<31))) == nil {
			continue
		}
		for j := i + 2; j <= i+8 && j+2 < nw; j++ {
			ptr, n, c := w(j), w(j+1), w(j+2)
			if ptr == 0 || n == 0 || n != c || n > 1<<24 {
				continue
			}
			first, err := b.mem.read(ptr, 4)
			if err != nil {
				continue
			}
			off := uint64(b.mem.order.Uint32(first))
			b.rtypes.lo, b.rtypes.hi = lo, hi
			b.rtypes.varintName = b.GoVersionAtLeast(1, 17) || b.GoVersion == ""
			if name, err := b.typeNameIn(lo + off); err == nil && name != "" {
				return lo, hi, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("moduledata at %#x: no types section (types, etypes and typelinks) found", md)
}

// typesGo127 checks Go 1.27's layout at word i: types, typedesclen,
// etypes, itaboffset, itabsize (no typelinks); the first itab's _type,
// at types+itaboffset, must have a readable name.
func (b *Binary) typesGo127(w func(int) uint64, i int) (uint64, uint64, bool) {
	lo, n, hi, itabOff, itabSize := w(i), w(i+1), w(i+2), w(i+3), w(i+4)
	if lo == 0 || lo >= hi || n == 0 || n > hi-lo || itabSize == 0 || itabOff >= hi-lo || itabSize > hi-lo-itabOff {
		return 0, 0, false
	}
	if b.mem.progFor(lo, int(min(hi-lo, 1<<31))) == nil {
		return 0, 0, false
	}
	typ, err := b.mem.ptr(lo + itabOff + uint64(b.PtrSize))
	if err != nil {
		return 0, 0, false
	}
	b.rtypes.lo, b.rtypes.hi = lo, hi
	b.rtypes.varintName = true
	if name, err := b.typeNameIn(typ); err == nil && name != "" {
		return lo, hi, true
	}
	return 0, 0, false
}

// InterfaceTypeName returns the dynamic type name of an interface value
// from its first word (a link-time address, as for TypeName): for an
// empty interface (any) the word is the type descriptor; for any other
// interface it is an itab, whose _type field (the word after the
// interface type) TypeName then reads. Itabs the compiler laid out in the
// binary (go:itab.*, every conversion it could see) are read from the
// file; an itab the runtime built on its heap (an assertion to an
// interface) is not in the file and gives ErrNotAType.
func (b *Binary) InterfaceTypeName(word uint64, empty bool) (string, error) {
	if empty {
		return b.TypeName(word)
	}
	p := b.mem.progFor(word, 2*b.PtrSize)
	if p == nil || p.Flags&elf.PF_X != 0 {
		return "", fmt.Errorf("itab %#x: %w (not in the binary's data: built at run time?)", word, ErrNotAType)
	}
	typ, err := b.mem.ptr(word + uint64(b.PtrSize))
	if err != nil {
		return "", fmt.Errorf("itab %#x: %w", word, err)
	}
	return b.TypeName(typ)
}
