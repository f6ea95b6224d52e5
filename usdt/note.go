package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// More errors a [Site] wraps.
var (
	// ErrMalformedNote marks a stapsdt note whose descriptor is too short,
	// lacks a NUL terminator or has an empty probe name.
	ErrMalformedNote = errors.New("malformed stapsdt note")
	// ErrNotMapped marks a probe address outside every executable PT_LOAD
	// (or outside every SHF_EXECINSTR section), or a semaphore outside
	// every writable, non-executable PT_LOAD, so no file offset exists.
	ErrNotMapped = errors.New("address not in a loadable segment")
)

// ntStapsdt is the note type of SystemTap's v3 probe descriptors.
const ntStapsdt = 3

// Site is one USDT call site: one record of an object's .note.stapsdt.
// The same probe (Provider, Name) usually has several sites, each with its
// own argument locations and, possibly, its own semaphore.
type Site struct {
	// Provider and Name name the probe, as in usdt:path:Provider:Name.
	Provider, Name string
	// Addr is the link-time virtual address of the probe's NOP, after the
	// .stapsdt.base prelink adjustment.
	Addr uint64
	// FileOffset is the file offset of Addr, computed from the executable
	// PT_LOAD holding it: what uprobes and link.UprobeMultiOptions.Addresses
	// take.
	FileOffset uint64
	// Base is the note's base field: the link-time address of
	// .stapsdt.base, or 0.
	Base uint64
	// Semaphore is the link-time address of the probe's 2-byte enable
	// counter (adjusted like Addr), 0 if it has none.
	Semaphore uint64
	// SemaphoreOffset is the file offset of Semaphore, from the writable,
	// non-executable PT_LOAD holding it: the kernel's ref_ctr_offset.
	// 0 if there is no semaphore.
	SemaphoreOffset uint64
	// ArgsRaw is the note's argument string, such as "-4@%eax 8@-8(%rbp)".
	ArgsRaw string
	// Args are the decoded arguments, one per word of ArgsRaw.
	Args []Arg
	// Err is a problem with this site alone (a malformed note, an address
	// outside the loadable segments); nil if the site can be attached.
	// Problems with single arguments are in their Arg.Err instead.
	Err error
}

// ReadSites opens the ELF object at path and returns [Sites] of it, resolving
// symbols from its own symbol tables.
func ReadSites(path string) ([]Site, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("usdt: %w", err)
	}
	defer f.Close()
	sites, err := Sites(f, nil)
	if err != nil {
		return sites, fmt.Errorf("%s: %w", path, err)
	}
	return sites, nil
}

// Sites reads every USDT call site of an object from its stapsdt notes,
// in note order. The notes live in the non-allocated section .note.stapsdt,
// so they are read through the section headers.
//
// lookup resolves the symbols of RIP-relative and absolute arguments
// (sym+off(%rip)) to link-time addresses. When it is nil, Sites uses the
// object's own .symtab and .dynsym, and leaves a name that is defined there
// with different values (duplicate local statics) unresolved.
//
// A problem with one site is reported in that Site's Err and does not
// affect the others. The error is non-nil when a notes section cannot be
// read or its note headers run past its end; the sites decoded before the
// damage are still returned.
func Sites(f *elf.File, lookup func(name string) (addr uint64, ok bool)) ([]Site, error) {
	if f == nil {
		return nil, errors.New("usdt: nil *elf.File")
	}
	var width int
	switch f.Class {
	case elf.ELFCLASS32:
		width = 4
	case elf.ELFCLASS64:
		width = 8
	default:
		return nil, fmt.Errorf("usdt: unknown ELF class %v", f.Class)
	}
	if f.ByteOrder == nil {
		return nil, errors.New("usdt: ELF file has no byte order")
	}
	l := layout{f: f, width: width}
	if s := f.Section(".stapsdt.base"); s != nil {
		l.baseAddr = s.Addr
	}
	l.indexSegments()

	var sites []Site
	var errs []error
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_NOTE {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			errs = append(errs, fmt.Errorf("usdt: read section %s: %w", sec.Name, err))
			continue
		}
		align := uint64(4)
		if sec.Addralign == 8 {
			align = 8
		}
		err = eachNote(data, f.ByteOrder, align, func(name string, typ uint32, desc []byte) {
			if name == "stapsdt" && typ == ntStapsdt {
				sites = append(sites, l.site(desc))
			}
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("usdt: section %s: %w", sec.Name, err))
		}
	}

	res := resolver{lookup: lookup, f: f, mask: ^uint64(0)}
	if width == 4 {
		res.mask = 0xffffffff
	}
	for i := range sites {
		for j := range sites[i].Args {
			res.resolve(&sites[i].Args[j])
		}
	}
	return sites, errors.Join(errs...)
}

