package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// textOff is the file offset of text address a in the synthetic objects.
func textOff(a uint64) uint64 { return a - tTextAddr + tTextOff }

// dataOff is the file offset of data address a in the synthetic objects.
func dataOff(a uint64) uint64 { return a - tDataAddr + tDataOff }

func TestSitesLayouts(t *testing.T) {
	type layout struct {
		name    string
		class   elf.Class
		order   tOrder
		machine elf.Machine
		args    string
		kinds   []ArgKind
	}
	layouts := []layout{
		{"64le-x86", elf.ELFCLASS64, binary.LittleEndian, elf.EM_X86_64, "-4@%eax 8@glob+4(%rip) 1@$3", []ArgKind{ArgReg, ArgRIP, ArgConst}},
		{"32le-i386", elf.ELFCLASS32, binary.LittleEndian, elf.EM_386, "-4@%eax 4@glob+4 1@$3", []ArgKind{ArgReg, ArgRIP, ArgConst}},
		{"64be-arm64", elf.ELFCLASS64, binary.BigEndian, elf.EM_AARCH64, "-4@w0 8@[sp, 16] 1@3", []ArgKind{ArgReg, ArgMem, ArgConst}},
		{"32be-ppc", elf.ELFCLASS32, binary.BigEndian, elf.EM_PPC, "4@%r3", []ArgKind{ArgUnsupported}},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			e := &tELF{class: l.class, order: l.order, machine: l.machine, typ: elf.ET_EXEC,
				syms: []tSym{{"glob", tGlobAddr}},
				notes: []tNote{
					stdNote(tTextAddr+0x10, 0, "prov", "plain", ""),
					stdNote(tTextAddr+0x20, tDataAddr+2, "prov", "guarded", l.args),
				}}
			sites, err := Sites(e.open(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sites) != 2 {
				t.Fatalf("%d sites, want 2", len(sites))
			}
			p, g := sites[0], sites[1]
			want := Site{Provider: "prov", Name: "plain", Addr: tTextAddr + 0x10, FileOffset: tTextOff + 0x10, Base: tBaseAddr}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("plain site\n got %+v\nwant %+v", p, want)
			}
			if g.Err != nil || g.Name != "guarded" || g.Addr != tTextAddr+0x20 || g.FileOffset != tTextOff+0x20 ||
				g.Semaphore != tDataAddr+2 || g.SemaphoreOffset != tDataOff+2 || g.ArgsRaw != l.args {
				t.Errorf("guarded site %+v", g)
			}
			var kinds []ArgKind
			for _, a := range g.Args {
				kinds = append(kinds, a.Kind)
			}
			if !reflect.DeepEqual(kinds, l.kinds) {
				t.Errorf("kinds %v, want %v", kinds, l.kinds)
			}
			if len(l.kinds) > 1 && l.kinds[1] == ArgRIP {
				if a := g.Args[1]; !a.Resolved || a.SymbolAddr != tGlobAddr+4 || a.Err != nil {
					t.Errorf("RIP arg %+v, want resolved to %#x", a, tGlobAddr+4)
				}
			}
		})
	}
}

