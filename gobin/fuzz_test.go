package gobin

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"
)

// FuzzOpen opens mutated Go binaries and runs every inspection on them:
// none may panic. Seeds: the test program built without DWARF compression
// (so that mutations reach the debug information), stripped, and
// truncated.
func FuzzOpen(f *testing.F) {
	for _, variant := range []string{"nocompress", "stripped"} {
		data, err := os.ReadFile(testBinary(f, variant))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
		f.Add(data[:4096])
	}
	if data, err := os.ReadFile(stripSectionHeaders(f, testBinary(f, "stripped"))); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		b, err := Open(ef)
		if err != nil {
			return
		}
		inspect(b)
	})
}

// inspect exercises a Binary's methods.
func inspect(b *Binary) {
	b.GoidOffset()
	b.GoidSources()
	b.GRegister()
	b.HasDWARF()
	// Type names: the types section's start and some words into it, as
	// descriptors and as itabs.
	b.TypeName(0) // finds the section
	for a := b.rtypes.lo; a < b.rtypes.hi && a < b.rtypes.lo+4096; a += 8 {
		b.TypeName(a)
		b.InterfaceTypeName(a, false)
	}
	for _, name := range b.InlinedNames() {
		b.InlinedCopies(name)
	}
	fs, err := b.Functions()
	if err != nil {
		return
	}
	for i, fn := range fs {
		if i%50 != 0 && !(len(fn.Name) > 5 && fn.Name[:5] == "main.") {
			continue
		}
		b.FuncByName(fn.Name)
		b.FuncAt(fn.Entry)
		b.FileOffset(fn.Entry)
		b.SPDeltas(fn)
		b.SavesFramePointer(fn)
		if code, err := b.Code(fn); err == nil {
			PrologueEndAMD64(code, fn.Entry)
			RetSitesAMD64(code, fn.Entry)
			JumpsOutAMD64(code, fn.Entry)
		}
		if b.HasDWARF() {
			b.Params(fn.Name)
		}
	}
}

// FuzzX86 runs the instruction walkers on arbitrary code.
func FuzzX86(f *testing.F) {
	for _, seed := range [][]byte{
		{0x49, 0x3b, 0x66, 0x10, 0x76, 0x02, 0x55, 0xc3, 0xe8, 0, 0, 0, 0},
		{0x4c, 0x8d, 0x64, 0x24, 0xc0, 0x4d, 0x3b, 0x66, 0x10, 0x76, 0x01, 0x55, 0xcc},
		{0x49, 0x89, 0xe4, 0x49, 0x81, 0xec, 0x98, 0x26, 0, 0, 0x72, 0x5b, 0x4d, 0x3b, 0x66, 0x10, 0x76, 0x55, 0x55},
		{0xc5, 0xf8, 0x77, 0xc3, 0x62, 0xf1, 0x7d, 0x48, 0x6f, 0x47, 0x01, 0xc3},
		{0xeb, 0x00, 0xe9, 0x00, 0x10, 0x00, 0x00, 0xff, 0xe0},
		{0x67, 0xc4, 0xe3, 0x7d, 0x0f, 0xc1},
	} {
		f.Add(seed, uint64(0x401000))
	}
	f.Fuzz(func(t *testing.T, code []byte, entry uint64) {
		if addr, _, ok := PrologueEndAMD64(code, entry); ok && (addr <= entry || addr > entry+uint64(len(code))) {
			t.Errorf("PrologueEnd = %#x outside the code", addr)
		}
		sites, _ := RetSitesAMD64(code, entry)
		for _, s := range sites {
			if s-entry >= uint64(len(code)) {
				t.Errorf("RET site %#x outside the code", s)
			}
		}
		JumpsOutAMD64(code, entry)
		rps, _ := ReturnProbeSites(code, entry)
		for _, s := range rps {
			if s-entry >= uint64(len(code)) {
				t.Errorf("return probe site %#x outside the code", s)
			}
		}
		if n := vexLen(code); n > len(code) {
			t.Errorf("vexLen = %d > %d", n, len(code))
		}
	})
}
