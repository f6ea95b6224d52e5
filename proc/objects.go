package proc

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"
)

// Object is an ELF object mapped executable in a process: its executable, a
// shared library, a dlopen'd plugin, a deleted file or a memfd.
type Object struct {
	// Path is the file as the process sees it ("/usr/lib/x86_64-linux-gnu/libc.so.6",
	// "/memfd:jit"), without a " (deleted)" suffix.
	Path string
	// OpenPath opens the same file from uscope's mount namespace and is the
	// path to attach uprobes through: /proc/PID/root/<Path> for a file that
	// is still there, /proc/PID/map_files/<start>-<end> for a deleted file,
	// a memfd, or a path that now names another file.
	OpenPath string
	// Major, Minor and Inode identify the file.
	Major, Minor uint32
	Inode        uint64
	Deleted      bool
	Memfd        bool
	// Exe is true for the process's main executable.
	Exe bool
	// Bias is the load bias: runtime address minus link-time address,
	// computed from the mapping of the executable segment (0 for a
	// position-dependent executable).
	Bias uint64
	// Mappings are all mappings of the file, in address order.
	Mappings []Mapping
}

// RuntimeAddr converts a link-time address of the object to an address in
// the process.
func (o *Object) RuntimeAddr(linkAddr uint64) uint64 { return linkAddr + o.Bias }

// LinkAddr converts an address in the process to the object's link-time
// address.
func (o *Object) LinkAddr(addr uint64) uint64 { return addr - o.Bias }

// Contains reports whether addr falls inside one of the object's mappings.
func (o *Object) Contains(addr uint64) bool {
	for _, m := range o.Mappings {
		if addr >= m.Start && addr < m.End {
			return true
		}
	}
	return false
}

type objKey struct {
	major, minor uint32
	inode        uint64
	path         string
}

// Objects returns every distinct ELF file mapped executable in the process,
// ordered by address. Mappings of files that are not ELF objects, or that
// can no longer be opened, are left out.
func Objects(pid int) ([]Object, error) {
	maps, err := Maps(pid)
	if err != nil {
		return nil, err
	}
	// The executable is recognized by inode: stat and maps disagree on the
	// device number for overlay and btrfs files.
	var exeIno uint64
	if st, err := os.Stat(Dir(pid) + "/exe"); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			exeIno = s.Ino
		}
	}
	groups := map[objKey]*Object{}
	var order []*Object
	for _, m := range maps {
		if !m.IsFile() {
			continue
		}
		k := objKey{m.Major, m.Minor, m.Inode, m.Path}
		o := groups[k]
		if o == nil {
			o = &Object{Path: m.Path, Major: m.Major, Minor: m.Minor, Inode: m.Inode, Deleted: m.Deleted, Memfd: m.Memfd}
			groups[k] = o
			order = append(order, o)
		}
		o.Mappings = append(o.Mappings, m)
	}
	var out []Object
	for _, o := range order {
		exec := -1
		for i, m := range o.Mappings {
			if m.Perms.Exec {
				exec = i
				break
			}
		}
		if exec < 0 {
			continue
		}
		o.OpenPath = openPath(pid, o)
		loads, err := readLoads(o.OpenPath)
		if err != nil {
			continue // not an ELF object, or gone
		}
		bias, ok := loadBias(o.Mappings[exec], loads)
		if !ok {
			continue
		}
		o.Bias = bias
		if exeIno != 0 && o.Inode == exeIno {
			o.Exe = true
		}
		out = append(out, *o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Mappings[0].Start < out[j].Mappings[0].Start })
	return out, nil
}

// openPath picks the path through which uscope opens and attaches to o.
func openPath(pid int, o *Object) string {
	mf := o.Mappings[0].MapFilesPath(pid)
	if o.Deleted || o.Memfd {
		return mf
	}
	// Never a path whose links lead out of the process's root.
	p, err := RootPath(pid, o.Path)
	if err != nil {
		return mf
	}
	st, err := os.Stat(p)
	if err != nil {
		return mf
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok && s.Ino != o.Inode {
		return mf // the path now names another file (upgraded in place)
	}
	return p
}

// load is a PT_LOAD program header.
type load struct {
	vaddr, off, filesz uint64
	flags              elf.ProgFlag
}

// readLoads reads the PT_LOAD headers of the ELF file at path.
func readLoads(path string) ([]load, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLoads(f)
}

var errNotELF = errors.New("not an ELF file")

// parseLoads reads the ELF header and PT_LOAD program headers from r.
func parseLoads(r io.ReaderAt) ([]load, error) {
	var ident [elf.EI_NIDENT]byte
	if _, err := r.ReadAt(ident[:], 0); err != nil {
		return nil, errNotELF
	}
	if string(ident[:4]) != elf.ELFMAG {
		return nil, errNotELF
	}
	var bo binary.ByteOrder
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return nil, errNotELF
	}
	var phoff uint64
	var phentsize, phnum int
	var want int
	switch elf.Class(ident[elf.EI_CLASS]) {
	case elf.ELFCLASS64:
		var h [64]byte
		if _, err := r.ReadAt(h[:], 0); err != nil {
			return nil, errNotELF
		}
		phoff = bo.Uint64(h[32:])
		phentsize = int(bo.Uint16(h[54:]))
		phnum = int(bo.Uint16(h[56:]))
		want = 56
	case elf.ELFCLASS32:
		var h [52]byte
		if _, err := r.ReadAt(h[:], 0); err != nil {
			return nil, errNotELF
		}
		phoff = uint64(bo.Uint32(h[28:]))
		phentsize = int(bo.Uint16(h[42:]))
		phnum = int(bo.Uint16(h[44:]))
		want = 32
	default:
		return nil, errNotELF
	}
	if phnum == 0 || phentsize < want {
		return nil, fmt.Errorf("no program headers")
	}
	if phnum*phentsize > 1<<20 {
		return nil, fmt.Errorf("program header table too large")
	}
	buf := make([]byte, phnum*phentsize)
	if _, err := r.ReadAt(buf, int64(phoff)); err != nil || int64(phoff) < 0 {
		return nil, fmt.Errorf("program headers beyond the end of the file")
	}
	var out []load
	for i := 0; i < phnum; i++ {
		p := buf[i*phentsize:]
		if bo.Uint32(p) != uint32(elf.PT_LOAD) {
			continue
		}
		var l load
		if want == 56 {
			l = load{flags: elf.ProgFlag(bo.Uint32(p[4:])), off: bo.Uint64(p[8:]), vaddr: bo.Uint64(p[16:]), filesz: bo.Uint64(p[32:])}
		} else {
			l = load{off: uint64(bo.Uint32(p[4:])), vaddr: uint64(bo.Uint32(p[8:])), filesz: uint64(bo.Uint32(p[16:])), flags: elf.ProgFlag(bo.Uint32(p[24:]))}
		}
		out = append(out, l)
	}
	return out, nil
}

// loadBias computes runtime − link-time address from an executable mapping
// and the file's PT_LOAD headers.
func loadBias(m Mapping, loads []load) (uint64, bool) {
	const page = 4096
	best := -1
	for i, l := range loads {
		start := l.off &^ (page - 1)
		if m.Offset < start || m.Offset >= l.off+l.filesz {
			continue
		}
		if best < 0 || (l.flags&elf.PF_X != 0 && loads[best].flags&elf.PF_X == 0) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	l := loads[best]
	// The mapping's first byte is file offset m.Offset, which the object
	// links at l.vaddr + (m.Offset - l.off).
	return m.Start + l.off - m.Offset - l.vaddr, true
}
