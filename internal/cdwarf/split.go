package cdwarf

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Split DWARF (gcc/clang -gsplit-dwarf, DWARF 5): the object keeps a
// skeleton unit per compilation unit (its address ranges, line table and
// .debug_addr) and the rest is in a .dwo file named by DW_AT_dwo_name. Each
// .dwo is read as a File of its own (split), whose forms that index the
// skeleton's .debug_addr and the .dwo's offset tables Go's debug/dwarf
// resolves once the sections are cut at their bases; the File of the
// object asks its splits what it does not know itself. A .dwp package
// next to the object (BIN.dwp, version 5 index) stands for missing .dwo
// files. Not read: DWARF 4's GNU split forms.

// DWARF 5 split-unit attributes and operators missing from debug/dwarf.
const (
	attrGNUDwoName = 0x2130
	opAddrx        = 0xa1
	opConstx       = 0xa2
	// Headers of the .dwo offset tables: their bases when a split unit
	// gives none (DWARF 5, 7.3.2 and 7.26-7.29, 32-bit DWARF).
	strOffsetsHeader = 8
	listsHeader      = 12
)

// loadSplits opens the .dwo of every skeleton unit of f, an object at
// path; it returns an error only when the object has skeletons and no
// .dwo could be read.
func (f *File) loadSplits(path string) error {
	f.sections()
	r := f.d.Reader()
	var firstErr error
	skeletons := 0
	var pkg *dwpFile
	triedPkg := false
	for {
		cu, err := r.Next()
		if err != nil || cu == nil {
			break
		}
		r.SkipChildren()
		name, _ := cu.Val(dwarf.AttrDwoName).(string)
		if name == "" {
			if gnu, _ := cu.Val(attrGNUDwoName).(string); gnu != "" {
				// DWARF 4 with GNU forms (DW_FORM_GNU_addr_index...), which
				// debug/dwarf does not decode.
				return fmt.Errorf("split DWARF 4 (%s, GNU forms) is not read; build with -gdwarf-5 -gsplit-dwarf, or without -gsplit-dwarf", gnu)
			}
			continue
		}
		skeletons++
		var cands []string
		if filepath.IsAbs(name) {
			cands = append(cands, name)
		} else {
			if dir, ok := cu.Val(dwarf.AttrCompDir).(string); ok && dir != "" {
				cands = append(cands, filepath.Join(dir, name))
			}
			cands = append(cands, filepath.Join(filepath.Dir(path), name))
		}
		var s *File
		for _, c := range cands {
			if s, err = f.openDWO(c, cu); err == nil {
				break
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("split DWARF %s: %w", c, err)
			}
		}
		if s == nil {
			// A package of the .dwo files next to the object (BIN.dwp).
			if pkg == nil && !triedPkg {
				triedPkg = true
				if pkg, err = openDWP(path + ".dwp"); err == nil {
					prev := f.close
					f.close = func() {
						pkg.ef.Close()
						if prev != nil {
							prev()
						}
					}
				} else if !errors.Is(err, os.ErrNotExist) && firstErr == nil {
					firstErr = fmt.Errorf("split DWARF %s.dwp: %w", path, err)
				}
			}
			if pkg != nil {
				if s, err = f.fromDWP(pkg, cu, path+".dwp"); err != nil {
					firstErr = fmt.Errorf("split DWARF %s.dwp: %w", path, err)
				} else {
					firstErr = nil
				}
			}
		}
		if s != nil {
			f.splits = append(f.splits, s)
		}
	}
	if skeletons > 0 && len(f.splits) == 0 {
		if firstErr == nil {
			firstErr = errors.New("split DWARF: no .dwo file found")
		}
		return firstErr
	}
	return nil
}

// openDWO reads the .dwo at path for the skeleton unit skel of f.
func (f *File) openDWO(path string, skel *dwarf.Entry) (*File, error) {
	// The name comes from the object: open only a regular file (not a
	// FIFO or a device a hostile object names).
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	ef, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	sec := func(name string) []byte {
		s := ef.Section(name)
		if s == nil {
			return nil
		}
		b, _ := s.Data()
		return b
	}
	sf, err := f.splitFile(sec, skel, path)
	if err != nil {
		ef.Close()
		return nil, err
	}
	sf.ef = ef
	sf.close = func() { ef.Close() }
	return sf, nil
}

// splitFile is the File of a split unit whose .dwo sections sec gives.
func (f *File) splitFile(sec func(name string) []byte, skel *dwarf.Entry, path string) (*File, error) {
	info := sec(".debug_info.dwo")
	if info == nil {
		return nil, errors.New("no .debug_info.dwo")
	}
	d, err := dwarf.New(sec(".debug_abbrev.dwo"), nil, nil, info, nil, nil, nil, sec(".debug_str.dwo"))
	if err != nil {
		return nil, err
	}
	from := func(b []byte, n uint64) []byte {
		if uint64(len(b)) < n {
			return nil
		}
		return b[n:]
	}
	addrBase, _ := skel.Val(dwarf.AttrAddrBase).(int64)
	if addrBase < 0 {
		addrBase = 0
	}
	_ = d.AddSection(".debug_addr", from(f.addr, uint64(addrBase)))
	_ = d.AddSection(".debug_str_offsets", from(sec(".debug_str_offsets.dwo"), strOffsetsHeader))
	_ = d.AddSection(".debug_rnglists", from(sec(".debug_rnglists.dwo"), listsHeader))
	s := &File{d: d, code: f.code, frames: f.frames[:min(len(f.frames), 1)], skel: skel, skelData: f.d, Path: path}
	s.secOnce.Do(func() {})
	s.loclists, s.addr = sec(".debug_loclists.dwo"), f.addr
	return s, nil
}

