package elfx

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrNotELF is wrapped by the error Open returns for a file that does not
// start with the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

// ErrClosed is returned by reads after Close.
var ErrClosed = errors.New("elfx: file already closed")

// FormatError reports an ELF object that is truncated or damaged.
type FormatError struct {
	Path string // the file, or "" for in-memory objects
	Msg  string // what is wrong
}

func (e *FormatError) Error() string {
	if e.Path == "" {
		return "truncated or damaged ELF: " + e.Msg
	}
	return e.Path + ": truncated or damaged ELF: " + e.Msg
}

// Segment is a PT_LOAD program header.
type Segment struct {
	Vaddr  uint64       // link-time virtual address
	Memsz  uint64       // size in memory
	Offset uint64       // file offset
	Filesz uint64       // size in the file (≤ Memsz; the rest is zero-filled)
	Flags  elf.ProgFlag // PF_R, PF_W, PF_X
}

// Exec reports whether the segment is executable.
func (s Segment) Exec() bool { return s.Flags&elf.PF_X != 0 }

// Option configures Open and OpenBytes.
type Option func(*config)

type config struct {
	debugRoot string
	noDebug   bool
}

// DefaultDebugRoot is where separate debug files are looked for unless
// WithDebugRoot says otherwise.
const DefaultDebugRoot = "/usr/lib/debug"

// WithDebugRoot sets the directory that holds separate debug files
// (".build-id/xx/yyyy.debug" and mirrored paths for .gnu_debuglink), in place
// of /usr/lib/debug.
func WithDebugRoot(dir string) Option { return func(c *config) { c.debugRoot = dir } }

// WithoutDebugFile disables the search for a separate debug file.
func WithoutDebugFile() Option { return func(c *config) { c.noDebug = true } }

// File is an open ELF object. Its methods are safe for concurrent use.
// Close releases the mapping; values returned earlier stay valid because they
// never alias the mapped bytes.
type File struct {
	path string
	cfg  config

	data   []byte // the whole file (mmap or caller's bytes)
	mapped bool
	// fd is the open file behind a mapping. Reads through debug/elf and of
	// code (ReadAtAddr) use pread on it, not the mapping, so that pages
	// read once do not stay resident in the process (the mapping is shared,
	// so it never shows a uprobe's int3 either; see Open).
	fd     *os.File
	closed atomic.Bool
	// mu guards against Close racing a read of data.
	mu sync.RWMutex

	ef    *elf.File
	order binary.ByteOrder
	is64  bool
	loads []Segment

	symOnce sync.Once
	syms    *symbolTables
	symErr  error

	funcOnce sync.Once
	funcs    []Symbol
	funcErr  error

	byAddrOnce sync.Once
	byAddr     []int32 // indexes into funcs sorted by address

	lookups   atomic.Int32
	nameOnce  sync.Once
	nameIndex map[string][]Symbol

	debugOnce sync.Once
	debugFile *File
	debugPath string
}

// Open maps the ELF object at path. The error names the path and says
// whether the file is missing, not an ELF file or damaged.
func Open(path string, opts ...Option) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			fd.Close()
		}
	}()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not an ELF file (not a regular file)", path)
	}
	size := st.Size()
	if size < 4 {
		return nil, fmt.Errorf("%s is %w", path, ErrNotELF)
	}
	if size != int64(int(size)) {
		return nil, fmt.Errorf("%s: file too large", path)
	}
	var magic [4]byte
	if _, err := fd.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if string(magic[:]) != elf.ELFMAG {
		return nil, fmt.Errorf("%s is %w", path, ErrNotELF)
	}
	// MAP_SHARED, not MAP_PRIVATE: the kernel writes the int3 of every
	// uprobe registered on the file into each private mapping of it that
	// may execute, read-only ones included (one copied page and a TLB
	// flush per probe, all of them resident), but never into a shared one.
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	f, err := newFile(path, data, opts, fd)
	if err != nil {
		_ = unix.Munmap(data)
		return nil, err
	}
	f.mapped = true
	keep = true
	return f, nil
}

// OpenBytes reads an ELF object held in memory. name is used in messages and
// to find a separate debug file (pass "" for none). b must not be modified
// while the File is in use.
func OpenBytes(name string, b []byte, opts ...Option) (*File, error) {
	if len(b) < 4 || string(b[:4]) != elf.ELFMAG {
		if name == "" {
			return nil, ErrNotELF
		}
		return nil, fmt.Errorf("%s is %w", name, ErrNotELF)
	}
	return newFile(name, b, opts, nil)
}

func newFile(path string, data []byte, opts []Option, fd *os.File) (f *File, err error) {
	f = &File{path: path, data: data, fd: fd}
	f.cfg.debugRoot = DefaultDebugRoot
	for _, o := range opts {
		o(&f.cfg)
	}
	// debug/elf is robust against damaged input, but a panic there must not
	// take the caller down with it.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, &FormatError{Path: path, Msg: fmt.Sprint(r)}
		}
	}()
	ef, err := elf.NewFile(&guardedReader{f: f})
	if err != nil {
		msg := trimELFError(err)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = fmt.Sprintf("headers run past the end of the file (%d bytes)", len(data))
		}
		return nil, &FormatError{Path: path, Msg: msg}
	}
	f.ef = ef
	f.order = ef.ByteOrder
	f.is64 = ef.Class == elf.ELFCLASS64
	if ef.Class != elf.ELFCLASS64 && ef.Class != elf.ELFCLASS32 {
		return nil, &FormatError{Path: path, Msg: "unknown ELF class " + ef.Class.String()}
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		f.loads = append(f.loads, Segment{Vaddr: p.Vaddr, Memsz: p.Memsz, Offset: p.Off, Filesz: p.Filesz, Flags: p.Flags})
	}
	return f, nil
}

