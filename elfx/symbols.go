package elfx

import (
	"bytes"
	"debug/elf"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Source says which symbol tables a symbol was found in; a symbol present in
// several has several bits set.
type Source uint8

// Symbol sources.
const (
	FromSymtab Source = 1 << iota // .symtab of the object
	FromDynsym                    // .dynsym of the object
	FromDebug                     // .symtab of a separate debug file
	// FromPclntab is never set by this package: it is for callers that
	// merge the function table of a Go binary's .gopclntab with ELF symbols.
	FromPclntab
)

func (s Source) String() string {
	var parts []string
	if s&FromSymtab != 0 {
		parts = append(parts, "symtab")
	}
	if s&FromDynsym != 0 {
		parts = append(parts, "dynsym")
	}
	if s&FromDebug != 0 {
		parts = append(parts, "debug")
	}
	if s&FromPclntab != 0 {
		parts = append([]string{"pclntab"}, parts...)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Symbol is a defined symbol of the object.
type Symbol struct {
	// Name is the symbol's name as the string table holds it (mangled for
	// C++ and Rust; see Demangled).
	Name string
	// Version is the symbol version from .gnu.version ("GLIBC_2.14"), or "".
	Version string
	// HiddenVersion is true for a non-default version ("memcpy@GLIBC_2.2.5"
	// rather than "memcpy@@GLIBC_2.14").
	HiddenVersion bool
	// Addr is the link-time address (st_value).
	Addr uint64
	// Size is st_size (may be 0).
	Size uint64
	// Offset is the file offset of Addr, computed from the executable PT_LOAD
	// segment that holds it; 0 when Addr lies in no executable segment.
	// Functions always have it; data symbols have it only in odd layouts
	// (use DataAddrToOffset for those).
	Offset  uint64
	Type    elf.SymType
	Bind    elf.SymBind
	Section elf.SectionIndex
	Source  Source
}

// IFUNC reports whether the symbol is a GNU indirect function (its address
// is the resolver, which picks the implementation at load time).
func (s Symbol) IFUNC() bool { return s.Type == elf.STT_GNU_IFUNC }

// IsFunc reports whether the symbol is a function or an IFUNC.
func (s Symbol) IsFunc() bool { return s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC }

// Demangled returns the demangled C++ or Rust name, or Name when the name is
// not mangled.
func (s Symbol) Demangled() string { return Demangle(s.Name) }

// VersionedName returns the name as readelf shows it: "memcpy@@GLIBC_2.14",
// "memcpy@GLIBC_2.2.5", or the plain name when there is no version.
func (s Symbol) VersionedName() string {
	if s.Version == "" {
		return s.Name
	}
	if s.HiddenVersion {
		return s.Name + "@" + s.Version
	}
	return s.Name + "@@" + s.Version
}

// symbolTable is one SHT_SYMTAB or SHT_DYNSYM section located in a file.
type symbolTable struct {
	file     *File // holds the bytes
	sec      *elf.Section
	str      *elf.Section
	versym   *elf.Section   // .gnu.version, dynsym only
	versions map[int]string // verdef index -> name
	source   Source

	strOnce sync.Once
	strs    string // the string table, copied once
	strErr  error
}

type symbolTables struct {
	symtab, dynsym *symbolTable
	debug          *symbolTable // .symtab of the separate debug file
}

func (f *File) tables() (*symbolTables, error) {
	f.symOnce.Do(func() {
		t := &symbolTables{}
		var err error
		if t.symtab, err = f.table(elf.SHT_SYMTAB, FromSymtab); err != nil {
			f.symErr = err
			return
		}
		if t.dynsym, err = f.table(elf.SHT_DYNSYM, FromDynsym); err != nil {
			f.symErr = err
			return
		}
		if t.symtab == nil && !f.cfg.noDebug {
			if d := f.DebugFile(); d != nil {
				// A debug file's own problems never hide the object's symbols.
				if dt, err := d.table(elf.SHT_SYMTAB, FromDebug); err == nil {
					t.debug = dt
				}
			}
		}
		f.syms = t
	})
	return f.syms, f.symErr
}

// table locates the first section of type typ, with its string table and,
// for .dynsym, the version tables.
func (f *File) table(typ elf.SectionType, src Source) (*symbolTable, error) {
	sec := f.ef.SectionByType(typ)
	if sec == nil {
		return nil, nil
	}
	if int(sec.Link) <= 0 || int(sec.Link) >= len(f.ef.Sections) {
		return nil, &FormatError{Path: f.path, Msg: fmt.Sprintf("symbol table %s links to string table %d, which does not exist", sec.Name, sec.Link)}
	}
	t := &symbolTable{file: f, sec: sec, str: f.ef.Sections[sec.Link], source: src}
	if typ == elf.SHT_DYNSYM {
		t.versym = f.ef.SectionByType(elf.SHT_GNU_VERSYM)
		if t.versym != nil {
			t.versions = f.verdefs()
		}
	}
	return t, nil
}

// verdefs reads the version names that .gnu.version_d defines, by index.
func (f *File) verdefs() map[int]string {
	vd := f.ef.SectionByType(elf.SHT_GNU_VERDEF)
	if vd == nil || int(vd.Link) <= 0 || int(vd.Link) >= len(f.ef.Sections) {
		return nil
	}
	strSec := f.ef.Sections[vd.Link]
	out := map[int]string{}
	_ = f.withFaults(func() error {
		d, err := f.sectionBytes(vd)
		if err != nil {
			return err
		}
		strs, err := f.sectionBytes(strSec)
		if err != nil {
			return err
		}
		o := f.order
		for i, n := 0, 0; i+20 <= len(d) && n < 1<<16; n++ {
			if o.Uint16(d[i:]) != 1 { // vd_version
				break
			}
			ndx := int(o.Uint16(d[i+4:]))
			cnt := o.Uint16(d[i+6:])
			aux := int(o.Uint32(d[i+12:]))
			next := int(o.Uint32(d[i+16:]))
			if j := i + aux; cnt > 0 && aux >= 0 && j >= i && j+8 <= len(d) {
				name := o.Uint32(d[j:])
				if int64(name) < int64(len(strs)) {
					s := strs[name:]
					if k := bytes.IndexByte(s, 0); k >= 0 {
						s = s[:k]
					}
					out[ndx] = string(s)
				}
			}
			if next <= 0 || i+next > len(d) {
				break
			}
			i += next
		}
		return nil
	})
	return out
}

// rawSym is a decoded symbol table entry.
type rawSym struct {
	name  uint32
	info  uint8
	shndx uint16
	value uint64
	size  uint64
}

// each calls fn for every entry of the table but the first (null) one. It
// must run inside withFaults of t.file.
func (t *symbolTable) each(fn func(i int, s rawSym) bool) error {
	f := t.file
	b, err := f.sectionBytes(t.sec)
	if err != nil {
		return err
	}
	ent := 16
	if f.is64 {
		ent = 24
	}
	n := len(b) / ent
	o := f.order
	for i := 1; i < n; i++ {
		e := b[i*ent : (i+1)*ent]
		var s rawSym
		if f.is64 {
			s = rawSym{name: o.Uint32(e[0:]), info: e[4], shndx: o.Uint16(e[6:]), value: o.Uint64(e[8:]), size: o.Uint64(e[16:])}
		} else {
			s = rawSym{name: o.Uint32(e[0:]), value: uint64(o.Uint32(e[4:])), size: uint64(o.Uint32(e[8:])), info: e[12], shndx: o.Uint16(e[14:])}
		}
		if !fn(i, s) {
			break
		}
	}
	return nil
}

// cstring returns the NUL-terminated string at off, or "" when off is out of
// range.
func cstring(tab string, off uint32) string {
	if int64(off) >= int64(len(tab)) {
		return ""
	}
	s := tab[off:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// version returns the version of dynsym entry i.
func (t *symbolTable) version(vs []byte, i int) (string, bool) {
	if t.versions == nil || 2*i+2 > len(vs) {
		return "", false
	}
	v := t.file.order.Uint16(vs[2*i:])
	idx := int(v & 0x7fff)
	if idx <= 1 { // local or global: unversioned
		return "", false
	}
	return t.versions[idx], v&0x8000 != 0
}

// names returns the table's string section as one Go string, so that every
// symbol name is a substring of it rather than an allocation of its own.
func (t *symbolTable) names() (string, error) {
	t.strOnce.Do(func() {
		t.strErr = t.file.withFaults(func() error {
			b, err := t.file.sectionBytes(t.str)
			t.strs = string(b)
			return err
		})
	})
	return t.strs, t.strErr
}

// count returns how many defined symbols keep says to keep.
func (t *symbolTable) count(keep func(typ elf.SymType) bool) (n int) {
	_ = t.file.withFaults(func() error {
		return t.each(func(_ int, s rawSym) bool {
			if keep(elf.ST_TYPE(s.info)) && elf.SectionIndex(s.shndx) != elf.SHN_UNDEF {
				n++
			}
			return true
		})
	})
	return n
}

// collect decodes the table's defined symbols that keep says to keep.
func (t *symbolTable) collect(keep func(typ elf.SymType) bool, out []Symbol) ([]Symbol, error) {
	strs, err := t.names()
	if err != nil {
		return out, err
	}
	err = t.file.withFaults(func() error {
		var vs []byte
		if t.versym != nil {
			if b, err := t.file.sectionBytes(t.versym); err == nil {
				vs = b
			}
		}
		return t.each(func(i int, s rawSym) bool {
			typ := elf.ST_TYPE(s.info)
			if !keep(typ) || elf.SectionIndex(s.shndx) == elf.SHN_UNDEF {
				return true
			}
			sym := Symbol{
				Name:    cstring(strs, s.name),
				Addr:    s.value,
				Size:    s.size,
				Type:    typ,
				Bind:    elf.ST_BIND(s.info),
				Section: elf.SectionIndex(s.shndx),
				Source:  t.source,
			}
			if vs != nil {
				sym.Version, sym.HiddenVersion = t.version(vs, i)
			}
			out = append(out, sym)
			return true
		})
	})
	return out, err
}

func isFuncType(t elf.SymType) bool { return t == elf.STT_FUNC || t == elf.STT_GNU_IFUNC }

func anyType(elf.SymType) bool { return true }

// baseName strips a "@VERSION" or "@@VERSION" suffix that .symtab names of
// versioned definitions carry.
func baseName(name string) string {
	if i := strings.IndexByte(name, '@'); i > 0 {
		return name[:i]
	}
	return name
}

// Functions returns every STT_FUNC and STT_GNU_IFUNC symbol defined in the
// object's .symtab and .dynsym (or, when the object has no .symtab, in its
// separate debug file), in table order: .symtab first, then the .dynsym
// functions .symtab lacks. A function found in both tables (same name
// without version, same address) appears once, with both sources and the
// .dynsym version. The slice is shared: do not modify it.
func (f *File) Functions() ([]Symbol, error) {
	f.funcOnce.Do(func() { f.funcs, f.funcErr = f.loadFunctions() })
	return f.funcs, f.funcErr
}

func (f *File) loadFunctions() ([]Symbol, error) {
	t, err := f.tables()
	if err != nil {
		return nil, err
	}
	primary := t.symtab
	if primary == nil {
		primary = t.debug
	}
	// Count first so that the slice is allocated once.
	n := 0
	for _, tab := range []*symbolTable{primary, t.dynsym} {
		if tab != nil {
			n += tab.count(isFuncType)
		}
	}
	all := make([]Symbol, 0, n)
	if primary != nil {
		if all, err = primary.collect(isFuncType, all); err != nil {
			return nil, err
		}
	}
	split := len(all)
	if t.dynsym != nil {
		if all, err = t.dynsym.collect(isFuncType, all); err != nil {
			return nil, err
		}
	}
	f.setOffsets(all)
	return mergeTables(all, split), nil
}

// mergeTables merges the .dynsym functions all[split:] into the .symtab
// functions all[:split] they duplicate (same base name and address): the
// .symtab entry gains the .dynsym source bit and the version.
func mergeTables(all []Symbol, split int) []Symbol {
	if split == 0 || split == len(all) {
		return all
	}
	// Index .dynsym by address (cheap to hash); aliases chain through next.
	byAddr := make(map[uint64]int32, len(all)-split)
	next := make([]int32, len(all)-split)
	for i := split; i < len(all); i++ {
		k := int32(i - split)
		if j, ok := byAddr[all[i].Addr]; ok {
			next[k] = j
		} else {
			next[k] = -1
		}
		byAddr[all[i].Addr] = k
	}
	dropped := make([]bool, len(all)-split)
	for i := 0; i < split; i++ {
		p := &all[i]
		j, ok := byAddr[p.Addr]
		if !ok {
			continue
		}
		base := baseName(p.Name)
		for ; j >= 0; j = next[j] {
			d := &all[split+int(j)]
			if dropped[j] || baseName(d.Name) != base {
				continue
			}
			dropped[j] = true
			p.Source |= d.Source
			if p.Version == "" && d.Version != "" {
				p.Version, p.HiddenVersion, p.Name = d.Version, d.HiddenVersion, d.Name
			}
			if p.Size == 0 {
				p.Size = d.Size
			}
			break
		}
	}
	out := all[:split]
	for i := split; i < len(all); i++ {
		if !dropped[i-split] {
			out = append(out, all[i])
		}
	}
	clear(all[len(out):])
	return slices.Clip(out)
}

// setOffsets fills Offset from the executable segments.
func (f *File) setOffsets(syms []Symbol) {
	var exec []Segment
	for _, s := range f.loads {
		if s.Exec() {
			exec = append(exec, s)
		}
	}
	last := -1
	for i := range syms {
		a := syms[i].Addr
		if last >= 0 && a >= exec[last].Vaddr && a-exec[last].Vaddr < exec[last].Filesz {
			syms[i].Offset = a - exec[last].Vaddr + exec[last].Offset
			continue
		}
		for j, s := range exec {
			if a >= s.Vaddr && a-s.Vaddr < s.Filesz {
				syms[i].Offset = a - s.Vaddr + s.Offset
				last = j
				break
			}
		}
	}
}

// Symbols returns every defined symbol of any type (functions, objects,
// TLS, sections, files ...) from .symtab (or the debug file) and .dynsym, in
// table order, without deduplication.
func (f *File) Symbols() ([]Symbol, error) {
	t, err := f.tables()
	if err != nil {
		return nil, err
	}
	var all []Symbol
	for _, tab := range []*symbolTable{t.symtab, t.debug, t.dynsym} {
		if tab == nil {
			continue
		}
		if all, err = tab.collect(anyType, all); err != nil {
			return nil, err
		}
	}
	f.setOffsets(all)
	return all, nil
}

// Lookup returns the defined symbol called name, of any type (functions,
// data objects, TLS). name may carry a version ("memcpy@GLIBC_2.2.5" or
// "memcpy@@GLIBC_2.14"). When several symbols share the name, a global one
// is preferred over a weak one, the default version over a hidden one, and
// .symtab over .dynsym; when only local
// symbols of that name exist and they disagree on the address (static
// variables of different files), the name is ambiguous and not found.
// The first few lookups scan the tables; later ones use an index.
func (f *File) Lookup(name string) (Symbol, bool) {
	if name == "" {
		return Symbol{}, false
	}
	if f.lookups.Add(1) <= lookupScanLimit {
		return pick(f.scanLookup(name))
	}
	f.nameOnce.Do(f.buildNameIndex)
	return pick(f.nameIndex[name])
}

// pick chooses among the symbols of one name (see Lookup).
func pick(cands []Symbol) (Symbol, bool) {
	if len(cands) == 0 {
		return Symbol{}, false
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if r, rb := bindRank(c.Bind), bindRank(best.Bind); r < rb || r == rb && best.HiddenVersion && !c.HiddenVersion {
			best = c
		}
	}
	if best.Bind == elf.STB_LOCAL {
		for _, c := range cands {
			if c.Addr != best.Addr {
				return Symbol{}, false
			}
		}
	}
	return best, true
}

// lookupScanLimit is how many lookups scan the symbol tables before an index
// is built: a scan costs well under a millisecond, the index several.
const lookupScanLimit = 8

func (f *File) buildNameIndex() {
	syms, err := f.Symbols()
	if err != nil {
		return
	}
	idx := make(map[string][]Symbol, len(syms))
	for _, s := range syms {
		if s.Type == elf.STT_SECTION || s.Type == elf.STT_FILE {
			continue
		}
		idx[s.Name] = append(idx[s.Name], s)
		if s.Version != "" {
			idx[s.VersionedName()] = append(idx[s.VersionedName()], s)
			if !s.HiddenVersion {
				v := s.Name + "@" + s.Version
				idx[v] = append(idx[v], s)
			}
		}
	}
	f.nameIndex = idx
}

// scanLookup finds the symbols called name by walking the tables without
// building anything.
func (f *File) scanLookup(name string) []Symbol {
	t, err := f.tables()
	if err != nil {
		return nil
	}
	base, ver, hidden := name, "", false
	if i := strings.IndexByte(name, '@'); i > 0 {
		base, ver = name[:i], name[i+1:]
		hidden = true
		if strings.HasPrefix(ver, "@") {
			ver, hidden = ver[1:], false
		}
	}
	var out []Symbol
	for _, tab := range []*symbolTable{t.symtab, t.debug, t.dynsym} {
		if tab == nil {
			continue
		}
		strs, err := tab.names()
		if err != nil {
			continue
		}
		_ = tab.file.withFaults(func() error {
			var vs []byte
			if tab.versym != nil {
				vs, _ = tab.file.sectionBytes(tab.versym)
			}
			return tab.each(func(i int, s rawSym) bool {
				typ := elf.ST_TYPE(s.info)
				if elf.SectionIndex(s.shndx) == elf.SHN_UNDEF || typ == elf.STT_SECTION || typ == elf.STT_FILE {
					return true
				}
				var sym Symbol
				switch {
				case nameAt(strs, s.name, name):
					sym.Name = name
				case ver != "" && vs != nil && nameAt(strs, s.name, base):
					v, h := tab.version(vs, i)
					if v != ver || (h && !hidden) {
						return true
					}
					sym.Name, sym.Version, sym.HiddenVersion = base, v, h
				default:
					return true
				}
				if vs != nil && sym.Version == "" {
					sym.Version, sym.HiddenVersion = tab.version(vs, i)
				}
				sym.Addr, sym.Size, sym.Type, sym.Bind = s.value, s.size, typ, elf.ST_BIND(s.info)
				sym.Section, sym.Source = elf.SectionIndex(s.shndx), tab.source
				out = append(out, sym)
				return true
			})
		})
	}
	f.setOffsets(out)
	return out
}

// nameAt reports whether the NUL-terminated string at off in tab is name.
func nameAt(tab string, off uint32, name string) bool {
	o := int64(off)
	end := o + int64(len(name))
	if end >= int64(len(tab)) {
		return false
	}
	return tab[end] == 0 && tab[o:end] == name
}

func bindRank(b elf.SymBind) int {
	switch b {
	case elf.STB_GLOBAL:
		return 0
	case elf.STB_WEAK:
		return 1
	case elf.STB_LOOS: // STB_GNU_UNIQUE
		return 2
	}
	return 3
}

// LookupAddr is a convenience for parsers that need a symbol's address by
// name (USDT RIP-relative arguments): it returns Lookup(name).Addr.
func (f *File) LookupAddr(name string) (uint64, bool) {
	s, ok := f.Lookup(name)
	return s.Addr, ok
}
