package stapsdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/rand"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/quick"
)

// wantSpec computes a note's argument string independently of arch.argSpec.
func wantSpec(m elf.Machine, args []ArgType) string {
	x86 := [MaxArgs][4]string{
		{"dil", "di", "edi", "rdi"},
		{"sil", "si", "esi", "rsi"},
		{"dl", "dx", "edx", "rdx"},
		{"cl", "cx", "ecx", "rcx"},
		{"r8b", "r8w", "r8d", "r8"},
		{"r9b", "r9w", "r9d", "r9"},
	}
	sizes := map[ArgType]int{Int8: -1, Uint8: 1, Int16: -2, Uint16: 2, Int32: -4, Uint32: 4,
		Int64: -8, Uint64: 8, Pointer: 8, String: 8}
	width := map[int]int{1: 0, 2: 1, 4: 2, 8: 3}
	var parts []string
	for i, t := range args {
		s := sizes[t]
		abs := s
		if abs < 0 {
			abs = -abs
		}
		switch m {
		case elf.EM_X86_64:
			parts = append(parts, fmt.Sprintf("%d@%%%s", s, x86[i][width[abs]]))
		case elf.EM_AARCH64:
			parts = append(parts, fmt.Sprintf("%d@x%d", s, i))
		}
	}
	return strings.Join(parts, " ")
}

func TestArgSpec(t *testing.T) {
	tests := []struct {
		arch *arch
		args []ArgType
		want string
	}{
		{archAMD64, nil, ""},
		{archAMD64, []ArgType{String, Int64}, "8@%rdi -8@%rsi"},
		{archAMD64, []ArgType{Uint64, Int32}, "8@%rdi -4@%esi"},
		{archAMD64, []ArgType{Int8, Uint8, Int16, Uint16, Int32, Uint32}, "-1@%dil 1@%sil -2@%dx 2@%cx -4@%r8d 4@%r9d"},
		{archAMD64, []ArgType{Pointer, Pointer, Pointer, Pointer, Uint8, Int64}, "8@%rdi 8@%rsi 8@%rdx 8@%rcx 1@%r8b -8@%r9"},
		{archARM64, []ArgType{String, Int64}, "8@x0 -8@x1"},
		{archARM64, []ArgType{Int8, Uint16, Int32, Uint32, Pointer, Int64}, "-1@x0 2@x1 -4@x2 4@x3 8@x4 -8@x5"},
	}
	for _, tt := range tests {
		if got := tt.arch.argSpec(tt.args); got != tt.want {
			t.Errorf("%v argSpec(%v) = %q, want %q", tt.arch.machine, tt.args, got, tt.want)
		}
		if got := wantSpec(tt.arch.machine, tt.args); got != tt.want {
			t.Errorf("test oracle wantSpec(%v, %v) = %q, want %q", tt.arch.machine, tt.args, got, tt.want)
		}
	}
}

func TestArgType(t *testing.T) {
	tests := []struct {
		t      ArgType
		name   string
		size   int
		signed bool
		in     uint64
		norm   uint64
	}{
		{Int8, "Int8", 1, true, 0x1ff, 0xffffffffffffffff},
		{Uint8, "Uint8", 1, false, 0x1ff, 0xff},
		{Int16, "Int16", 2, true, 0x18000, 0xffffffffffff8000},
		{Uint16, "Uint16", 2, false, 0x18000, 0x8000},
		{Int32, "Int32", 4, true, 0x180000000, 0xffffffff80000000},
		{Uint32, "Uint32", 4, false, 0x180000000, 0x80000000},
		{Int64, "Int64", 8, true, 1 << 63, 1 << 63},
		{Uint64, "Uint64", 8, false, 1 << 63, 1 << 63},
		{Pointer, "Pointer", 8, false, 0xdeadbeef, 0xdeadbeef},
		{String, "String", 8, false, 42, 42},
		{0, "ArgType(0)", 0, false, 7, 7},
		{99, "ArgType(99)", 0, false, 7, 7},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.name {
			t.Errorf("String() = %q, want %q", got, tt.name)
		}
		if got := tt.t.Size(); got != tt.size {
			t.Errorf("%v.Size() = %d, want %d", tt.t, got, tt.size)
		}
		if got := tt.t.Signed(); got != tt.signed {
			t.Errorf("%v.Signed() = %v, want %v", tt.t, got, tt.signed)
		}
		if got := tt.t.normalize(tt.in); got != tt.norm {
			t.Errorf("%v.normalize(%#x) = %#x, want %#x", tt.t, tt.in, got, tt.norm)
		}
	}
}

