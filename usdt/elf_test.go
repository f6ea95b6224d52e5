package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// This file builds small synthetic ELF objects with stapsdt notes, for unit
// tests and fuzz seeds that need no compiler.

// Layout of the synthetic objects: the text and data segments have
// vaddr != offset, and different deltas, to catch wrong offset math.
const (
	tTextOff   = 0x200
	tTextAddr  = 0x401000
	tTextSize  = 0x100
	tBaseAddr  = tTextAddr + tTextSize // .stapsdt.base, last byte of the R-X segment
	tDataOff   = 0x400
	tDataAddr  = 0x404000
	tDataSize  = 0x20 // .probes: semaphores, then a global "glob" at +0x10
	tGlobAddr  = tDataAddr + 0x10
	tNotesOff  = 0x500
	tSymtabOff = 0x800
)

// tNote is one stapsdt note for the builder.
type tNote struct {
	pc, base, sem        uint64
	provider, name, args string
	raw                  []byte // when set, the whole note record instead
}

// tOrder is a byte order that can also append.
type tOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tELF describes a synthetic object.
type tELF struct {
	class    elf.Class
	order    tOrder
	machine  elf.Machine
	typ      elf.Type
	noProgs  bool   // no program headers (like a relocatable object)
	noBase   bool   // no .stapsdt.base section
	baseAddr uint64 // .stapsdt.base address, default tBaseAddr
	notes    []tNote
	syms     []tSym
	noteTail []byte // appended to the notes section
}

type tSym struct {
	name  string
	value uint64
}

// stdELF returns the default object: x86-64, little-endian, ET_EXEC.
func stdELF(notes ...tNote) *tELF {
	return &tELF{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64, typ: elf.ET_EXEC, notes: notes}
}

// stdNote is a note at pc with base tBaseAddr.
func stdNote(pc, sem uint64, provider, name, args string) tNote {
	return tNote{pc: pc, base: tBaseAddr, sem: sem, provider: provider, name: name, args: args}
}

// noteBytes encodes one stapsdt note record.
func (e *tELF) noteBytes(n tNote) []byte {
	if n.raw != nil {
		return n.raw
	}
	var desc bytes.Buffer
	for _, v := range []uint64{n.pc, n.base, n.sem} {
		if e.class == elf.ELFCLASS32 {
			desc.Write(e.order.AppendUint32(nil, uint32(v)))
		} else {
			desc.Write(e.order.AppendUint64(nil, v))
		}
	}
	desc.WriteString(n.provider + "\x00" + n.name + "\x00" + n.args + "\x00")
	return e.record("stapsdt", ntStapsdt, desc.Bytes())
}

