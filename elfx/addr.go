package elfx

import (
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/addrindex"
)

// segmentFor returns the PT_LOAD segment whose file-backed part holds addr;
// with exec set, only executable segments count.
func (f *File) segmentFor(addr uint64, exec bool) (Segment, bool) {
	for _, s := range f.loads {
		if exec && !s.Exec() {
			continue
		}
		if addr >= s.Vaddr && addr-s.Vaddr < s.Filesz {
			return s, true
		}
	}
	return Segment{}, false
}

// InExecSegment reports whether addr lies in the file-backed part of an
// executable PT_LOAD segment, where a uprobe can go.
func (f *File) InExecSegment(addr uint64) bool {
	_, ok := f.segmentFor(addr, true)
	return ok
}

// AddrToOffset converts a link-time address inside an executable segment to
// the file offset a uprobe is attached at.
func (f *File) AddrToOffset(addr uint64) (uint64, error) {
	s, ok := f.segmentFor(addr, true)
	if !ok {
		return 0, fmt.Errorf("address 0x%x is not in an executable segment of %s", addr, f.name())
	}
	return addr - s.Vaddr + s.Offset, nil
}

// DataAddrToOffset converts a link-time address inside any PT_LOAD segment
// (USDT semaphores live in a writable one) to its file offset. Addresses in
// the zero-filled tail of a segment (.bss) have no file offset.
func (f *File) DataAddrToOffset(addr uint64) (uint64, error) {
	// Prefer a non-executable segment: that is where data lives when
	// segments overlap in odd layouts.
	for _, s := range f.loads {
		if !s.Exec() && addr >= s.Vaddr && addr-s.Vaddr < s.Filesz {
			return addr - s.Vaddr + s.Offset, nil
		}
	}
	if s, ok := f.segmentFor(addr, false); ok {
		return addr - s.Vaddr + s.Offset, nil
	}
	return 0, fmt.Errorf("address 0x%x is not in a file-backed segment of %s", addr, f.name())
}

// OffsetToAddr converts a file offset inside a PT_LOAD segment back to its
// link-time address.
func (f *File) OffsetToAddr(off uint64) (uint64, bool) {
	for _, s := range f.loads {
		if off >= s.Offset && off-s.Offset < s.Filesz {
			return off - s.Offset + s.Vaddr, true
		}
	}
	return 0, false
}

func (f *File) name() string {
	if f.path == "" {
		return "the object"
	}
	return f.path
}

// ReadAtAddr copies the file bytes at link-time address addr (code for
// disassembly, initialized data) into p. It reads within one segment's
// file-backed part and returns io.EOF with a short count at its end.
func (f *File) ReadAtAddr(p []byte, addr uint64) (n int, err error) {
	s, ok := f.segmentFor(addr, false)
	if !ok {
		return 0, fmt.Errorf("address 0x%x is not in a file-backed segment of %s", addr, f.name())
	}
	off := addr - s.Vaddr + s.Offset
	avail := s.Filesz - (addr - s.Vaddr)
	want := p
	if uint64(len(want)) > avail {
		want = want[:avail]
	}
	n, err = f.readAtOffset(want, int64(off))
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// FuncAt returns the function that contains the link-time address addr and
// addr's offset from its start. Among aliases at one address it prefers a
// sized symbol, then a global one, then the shortest name. The address
// index is built on the first call.
func (f *File) FuncAt(addr uint64) (Symbol, uint64, bool) {
	f.byAddrOnce.Do(f.buildByAddr)
	funcs := f.funcs
	if i, ok := addrindex.Containing(f.byAddr, addr, func(i int) (uint64, uint64) { return funcs[i].Addr, funcs[i].Size }); ok {
		return funcs[i], addr - funcs[i].Addr, true
	}
	return Symbol{}, 0, false
}

// buildByAddr builds the address index: function indexes sorted by
// address, one preferred alias per address.
func (f *File) buildByAddr() {
	funcs, err := f.Functions()
	if err != nil {
		return
	}
	f.byAddr = addrindex.Build(len(funcs), func(i int) uint64 { return funcs[i].Addr }, func(a, b int) bool { return preferAlias(funcs[a], funcs[b]) })
}

func preferAlias(a, b Symbol) bool {
	if (a.Size > 0) != (b.Size > 0) {
		return a.Size > 0
	}
	if ra, rb := bindRank(a.Bind), bindRank(b.Bind); ra != rb {
		return ra < rb
	}
	if len(a.Name) != len(b.Name) {
		return len(a.Name) < len(b.Name)
	}
	return a.Name < b.Name
}

// ViewAtAddr calls fn with the file's bytes at link-time address addr, at
// most size of them (fewer at the end of the segment's file-backed part),
// without copying them: the slice is the mapping itself, so fn must neither
// keep nor modify it. Reading a file truncated while open returns an error
// rather than crashing. Files from OpenBytes give the caller's bytes.
func (f *File) ViewAtAddr(addr, size uint64, fn func(b []byte)) error {
	s, ok := f.segmentFor(addr, false)
	if !ok {
		return fmt.Errorf("address 0x%x is not in a file-backed segment of %s", addr, f.name())
	}
	off := addr - s.Vaddr + s.Offset
	if avail := s.Filesz - (addr - s.Vaddr); size > avail {
		size = avail
	}
	return f.withFaults(func() error {
		if off > uint64(len(f.data)) || size > uint64(len(f.data))-off {
			return io.EOF
		}
		fn(f.data[off : off+size : off+size])
		return nil
	})
}

// ReleasePages drops the pages of the file that reading it made resident in
// this process (they stay in the kernel's page cache; a later read maps
// them again). A tool that reads a large object once, such as the code of
// every function of a library, calls it afterwards so that its resident
// memory does not grow with the size of what it read.
func (f *File) ReleasePages() {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.mapped && !f.closed.Load() && len(f.data) > 0 {
		_ = unix.Madvise(f.data, unix.MADV_DONTNEED)
	}
}
