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
// and text 22. textFromModuledata finds the text word by its contents and
// only tries 22 first.
const (
	mdWordPcHeader    = 0
	mdWordFuncnametab = 1
	mdWordText        = 22
)

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

// maxModuledataWord bounds the search for the text field in moduledata.
const maxModuledataWord = 64

// textFromModuledata returns the text field of the moduledata at md. The
// field is found by what it holds rather than by a layout per Go version:
// it is the word w, preceded by minpc and maxpc, for which
//
//	minpc == text + first function entry   (word w-2)
//	maxpc >= minpc                         (word w-1)
//	etext >= maxpc                         (word w+1)
//
// and text and the last function lie in executable segments. Go 1.16
// through 1.27 put it at word 22 (mdWordText), which the search tries
// first.
func (b *Binary) textFromModuledata(md uint64) (uint64, error) {
	if b.pcln.nfunc == 0 {
		return 0, fmt.Errorf("moduledata at %#x: no functions to check the text field against", md)
	}
	p := uint64(b.PtrSize)
	words, err := b.mem.read(md, int(maxModuledataWord*p))
	if err != nil {
		// Near the end of a segment: take what there is.
		for n := maxModuledataWord - 1; n > mdWordText && err != nil; n-- {
			words, err = b.mem.read(md, int(uint64(n)*p))
		}
		if err != nil {
			return 0, fmt.Errorf("moduledata at %#x: %w", md, err)
		}
	}
	w := func(i int) uint64 { return b.mem.word(words[uint64(i)*p:]) }
	nw := len(words) / int(p)
	first, _ := b.pcln.entry(0)
	fits := func(i int) bool {
		if i < 2 || i+1 >= nw {
			return false
		}
		text := w(i)
		return text != 0 && w(i-2) == text+first && w(i-1) >= w(i-2) && w(i+1) >= w(i-1) && b.validText(text)
	}
	if fits(mdWordText) {
		return w(mdWordText), nil
	}
	for i := 2; i+1 < nw; i++ {
		if fits(i) {
			return w(i), nil
		}
	}
	return 0, fmt.Errorf("moduledata at %#x: no word holds a text start that minpc (text + first entry %#x) confirms", md, first)
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