// eachNote walks the ELF notes in data. align is the padding of names and
// descriptors (4, or 8 for sections aligned so).
func eachNote(data []byte, bo binary.ByteOrder, align uint64, fn func(name string, typ uint32, desc []byte)) error {
	size := uint64(len(data))
	pad := func(n uint64) uint64 { return (n + align - 1) &^ (align - 1) }
	for off := uint64(0); off < size; {
		if size-off < 12 {
			return fmt.Errorf("%w: %d stray bytes at offset %#x", ErrMalformedNote, size-off, off)
		}
		namesz := uint64(bo.Uint32(data[off:]))
		descsz := uint64(bo.Uint32(data[off+4:]))
		typ := bo.Uint32(data[off+8:])
		nameOff := off + 12
		descOff := pad(nameOff + namesz)
		end := descOff + descsz
		if descOff > size || end > size || end < descOff {
			return fmt.Errorf("%w: note at offset %#x runs past the section end", ErrMalformedNote, off)
		}
		name := data[nameOff : nameOff+namesz]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		fn(string(name), typ, data[descOff:end])
		off = pad(end)
	}
	return nil
}

// segment is a PT_LOAD's file-backed range.
type segment struct {
	vaddr, off, filesz uint64
}

// layout maps a file's link-time addresses to file offsets.
type layout struct {
	f        *elf.File
	width    int
	baseAddr uint64    // sh_addr of .stapsdt.base, 0 if absent
	exec     []segment // PT_LOAD with PF_X
	data     []segment // PT_LOAD with PF_W, without PF_X
	text     []segment // SHF_EXECINSTR sections with contents
}

func (l *layout) indexSegments() {
	for _, p := range l.f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		s := segment{p.Vaddr, p.Off, p.Filesz}
		switch {
		case p.Flags&elf.PF_X != 0:
			l.exec = append(l.exec, s)
		case p.Flags&elf.PF_W != 0:
			l.data = append(l.data, s)
		}
	}
	for _, s := range l.f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && s.Type != elf.SHT_NOBITS && s.Size > 0 {
			l.text = append(l.text, segment{s.Addr, s.Offset, s.Size})
		}
	}
}

// find returns the file offset of the n bytes at addr in one of segs.
func find(segs []segment, addr, n uint64) (uint64, bool) {
	for _, s := range segs {
		if addr >= s.vaddr && addr-s.vaddr < s.filesz && s.filesz-(addr-s.vaddr) >= n {
			return s.off + (addr - s.vaddr), true
		}
	}
	return 0, false
}

