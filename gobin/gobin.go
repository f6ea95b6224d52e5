package gobin

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
)

// ErrNotGo reports that an ELF file was not built by the Go toolchain.
var ErrNotGo = errors.New("not a Go binary")

// ErrNoDWARF reports that a binary carries no DWARF debug information (it was
// linked with -ldflags=-w or stripped afterwards).
var ErrNoDWARF = errors.New("no DWARF debug information")

// maxCodeSize bounds the size of a single function's machine code that Code
// returns. No real function comes near it; a damaged table might.
const maxCodeSize = 64 << 20

// A Binary is an inspected Go executable. Its methods are safe for concurrent
// use. A Binary reads from the elf.File it was opened with, which must stay
// open while the Binary is in use.
type Binary struct {
	// GoVersion is the version of the toolchain that built the binary, as
	// debug/buildinfo reports it, e.g. "go1.26.8".
	GoVersion string
	// ModulePath is the path of the main module, e.g. "github.com/x/y";
	// empty for programs built outside a module ("go build file.go").
	ModulePath string
	// BuildInfo is the complete build information.
	BuildInfo *debug.BuildInfo
	// Stripped reports that the binary has no .symtab section.
	Stripped bool
	// PIE reports a position-independent executable (ELF type ET_DYN):
	// its addresses are relative to the load base.
	PIE bool
	// TextStart is the link-time address of runtime.text, the base that
	// function entries in .gopclntab are relative to (Go 1.18 and later).
	TextStart uint64
	// PclntabAddr is the link-time address of the pclntab header.
	PclntabAddr uint64
	// PtrSize is the size of a pointer in bytes (8 on 64-bit targets).
	PtrSize int
	// Machine is the ELF machine type, e.g. elf.EM_X86_64.
	Machine elf.Machine

	f    *elf.File
	file io.Closer // set by OpenFile, closed by Close
	mem  *image
	pcln *pclntab
	// rtypes is the runtime types section, for TypeName (typename.go).
	rtypes typesRange

	funcsOnce sync.Once
	funcs     []Func
	byName    map[string]int
	funcsErr  error

	dwarfOnce sync.Once
	dw        *dwarfIndex
	dwarfErr  error

	typesOnce sync.Once
	typeCache *typeCache

	inlineOnce sync.Once
	inlined    map[string][]InlinedCopy
	inlineErr  error
}

// A Func is a function from the binary's function table.
type Func struct {
	// Name is the function's name as the Go runtime prints it, e.g.
	// "main.(*Server).handle", "main.main.func1" or, for a generic
	// function's shape instantiation, "main.Map[go.shape.int]".
	Name string
	// Entry is the link-time address of the first instruction; End is the
	// next function's entry (or the end of the text), so the function's
	// code is followed by its alignment padding up to End.
	Entry, End uint64
	// DeferReturn is the address of the function's call to
	// runtime.deferreturn, where it resumes after a deferred call
	// recovered a panic; 0 if it has none.
	DeferReturn uint64
	// Wrapper marks compiler-generated code: ABI wrappers, which share
	// the name of the function they wrap, method wrappers, hash and
	// equality functions. Known for Go 1.21 to 1.26; false otherwise.
	Wrapper bool
	// Asm marks functions written in assembly, which take their arguments
	// on the stack (ABI0). Known for Go 1.21 and later.
	Asm bool
}

// Size returns the number of bytes of the function's code, End-Entry.
func (fn Func) Size() uint64 { return fn.End - fn.Entry }

// OpenFile opens the ELF file at path and inspects it with Open. Close the
// Binary to close the file.
func OpenFile(path string) (*Binary, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gobin: %w", err)
	}
	b, err := open(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gobin: %s: %w", path, err)
	}
	b.file = f
	return b, nil
}

// Close closes the file OpenFile opened. For a Binary from Open it does
// nothing: the caller's elf.File stays the caller's to close.
func (b *Binary) Close() error {
	if b == nil || b.file == nil {
		return nil
	}
	f := b.file
	b.file = nil
	return f.Close()
}

