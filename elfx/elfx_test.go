package elfx

import (
	"debug/elf"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openSynth(t *testing.T, s synthSpec) *File {
	t.Helper()
	f, err := OpenBytes("synth", synthELF(s), WithoutDebugFile())
	if err != nil {
		t.Fatalf("OpenBytes: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestSynthFunctions(t *testing.T) {
	f := openSynth(t, basicSpec())
	got, err := f.Functions()
	if err != nil {
		t.Fatal(err)
	}
	type fn struct {
		name, version string
		hidden        bool
		addr, size    uint64
		offset        uint64
		ifunc         bool
		src           Source
	}
	// Table order: .symtab, then what only .dynsym has.
	want := []fn{
		{name: "local_helper", addr: 0x401100, size: 0x40, offset: 0x1100, src: FromSymtab},
		{name: "main", addr: 0x401000, size: 0x100, offset: 0x1000, src: FromSymtab | FromDynsym},
		{name: "resolver", addr: 0x401200, size: 0x10, offset: 0x1200, ifunc: true, src: FromSymtab},
		{name: "alias_weak", addr: 0x401000, size: 0x100, offset: 0x1000, src: FromSymtab},
		{name: "_ZN2ns6Widget4frobEi", addr: 0x401300, size: 0x20, offset: 0x1300, src: FromSymtab},
		{name: "memcpy", version: "V_OLD", hidden: true, addr: 0x401400, size: 0x10, offset: 0x1400, src: FromDynsym},
		{name: "memcpy", version: "V_NEW", addr: 0x401500, size: 0x10, offset: 0x1500, src: FromDynsym},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d functions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Version != w.version || g.HiddenVersion != w.hidden || g.Addr != w.addr ||
			g.Size != w.size || g.Offset != w.offset || g.IFUNC() != w.ifunc || g.Source != w.src {
			t.Errorf("function %d = %+v (source %v), want %+v", i, g, g.Source, w)
		}
	}
	if v := got[5].VersionedName(); v != "memcpy@V_OLD" {
		t.Errorf("VersionedName = %q", v)
	}
	if v := got[6].VersionedName(); v != "memcpy@@V_NEW" {
		t.Errorf("VersionedName = %q", v)
	}
	if d := got[4].Demangled(); d != "ns::Widget::frob(int)" {
		t.Errorf("Demangled = %q", d)
	}
	if d := got[1].Demangled(); d != "main" {
		t.Errorf("Demangled(main) = %q", d)
	}
}

func TestSynthAddresses(t *testing.T) {
	f := openSynth(t, basicSpec())
	tests := []struct {
		addr     uint64
		exec     bool
		off      uint64 // AddrToOffset, when exec
		dataOff  uint64
		dataOK   bool
		readable bool
	}{
		{addr: 0x401000, exec: true, off: 0x1000, dataOff: 0x1000, dataOK: true, readable: true},
		{addr: 0x4017ff, exec: true, off: 0x17ff, dataOff: 0x17ff, dataOK: true, readable: true},
		{addr: 0x401800}, // just past the segment
		{addr: 0x603010, dataOff: 0x2010, dataOK: true, readable: true},
		{addr: 0x603200}, // .bss: no file offset
		{addr: 0x1000},   // the file offset, not an address
	}
	for _, tt := range tests {
		if got := f.InExecSegment(tt.addr); got != tt.exec {
			t.Errorf("InExecSegment(%#x) = %v", tt.addr, got)
		}
		off, err := f.AddrToOffset(tt.addr)
		if tt.exec && (err != nil || off != tt.off) {
			t.Errorf("AddrToOffset(%#x) = %#x, %v; want %#x", tt.addr, off, err, tt.off)
		}
		if !tt.exec && err == nil {
			t.Errorf("AddrToOffset(%#x) = %#x, want an error", tt.addr, off)
		}
		doff, err := f.DataAddrToOffset(tt.addr)
		if tt.dataOK != (err == nil) || doff != tt.dataOff {
			t.Errorf("DataAddrToOffset(%#x) = %#x, %v; want %#x ok=%v", tt.addr, doff, err, tt.dataOff, tt.dataOK)
		}
		if tt.dataOK {
			if a, ok := f.OffsetToAddr(doff); !ok || a != tt.addr {
				t.Errorf("OffsetToAddr(%#x) = %#x, %v", doff, a, ok)
			}
		}
		var b [1]byte
		n, err := f.ReadAtAddr(b[:], tt.addr)
		if tt.readable {
			if n != 1 || err != nil || b[0] != patternByte(tt.dataOff) {
				t.Errorf("ReadAtAddr(%#x) = %d, %v, %#x; want %#x", tt.addr, n, err, b[0], patternByte(tt.dataOff))
			}
		} else if err == nil {
			t.Errorf("ReadAtAddr(%#x) succeeded outside the file-backed segments", tt.addr)
		}
	}
	// A read running off the end of a segment is short.
	buf := make([]byte, 16)
	n, err := f.ReadAtAddr(buf, 0x4017f8)
	if n != 8 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAtAddr at segment end = %d, %v; want 8, EOF", n, err)
	}
}

func TestSynthFuncAt(t *testing.T) {
	f := openSynth(t, basicSpec())
	tests := []struct {
		addr uint64
		name string
		off  uint64
	}{
		{0x401000, "main", 0}, // global preferred over the weak alias
		{0x401010, "main", 0x10},
		{0x401130, "local_helper", 0x30},
		{0x401150, "", 0}, // past local_helper, before resolver
		{0x40120f, "resolver", 0xf},
		{0x401210, "", 0},
		{0x401501, "memcpy", 1},
		{0x400fff, "", 0},
		{0x900000, "", 0},
	}
	for _, tt := range tests {
		s, off, ok := f.FuncAt(tt.addr)
		if tt.name == "" {
			if ok {
				t.Errorf("FuncAt(%#x) = %s+%#x, want none", tt.addr, s.Name, off)
			}
			continue
		}
		if !ok || s.Name != tt.name || off != tt.off {
			t.Errorf("FuncAt(%#x) = %s+%#x %v, want %s+%#x", tt.addr, s.Name, off, ok, tt.name, tt.off)
		}
	}
}

func TestSynthLookup(t *testing.T) {
	f := openSynth(t, basicSpec())
	tests := []struct {
		name string
		addr uint64
		typ  elf.SymType
		ok   bool
	}{
		{"counter", 0x603010, elf.STT_OBJECT, true},
		{"main", 0x401000, elf.STT_FUNC, true},
		{"memcpy", 0x401500, elf.STT_FUNC, true}, // the default version
		{"memcpy@V_OLD", 0x401400, elf.STT_FUNC, true},
		{"memcpy@@V_NEW", 0x401500, elf.STT_FUNC, true},
		{"memcpy@V_NEW", 0x401500, elf.STT_FUNC, true},
		{"memcpy@@V_OLD", 0, 0, false},
		{"undef_func", 0, 0, false},
		{"nothing", 0, 0, false},
		{"", 0, 0, false},
	}
	// Run twice as many lookups as the scan limit, so both the scanning
	// and the indexed paths answer.
	for round := 0; round < 2*lookupScanLimit/len(tests)+2; round++ {
		for _, tt := range tests {
			s, ok := f.Lookup(tt.name)
			if ok != tt.ok || (ok && (s.Addr != tt.addr || s.Type != tt.typ)) {
				t.Errorf("round %d: Lookup(%q) = %#x %v %v, want %#x %v %v", round, tt.name, s.Addr, s.Type, ok, tt.addr, tt.typ, tt.ok)
			}
		}
	}
	if a, ok := f.LookupAddr("counter"); !ok || a != 0x603010 {
		t.Errorf("LookupAddr(counter) = %#x, %v", a, ok)
	}
}

func TestAmbiguousLocalLookup(t *testing.T) {
	s := basicSpec()
	s.syms = append(s.syms,
		synthSym{name: "static_var", value: 0x603020, size: 4, typ: elf.STT_OBJECT, bind: elf.STB_LOCAL, shndx: 1},
		synthSym{name: "static_var", value: 0x603030, size: 4, typ: elf.STT_OBJECT, bind: elf.STB_LOCAL, shndx: 1},
		synthSym{name: "one_static", value: 0x603040, size: 4, typ: elf.STT_OBJECT, bind: elf.STB_LOCAL, shndx: 1},
	)
	f := openSynth(t, s)
	if s, ok := f.Lookup("static_var"); ok {
		t.Errorf("Lookup of an ambiguous local = %#x, want not found", s.Addr)
	}
	if s, ok := f.Lookup("one_static"); !ok || s.Addr != 0x603040 {
		t.Errorf("Lookup(one_static) = %#x, %v", s.Addr, ok)
	}
}

func TestSynthNotes(t *testing.T) {
	s := basicSpec()
	s.debugLink = "prog.debug"
	s.linkCRC = 0x12345678
	f := openSynth(t, s)
	if id := f.BuildID(); id != "deadbeef01020304" {
		t.Errorf("BuildID = %q", id)
	}
	name, crc, ok := f.DebugLink()
	if !ok || name != "prog.debug" || crc != 0x12345678 {
		t.Errorf("DebugLink = %q, %#x, %v", name, crc, ok)
	}
	if f.Type() != elf.ET_EXEC || f.Machine() != elf.EM_X86_64 || f.Class() != elf.ELFCLASS64 {
		t.Errorf("header: %v %v %v", f.Type(), f.Machine(), f.Class())
	}
	if len(f.Loads()) != 2 || !f.Loads()[0].Exec() || f.Loads()[1].Exec() {
		t.Errorf("Loads = %+v", f.Loads())
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := write("passwd", []byte("root:x:0:0:root:/root:/bin/bash\n"))
	empty := write("empty", nil)
	tiny := write("tiny", []byte("\x7fEL"))
	headerOnly := write("hdr", synthELF(basicSpec())[:40])
	tests := []struct {
		path   string
		is     error
		substr string
	}{
		{text, ErrNotELF, text + " is not an ELF file"},
		{empty, ErrNotELF, "is not an ELF file"},
		{tiny, ErrNotELF, "is not an ELF file"},
		{dir, nil, "is not an ELF file (not a regular file)"},
		{filepath.Join(dir, "missing"), fs.ErrNotExist, "no such file"},
		{headerOnly, nil, "truncated or damaged ELF"},
	}
	for _, tt := range tests {
		f, err := Open(tt.path)
		if err == nil {
			f.Close()
			t.Errorf("Open(%s) succeeded", tt.path)
			continue
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("Open(%s) = %v, want errors.Is %v", tt.path, err, tt.is)
		}
		if !strings.Contains(err.Error(), tt.substr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Open(%s) = %q, want one line containing %q", tt.path, err, tt.substr)
		}
	}
}

// TestTruncated opens every prefix of a synthesized object: each must fail
// cleanly or yield what it can, never panic.
func TestTruncated(t *testing.T) {
	b := synthELF(basicSpec())
	for n := 0; n <= len(b); n++ {
		exercise(t, b[:n])
	}
}

// exercise calls every reading method of elfx on b.
func exercise(t testing.TB, b []byte) {
	f, err := OpenBytes("", b, WithoutDebugFile())
	if err != nil {
		return
	}
	defer f.Close()
	fns, _ := f.Functions()
	_, _ = f.Symbols()
	for _, fn := range fns {
		_, _, _ = f.FuncAt(fn.Addr + 1)
		_, _ = f.AddrToOffset(fn.Addr)
		_ = fn.Demangled()
	}
	_, _, _ = f.FuncAt(0x401010)
	_, _ = f.Lookup("main")
	_, _ = f.Lookup("memcpy@V_OLD")
	_ = f.BuildID()
	_, _, _ = f.DebugLink()
	_, _ = f.SectionData(".text")
	var buf [64]byte
	for _, s := range f.Loads() {
		_, _ = f.ReadAtAddr(buf[:], s.Vaddr)
		_, _ = f.DataAddrToOffset(s.Vaddr + 8)
	}
	_ = f.DebugFile()
}

func TestClosed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(p, synthELF(basicSpec()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p, WithoutDebugFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Functions(); !errors.Is(err, ErrClosed) {
		t.Errorf("Functions after Close = %v, want ErrClosed", err)
	}
	var b [4]byte
	if _, err := f.ReadAtAddr(b[:], 0x401000); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAtAddr after Close = %v, want ErrClosed", err)
	}
	if _, err := f.ELF().Section(".text").Data(); err == nil {
		t.Errorf("reading a section after Close succeeded")
	}
}

func TestDemangle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main", "main"},
		{"_ZN2ns6Widget4frobEi", "ns::Widget::frob(int)"},
		{"_ZN2ns6Widget4frobEi@@V_1", "ns::Widget::frob(int)@@V_1"},
		{"_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)"},
		{"_RNvCs1234_7mycrate4main", "mycrate::main"},
		{"_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write"},
		{"_Znot_valid", "_Znot_valid"},
		{"_Z", "_Z"},
	}
	for _, tt := range tests {
		if got := Demangle(tt.in); got != tt.want {
			t.Errorf("Demangle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzOpenBytes(f *testing.F) {
	f.Add(synthELF(basicSpec()))
	s := basicSpec()
	s.debugLink = "x.debug"
	f.Add(synthELF(s))
	s = basicSpec()
	s.typ = elf.ET_DYN
	s.segs[0] = synthSeg{vaddr: 0x1000, off: 0x1000, filesz: 0x800, memsz: 0x800, flags: elf.PF_R | elf.PF_X}
	f.Add(synthELF(s))
	f.Fuzz(func(t *testing.T, b []byte) {
		exercise(t, b)
	})
}

func BenchmarkFunctionsSynth(b *testing.B) {
	data := synthELF(basicSpec())
	for b.Loop() {
		f, err := OpenBytes("", data, WithoutDebugFile())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Functions(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestTruncatedWhileOpen shrinks a mapped file: reading the pages that are
// gone must give an error, not kill the process with SIGBUS.
func TestTruncatedWhileOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "obj")
	b := synthELF(basicSpec())
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p, WithoutDebugFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Functions(); err == nil {
		t.Error("Functions on a truncated mapping succeeded")
	}
	var buf [8]byte
	if _, err := f.ReadAtAddr(buf[:], 0x401000); err == nil {
		t.Error("ReadAtAddr on a truncated mapping succeeded")
	}
	_ = f.BuildID()
	_, _ = f.Lookup("main")
}
