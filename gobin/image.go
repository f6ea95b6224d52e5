package gobin

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// maxRelocs bounds the number of dynamic relocations read from a binary.
const maxRelocs = 1 << 24

// An image reads an ELF file's contents by link-time virtual address, through
// its PT_LOAD segments, as the loader would map them (bytes past a segment's
// file size read as zero). Pointer-sized reads apply the file's relative
// dynamic relocations, so that pointers in a PIE read as link-time addresses
// even when the linker left zeros in place.
type image struct {
	f       *elf.File
	order   binary.ByteOrder
	ptrSize int
	loads   []*elf.Prog

	relaOnce sync.Once
	rela     map[uint64]uint64 // address -> addend of R_*_RELATIVE relocations
}

func newImage(f *elf.File, ptrSize int) *image {
	m := &image{f: f, order: byteOrder(f), ptrSize: ptrSize}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Memsz > 0 {
			m.loads = append(m.loads, p)
		}
	}
	return m
}

// progFor returns the PT_LOAD segment whose memory image holds the n bytes at
// addr, or nil.
func (m *image) progFor(addr uint64, n int) *elf.Prog {
	if n < 0 {
		return nil
	}
	for _, p := range m.loads {
		if addr >= p.Vaddr && addr-p.Vaddr < p.Memsz && uint64(n) <= p.Memsz-(addr-p.Vaddr) {
			return p
		}
	}
	return nil
}

// read returns the n bytes of memory at addr; bytes past the segment's file
// data (.bss) read as zero.
func (m *image) read(addr uint64, n int) ([]byte, error) {
	p := m.progFor(addr, n)
	if p == nil {
		return nil, fmt.Errorf("%d bytes at %#x are outside the loadable segments", n, addr)
	}
	buf := make([]byte, n)
	off := addr - p.Vaddr
	if off >= p.Filesz {
		return buf, nil
	}
	k := uint64(n)
	if k > p.Filesz-off {
		k = p.Filesz - off
	}
	if _, err := p.ReadAt(buf[:k], int64(off)); err != nil && !(errors.Is(err, io.EOF) && k == 0) {
		return nil, fmt.Errorf("reading %d bytes at %#x: %w", k, addr, err)
	}
	return buf, nil
}

// readFile is like read but requires all n bytes to be in the file.
func (m *image) readFile(addr uint64, n int) ([]byte, error) {
	p := m.progFor(addr, n)
	if p == nil || addr-p.Vaddr >= p.Filesz || uint64(n) > p.Filesz-(addr-p.Vaddr) {
		return nil, fmt.Errorf("%d bytes at %#x are outside the file data of the loadable segments", n, addr)
	}
	// Read large spans a chunk at a time, so that a segment whose header
	// claims more data than the file holds costs no more memory than the
	// file's size.
	off := int64(addr - p.Vaddr)
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		k := min(readChunk, n-len(buf))
		buf = slices.Grow(buf, k)
		if _, err := p.ReadAt(buf[len(buf):len(buf)+k], off+int64(len(buf))); err != nil {
			return nil, fmt.Errorf("reading %d bytes at %#x: %w", n, addr, err)
		}
		buf = buf[:len(buf)+k]
	}
	return buf, nil
}

// readChunk is the unit of large reads.
const readChunk = 1 << 20

// word decodes a pointer-sized unsigned integer from b.
func (m *image) word(b []byte) uint64 {
	if m.ptrSize == 4 {
		return uint64(m.order.Uint32(b))
	}
	return m.order.Uint64(b)
}

// ptr reads a pointer at addr, applying a relative relocation at addr if
// there is one.
func (m *image) ptr(addr uint64) (uint64, error) {
	if v, ok := m.relocs()[addr]; ok {
		return v, nil
	}
	b, err := m.read(addr, m.ptrSize)
	if err != nil {
		return 0, err
	}
	return m.word(b), nil
}

// isExec reports whether addr lies in an executable segment.
func (m *image) isExec(addr uint64) bool {
	p := m.progFor(addr, 1)
	return p != nil && p.Flags&elf.PF_X != 0
}

// relocs returns the relative dynamic relocations, address -> addend.
func (m *image) relocs() map[uint64]uint64 {
	m.relaOnce.Do(func() {
		m.rela = make(map[uint64]uint64)
		var relType uint32
		switch m.f.Machine {
		case elf.EM_X86_64:
			relType = uint32(elf.R_X86_64_RELATIVE)
		case elf.EM_AARCH64:
			relType = uint32(elf.R_AARCH64_RELATIVE)
		case elf.EM_RISCV:
			relType = uint32(elf.R_RISCV_RELATIVE)
		case elf.EM_PPC64:
			relType = uint32(elf.R_PPC64_RELATIVE)
		default:
			return // REL-style targets keep addends in place.
		}
		found := false
		for _, s := range m.f.Sections {
			if s.Type != elf.SHT_RELA || s.Flags&elf.SHF_ALLOC == 0 {
				continue
			}
			found = true
			data, err := s.Data()
			if err != nil {
				continue
			}
			m.addRela(data, relType)
		}
		if !found {
			m.dynamicRela(relType)
		}
	})
	return m.rela
}

// addRela records the relative relocations in a RELA table.
func (m *image) addRela(data []byte, relType uint32) {
	ent := 24
	if m.ptrSize == 4 {
		ent = 12
	}
	for i := 0; i+ent <= len(data) && len(m.rela) < maxRelocs; i += ent {
		var off, info, addend uint64
		if m.ptrSize == 4 {
			off = uint64(m.order.Uint32(data[i:]))
			info = uint64(m.order.Uint32(data[i+4:]))
			addend = uint64(int64(int32(m.order.Uint32(data[i+8:]))))
			if uint32(info&0xff) != relType {
				continue
			}
		} else {
			off = m.order.Uint64(data[i:])
			info = m.order.Uint64(data[i+8:])
			addend = m.order.Uint64(data[i+16:])
			if uint32(info) != relType {
				continue
			}
		}
		m.rela[off] = addend
	}
}

// dynamicRela finds the RELA table through PT_DYNAMIC, for binaries without
// section headers.
func (m *image) dynamicRela(relType uint32) {
	for _, p := range m.f.Progs {
		if p.Type != elf.PT_DYNAMIC {
			continue
		}
		size := p.Filesz
		if size > 1<<20 {
			size = 1 << 20
		}
		dyn := make([]byte, size)
		n, _ := p.ReadAt(dyn, 0)
		dyn = dyn[:n]
		ent := 2 * m.ptrSize
		var rela, relasz uint64
		for i := 0; i+ent <= len(dyn); i += ent {
			tag := elf.DynTag(m.word(dyn[i:]))
			val := m.word(dyn[i+m.ptrSize:])
			switch tag {
			case elf.DT_RELA:
				rela = val
			case elf.DT_RELASZ:
				relasz = val
			}
			if tag == elf.DT_NULL {
				break
			}
		}
		if rela == 0 || relasz == 0 || relasz > maxRelocs*24 {
			return
		}
		data, err := m.readFile(rela, int(relasz))
		if err != nil {
			return
		}
		m.addRela(data, relType)
		return
	}
}
