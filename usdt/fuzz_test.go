package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"testing"
)

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"", ":", "8@%rbx 8@%r15", "-4@112(%rsp)", "-4@40+CheckpointStats(%rip) -4@NBuffers(%rip)",
		"8@24+mp_(%rip)", "1@-96(%rbp,%rax,8)", "-4@arr_global(,%rsi,4)", "8@$18446744073709551614",
		"8f@%xmm0 -4f@-20(%rbp)", "%rdi %esi", "1@%ah", "8@%fs:40", "4@glob-2(%rip)", "8@(%rax,",
		"-4@[sp, 96] 8@[x0] -1@[x0, x1] 8@[x0, x1, lsl 3] -4@w4 8@-5 8@xzr",
		"8@) ( [ ] 8@@", "-@", "8f@", "99@%rax", "8@99999999999999999999(%rax)",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, spec string, arm bool) {
		m := elf.EM_X86_64
		if arm {
			m = elf.EM_AARCH64
		}
		args := ParseArgs(spec, m)
		if n := len(splitArgs(spec)); len(args) != n {
			t.Fatalf("%d args from %d words", len(args), n)
		}
		for _, a := range args {
			_ = a.String()
			if a.Raw == "" {
				t.Fatalf("empty Raw in %q", spec)
			}
			if a.Err != nil {
				if !errors.Is(a.Err, ErrSyntax) && !errors.Is(a.Err, ErrUnsupported) {
					t.Fatalf("%q: error %v wraps no sentinel", a.Raw, a.Err)
				}
				continue
			}
			switch a.Size {
			case 1, 2, 4, 8:
			default:
				t.Fatalf("%q: size %d without error", a.Raw, a.Size)
			}
			if a.Kind == ArgUnsupported {
				t.Fatalf("%q: unsupported kind without error", a.Raw)
			}
			if a.Kind == ArgMemIndex && a.Scale != 1 && a.Scale != 2 && a.Scale != 4 && a.Scale != 8 {
				t.Fatalf("%q: scale %d", a.Raw, a.Scale)
			}
		}
	})
}

// fuzzSeeds are synthetic objects covering both classes and byte orders,
// prelink, semaphores and every argument form.
func fuzzSeeds() [][]byte {
	notes := []tNote{
		stdNote(tTextAddr+4, 0, "prov", "a", "-4@%eax 8@glob+4(%rip) 1@$3 -4@arr(,%rax,4)"),
		stdNote(tTextAddr+8, tDataAddr+2, "prov", "b", "8@(%rsp) -1@-96(%rbp,%rax,8)"),
		{pc: tTextAddr + 12 - 0x100, base: tBaseAddr - 0x100, sem: tDataAddr + 4 - 0x100, provider: "p2", name: "prelinked", args: "-4@[sp, 96] 8@x0"},
	}
	var seeds [][]byte
	for _, e := range []*tELF{
		{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64, typ: elf.ET_EXEC},
		{class: elf.ELFCLASS32, order: binary.LittleEndian, machine: elf.EM_386, typ: elf.ET_DYN},
		{class: elf.ELFCLASS64, order: binary.BigEndian, machine: elf.EM_AARCH64, typ: elf.ET_DYN},
		{class: elf.ELFCLASS32, order: binary.BigEndian, machine: elf.EM_PPC, typ: elf.ET_EXEC},
	} {
		e.notes = notes
		e.syms = []tSym{{"glob", tGlobAddr}, {"arr", tDataAddr}}
		seeds = append(seeds, e.bytes())
	}
	return seeds
}

func FuzzSites(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		sites, _ := Sites(ef, nil)
		for _, s := range sites {
			for _, a := range s.Args {
				_ = a.String()
			}
			if s.Err == nil && s.Name == "" {
				t.Fatalf("site without name or error: %+v", s)
			}
		}
		for _, p := range Probes(sites) {
			p.Offsets()
		}
		// A caller's lookup takes the same paths.
		_, _ = Sites(ef, func(string) (uint64, bool) { return 1, true })
	})
}

// TestFuzzSeedsDecode keeps the fuzz seeds meaningful: each decodes fully.
func TestFuzzSeedsDecode(t *testing.T) {
	for i, s := range fuzzSeeds() {
		ef, err := elf.NewFile(bytes.NewReader(s))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		sites, err := Sites(ef, nil)
		if err != nil || len(sites) != 3 {
			t.Fatalf("seed %d: %d sites, %v", i, len(sites), err)
		}
		for _, site := range sites {
			if site.Err != nil {
				t.Errorf("seed %d: %s: %v", i, site.Name, site.Err)
			}
		}
	}
}