// stapsdtNote is one parsed .note.stapsdt record.
type stapsdtNote struct {
	pc, base, sema       uint64
	provider, name, args string
}

// parseNotes is an independent reader of .note.stapsdt contents. It applies
// bcc's strictness: every descriptor must end exactly after its three
// strings.
func parseNotes(data []byte) ([]stapsdtNote, error) {
	var notes []stapsdtNote
	le := binary.LittleEndian
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return nil, fmt.Errorf("truncated note header at %d", off)
		}
		namesz := int(le.Uint32(data[off:]))
		descsz := int(le.Uint32(data[off+4:]))
		typ := le.Uint32(data[off+8:])
		nameOff := off + 12
		descOff := nameOff + (namesz+3)&^3
		end := descOff + (descsz+3)&^3
		if end > len(data) {
			return nil, fmt.Errorf("note at %d overruns the section", off)
		}
		if namesz != 8 || string(data[nameOff:nameOff+8]) != "stapsdt\x00" || typ != ntStapsdt {
			return nil, fmt.Errorf("note at %d: namesz %d name %q type %d", off, namesz, data[nameOff:nameOff+namesz], typ)
		}
		desc := data[descOff : descOff+descsz]
		if len(desc) < 24+3 {
			return nil, fmt.Errorf("note at %d: descriptor of %d bytes", off, len(desc))
		}
		n := stapsdtNote{pc: le.Uint64(desc), base: le.Uint64(desc[8:]), sema: le.Uint64(desc[16:])}
		rest := desc[24:]
		var strs []string
		for range 3 {
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return nil, fmt.Errorf("note at %d: unterminated string", off)
			}
			strs = append(strs, string(rest[:i]))
			rest = rest[i+1:]
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("note at %d: %d bytes after the strings", off, len(rest))
		}
		n.provider, n.name, n.args = strs[0], strs[1], strs[2]
		notes = append(notes, n)
		off = end
	}
	return notes, nil
}

// wantSite is the code expected at each probe site, independent of arch.
var wantSite = map[elf.Machine][]byte{
	elf.EM_X86_64:  {0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3},
	elf.EM_AARCH64: {0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6},
}