// record encodes a note with 4-byte padding.
func (e *tELF) record(name string, typ uint32, desc []byte) []byte {
	b := e.order.AppendUint32(nil, uint32(len(name)+1))
	b = e.order.AppendUint32(b, uint32(len(desc)))
	b = e.order.AppendUint32(b, typ)
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, desc...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// bytes lays the object out.
func (e *tELF) bytes() []byte {
	is64 := e.class == elf.ELFCLASS64
	bo := e.order
	out := make([]byte, tSymtabOff)
	put := func(off int, b []byte) {
		if len(out) < off+len(b) {
			out = append(out, make([]byte, off+len(b)-len(out))...)
		}
		copy(out[off:], b)
	}
	// .text: NOPs.
	put(tTextOff, bytes.Repeat([]byte{0x90}, tTextSize))
	// .stapsdt.base
	put(tTextOff+tTextSize, []byte{0})
	// .probes stays zero.
	var notes []byte
	for _, n := range e.notes {
		notes = append(notes, e.noteBytes(n)...)
	}
	notes = append(notes, e.noteTail...)
	put(tNotesOff, notes)

	// .symtab, .strtab
	strtab := []byte{0}
	var symtab []byte
	symEnt := 16
	if is64 {
		symEnt = 24
	}
	symtab = append(symtab, make([]byte, symEnt)...)
	for _, s := range e.syms {
		nameOff := uint32(len(strtab))
		strtab = append(strtab, s.name+"\x00"...)
		info := byte(elf.STB_LOCAL)<<4 | byte(elf.STT_OBJECT)
		const shndx = 2 // .probes
		if is64 {
			b := bo.AppendUint32(nil, nameOff)
			b = append(b, info, 0)
			b = bo.AppendUint16(b, shndx)
			b = bo.AppendUint64(b, s.value)
			b = bo.AppendUint64(b, 4)
			symtab = append(symtab, b...)
		} else {
			b := bo.AppendUint32(nil, nameOff)
			b = bo.AppendUint32(b, uint32(s.value))
			b = bo.AppendUint32(b, 4)
			b = append(b, info, 0)
			b = bo.AppendUint16(b, shndx)
			symtab = append(symtab, b...)
		}
	}
	symOff := len(out)
	put(symOff, symtab)
	strOff := len(out)
	put(strOff, strtab)

	type shdr struct {
		name                      string
		typ                       elf.SectionType
		flags                     elf.SectionFlag
		addr, off, size           uint64
		link, info, align, entsiz uint64
	}
	baseAddr := e.baseAddr
	if baseAddr == 0 {
		baseAddr = tBaseAddr
	}
	shdrs := []shdr{
		{},
		{name: ".text", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, addr: tTextAddr, off: tTextOff, size: tTextSize, align: 16},
		{name: ".probes", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_WRITE, addr: tDataAddr, off: tDataOff, size: tDataSize, align: 2},
		{name: ".note.stapsdt", typ: elf.SHT_NOTE, off: tNotesOff, size: uint64(len(notes)), align: 4},
		{name: ".symtab", typ: elf.SHT_SYMTAB, off: uint64(symOff), size: uint64(len(symtab)), link: 5, info: 1, align: 8, entsiz: uint64(symEnt)},
		{name: ".strtab", typ: elf.SHT_STRTAB, off: uint64(strOff), size: uint64(len(strtab)), align: 1},
	}
	if !e.noBase {
		shdrs = append(shdrs, shdr{name: ".stapsdt.base", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC, addr: baseAddr, off: tTextOff + tTextSize, size: 1, align: 1})
	}
	shstrtab := []byte{0}
	nameOffs := make([]uint32, len(shdrs)+1)
	for i, s := range shdrs {
		if s.name != "" {
			nameOffs[i] = uint32(len(shstrtab))
			shstrtab = append(shstrtab, s.name+"\x00"...)
		}
	}
	nameOffs[len(shdrs)] = uint32(len(shstrtab))
	shstrtab = append(shstrtab, ".shstrtab\x00"...)
	shstrOff := len(out)
	put(shstrOff, shstrtab)
	shdrs = append(shdrs, shdr{name: ".shstrtab", typ: elf.SHT_STRTAB, off: uint64(shstrOff), size: uint64(len(shstrtab)), align: 1})

	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	shOff := len(out)
	for i, s := range shdrs {
		var b []byte
		b = bo.AppendUint32(b, nameOffs[i])
		b = bo.AppendUint32(b, uint32(s.typ))
		if is64 {
			b = bo.AppendUint64(b, uint64(s.flags))
			b = bo.AppendUint64(b, s.addr)
			b = bo.AppendUint64(b, s.off)
			b = bo.AppendUint64(b, s.size)
			b = bo.AppendUint32(b, uint32(s.link))
			b = bo.AppendUint32(b, uint32(s.info))
			b = bo.AppendUint64(b, s.align)
			b = bo.AppendUint64(b, s.entsiz)
		} else {
			for _, v := range []uint64{uint64(s.flags), s.addr, s.off, s.size, s.link, s.info, s.align, s.entsiz} {
				b = bo.AppendUint32(b, uint32(v))
			}
		}
		put(shOff+i*len(b), b)
	}

	// Program headers right after the ELF header.
	type phdr struct {
		typ                elf.ProgType
		flags              elf.ProgFlag
		off, vaddr, filesz uint64
	}
	var phdrs []phdr
	if !e.noProgs {
		phdrs = []phdr{
			{elf.PT_LOAD, elf.PF_R | elf.PF_X, tTextOff, tTextAddr, tTextSize + 1},
			{elf.PT_LOAD, elf.PF_R | elf.PF_W, tDataOff, tDataAddr, tDataSize},
		}
	}
	ehsize, phentsize, shentsize := 52, 32, 40
	if is64 {
		ehsize, phentsize, shentsize = 64, 56, 64
	}
	for i, p := range phdrs {
		var b []byte
		b = bo.AppendUint32(b, uint32(p.typ))
		if is64 {
			b = bo.AppendUint32(b, uint32(p.flags))
			b = bo.AppendUint64(b, p.off)
			b = bo.AppendUint64(b, p.vaddr)
			b = bo.AppendUint64(b, p.vaddr)
			b = bo.AppendUint64(b, p.filesz)
			b = bo.AppendUint64(b, p.filesz)
			b = bo.AppendUint64(b, 0x1000)
		} else {
			for _, v := range []uint64{p.off, p.vaddr, p.vaddr, p.filesz, p.filesz, uint64(p.flags), 0x1000} {
				b = bo.AppendUint32(b, uint32(v))
			}
		}
		put(ehsize+i*phentsize, b)
	}

	// ELF header.
	h := []byte{0x7f, 'E', 'L', 'F', byte(e.class), 0, byte(elf.EV_CURRENT), 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if bo == binary.LittleEndian {
		h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	} else {
		h[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	h = bo.AppendUint16(h, uint16(e.typ))
	h = bo.AppendUint16(h, uint16(e.machine))
	h = bo.AppendUint32(h, uint32(elf.EV_CURRENT))
	phoff := uint64(0)
	if len(phdrs) > 0 {
		phoff = uint64(ehsize)
	}
	if is64 {
		h = bo.AppendUint64(h, tTextAddr) // entry
		h = bo.AppendUint64(h, phoff)
		h = bo.AppendUint64(h, uint64(shOff))
	} else {
		h = bo.AppendUint32(h, tTextAddr)
		h = bo.AppendUint32(h, uint32(phoff))
		h = bo.AppendUint32(h, uint32(shOff))
	}
	h = bo.AppendUint32(h, 0) // flags
	h = bo.AppendUint16(h, uint16(ehsize))
	h = bo.AppendUint16(h, uint16(phentsize))
	h = bo.AppendUint16(h, uint16(len(phdrs)))
	h = bo.AppendUint16(h, uint16(shentsize))
	h = bo.AppendUint16(h, uint16(len(shdrs)))
	h = bo.AppendUint16(h, uint16(len(shdrs)-1))
	put(0, h)
	return out
}

// open parses the object with debug/elf.
func (e *tELF) open(t testing.TB) *elf.File {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(e.bytes()))
	if err != nil {
		t.Fatalf("synthetic ELF does not parse: %v", err)
	}
	return f
}