// A DWARF package (.dwp, DWARF 5 section 7.3.5): the .dwo files' sections
// concatenated, and .debug_cu_index giving each unit's contribution to
// each section by the unit's DWO id.
type dwpFile struct {
	ef    *elf.File
	secs  map[string][]byte
	units map[uint64]map[string][2]uint32 // DWO id → section → offset, size
}

// dwpSections are the DW_SECT_* column ids of a version 5 index.
var dwpSections = map[uint32]string{1: ".debug_info.dwo", 3: ".debug_abbrev.dwo", 4: ".debug_line.dwo",
	5: ".debug_loclists.dwo", 6: ".debug_str_offsets.dwo", 7: ".debug_macro.dwo", 8: ".debug_rnglists.dwo"}

func openDWP(path string) (*dwpFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	ef, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	p := &dwpFile{ef: ef, secs: map[string][]byte{}}
	for _, s := range ef.Sections {
		if strings.HasSuffix(s.Name, ".dwo") || s.Name == ".debug_cu_index" {
			if b, err := s.Data(); err == nil {
				p.secs[s.Name] = b
			}
		}
	}
	if p.units, err = parseCUIndex(p.secs[".debug_cu_index"]); err != nil {
		ef.Close()
		return nil, err
	}
	return p, nil
}

// parseCUIndex reads a version 5 .debug_cu_index.
func parseCUIndex(b []byte) (map[uint64]map[string][2]uint32, error) {
	if len(b) < 16 {
		return nil, errors.New("no .debug_cu_index")
	}
	le := binary.LittleEndian
	version, ncols, nunits, nslots := le.Uint16(b), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])
	if version != 5 {
		return nil, fmt.Errorf(".debug_cu_index version %d (only 5 is read)", version)
	}
	if ncols == 0 || ncols > 16 || nslots > 1<<20 || nunits > nslots {
		return nil, errors.New("malformed .debug_cu_index")
	}
	hashAt := uint64(16)
	idxAt := hashAt + 8*uint64(nslots)
	colsAt := idxAt + 4*uint64(nslots)
	offsAt := colsAt + 4*uint64(ncols)
	sizesAt := offsAt + 4*uint64(ncols)*uint64(nunits)
	if sizesAt+4*uint64(ncols)*uint64(nunits) > uint64(len(b)) {
		return nil, errors.New("truncated .debug_cu_index")
	}
	cols := make([]string, ncols)
	for c := range cols {
		cols[c] = dwpSections[le.Uint32(b[colsAt+4*uint64(c):])]
	}
	units := map[uint64]map[string][2]uint32{}
	for i := uint64(0); i < uint64(nslots); i++ {
		id, row := le.Uint64(b[hashAt+8*i:]), le.Uint32(b[idxAt+4*i:])
		if row == 0 || row > nunits {
			continue
		}
		m := map[string][2]uint32{}
		for c, name := range cols {
			at := uint64(row-1)*uint64(ncols) + uint64(c)
			if name != "" {
				m[name] = [2]uint32{le.Uint32(b[offsAt+4*at:]), le.Uint32(b[sizesAt+4*at:])}
			}
		}
		units[id] = m
	}
	return units, nil
}

// fromDWP is the File of the skeleton unit skel's contributions to pkg.
func (f *File) fromDWP(pkg *dwpFile, skel *dwarf.Entry, path string) (*File, error) {
	id, err := f.dwoID(skel)
	if err != nil {
		return nil, err
	}
	contrib, ok := pkg.units[id]
	if !ok {
		return nil, fmt.Errorf("no unit with DWO id %#x", id)
	}
	sec := func(name string) []byte {
		b := pkg.secs[name]
		c, ok := contrib[name]
		if !ok {
			if name == ".debug_str.dwo" {
				return b // shared by every unit
			}
			return nil
		}
		if uint64(c[0])+uint64(c[1]) > uint64(len(b)) {
			return nil
		}
		return b[c[0] : c[0]+c[1]]
	}
	return f.splitFile(sec, skel, path)
}

// dwoID reads the DWO id of a DWARF 5 skeleton unit from its header (the
// 8 bytes before its first DIE), which debug/dwarf does not expose.
func (f *File) dwoID(skel *dwarf.Entry) (uint64, error) {
	s := f.ef.Section(".debug_info")
	if s == nil {
		return 0, errors.New("no .debug_info")
	}
	b, err := s.Data()
	if err != nil {
		return 0, err
	}
	off := uint64(skel.Offset)
	if off < 20 || off > uint64(len(b)) || b[off-14] != 4 /* DW_UT_skeleton */ {
		return 0, errors.New("not a DWARF 5 skeleton unit")
	}
	return binary.LittleEndian.Uint64(b[off-8:]), nil
}

// loclistxOffset turns a DW_FORM_loclistx index of a split unit into the
// offset of its list in .debug_loclists.dwo.
func (f *File) loclistxOffset(idx int64) (int64, error) {
	at := listsHeader + idx*4
	if idx < 0 || at+4 > int64(len(f.loclists)) {
		return 0, fmt.Errorf("location list index %d out of .debug_loclists.dwo", idx)
	}
	return listsHeader + int64(binary.LittleEndian.Uint32(f.loclists[at:])), nil
}

// splitAt is the split whose skeleton covers pc, nil when none does.
func (f *File) splitAt(pc uint64) *File {
	for _, s := range f.splits {
		if rs, err := f.d.Ranges(s.skel); err == nil {
			for _, r := range rs {
				if pc >= r[0] && pc < r[1] {
					return s
				}
			}
		}
	}
	return nil
}