// checkImage checks every property a tracer relies on in a built image.
func checkImage(t *testing.T, a *arch, pageSize int, provider string, defs []probeDef, img *image) {
	t.Helper()
	page := uint64(pageSize)
	f, err := elf.NewFile(bytes.NewReader(img.data))
	if err != nil {
		t.Fatalf("debug/elf: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Type != elf.ET_DYN || f.Machine != a.machine {
		t.Fatalf("header: class %v data %v type %v machine %v", f.Class, f.Data, f.Type, f.Machine)
	}
	if uint64(len(img.data))%page != 0 {
		t.Errorf("file size %d is not a multiple of the page size %d", len(img.data), page)
	}

	// Sections.
	sec := map[string]*elf.Section{}
	idx := map[string]int{}
	for i, s := range f.Sections {
		sec[s.Name] = s
		idx[s.Name] = i
	}
	for _, want := range []struct {
		name  string
		typ   elf.SectionType
		flags elf.SectionFlag
	}{
		{".text", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_EXECINSTR},
		{".stapsdt.base", elf.SHT_PROGBITS, elf.SHF_ALLOC},
		{".probes", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE},
		{".note.stapsdt", elf.SHT_NOTE, 0},
		{".symtab", elf.SHT_SYMTAB, 0},
		{".strtab", elf.SHT_STRTAB, 0},
		{".shstrtab", elf.SHT_STRTAB, 0},
	} {
		s := sec[want.name]
		if s == nil {
			t.Fatalf("section %s missing", want.name)
		}
		if s.Type != want.typ || s.Flags != want.flags {
			t.Errorf("section %s: type %v flags %v, want %v %v", want.name, s.Type, s.Flags, want.typ, want.flags)
		}
		if s.Offset+s.FileSize > uint64(len(img.data)) {
			t.Errorf("section %s [%#x+%#x] overruns the file", want.name, s.Offset, s.FileSize)
		}
		if s.Flags&elf.SHF_ALLOC != 0 && s.Addr != s.Offset {
			t.Errorf("section %s: address %#x != offset %#x", want.name, s.Addr, s.Offset)
		}
	}
	// bcc <= 0.26 finds the note only after the first executable section
	// and .probes, in section-table order.
	if !(idx[".text"] < idx[".probes"] && idx[".probes"] < idx[".note.stapsdt"]) {
		t.Errorf("section order: .text %d, .probes %d, .note.stapsdt %d; bcc needs them increasing",
			idx[".text"], idx[".probes"], idx[".note.stapsdt"])
	}
	if s := sec[".stapsdt.base"]; s.Size != 1 {
		t.Errorf(".stapsdt.base size %d, want 1", s.Size)
	}

	// Segments: p_vaddr == p_offset, page-aligned, file-backed, no two
	// sharing a page (each is mapped with its own protections).
	var loads []*elf.Prog
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		loads = append(loads, p)
		if p.Vaddr != p.Off || p.Off%page != 0 || p.Align != page {
			t.Errorf("PT_LOAD off %#x vaddr %#x align %#x: want vaddr == off, page-aligned", p.Off, p.Vaddr, p.Align)
		}
		if p.Off+p.Filesz > uint64(len(img.data)) || p.Memsz != p.Filesz {
			t.Errorf("PT_LOAD off %#x filesz %#x memsz %#x: not file-backed in a %d-byte file", p.Off, p.Filesz, p.Memsz, len(img.data))
		}
		if p.Flags&elf.PF_W != 0 && p.Flags&elf.PF_X != 0 {
			t.Errorf("PT_LOAD at %#x is writable and executable", p.Off)
		}
	}
	if len(loads) != 2 {
		t.Fatalf("%d PT_LOADs, want 2", len(loads))
	}
	sort.Slice(loads, func(i, j int) bool { return loads[i].Off < loads[j].Off })
	if alignUp(loads[0].Off+loads[0].Memsz, page) > loads[1].Off {
		t.Errorf("PT_LOADs at %#x and %#x share a page", loads[0].Off, loads[1].Off)
	}
	segOf := func(addr, size uint64) *elf.Prog {
		for _, p := range loads {
			if p.Vaddr <= addr && addr+size <= p.Vaddr+p.Memsz {
				return p
			}
		}
		return nil
	}
	in := func(s *elf.Section, addr, size uint64) bool { return s.Addr <= addr && addr+size <= s.Addr+s.Size }

	// Notes.
	data, err := sec[".note.stapsdt"].Data()
	if err != nil {
		t.Fatal(err)
	}
	notes, err := parseNotes(data)
	if err != nil {
		t.Fatalf(".note.stapsdt: %v", err)
	}
	if len(notes) != len(defs) {
		t.Fatalf("%d notes, want %d", len(notes), len(defs))
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("symbols: %v", err)
	}
	symByName := map[string]elf.Symbol{}
	for _, s := range syms {
		symByName[s.Name] = s
	}
	site := wantSite[a.machine]
	seenSema := map[uint64]bool{}
	for i, n := range notes {
		d := defs[i]
		if n.provider != provider || n.name != d.name {
			t.Errorf("note %d: %s:%s, want %s:%s", i, n.provider, n.name, provider, d.name)
		}
		if want := wantSpec(a.machine, d.args); n.args != want {
			t.Errorf("note %s: args %q, want %q", d.name, n.args, want)
		}
		if n.base != sec[".stapsdt.base"].Addr {
			t.Errorf("note %s: base %#x, want .stapsdt.base at %#x", d.name, n.base, sec[".stapsdt.base"].Addr)
		}
		if p := segOf(n.pc, uint64(len(site))); p == nil || p.Flags&elf.PF_X == 0 || p.Flags&elf.PF_W != 0 {
			t.Errorf("note %s: pc %#x is not in a read-only executable PT_LOAD", d.name, n.pc)
		}
		if !in(sec[".text"], n.pc, uint64(len(site))) || n.pc%4 != 0 {
			t.Errorf("note %s: pc %#x is not an aligned site in .text", d.name, n.pc)
		} else if got := img.data[n.pc : n.pc+uint64(len(site))]; !bytes.Equal(got, site) {
			t.Errorf("note %s: code at pc %#x is % x, want % x", d.name, n.pc, got, site)
		}
		if p := segOf(n.sema, 2); p == nil || p.Flags&elf.PF_W == 0 || p.Flags&elf.PF_X != 0 {
			t.Errorf("note %s: semaphore %#x is not in a writable, non-executable PT_LOAD", d.name, n.sema)
		}
		if !in(sec[".probes"], n.sema, 2) || n.sema%2 != 0 || seenSema[n.sema] {
			t.Errorf("note %s: semaphore %#x is not a distinct aligned slot in .probes", d.name, n.sema)
		} else if v := binary.LittleEndian.Uint32(img.data[n.sema:]); v != 0 {
			t.Errorf("note %s: semaphore slot starts at %#x", d.name, v)
		}
		seenSema[n.sema] = true
		if img.sites[i] != n.pc || img.semas[i] != n.sema || img.base != n.base {
			t.Errorf("note %s: image records pc %#x sema %#x base %#x, note says %#x %#x %#x",
				d.name, img.sites[i], img.semas[i], img.base, n.pc, n.sema, n.base)
		}
		fn := symByName[provider+"_"+d.name]
		if elf.ST_TYPE(fn.Info) != elf.STT_FUNC || fn.Value != n.pc || fn.Section != elf.SectionIndex(idx[".text"]) {
			t.Errorf("symbol %s_%s: %+v, want a FUNC at %#x", provider, d.name, fn, n.pc)
		}
		sm := symByName[provider+"_"+d.name+"_semaphore"]
		if elf.ST_TYPE(sm.Info) != elf.STT_OBJECT || sm.Value != n.sema || sm.Size != 2 {
			t.Errorf("symbol %s_%s_semaphore: %+v, want a 2-byte OBJECT at %#x", provider, d.name, sm, n.sema)
		}
	}
}

