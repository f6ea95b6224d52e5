package cdwarf

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Split DWARF (gcc/clang -gsplit-dwarf, DWARF 5): the object keeps a
// skeleton unit per compilation unit (its address ranges, line table and
// .debug_addr) and the rest is in a .dwo file named by DW_AT_dwo_name. Each
// .dwo is read as a File of its own (split), whose forms that index the
// skeleton's .debug_addr and the .dwo's offset tables Go's debug/dwarf
// resolves once the sections are cut at their bases; the File of the
// object asks its splits what it does not know itself. Not read: .dwp
// packages (neither binutils' dwp nor llvm-dwp 14 here packs DWARF 5 .dwo
// files, so there was nothing to test against) and DWARF 4's GNU split
// forms.

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
	info := sec(".debug_info.dwo")
	if info == nil {
		ef.Close()
		return nil, errors.New("no .debug_info.dwo")
	}
	d, err := dwarf.New(sec(".debug_abbrev.dwo"), nil, nil, info, nil, nil, nil, sec(".debug_str.dwo"))
	if err != nil {
		ef.Close()
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
	s := &File{d: d, ef: ef, code: f.code, skel: skel, skelData: f.d, Path: path}
	s.secOnce.Do(func() {})
	s.loclists, s.addr = sec(".debug_loclists.dwo"), f.addr
	s.close = func() { ef.Close() }
	return s, nil
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