// Open inspects a Go binary. It returns an error wrapping ErrNotGo for ELF
// files that the Go toolchain did not build. It reads the build information,
// locates .gopclntab and determines the text start; the function table is
// decoded on first use by Functions.
func Open(f *elf.File) (*Binary, error) {
	b, err := open(f)
	if err != nil {
		return nil, fmt.Errorf("gobin: %w", err)
	}
	return b, nil
}

func open(f *elf.File) (*Binary, error) {
	if f == nil {
		return nil, errors.New("nil ELF file")
	}
	b := &Binary{
		f:       f,
		Machine: f.Machine,
		PIE:     f.Type == elf.ET_DYN,
	}
	switch f.Class {
	case elf.ELFCLASS64:
		b.PtrSize = 8
	case elf.ELFCLASS32:
		b.PtrSize = 4
	default:
		return nil, fmt.Errorf("unknown ELF class %v", f.Class)
	}
	symtab := f.Section(".symtab")
	b.Stripped = symtab == nil || symtab.Type != elf.SHT_SYMTAB
	b.mem = newImage(f, b.PtrSize)

	bi, err := readBuildInfo(f)
	if err != nil && f.Section(".go.buildinfo") == nil {
		// No section headers to find it by (or debug/buildinfo
		// looked in the wrong segment): search the segments.
		if sbi, serr := scanBuildInfo(b.mem); serr == nil {
			bi, err = sbi, nil
		}
	}
	if err != nil {
		if !looksLikeGo(f) {
			return nil, fmt.Errorf("%w (%v)", ErrNotGo, err)
		}
		return nil, fmt.Errorf("build info: %w", err)
	}
	b.BuildInfo = bi
	b.GoVersion = bi.GoVersion
	b.ModulePath = bi.Main.Path

	pcln, err := findPclntab(b.mem)
	if err != nil {
		return nil, err
	}
	b.pcln = pcln
	b.PclntabAddr = pcln.addr
	pcln.wrapperID = funcIDWrapper(b.GoVersion)
	pcln.flagsKnown = pcln.magic == magic120 && b.GoVersionAtLeast(1, 21)
	if pcln.needsTextStart() {
		ts, err := b.findTextStart()
		if err != nil {
			return nil, fmt.Errorf("text start: %w", err)
		}
		b.TextStart = ts
		pcln.textStart = ts
	} else {
		// Before Go 1.18 entries are absolute; the first one is the
		// text start.
		b.TextStart = pcln.firstEntry()
	}
	return b, nil
}

// readBuildInfo runs debug/buildinfo on the file behind f. An elf.File does
// not expose its reader, but its segments and sections are io.SectionReaders
// over it, which do.
func readBuildInfo(f *elf.File) (*debug.BuildInfo, error) {
	r := outerReader(f)
	if r == nil {
		return nil, errors.New("cannot reach the file's contents through its ELF headers")
	}
	return buildinfo.Read(r)
}

func outerReader(f *elf.File) io.ReaderAt {
	for _, p := range f.Progs {
		if sr, ok := p.ReaderAt.(*io.SectionReader); ok {
			r, _, _ := sr.Outer()
			return r
		}
	}
	for _, s := range f.Sections {
		if sr, ok := s.ReaderAt.(*io.SectionReader); ok {
			r, _, _ := sr.Outer()
			return r
		}
	}
	return nil
}

// looksLikeGo reports whether f has any section only the Go linker emits.
func looksLikeGo(f *elf.File) bool {
	for _, name := range []string{".go.buildinfo", ".gopclntab", ".data.rel.ro.gopclntab", ".note.go.buildid", ".go.module"} {
		if f.Section(name) != nil {
			return true
		}
	}
	return false
}

// Functions returns every function in the binary's .gopclntab, sorted by
// entry address. It works on stripped (-ldflags=-s -w) and PIE binaries.
// The caller may modify the returned slice.
func (b *Binary) Functions() ([]Func, error) {
	if err := b.loadFuncs(); err != nil {
		return nil, err
	}
	return slices.Clone(b.funcs), nil
}

