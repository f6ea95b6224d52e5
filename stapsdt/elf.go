package stapsdt

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	archpkg "github.com/uscope/uscope/arch"
)

// arch describes how probe sites and argument specs look on one machine.
type arch struct {
	machine elf.Machine
	// site is the code of one probe site; the note's pc is its first byte.
	site []byte
	// fill pads a site to siteSlot bytes with instructions that trap.
	fill byte
	// regs[i] names the register holding argument i, by argument size.
	regs [MaxArgs]func(size int) string
}

// siteSlot is the distance between probe sites: 16 keeps every site
// function-aligned, 4-byte aligned for arm64, and keeps the amd64 nop5 inside
// one cache line and one page, as the kernel's optimized uprobes require.
const siteSlot = 16

// semaSlot is the distance between semaphores. The kernel counts in the
// first two bytes; the other two stay zero, which lets Enabled use one
// aligned 32-bit atomic load.
const semaSlot = 4

// argRegs returns, for the C argument registers of a, functions naming each
// by operand size, as GCC writes USDT argument specs ("%dil", "%di",
// "%edi", "%rdi") on amd64. On arm64 the specs always use the x name, as
// libbpf and bcc only accept x0-x30; the size comes from the spec's size
// field.
func argRegs(a *archpkg.Arch) (regs [MaxArgs]func(size int) string) {
	for i := range regs {
		name := a.CArgs[i]
		if a.Machine != elf.EM_X86_64 {
			regs[i] = func(int) string { return name }
			continue
		}
		regs[i] = func(size int) string {
			if s, ok := a.OperandName(name, size); ok {
				return "%" + s
			}
			return "%" + name
		}
	}
	return regs
}

var (
	// archAMD64: nop5 (0f 1f 44 00 00); ret. The registers are the System V
	// integer argument registers, which ·callSite loads.
	archAMD64 = &arch{
		machine: elf.EM_X86_64,
		site:    []byte{0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3},
		fill:    0xcc, // int3
		regs:    argRegs(archpkg.AMD64),
	}
	// archARM64: nop (d503201f); ret (d65f03c0), little-endian words. The
	// registers are AAPCS64's x0-x5.
	archARM64 = &arch{
		machine: elf.EM_AARCH64,
		site:    []byte{0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6},
		fill:    0x00, // udf #0
		regs:    argRegs(archpkg.ARM64),
	}
)

// archFor returns the site and spec conventions for a GOARCH value.
func archFor(goarch string) (*arch, error) {
	switch goarch {
	case "amd64":
		return archAMD64, nil
	case "arm64":
		return archARM64, nil
	}
	return nil, fmt.Errorf("GOARCH %s: %w", goarch, errUnsupportedArch)
}

// argSpec returns the note's argument string for a probe, such as
// "8@%rdi -4@%esi".
func (a *arch) argSpec(args []ArgType) string {
	var b strings.Builder
	for i, t := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if t.Signed() {
			b.WriteByte('-')
		}
		fmt.Fprintf(&b, "%d@%s", t.Size(), a.regs[i](t.Size()))
	}
	return b.String()
}

// probeDef is what the image needs to know about one probe.
type probeDef struct {
	name string
	args []ArgType
}

// segment is one PT_LOAD of the image. Its file offset equals its virtual
// address and is page-aligned.
type segment struct {
	off, size uint64
	flags     elf.ProgFlag
}

// image is a built ELF file and where its parts are.
type image struct {
	data  []byte
	sites []uint64 // per probe: the site's address (= file offset)
	semas []uint64 // per probe: the semaphore's address (= file offset)
	base  uint64   // address of .stapsdt.base
	segs  []segment
}

// Sizes of the ELF64 structures.
const (
	ehdrSize = 64
	phdrSize = 56
	shdrSize = 64
	symSize  = 24
)

// Section indexes, in section-header order. The order matters to bcc (and
// so bpftrace) up to at least 0.26: its note reader scans the section table
// once, finding the first executable section, then .probes, then
// .note.stapsdt, each search resuming where the previous one stopped; a
// .note.stapsdt listed before .probes is never seen.
const (
	secNull = iota
	secText
	secBase
	secProbes
	secNote
	secSymtab
	secStrtab
	secShstrtab
	numSections
)

const numPhdrs = 3 // PT_LOAD r-x, PT_LOAD rw-, PT_GNU_STACK

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

// strtab accumulates a string table; offset 0 holds the empty name.
type strtab struct{ b []byte }

func newStrtab() *strtab { return &strtab{b: []byte{0}} }

func (s *strtab) add(name string) uint32 {
	off := uint32(len(s.b))
	s.b = append(s.b, name...)
	s.b = append(s.b, 0)
	return off
}