// site decodes one stapsdt descriptor:
// pc, base, semaphore (each one address wide), provider\0 name\0 args\0.
func (l *layout) site(desc []byte) Site {
	var s Site
	w := l.width
	if len(desc) < 3*w+3 {
		s.Err = fmt.Errorf("%w: descriptor of %d bytes", ErrMalformedNote, len(desc))
		return s
	}
	word := func(i int) uint64 {
		if w == 4 {
			return uint64(l.f.ByteOrder.Uint32(desc[i*4:]))
		}
		return l.f.ByteOrder.Uint64(desc[i*8:])
	}
	pc, base, sem := word(0), word(1), word(2)
	s.Addr, s.Base, s.Semaphore = pc, base, sem
	rest := desc[3*w:]
	var strs [3]string
	for i := range strs {
		n := bytes.IndexByte(rest, 0)
		if n < 0 {
			s.Provider, s.Name = strs[0], strs[1]
			s.Err = fmt.Errorf("%w: string %d is not NUL-terminated", ErrMalformedNote, i)
			return s
		}
		strs[i], rest = string(rest[:n]), rest[n+1:]
	}
	s.Provider, s.Name, s.ArgsRaw = strs[0], strs[1], strs[2]
	if s.Name == "" {
		s.Err = fmt.Errorf("%w: empty probe name", ErrMalformedNote)
		return s
	}
	s.Args = ParseArgs(s.ArgsRaw, l.f.Machine)

	// Prelink moved the object but not the notes: shift both addresses by
	// how far .stapsdt.base moved. Notes without a base (hand-made, or
	// libstapsdt-style) are taken as they are.
	if l.baseAddr != 0 && base != 0 && l.baseAddr != base {
		delta := l.baseAddr - base
		mask := ^uint64(0)
		if w == 4 {
			mask = 0xffffffff
		}
		s.Addr = (pc + delta) & mask
		if sem != 0 {
			s.Semaphore = (sem + delta) & mask
		}
	}

	off, ok := find(l.exec, s.Addr, 1)
	switch {
	case !ok && len(l.f.Progs) == 0:
		s.Err = fmt.Errorf("%w: object has no program headers", ErrNotMapped)
		return s
	case !ok:
		s.Err = fmt.Errorf("%w: probe address %#x is in no executable PT_LOAD", ErrNotMapped, s.Addr)
		return s
	}
	if _, in := find(l.text, s.Addr, 1); len(l.text) > 0 && !in {
		s.Err = fmt.Errorf("%w: probe address %#x is in no executable section (discarded code?)", ErrNotMapped, s.Addr)
		return s
	}
	if l.f.Machine == elf.EM_AARCH64 && off%4 != 0 {
		s.Err = fmt.Errorf("%w: probe offset %#x is not 4-byte aligned", ErrNotMapped, off)
		return s
	}
	s.FileOffset = off
	if s.Semaphore != 0 {
		off, ok := find(l.data, s.Semaphore, 2)
		if !ok {
			s.Err = fmt.Errorf("%w: semaphore %#x is in no writable, non-executable PT_LOAD", ErrNotMapped, s.Semaphore)
			return s
		}
		if off%2 != 0 {
			s.Err = fmt.Errorf("%w: semaphore offset %#x is not 2-byte aligned", ErrNotMapped, off)
			return s
		}
		s.SemaphoreOffset = off
	}
	return s
}

// resolver fills in the symbol addresses of arguments.
type resolver struct {
	lookup func(string) (uint64, bool)
	f      *elf.File
	mask   uint64
	own    map[string]ownSym // the object's symbols, built on first use
}

type ownSym struct {
	value     uint64
	ambiguous bool
}

func (r *resolver) resolve(a *Arg) {
	if a.Symbol == "" {
		return
	}
	if r.lookup == nil {
		r.lookup = r.ownLookup
	}
	v, ok := r.lookup(a.Symbol)
	if !ok {
		if a.Err == nil {
			why := "not in the symbol table"
			if s, dup := r.own[a.Symbol]; dup && s.ambiguous {
				why = "defined more than once"
			}
			a.Err = fmt.Errorf("%w: %s (%s)", ErrUnresolved, a.Symbol, why)
		}
		return
	}
	a.SymbolAddr = (v + uint64(a.Offset)) & r.mask
	a.Resolved = true
}

// ownLookup resolves a name from the object's .symtab and .dynsym.
func (r *resolver) ownLookup(name string) (uint64, bool) {
	if r.own == nil {
		r.own = make(map[string]ownSym)
		syms, _ := r.f.Symbols()
		dyn, _ := r.f.DynamicSymbols()
		for _, s := range append(syms, dyn...) {
			if s.Section == elf.SHN_UNDEF || s.Name == "" {
				continue
			}
			switch elf.ST_TYPE(s.Info) {
			case elf.STT_SECTION, elf.STT_FILE, elf.STT_TLS:
				continue
			}
			if old, ok := r.own[s.Name]; ok {
				if old.value != s.Value {
					old.ambiguous = true
					r.own[s.Name] = old
				}
				continue
			}
			r.own[s.Name] = ownSym{value: s.Value}
		}
	}
	s, ok := r.own[name]
	if !ok || s.ambiguous {
		return 0, false
	}
	return s.value, true
}