func trimELFError(err error) string {
	var fe *elf.FormatError
	if errors.As(err, &fe) {
		return fe.Error()
	}
	return err.Error()
}

// guardedReader reads from the mapping and fails after Close instead of
// touching unmapped memory.
type guardedReader struct{ f *File }

func (r *guardedReader) ReadAt(p []byte, off int64) (int, error) {
	return r.f.readAtOffset(p, off)
}

// readAtOffset copies file bytes at off into p.
func (f *File) readAtOffset(p []byte, off int64) (n int, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return 0, ErrClosed
	}
	if off < 0 || off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	if f.fd != nil {
		if rest := int64(len(f.data)) - off; int64(len(p)) > rest {
			p = p[:rest]
			n, err = f.fd.ReadAt(p, off)
			if err == nil {
				err = io.EOF
			}
			return n, err
		}
		return f.fd.ReadAt(p, off)
	}
	if f.mapped {
		old := debug.SetPanicOnFault(true)
		defer debug.SetPanicOnFault(old)
	}
	defer catchFault(&err)
	n = copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// catchFault turns a memory fault while reading the mapping (the file was
// truncated under us) into an error. The caller enables panic-on-fault.
func catchFault(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("elfx: fault reading mapped file (truncated while open?): %v", r)
	}
}

// withFaults runs fn with the mapping locked against Close and memory faults
// turned into errors, so that a file truncated while mapped produces an error
// rather than a crash. fn may use f.data but must not call methods of f.ef,
// which read through the same lock.
func (f *File) withFaults(fn func() error) (err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return ErrClosed
	}
	if f.mapped {
		old := debug.SetPanicOnFault(true)
		defer debug.SetPanicOnFault(old)
	}
	defer func() {
		if r := recover(); r != nil {
			err = &FormatError{Path: f.path, Msg: fmt.Sprint(r)}
		}
	}()
	return fn()
}

// Close unmaps the file, and closes the separate debug file if one was
// opened. Reads after Close return ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed.Swap(true) {
		return nil
	}
	var err error
	if f.debugFile != nil {
		err = f.debugFile.Close()
	}
	if f.mapped {
		if e := unix.Munmap(f.data); e != nil && err == nil {
			err = e
		}
	}
	if f.fd != nil {
		f.fd.Close()
	}
	f.data = nil
	return err
}

// Path returns the path the file was opened from.
func (f *File) Path() string { return f.path }

// ELF returns the debug/elf view of the same object, for section access and
// for packages that take an *elf.File. It reads through the mapping, so it
// must not be used after Close.
func (f *File) ELF() *elf.File { return f.ef }

// Type returns the object type: elf.ET_EXEC for a position-dependent
// executable, elf.ET_DYN for a PIE executable or a shared object.
func (f *File) Type() elf.Type { return f.ef.Type }

// Machine returns the target architecture.
func (f *File) Machine() elf.Machine { return f.ef.Machine }

// Class returns ELFCLASS32 or ELFCLASS64.
func (f *File) Class() elf.Class { return f.ef.Class }

// ByteOrder returns the object's byte order.
func (f *File) ByteOrder() binary.ByteOrder { return f.order }

// Loads returns the PT_LOAD segments in program-header order.
func (f *File) Loads() []Segment { return append([]Segment(nil), f.loads...) }

// Section returns the named section, or nil.
func (f *File) Section(name string) *elf.Section { return f.ef.Section(name) }

// sectionBytes returns the file bytes of section s, bounds-checked. The
// result aliases the mapping: callers must hold f.mu (through withFaults).
func (f *File) sectionBytes(s *elf.Section) ([]byte, error) {
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if s.Flags&elf.SHF_COMPRESSED != 0 {
		return nil, &FormatError{Path: f.path, Msg: "section " + s.Name + " is compressed"}
	}
	end := s.Offset + s.Size
	if end < s.Offset || end > uint64(len(f.data)) {
		return nil, &FormatError{Path: f.path, Msg: fmt.Sprintf("section %s [0x%x, +0x%x) lies beyond the end of the file (0x%x bytes)", s.Name, s.Offset, s.Size, len(f.data))}
	}
	return f.data[s.Offset:end], nil
}

// SectionData returns a copy of the named section's file bytes, or nil if
// the section does not exist or occupies no file space.
func (f *File) SectionData(name string) ([]byte, error) {
	s := f.ef.Section(name)
	if s == nil {
		return nil, nil
	}
	var out []byte
	err := f.withFaults(func() error {
		b, err := f.sectionBytes(s)
		out = bytes.Clone(b)
		return err
	})
	return out, err
}
