package elfx

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// synthSym is a symbol of a synthesized ELF.
type synthSym struct {
	name  string
	value uint64
	size  uint64
	typ   elf.SymType
	bind  elf.SymBind
	shndx elf.SectionIndex
}

// synthSeg is a PT_LOAD of a synthesized ELF. Its file bytes are filled
// with a pattern derived from the offset, so reads can be checked.
type synthSeg struct {
	vaddr, off, filesz, memsz uint64
	flags                     elf.ProgFlag
}

// synthSpec describes a little-endian ELF64 object built in memory, so that
// tests and fuzz seeds need no compiler.
type synthSpec struct {
	typ       elf.Type
	segs      []synthSeg
	syms      []synthSym // .symtab
	dynsyms   []synthSym // .dynsym (with .gnu.version when versions set)
	versions  []uint16   // versym per dynsym entry (index 0 excluded)
	verdefs   []string   // version names, index 2, 3, ...
	buildID   []byte
	debugLink string
	linkCRC   uint32
}

func patternByte(off uint64) byte { return byte(off*7 + off>>8) }

// synthELF lays the object out: header, program headers, segment bytes,
// then sections and the section header table.
func synthELF(s synthSpec) []byte {
	le := binary.LittleEndian
	var buf []byte
	end := uint64(64 + 56*len(s.segs))
	for _, sg := range s.segs {
		if e := sg.off + sg.filesz; e > end {
			end = e
		}
	}
	buf = make([]byte, end)
	for _, sg := range s.segs {
		for i := uint64(0); i < sg.filesz; i++ {
			buf[sg.off+i] = patternByte(sg.off + i)
		}
	}
	type sec struct {
		name       string
		typ        elf.SectionType
		flags      elf.SectionFlag
		addr       uint64
		off, size  uint64
		link, info uint32
		entsize    uint64
		align      uint64
	}
	secs := []sec{{}}
	add := func(name string, typ elf.SectionType, data []byte, link, info uint32, entsize uint64) int {
		for len(buf)%8 != 0 {
			buf = append(buf, 0)
		}
		off := uint64(len(buf))
		buf = append(buf, data...)
		secs = append(secs, sec{name: name, typ: typ, off: off, size: uint64(len(data)), link: link, info: info, entsize: entsize, align: 8})
		return len(secs) - 1
	}
	// .text over the first executable segment.
	for _, sg := range s.segs {
		if sg.flags&elf.PF_X != 0 {
			secs = append(secs, sec{name: ".text", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, addr: sg.vaddr, off: sg.off, size: sg.filesz, align: 16})
			break
		}
	}
	symtab := func(name, strName string, syms []synthSym, typ elf.SectionType) int {
		var str bytes.Buffer
		str.WriteByte(0)
		var tab []byte
		tab = append(tab, make([]byte, 24)...)
		locals := 1
		for _, sy := range syms {
			e := make([]byte, 24)
			le.PutUint32(e[0:], uint32(str.Len()))
			str.WriteString(sy.name)
			str.WriteByte(0)
			e[4] = byte(sy.bind)<<4 | byte(sy.typ)&0xf
			le.PutUint16(e[6:], uint16(sy.shndx))
			le.PutUint64(e[8:], sy.value)
			le.PutUint64(e[16:], sy.size)
			tab = append(tab, e...)
			if sy.bind == elf.STB_LOCAL {
				locals++
			}
		}
		si := add(strName, elf.SHT_STRTAB, str.Bytes(), 0, 0, 0)
		return add(name, typ, tab, uint32(si), uint32(locals), 24)
	}
	if s.syms != nil {
		symtab(".symtab", ".strtab", s.syms, elf.SHT_SYMTAB)
	}
	if s.dynsyms != nil {
		di := symtab(".dynsym", ".dynstr", s.dynsyms, elf.SHT_DYNSYM)
		if s.versions != nil {
			vs := make([]byte, 2*(len(s.versions)+1))
			for i, v := range s.versions {
				le.PutUint16(vs[2*(i+1):], v)
			}
			add(".gnu.version", elf.SHT_GNU_VERSYM, vs, uint32(di), 0, 2)
			// .gnu.version_d: one Verdef per name, each with one Verdaux;
			// the names live in .dynstr (link of .dynsym).
			dynstr := secs[secs[di].link]
			strBytes := append([]byte(nil), buf[dynstr.off:dynstr.off+dynstr.size]...)
			var vd []byte
			for i, name := range s.verdefs {
				nameOff := uint32(len(strBytes))
				strBytes = append(strBytes, name...)
				strBytes = append(strBytes, 0)
				d := make([]byte, 20+8)
				le.PutUint16(d[0:], 1)           // vd_version
				le.PutUint16(d[4:], uint16(i+2)) // vd_ndx
				le.PutUint16(d[6:], 1)           // vd_cnt
				le.PutUint32(d[12:], 20)         // vd_aux
				if i+1 < len(s.verdefs) {
					le.PutUint32(d[16:], 28) // vd_next
				}
				le.PutUint32(d[20:], nameOff) // vda_name
				vd = append(vd, d...)
			}
			// Rewrite .dynstr with the added names at the end of the file.
			si := add(".dynstr2", elf.SHT_STRTAB, strBytes, 0, 0, 0)
			secs[di].link = uint32(si)
			add(".gnu.version_d", elf.SHT_GNU_VERDEF, vd, uint32(si), uint32(len(s.verdefs)), 0)
		}
	}
	if s.buildID != nil {
		n := make([]byte, 12)
		le.PutUint32(n[0:], 4)
		le.PutUint32(n[4:], uint32(len(s.buildID)))
		le.PutUint32(n[8:], ntGNUBuildID)
		n = append(n, 'G', 'N', 'U', 0)
		n = append(n, s.buildID...)
		for len(n)%4 != 0 {
			n = append(n, 0)
		}
		add(".note.gnu.build-id", elf.SHT_NOTE, n, 0, 0, 0)
	}
	if s.debugLink != "" {
		d := append([]byte(s.debugLink), 0)
		for len(d)%4 != 0 {
			d = append(d, 0)
		}
		d = le.AppendUint32(d, s.linkCRC)
		add(".gnu_debuglink", elf.SHT_PROGBITS, d, 0, 0, 0)
	}
	// .shstrtab
	var shstr bytes.Buffer
	shstr.WriteByte(0)
	nameOff := make([]uint32, len(secs)+1)
	for i, sc := range secs {
		if i == 0 {
			continue
		}
		nameOff[i] = uint32(shstr.Len())
		shstr.WriteString(sc.name)
		shstr.WriteByte(0)
	}
	nameOff[len(secs)] = uint32(shstr.Len())
	shstr.WriteString(".shstrtab")
	shstr.WriteByte(0)
	shi := add(".shstrtab", elf.SHT_STRTAB, shstr.Bytes(), 0, 0, 0)
	for len(buf)%8 != 0 {
		buf = append(buf, 0)
	}
	shoff := uint64(len(buf))
	for i, sc := range secs {
		h := make([]byte, 64)
		le.PutUint32(h[0:], nameOff[i])
		le.PutUint32(h[4:], uint32(sc.typ))
		le.PutUint64(h[8:], uint64(sc.flags))
		le.PutUint64(h[16:], sc.addr)
		le.PutUint64(h[24:], sc.off)
		le.PutUint64(h[32:], sc.size)
		le.PutUint32(h[40:], sc.link)
		le.PutUint32(h[44:], sc.info)
		le.PutUint64(h[48:], sc.align)
		le.PutUint64(h[56:], sc.entsize)
		buf = append(buf, h...)
	}
	// ELF header.
	copy(buf, elf.ELFMAG)
	buf[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	buf[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	buf[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(buf[16:], uint16(s.typ))
	le.PutUint16(buf[18:], uint16(elf.EM_X86_64))
	le.PutUint32(buf[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(buf[32:], 64) // phoff
	le.PutUint64(buf[40:], shoff)
	le.PutUint16(buf[52:], 64)
	le.PutUint16(buf[54:], 56)
	le.PutUint16(buf[56:], uint16(len(s.segs)))
	le.PutUint16(buf[58:], 64)
	le.PutUint16(buf[60:], uint16(len(secs)))
	le.PutUint16(buf[62:], uint16(shi))
	for i, sg := range s.segs {
		p := buf[64+56*i:]
		le.PutUint32(p[0:], uint32(elf.PT_LOAD))
		le.PutUint32(p[4:], uint32(sg.flags))
		le.PutUint64(p[8:], sg.off)
		le.PutUint64(p[16:], sg.vaddr)
		le.PutUint64(p[24:], sg.vaddr)
		le.PutUint64(p[32:], sg.filesz)
		le.PutUint64(p[40:], sg.memsz)
		le.PutUint64(p[48:], 0x1000)
	}
	return buf
}

// basicSpec is a small executable: an executable segment whose addresses
// differ from its file offsets, a data segment with a .bss tail, and
// functions, an IFUNC, a data object and aliases.
func basicSpec() synthSpec {
	return synthSpec{
		typ: elf.ET_EXEC,
		segs: []synthSeg{
			{vaddr: 0x401000, off: 0x1000, filesz: 0x800, memsz: 0x800, flags: elf.PF_R | elf.PF_X},
			{vaddr: 0x603000, off: 0x2000, filesz: 0x100, memsz: 0x400, flags: elf.PF_R | elf.PF_W},
		},
		syms: []synthSym{
			{name: "local_helper", value: 0x401100, size: 0x40, typ: elf.STT_FUNC, bind: elf.STB_LOCAL, shndx: 1},
			{name: "main", value: 0x401000, size: 0x100, typ: elf.STT_FUNC, bind: elf.STB_GLOBAL, shndx: 1},
			{name: "resolver", value: 0x401200, size: 0x10, typ: elf.STT_GNU_IFUNC, bind: elf.STB_GLOBAL, shndx: 1},
			{name: "alias_weak", value: 0x401000, size: 0x100, typ: elf.STT_FUNC, bind: elf.STB_WEAK, shndx: 1},
			{name: "counter", value: 0x603010, size: 8, typ: elf.STT_OBJECT, bind: elf.STB_GLOBAL, shndx: 1},
			{name: "undef_func", value: 0, size: 0, typ: elf.STT_FUNC, bind: elf.STB_GLOBAL, shndx: elf.SHN_UNDEF},
			{name: "_ZN2ns6Widget4frobEi", value: 0x401300, size: 0x20, typ: elf.STT_FUNC, bind: elf.STB_GLOBAL, shndx: 1},
		},
		dynsyms: []synthSym{
			{name: "main", value: 0x401000, size: 0x100, typ: elf.STT_FUNC, bind: elf.STB_GLOBAL, shndx: 1},
			{name: "memcpy", value: 0x401400, size: 0x10, typ: elf.STT_FUNC, bind: elf.STB_GLOBAL, shndx: 1},
			{name: "memcpy", value: 0x401500, size: 0x10, typ: elf.STT_FUNC, bind: elf.STB_GLOBAL, shndx: 1},
		},
		versions: []uint16{1, 0x8002, 3},
		verdefs:  []string{"V_OLD", "V_NEW"},
		buildID:  []byte{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04},
	}
}