func (b *Binary) loadFuncs() error {
	b.funcsOnce.Do(func() {
		funcs, err := b.pcln.functions()
		if err != nil {
			b.funcsErr = fmt.Errorf("gobin: function table: %w", err)
			return
		}
		b.funcs = funcs
		b.byName = make(map[string]int, len(funcs))
		for i, fn := range funcs {
			if j, dup := b.byName[fn.Name]; !dup || funcs[j].Wrapper && !fn.Wrapper {
				b.byName[fn.Name] = i
			}
		}
	})
	return b.funcsErr
}

// FuncByName returns the function with the given name, e.g.
// "main.(*Server).handle". When several functions share a name (an ABI
// wrapper and the function it wraps), the one that is not a wrapper is
// returned, else the one with the lowest address.
func (b *Binary) FuncByName(name string) (Func, bool) {
	if b.loadFuncs() != nil {
		return Func{}, false
	}
	i, ok := b.byName[name]
	if !ok {
		return Func{}, false
	}
	return b.funcs[i], true
}

// FuncAt returns the function whose code contains addr.
func (b *Binary) FuncAt(addr uint64) (Func, bool) {
	if b.loadFuncs() != nil {
		return Func{}, false
	}
	i, found := slices.BinarySearchFunc(b.funcs, addr, func(fn Func, a uint64) int {
		switch {
		case fn.Entry > a:
			return 1
		case fn.End <= a:
			return -1
		}
		return 0
	})
	if !found {
		return Func{}, false
	}
	return b.funcs[i], true
}

// Code returns the machine code of fn, the bytes from fn.Entry to fn.End.
func (b *Binary) Code(fn Func) ([]byte, error) {
	if fn.End < fn.Entry || fn.End-fn.Entry > maxCodeSize {
		return nil, fmt.Errorf("gobin: %s: bad bounds %#x-%#x", fn.Name, fn.Entry, fn.End)
	}
	code, err := b.mem.readFile(fn.Entry, int(fn.End-fn.Entry))
	if err != nil {
		return nil, fmt.Errorf("gobin: code of %s: %w", fn.Name, err)
	}
	return code, nil
}

// FileOffset returns the offset in the file of the byte at link-time address
// addr, from the PT_LOAD segment that holds it. This is the offset a uprobe
// is attached at.
func (b *Binary) FileOffset(addr uint64) (uint64, error) {
	p := b.mem.progFor(addr, 1)
	if p == nil || addr-p.Vaddr >= p.Filesz {
		return 0, fmt.Errorf("gobin: address %#x is in no loadable segment's file data", addr)
	}
	return p.Off + (addr - p.Vaddr), nil
}

// GoVersionAtLeast reports whether the binary was built by Go major.minor or
// later. Development versions ("devel ...") count as newer than any release.
func (b *Binary) GoVersionAtLeast(major, minor int) bool {
	ma, mi, ok := parseGoVersion(b.GoVersion)
	if !ok {
		return strings.HasPrefix(b.GoVersion, "devel")
	}
	return ma > major || ma == major && mi >= minor
}

// parseGoVersion splits "go1.26.8", "go1.21rc2" or "go1.22.0-X:foo" into
// major and minor version numbers.
func parseGoVersion(v string) (major, minor int, ok bool) {
	s, found := strings.CutPrefix(v, "go")
	if !found {
		return 0, 0, false
	}
	num := func() (int, bool) {
		n, i := 0, 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 6 {
			n = n*10 + int(s[i]-'0')
			i++
		}
		s = s[i:]
		return n, i > 0
	}
	if major, ok = num(); !ok {
		return 0, 0, false
	}
	if len(s) == 0 || s[0] != '.' {
		return 0, 0, false
	}
	s = s[1:]
	if minor, ok = num(); !ok {
		return 0, 0, false
	}
	return major, minor, true
}

// byteOrder returns the byte order of f's data.
func byteOrder(f *elf.File) binary.ByteOrder {
	if f.ByteOrder != nil {
		return f.ByteOrder
	}
	return binary.LittleEndian
}