func TestSitesLookup(t *testing.T) {
	e := stdELF(stdNote(tTextAddr, 0, "p", "n", "8@glob(%rip) 8@other-8(%rip) 8@dup(%rip) -4@arr(,%rax,4)"))
	e.syms = []tSym{{"glob", tGlobAddr}, {"dup", tDataAddr}, {"dup", tDataAddr + 8}, {"dup", tDataAddr}}
	f := e.open(t)

	// The object's own symbols.
	sites, err := Sites(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := sites[0].Args
	if !a[0].Resolved || a[0].SymbolAddr != tGlobAddr {
		t.Errorf("glob: %+v", a[0])
	}
	if a[1].Resolved || !errors.Is(a[1].Err, ErrUnresolved) {
		t.Errorf("other: %+v", a[1])
	}
	if a[2].Resolved || !errors.Is(a[2].Err, ErrUnresolved) || !bytes.Contains([]byte(a[2].Err.Error()), []byte("more than once")) {
		t.Errorf("dup: %+v", a[2])
	}
	if a[3].Resolved || a[3].Kind != ArgMemIndex {
		t.Errorf("arr: %+v", a[3])
	}

	// A caller's lookup replaces them.
	var asked []string
	sites, err = Sites(f, func(name string) (uint64, bool) {
		asked = append(asked, name)
		return map[string]uint64{"other": 0x5000, "arr": 0x6000}[name], name == "other" || name == "arr"
	})
	if err != nil {
		t.Fatal(err)
	}
	a = sites[0].Args
	if a[0].Resolved || !a[1].Resolved || a[1].SymbolAddr != 0x5000-8 || a[2].Resolved || !a[3].Resolved || a[3].SymbolAddr != 0x6000 {
		t.Errorf("with lookup: %v", a)
	}
	if want := []string{"glob", "other", "dup", "arr"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("looked up %q, want %q", asked, want)
	}
}

func TestSitesPrelink(t *testing.T) {
	const delta = 0x1000
	tests := []struct {
		name               string
		noBase             bool
		baseAddr, noteBase uint64
		wantShift          uint64
	}{
		{"unmoved", false, tBaseAddr, tBaseAddr, 0},
		{"prelinked", false, tBaseAddr, tBaseAddr - delta, delta},
		{"prelinked-back", false, tBaseAddr, tBaseAddr + delta, 1<<64 - delta},
		{"note-base-zero", false, tBaseAddr, 0, 0},
		{"no-base-section", true, 0, tBaseAddr - delta, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, sem := tTextAddr+0x40-tt.wantShift, tDataAddr+4-tt.wantShift
			e := stdELF(tNote{pc: pc, base: tt.noteBase, sem: sem, provider: "p", name: "n"})
			e.noBase, e.baseAddr = tt.noBase, tt.baseAddr
			sites, err := Sites(e.open(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			s := sites[0]
			if s.Err != nil || s.Addr != tTextAddr+0x40 || s.Semaphore != tDataAddr+4 || s.Base != tt.noteBase ||
				s.FileOffset != textOff(tTextAddr+0x40) || s.SemaphoreOffset != dataOff(tDataAddr+4) {
				t.Errorf("site %+v", s)
			}
		})
	}
}

func TestSitesErrors(t *testing.T) {
	le := binary.LittleEndian
	desc := func(pc uint64, strs string) []byte {
		b := le.AppendUint64(nil, pc)
		b = le.AppendUint64(b, tBaseAddr)
		b = le.AppendUint64(b, 0)
		return append(b, strs...)
	}
	e := &tELF{}
	*e = *stdELF()
	tests := []struct {
		name string
		note tNote
		err  error
	}{
		{"short-desc", tNote{raw: e.record("stapsdt", 3, make([]byte, 26))}, ErrMalformedNote},
		{"no-nul", tNote{raw: e.record("stapsdt", 3, desc(tTextAddr, "p\x00n\x00args"))}, ErrMalformedNote},
		{"no-nul-name", tNote{raw: e.record("stapsdt", 3, desc(tTextAddr, "p\x00nam"))}, ErrMalformedNote},
		{"empty-name", stdNote(tTextAddr, 0, "p", "", ""), ErrMalformedNote},
		{"pc-in-data", stdNote(tDataAddr, 0, "p", "n", ""), ErrNotMapped},
		{"pc-unmapped", stdNote(0, 0, "p", "n", ""), ErrNotMapped},
		{"pc-not-in-text-section", stdNote(tBaseAddr, 0, "p", "n", ""), ErrNotMapped},
		{"sem-in-text", stdNote(tTextAddr, tTextAddr+2, "p", "n", ""), ErrNotMapped},
		{"sem-past-end", stdNote(tTextAddr, tDataAddr+tDataSize-1, "p", "n", ""), ErrNotMapped},
		{"sem-unmapped", stdNote(tTextAddr, 0x10, "p", "n", ""), ErrNotMapped},
		{"sem-odd", stdNote(tTextAddr, tDataAddr+3, "p", "n", ""), ErrNotMapped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A good site on either side must survive.
			e := stdELF(stdNote(tTextAddr+1, 0, "p", "before", "8@%rdi"), tt.note, stdNote(tTextAddr+2, tDataAddr, "p", "after", ""))
			sites, err := Sites(e.open(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sites) != 3 {
				t.Fatalf("%d sites, want 3", len(sites))
			}
			if sites[0].Err != nil || sites[0].Name != "before" || sites[2].Err != nil || sites[2].Name != "after" {
				t.Errorf("neighbours hurt: %+v %+v", sites[0], sites[2])
			}
			if !errors.Is(sites[1].Err, tt.err) {
				t.Errorf("Err = %v, want %v", sites[1].Err, tt.err)
			}
		})
	}
}

func TestSitesNoProgs(t *testing.T) {
	e := stdELF(stdNote(tTextAddr, 0, "p", "n", ""))
	e.typ, e.noProgs = elf.ET_REL, true
	sites, err := Sites(e.open(t), nil)
	if err != nil || len(sites) != 1 || !errors.Is(sites[0].Err, ErrNotMapped) {
		t.Fatalf("sites %+v, err %v", sites, err)
	}
}

func TestSitesDamagedSection(t *testing.T) {
	e := stdELF(stdNote(tTextAddr, 0, "p", "n", ""))
	other := e.record("GNU", 3, []byte{1, 2, 3, 4}) // a foreign note is skipped
	e.notes = append([]tNote{{raw: other}}, e.notes...)
	for _, tail := range [][]byte{
		{1, 2, 3},                           // stray bytes
		le32(8, 0x1000, 3),                  // descriptor past the end
		le32(0xfffffff0, 0xfffffff0, 3),     // sizes that overflow 32 bits
		le32(0, 0xffffffff, 3, 0, 0, 0),     // descsz past the end
		append(le32(8, 0, 3), "stapsdt"...), // name past the end
	} {
		e.noteTail = tail
		sites, err := Sites(e.open(t), nil)
		if !errors.Is(err, ErrMalformedNote) {
			t.Errorf("tail %x: err %v, want ErrMalformedNote", tail, err)
		}
		if len(sites) != 1 || sites[0].Err != nil {
			t.Errorf("tail %x: sites %+v, want the one good site", tail, sites)
		}
	}
	if _, err := Sites(nil, nil); err == nil {
		t.Error("Sites(nil) succeeded")
	}
}

func le32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func TestSitesNoNotes(t *testing.T) {
	sites, err := Sites(stdELF().open(t), nil)
	if err != nil || len(sites) != 0 {
		t.Fatalf("sites %v, err %v", sites, err)
	}
}

func TestProbes(t *testing.T) {
	sites := []Site{
		{Provider: "b", Name: "x", Addr: 30, FileOffset: 3, SemaphoreOffset: 100},
		{Provider: "a", Name: "y", Addr: 20, FileOffset: 2},
		{Provider: "b", Name: "x", Addr: 10, FileOffset: 1, SemaphoreOffset: 102},
		{Provider: "a", Name: "x", Addr: 40, FileOffset: 4},
		{Provider: "b", Name: "x", Addr: 5, Err: ErrNotMapped},
	}
	probes := Probes(sites)
	var got []string
	for _, p := range probes {
		s := p.Provider + ":" + p.Name
		for _, site := range p.Sites {
			s += " " + string(rune('0'+site.Addr/5))
		}
		got = append(got, s)
	}
	if want := []string{"a:x 8", "a:y 4", "b:x 1 2 6"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Probes = %q, want %q", got, want)
	}
	addrs, refs := probes[2].Offsets()
	if !reflect.DeepEqual(addrs, []uint64{1, 3}) || !reflect.DeepEqual(refs, []uint64{102, 100}) {
		t.Errorf("Offsets = %v %v", addrs, refs)
	}
	if sites[0].Addr != 30 {
		t.Error("Probes reordered its input")
	}
	if Probes(nil) != nil {
		t.Error("Probes(nil) != nil")
	}
}
