package gobin

import (
	"debug/elf"
	"errors"
	"fmt"
)

// The runtime's moduledata (runtime/symtab.go) begins, from Go 1.16 through
// at least Go 1.26, with
//
//	pcHeader                                    *pcHeader
//	funcnametab, cutab, filetab, pctab,
//	pclntable, ftab                             six slices
//	findfunctab, minpc, maxpc, text, etext      uintptr
//
// so, counted in pointer-sized words (a slice is three), pcHeader is word 0,
// funcnametab's data pointer word 1, findfunctab word 19, minpc 20, maxpc 21
// and text 22.
const (
	mdWordPcHeader    = 0
	mdWordFuncnametab = 1
	mdWordMinPC       = 20
	mdWordText        = 22
)

// moduledataTextWord returns the index, in pointer-sized words, of the text
// field of runtime.moduledata for the binary's Go version.
func (b *Binary) moduledataTextWord() (int, error) {
	if !b.GoVersionAtLeast(1, 16) {
		return 0, fmt.Errorf("no moduledata layout known for %s", b.GoVersion)
	}
	// Unchanged from 1.16 to 1.26; later versions are accepted on the
	// strength of the minpc cross-check in textFromModuledata.
	return mdWordText, nil
}

// findTextStart returns the address of runtime.text. Go 1.18 to 1.25 store
// it in the pclntab header; Go 1.26 leaves that field zero, and the runtime
// takes it from runtime.firstmoduledata.text instead, as we do.
func (b *Binary) findTextStart() (uint64, error) {
	if ts := b.pcln.hdrTextStart; ts != 0 && !b.GoVersionAtLeast(1, 26) && b.validText(ts) {
		return ts, nil
	}
	md, err := b.findModuledata()
	if err != nil {
		return 0, err
	}
	return b.textFromModuledata(md)
}

// validText reports whether text is a plausible text start: the first and
// last function entries relative to it lie in executable segments.
func (b *Binary) validText(text uint64) bool {
	t := b.pcln
	if t.nfunc == 0 {
		return b.mem.isExec(text)
	}
	first, _ := t.entry(0)
	last, _ := t.entry(t.nfunc - 1)
	return b.mem.isExec(text+first) && b.mem.isExec(text+last)
}

// textFromModuledata reads the text field of the moduledata at md, and
// checks it against minpc, the first function's address.
func (b *Binary) textFromModuledata(md uint64) (uint64, error) {
	w, err := b.moduledataTextWord()
	if err != nil {
		return 0, err
	}
	p := uint64(b.PtrSize)
	text, err := b.mem.ptr(md + uint64(w)*p)
	if err != nil {
		return 0, fmt.Errorf("moduledata at %#x: %w", md, err)
	}
	if !b.validText(text) {
		return 0, fmt.Errorf("moduledata at %#x: text %#x is not in an executable segment", md, text)
	}
	if b.pcln.nfunc > 0 {
		minpc, err := b.mem.ptr(md + mdWordMinPC*p)
		first, _ := b.pcln.entry(0)
		if err != nil || minpc != text+first {
			return 0, fmt.Errorf("moduledata at %#x: minpc %#x does not match text %#x + first entry %#x (unknown layout for %s?)", md, minpc, text, first, b.GoVersion)
		}
	}
	return text, nil
}

// isModuledata reports whether a moduledata plausibly starts at addr: its
// pcHeader points at the pclntab and its funcnametab at the name table.
func (b *Binary) isModuledata(addr uint64) bool {
	p := uint64(b.PtrSize)
	if v, err := b.mem.ptr(addr + mdWordPcHeader*p); err != nil || v != b.PclntabAddr {
		return false
	}
	if b.pcln.magic == magic12 {
		return true
	}
	v, err := b.mem.ptr(addr + mdWordFuncnametab*p)
	return err == nil && v == b.PclntabAddr+b.pcln.funcnameOff
}

// findModuledata returns the address of runtime.firstmoduledata: from the
// symbol table, from the .go.module section (Go 1.26), or by searching the
// data for the structure that points at the pclntab.
func (b *Binary) findModuledata() (uint64, error) {
	if !b.Stripped {
		if syms, err := b.f.Symbols(); err == nil {
			for _, s := range syms {
				if s.Name == "runtime.firstmoduledata" && b.isModuledata(s.Value) {
					return s.Value, nil
				}
			}
		}
	}
	if s := b.f.Section(".go.module"); s != nil && b.isModuledata(s.Addr) {
		return s.Addr, nil
	}
	return b.scanModuledata()
}

// scanModuledata searches the writable data for the moduledata: first among
// the relocations whose addend is the pclntab address (PIE), then word by
// word in the data sections, or in the writable segments when the file has
// no section headers.
func (b *Binary) scanModuledata() (uint64, error) {
	var best uint64
	found := false
	for off, addend := range b.mem.relocs() {
		if addend == b.PclntabAddr && b.isModuledata(off) && (!found || off < best) {
			best, found = off, true
		}
	}
	if found {
		return best, nil
	}
	type region struct{ addr, size uint64 }
	var regions []region
	for _, name := range []string{".go.module", ".noptrdata", ".data", ".data.rel.ro"} {
		if s := b.f.Section(name); s != nil && s.Size > 0 {
			regions = append(regions, region{s.Addr, s.Size})
		}
	}
	if len(regions) == 0 {
		for _, p := range b.mem.loads {
			if p.Flags&elf.PF_W != 0 && p.Filesz > 0 {
				regions = append(regions, region{p.Vaddr, p.Filesz})
			}
		}
	}
	p := uint64(b.PtrSize)
	for _, r := range regions {
		size := min(r.size, maxScan)
		data, err := b.mem.readFile(r.addr, int(size))
		if err != nil {
			continue
		}
		start := (p - r.addr%p) % p
		for i := start; i+p <= uint64(len(data)); i += p {
			if b.mem.word(data[i:]) == b.PclntabAddr && b.isModuledata(r.addr+i) {
				return r.addr + i, nil
			}
		}
	}
	return 0, errors.New("no runtime.firstmoduledata: no symbol, no .go.module section, and no structure in the data points at the pclntab")
}
