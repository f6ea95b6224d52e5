package gobin

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic numbers at the start of the pclntab header, one per layout (see
// internal/abi.PCLnTabMagic in the Go source).
const (
	magic12  = 0xfffffffb // Go 1.2 to 1.15
	magic116 = 0xfffffffa // Go 1.16, 1.17
	magic118 = 0xfffffff0 // Go 1.18, 1.19
	magic120 = 0xfffffff1 // Go 1.20 and later
)

// maxFuncs bounds the number of functions a table may declare.
const maxFuncs = 1 << 24

// maxScan bounds how much of a segment is searched for a pclntab or a
// moduledata when section headers do not say where they are.
const maxScan = 1 << 30

// maxPclntabCandidates bounds how many headers scanPclntab fully checks.
const maxPclntabCandidates = 64

// A pclntab is a parsed pclntab header with the bytes that follow it.
type pclntab struct {
	mem     *image
	addr    uint64 // link-time address of the header
	data    []byte // from the header to the end of the section or segment
	order   binary.ByteOrder
	magic   uint32
	ptrSize int
	nfunc   int

	// Offsets from the header, in data.
	funcnameOff, pclnOff uint64

	// hdrTextStart is the text start stored in the header by Go 1.18
	// through 1.25 (relocated); 0 when absent or zeroed.
	hdrTextStart uint64
	// textStart is the base of function entry offsets (Go 1.18+).
	textStart uint64
	// wrapperID is the FuncID of compiler-generated wrappers for the
	// binary's Go version, 0 when unknown; flagsKnown says whether the
	// FuncFlag bits are those of Go 1.21 and later.
	wrapperID  uint8
	flagsKnown bool
}

// FuncFlagAsm in internal/abi: the function is written in assembly.
const funcFlagAsm = 1 << 2

// funcIDWrapper returns the value of internal/abi.FuncIDWrapper, the last
// FuncID, for a Go version, or 0 when unknown. The FuncID list grows now and
// then; tests check these against binaries of each release they can build.
func funcIDWrapper(version string) uint8 {
	major, minor, ok := parseGoVersion(version)
	switch {
	case !ok || major != 1 || minor < 21:
		return 0
	case minor == 21:
		return 21
	case minor <= 24:
		return 22
	case minor <= 26:
		return 23
	}
	return 0
}

// details fills in the fields of fn that come from its _func record past
// the name: the deferreturn offset, the FuncID and the flags.
func (t *pclntab) details(fn *Func, rec, nameOffAt uint64) {
	n := uint64(len(t.data))
	if t.magic != magic12 {
		// args int32, then deferreturn uint32, after nameOff.
		if at := nameOffAt + 8; at+4 <= n {
			if d := uint64(t.order.Uint32(t.data[at:])); d != 0 && d < fn.End-fn.Entry {
				fn.DeferReturn = fn.Entry + d
			}
		}
	}
	var idAt uint64
	switch t.magic {
	case magic120:
		idAt = rec + 40 // after pcsp, pcfile, pcln, npcdata, cuOffset, startLine
	case magic118:
		idAt = rec + 36 // no startLine before Go 1.20
	default:
		return
	}
	if idAt+2 > n {
		return
	}
	if t.wrapperID != 0 {
		fn.Wrapper = t.data[idAt] == t.wrapperID
	}
	if t.flagsKnown {
		fn.Asm = t.data[idAt+1]&funcFlagAsm != 0
	}
}

// findPclntab locates and parses the pclntab: by section name, or, for files
// without section headers, by searching the loadable segments for a header.
func findPclntab(m *image) (*pclntab, error) {
	for _, name := range []string{".gopclntab", ".data.rel.ro.gopclntab"} {
		s := m.f.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		data, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		t, err := parsePclntab(m, s.Addr, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return t, nil
	}
	if len(m.f.Sections) > 1 {
		// Section headers, but no pclntab section: a symbol table may
		// still say where runtime.pclntab is.
		if t := pclntabFromSymbols(m); t != nil {
			return t, nil
		}
	}
	return scanPclntab(m)
}

// pclntabFromSymbols uses runtime.pclntab from .symtab when present.
func pclntabFromSymbols(m *image) *pclntab {
	syms, err := m.f.Symbols()
	if err != nil {
		return nil
	}
	for _, s := range syms {
		if s.Name != "runtime.pclntab" || s.Value == 0 {
			continue
		}
		p := m.progFor(s.Value, 1)
		if p == nil || p.Filesz <= s.Value-p.Vaddr {
			return nil
		}
		n := p.Filesz - (s.Value - p.Vaddr)
		if n > maxScan {
			n = maxScan
		}
		data, err := m.readFile(s.Value, int(n))
		if err != nil {
			return nil
		}
		t, err := parsePclntab(m, s.Value, data)
		if err != nil {
			return nil
		}
		return t
	}
	return nil
}

// scanPclntab searches non-executable loadable segments, then executable
// ones, for a valid pclntab header.
func scanPclntab(m *image) (*pclntab, error) {
	var magics [][]byte
	for _, mg := range []uint32{magic120, magic118, magic116, magic12} {
		b := make([]byte, 6)
		m.order.PutUint32(b, mg)
		magics = append(magics, b) // followed by two zero pad bytes
	}
	tries := 0
	for _, wantExec := range []bool{false, true} {
		for _, p := range m.loads {
			if (p.Flags&elf.PF_X != 0) != wantExec || p.Filesz == 0 {
				continue
			}
			n := p.Filesz
			if n > maxScan {
				n = maxScan
			}
			seg, err := m.readFile(p.Vaddr, int(n))
			if err != nil {
				continue
			}
			for _, mg := range magics {
				for i := 0; i+len(mg) <= len(seg); {
					j := bytes.Index(seg[i:], mg)
					if j < 0 {
						break
					}
					i += j
					if i%4 == 0 && tries < maxPclntabCandidates {
						tries++
						if t, err := parsePclntab(m, p.Vaddr+uint64(i), seg[i:]); err == nil && t.nfunc > 0 {
							if _, err := t.functions(); err == nil {
								return t, nil
							}
						}
					}
					i++
				}
			}
		}
	}
	return nil, errors.New("no .gopclntab section and no pclntab header in the loadable segments")
}

// parsePclntab parses the header at the start of data, which is the
// link-time address addr, and checks that the offsets it holds are in range.
func parsePclntab(m *image, addr uint64, data []byte) (*pclntab, error) {
	if len(data) < 16 {
		return nil, errors.New("pclntab too short")
	}
	t := &pclntab{mem: m, addr: addr, data: data, order: m.order}
	t.magic = t.order.Uint32(data)
	if data[4] != 0 || data[5] != 0 {
		return nil, fmt.Errorf("pclntab header: bad padding %#x %#x", data[4], data[5])
	}
	if lc := data[6]; lc != 1 && lc != 2 && lc != 4 {
		return nil, fmt.Errorf("pclntab header: bad instruction size quantum %d", lc)
	}
	t.ptrSize = int(data[7])
	if t.ptrSize != 4 && t.ptrSize != 8 {
		return nil, fmt.Errorf("pclntab header: bad pointer size %d", t.ptrSize)
	}
	if t.ptrSize != m.ptrSize {
		return nil, fmt.Errorf("pclntab header: pointer size %d in a %d-byte ELF", t.ptrSize, m.ptrSize)
	}
	p := uint64(t.ptrSize)
	word := func(i uint64) uint64 { return m.word(data[8+i*p:]) }
	var nwords uint64
	switch t.magic {
	case magic118, magic120:
		nwords = 8
	case magic116:
		nwords = 7
	case magic12:
		nwords = 1
	default:
		return nil, fmt.Errorf("pclntab header: unknown magic %#x", t.magic)
	}
	if uint64(len(data)) < 8+nwords*p {
		return nil, errors.New("pclntab header truncated")
	}
	nfunc := word(0)
	if nfunc > maxFuncs {
		return nil, fmt.Errorf("pclntab header: %d functions", nfunc)
	}
	t.nfunc = int(nfunc)
	var entSize uint64
	switch t.magic {
	case magic118, magic120:
		// nfunc, nfiles, textStart, funcnametab, cutab, filetab, pctab, pclntab
		ts, err := m.ptr(addr + 8 + 2*p)
		if err == nil {
			t.hdrTextStart = ts
		}
		t.funcnameOff, t.pclnOff = word(3), word(7)
		entSize = 8
	case magic116:
		// nfunc, nfiles, funcnametab, cutab, filetab, pctab, pclntab
		t.funcnameOff, t.pclnOff = word(2), word(6)
		entSize = 2 * p
	case magic12:
		// nfunc, then the function table; names relative to the header.
		t.funcnameOff, t.pclnOff = 0, 8+p
		entSize = 2 * p
	}
	n := uint64(len(data))
	if t.funcnameOff >= n || t.pclnOff >= n {
		return nil, errors.New("pclntab header: table offsets out of range")
	}
	if (nfunc+1)*entSize > n-t.pclnOff {
		return nil, fmt.Errorf("pclntab: function table of %d entries does not fit", nfunc)
	}
	return t, nil
}

// needsTextStart reports whether entries are offsets from the text start.
func (t *pclntab) needsTextStart() bool {
	return t.magic == magic118 || t.magic == magic120
}

// entry returns the raw i'th function table entry: the entry offset (or
// address before Go 1.18) and the offset of the function's _func record.
// i may be nfunc, the end-of-text sentinel.
func (t *pclntab) entry(i int) (entry, funcOff uint64) {
	base := t.pclnOff
	if t.needsTextStart() {
		o := base + uint64(i)*8
		return uint64(t.order.Uint32(t.data[o:])), uint64(t.order.Uint32(t.data[o+4:]))
	}
	p := uint64(t.ptrSize)
	o := base + uint64(i)*2*p
	e := t.mem.word(t.data[o:])
	if len(t.mem.relocs()) > 0 {
		// Absolute addresses in a position-independent binary.
		if v, ok := t.mem.relocs()[t.addr+o]; ok {
			e = v
		}
	}
	if i == t.nfunc && t.magic == magic12 {
		// Go 1.2-1.15 end with the end address only.
		return e, 0
	}
	return e, t.mem.word(t.data[o+p:])
}

// firstEntry returns the entry address of the first function before Go 1.18.
func (t *pclntab) firstEntry() uint64 {
	if t.nfunc == 0 {
		return 0
	}
	e, _ := t.entry(0)
	return e
}

// functions decodes the function table.
func (t *pclntab) functions() ([]Func, error) {
	funcs := make([]Func, 0, t.nfunc)
	var base uint64
	if t.needsTextStart() {
		base = t.textStart
	}
	n := uint64(len(t.data))
	var nameBase uint64
	for i := 0; i < t.nfunc; i++ {
		e, funcOff := t.entry(i)
		next, _ := t.entry(i + 1)
		if next < e {
			return nil, fmt.Errorf("function %d: entries out of order (%#x after %#x)", i, next, e)
		}
		// The _func record: entry (offset or address), then nameOff.
		var rec, nameOffAt uint64
		switch t.magic {
		case magic118, magic120:
			rec = t.pclnOff + funcOff
			nameOffAt = rec + 4
			nameBase = t.funcnameOff
		case magic116:
			rec = t.pclnOff + funcOff
			nameOffAt = rec + uint64(t.ptrSize)
			nameBase = t.funcnameOff
		case magic12:
			rec = funcOff
			nameOffAt = rec + uint64(t.ptrSize)
			nameBase = 0
		}
		if rec < funcOff || nameOffAt+4 > n || nameOffAt < rec {
			return nil, fmt.Errorf("function %d: record offset %#x out of range", i, funcOff)
		}
		nameOff := int64(int32(t.order.Uint32(t.data[nameOffAt:])))
		if nameOff < 0 || nameBase+uint64(nameOff) >= n {
			return nil, fmt.Errorf("function %d: name offset %d out of range", i, nameOff)
		}
		name := t.data[nameBase+uint64(nameOff):]
		end := bytes.IndexByte(name, 0)
		if end < 0 {
			return nil, fmt.Errorf("function %d: unterminated name", i)
		}
		entry, endAddr := base+e, base+next
		if entry < base || endAddr < entry {
			return nil, fmt.Errorf("function %d: address overflow", i)
		}
		fn := Func{Name: string(name[:end]), Entry: entry, End: endAddr}
		t.details(&fn, rec, nameOffAt)
		funcs = append(funcs, fn)
	}
	return funcs, nil
}