func TestBuildImage(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		defs     []probeDef
	}{
		{"none", "empty", nil},
		{"one", "myapp", []probeDef{{"request__start", []ArgType{String, Int64}}}},
		{"no args", "p", []probeDef{{"tick", nil}}},
		{"all types", "types", []probeDef{
			{"small", []ArgType{Int8, Uint8, Int16, Uint16, Int32, Uint32}},
			{"big", []ArgType{Int64, Uint64, Pointer, String}},
		}},
		{"many", "many", func() []probeDef {
			var d []probeDef
			for i := range 600 { // .text spans more than one 4 KiB page
				d = append(d, probeDef{fmt.Sprintf("p%d", i), []ArgType{ArgType(i%10 + 1)}})
			}
			return d
		}()},
	}
	for _, tt := range tests {
		for _, a := range []*arch{archAMD64, archARM64} {
			for _, page := range []int{4096, 16384, 65536} {
				t.Run(fmt.Sprintf("%s/%v/%d", tt.name, a.machine, page), func(t *testing.T) {
					img, err := buildImage(a, tt.provider, tt.defs, page)
					if err != nil {
						t.Fatal(err)
					}
					checkImage(t, a, page, tt.provider, tt.defs, img)
				})
			}
		}
	}
}

func TestBuildImageErrors(t *testing.T) {
	tests := []struct {
		name     string
		page     int
		provider string
		defs     []probeDef
		want     string
	}{
		{"page not power of two", 4000, "p", nil, "power of two"},
		{"zero page", 0, "p", nil, "power of two"},
		{"bad provider", 4096, "my-app", nil, "not allowed"},
		{"bad probe", 4096, "p", []probeDef{{"", nil}}, "empty"},
		{"too many args", 4096, "p", []probeDef{{"x", make([]ArgType, 7)}}, "at most 6"},
		{"invalid type", 4096, "p", []probeDef{{"x", []ArgType{String, 0}}}, "invalid type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildImage(archAMD64, tt.provider, tt.defs, tt.page)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("buildImage: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// probeSet is a random valid provider for testing/quick.
type probeSet struct {
	provider string
	defs     []probeDef
}

const identFirst = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
const identRest = identFirst + "0123456789"

func randIdent(r *rand.Rand) string {
	n := 1 + r.Intn(40)
	if r.Intn(20) == 0 {
		n = maxNameLen
	}
	b := []byte{identFirst[r.Intn(len(identFirst))]}
	for len(b) < n {
		b = append(b, identRest[r.Intn(len(identRest))])
	}
	return string(b)
}

// Generate implements quick.Generator.
func (probeSet) Generate(r *rand.Rand, size int) reflect.Value {
	ps := probeSet{provider: randIdent(r)}
	seen := map[string]bool{}
	for range r.Intn(size + 1) {
		name := randIdent(r)
		if seen[name] {
			continue
		}
		seen[name] = true
		args := make([]ArgType, r.Intn(MaxArgs+1))
		for i := range args {
			args[i] = ArgType(1 + r.Intn(int(String)))
		}
		ps.defs = append(ps.defs, probeDef{name, args})
	}
	return reflect.ValueOf(ps)
}

func TestBuildImageQuick(t *testing.T) {
	check := func(ps probeSet) bool {
		for _, a := range []*arch{archAMD64, archARM64} {
			img, err := buildImage(a, ps.provider, ps.defs, 4096)
			if err != nil {
				t.Errorf("buildImage(%q, %d probes): %v", ps.provider, len(ps.defs), err)
				return false
			}
			checkImage(t, a, 4096, ps.provider, ps.defs, img)
		}
		return !t.Failed()
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 200}); err != nil {
		t.Error(err)
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validName is the name rule, written independently of checkName.
func validName(s string) bool { return len(s) <= maxNameLen && identRE.MatchString(s) }

// FuzzBuildELF declares probes from arbitrary names and argument-type bytes
// through the public API, and checks that everything accepted builds into
// an ELF with the right notes, and that everything rejected breaks a rule.
// names holds comma-separated probe names; types[i] gives probe i's
// argument count (mod 8, so 7 is too many) and the following bytes (mod 12,
// so 0 and 11 are invalid) its types.
func FuzzBuildELF(f *testing.F) {
	f.Add("myapp", "request__start,request__done", []byte{2, 10, 7, 1, 8})
	f.Add("p", "a,b,c,a", []byte{6, 1, 2, 3, 4, 5, 6})
	f.Add("bad-name", "x", []byte{})
	f.Add("_", "9lives,ok", []byte{7, 0, 11})
	f.Fuzz(func(t *testing.T, provider, names string, types []byte) {
		p, err := NewProvider(provider)
		if (err == nil) != validName(provider) {
			t.Fatalf("NewProvider(%q): %v; valid name: %v", provider, err, validName(provider))
		}
		if err != nil {
			return
		}
		seen := map[string]bool{}
		var defs []probeDef
		for i, name := range strings.Split(names, ",") {
			var args []ArgType
			if i < len(types) {
				for j := range int(types[i] % 8) {
					args = append(args, ArgType(types[(i+j+1)%len(types)]%12))
				}
			}
			valid := validName(name) && !seen[name] && len(args) <= MaxArgs
			for _, a := range args {
				valid = valid && a >= Int8 && a <= String
			}
			_, err := p.AddProbe(name, args...)
			if (err == nil) != valid {
				t.Fatalf("AddProbe(%q, %v): %v; valid: %v", name, args, err, valid)
			}
			if err == nil {
				seen[name] = true
				defs = append(defs, probeDef{name, args})
			}
		}
		if !reflect.DeepEqual(p.defs(), defs) && len(defs) > 0 {
			t.Fatalf("provider holds %v, want %v", p.defs(), defs)
		}
		for _, a := range []*arch{archAMD64, archARM64} {
			for _, page := range []int{4096, 65536} {
				img, err := buildImage(a, provider, p.defs(), page)
				if err != nil {
					t.Fatalf("buildImage: %v", err)
				}
				checkImage(t, a, page, provider, defs, img)
			}
		}
	})
}