// buildImage lays out and writes the ELF shared object for a provider's
// probes. pageSize must be a power of two; every PT_LOAD starts on a page of
// its own with p_vaddr == p_offset.
//
// Layout: ELF header, program headers, .text (one siteSlot per probe),
// .stapsdt.base — all in the r-x PT_LOAD at offset 0 — then the
// non-allocated .note.stapsdt, .symtab, .strtab, .shstrtab and the section
// headers, and finally .probes on its own page(s) in the rw- PT_LOAD. The
// file is padded to a whole number of pages, so every mapped byte is backed.
func buildImage(a *arch, provider string, probes []probeDef, pageSize int) (*image, error) {
	if pageSize <= 0 || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("page size %d is not a power of two", pageSize)
	}
	if len(a.site) > siteSlot {
		return nil, fmt.Errorf("%v site of %d bytes exceeds its %d-byte slot", a.machine, len(a.site), siteSlot)
	}
	if err := checkName("provider", provider); err != nil {
		return nil, err
	}
	for _, p := range probes {
		if err := checkName("probe", p.name); err != nil {
			return nil, err
		}
		if len(p.args) > MaxArgs {
			return nil, fmt.Errorf("probe %s: %d arguments, at most %d", p.name, len(p.args), MaxArgs)
		}
		for i, t := range p.args {
			if !t.valid() {
				return nil, fmt.Errorf("probe %s: argument %d: invalid type %v", p.name, i, t)
			}
		}
	}
	page := uint64(pageSize)
	n := uint64(len(probes))
	img := &image{sites: make([]uint64, n), semas: make([]uint64, n)}

	// Allocated parts.
	textOff := alignUp(ehdrSize+numPhdrs*phdrSize, siteSlot)
	textSize := n * siteSlot
	img.base = textOff + textSize
	rxEnd := img.base + 1
	for i := range probes {
		img.sites[i] = textOff + uint64(i)*siteSlot
	}

	// Non-allocated parts, built first so their sizes are known. The
	// semaphore addresses depend on where the section headers end, and the
	// notes hold those addresses, so the notes' size is computed from the
	// strings alone and their contents written once the layout is fixed.
	noteOff := alignUp(rxEnd, 4)
	specs := make([]string, n)
	var notesSize uint64
	for i, p := range probes {
		specs[i] = a.argSpec(p.args)
		notesSize += alignUp(12+8+noteDescSize(provider, p.name, specs[i]), 4)
	}
	strs := newStrtab()
	shstrs := newStrtab()
	symOff := alignUp(noteOff+notesSize, 8)
	numSyms := 2 + 2*n // null, _.stapsdt.base, then a site and a semaphore per probe
	strOff := symOff + numSyms*symSize
	// The string tables' contents do not depend on addresses: fill them now.
	baseName := strs.add("_.stapsdt.base")
	siteNames := make([]uint32, n)
	semaNames := make([]uint32, n)
	for i, p := range probes {
		siteNames[i] = strs.add(provider + "_" + p.name)
		semaNames[i] = strs.add(provider + "_" + p.name + "_semaphore")
	}
	secNames := [numSections]uint32{}
	for i, s := range [numSections]string{
		secText: ".text", secBase: ".stapsdt.base", secProbes: ".probes", secNote: ".note.stapsdt",
		secSymtab: ".symtab", secStrtab: ".strtab", secShstrtab: ".shstrtab",
	} {
		if i > 0 {
			secNames[i] = shstrs.add(s)
		}
	}
	shstrOff := strOff + uint64(len(strs.b))
	shOff := alignUp(shstrOff+uint64(len(shstrs.b)), 8)
	probesOff := alignUp(shOff+numSections*shdrSize, page)
	probesSize := n * semaSlot
	for i := range probes {
		img.semas[i] = probesOff + uint64(i)*semaSlot
	}
	fileSize := alignUp(probesOff+max(probesSize, 1), page)

	img.segs = []segment{
		{off: 0, size: rxEnd, flags: elf.PF_R | elf.PF_X},
		{off: probesOff, size: probesSize, flags: elf.PF_R | elf.PF_W},
	}

	le := binary.LittleEndian
	out := make([]byte, 0, fileSize)

	// ELF header.
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	out, _ = binary.Append(out, le, elf.Header64{
		Ident:     ident,
		Type:      uint16(elf.ET_DYN),
		Machine:   uint16(a.machine),
		Version:   uint32(elf.EV_CURRENT),
		Phoff:     ehdrSize,
		Shoff:     shOff,
		Ehsize:    ehdrSize,
		Phentsize: phdrSize,
		Phnum:     numPhdrs,
		Shentsize: shdrSize,
		Shnum:     numSections,
		Shstrndx:  secShstrtab,
	})

	// Program headers.
	for _, s := range img.segs {
		out, _ = binary.Append(out, le, elf.Prog64{
			Type: uint32(elf.PT_LOAD), Flags: uint32(s.flags),
			Off: s.off, Vaddr: s.off, Paddr: s.off,
			Filesz: s.size, Memsz: s.size, Align: page,
		})
	}
	out, _ = binary.Append(out, le, elf.Prog64{
		Type: uint32(elf.PT_GNU_STACK), Flags: uint32(elf.PF_R | elf.PF_W), Align: 16,
	})

	// .text: the sites, padded with trapping instructions.
	out = pad(out, textOff, 0)
	for range probes {
		slot := len(out)
		out = append(out, a.site...)
		out = pad(out, uint64(slot)+siteSlot, a.fill)
	}
	// .stapsdt.base: one byte whose address the notes record.
	out = append(out, 0)

	// .note.stapsdt.
	out = pad(out, noteOff, 0)
	for i, p := range probes {
		start := len(out)
		out = appendNote(out, provider, p.name, specs[i], img.sites[i], img.base, img.semas[i])
		out = pad(out, uint64(start)+alignUp(uint64(len(out)-start), 4), 0)
	}
	if uint64(len(out)) != noteOff+notesSize {
		return nil, fmt.Errorf("internal error: notes take %d bytes, %d planned", uint64(len(out))-noteOff, notesSize)
	}

	// .symtab: locals first, then one FUNC per site and one OBJECT per
	// semaphore.
	out = pad(out, symOff, 0)
	out, _ = binary.Append(out, le, elf.Sym64{})
	out, _ = binary.Append(out, le, elf.Sym64{
		Name: baseName, Info: elf.ST_INFO(elf.STB_LOCAL, elf.STT_OBJECT),
		Other: uint8(elf.STV_HIDDEN), Shndx: secBase, Value: img.base, Size: 1,
	})
	for i := range probes {
		out, _ = binary.Append(out, le, elf.Sym64{
			Name: siteNames[i], Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC),
			Shndx: secText, Value: img.sites[i], Size: uint64(len(a.site)),
		})
		out, _ = binary.Append(out, le, elf.Sym64{
			Name: semaNames[i], Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_OBJECT),
			Shndx: secProbes, Value: img.semas[i], Size: 2,
		})
	}
	out = append(out, strs.b...)
	out = append(out, shstrs.b...)

	// Section headers.
	out = pad(out, shOff, 0)
	shdrs := [numSections]elf.Section64{
		secText: {Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC | elf.SHF_EXECINSTR),
			Addr: textOff, Off: textOff, Size: textSize, Addralign: siteSlot},
		secBase: {Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC),
			Addr: img.base, Off: img.base, Size: 1, Addralign: 1},
		secNote: {Type: uint32(elf.SHT_NOTE), Off: noteOff, Size: notesSize, Addralign: 4},
		secSymtab: {Type: uint32(elf.SHT_SYMTAB), Off: symOff, Size: numSyms * symSize,
			Link: secStrtab, Info: 2, Addralign: 8, Entsize: symSize},
		secStrtab:   {Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(strs.b)), Addralign: 1},
		secShstrtab: {Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstrs.b)), Addralign: 1},
		secProbes: {Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC | elf.SHF_WRITE),
			Addr: probesOff, Off: probesOff, Size: probesSize, Addralign: semaSlot},
	}
	for i := range shdrs {
		shdrs[i].Name = secNames[i]
		out, _ = binary.Append(out, le, shdrs[i])
	}

	// .probes: zeroed semaphores, then zeros to the end of the page.
	out = pad(out, fileSize, 0)
	if uint64(len(out)) != fileSize {
		return nil, fmt.Errorf("internal error: image is %d bytes, %d planned", len(out), fileSize)
	}
	img.data = out
	return img, nil
}

// pad appends b to out until it is n bytes long.
func pad(out []byte, n uint64, b byte) []byte {
	for uint64(len(out)) < n {
		out = append(out, b)
	}
	return out
}

// noteDescSize is the length of a stapsdt note's descriptor, without padding.
func noteDescSize(provider, name, args string) uint64 {
	return 3*8 + uint64(len(provider)+1+len(name)+1+len(args)+1)
}

// ntStapsdt is the note type of SystemTap SDT v3 notes.
const ntStapsdt = 3

// appendNote appends one .note.stapsdt record, without trailing padding.
func appendNote(out []byte, provider, name, args string, pc, base, sema uint64) []byte {
	le := binary.LittleEndian
	out = le.AppendUint32(out, 8) // namesz: "stapsdt\0"
	out = le.AppendUint32(out, uint32(noteDescSize(provider, name, args)))
	out = le.AppendUint32(out, ntStapsdt)
	out = append(out, "stapsdt\x00"...)
	out = le.AppendUint64(out, pc)
	out = le.AppendUint64(out, base)
	out = le.AppendUint64(out, sema)
	for _, s := range [...]string{provider, name, args} {
		out = append(out, s...)
		out = append(out, 0)
	}
	return out
}
