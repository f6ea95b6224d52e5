package usdt

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// systemObjects are installed objects with USDT notes (libc has them on
// Ubuntu and Fedora, not on Debian 12, where the test still checks that
// both sides agree on none).
var systemObjects = []string{
	"/usr/bin/python3.11",
	"/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so",
	"/usr/lib/postgresql/15/bin/postgres",
	"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
	"/usr/lib/x86_64-linux-gnu/libc.so.6",
}

// readelfNote is one stapsdt note as readelf -n prints it.
type readelfNote struct {
	provider, name      string
	location, base, sem uint64
	args                string
}

// readelfNotes runs readelf -n and collects its stapsdt notes in order.
func readelfNotes(t *testing.T, readelf, path string) []readelfNote {
	t.Helper()
	cmd := exec.Command(readelf, "-n", "-W", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("readelf -n %s: %v", path, err)
	}
	var notes []readelfNote
	var cur *readelfNote
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, _ := strings.Cut(line, ": ")
		switch {
		case strings.HasPrefix(line, "stapsdt ") && strings.Contains(line, "NT_STAPSDT"):
			notes = append(notes, readelfNote{})
			cur = &notes[len(notes)-1]
			// With -W, the provider shares the note's header line.
			if _, p, ok := strings.Cut(line, "Provider: "); ok {
				cur.provider = strings.TrimSpace(p)
			}
		case cur == nil:
		case key == "Provider":
			cur.provider = val
		case key == "Name":
			cur.name = val
		case strings.HasPrefix(line, "Location:"):
			for _, f := range strings.Split(line, ", ") {
				k, v, _ := strings.Cut(f, ": ")
				n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
				if err != nil {
					t.Fatalf("readelf line %q: %v", line, err)
				}
				switch k {
				case "Location":
					cur.location = n
				case "Base":
					cur.base = n
				case "Semaphore":
					cur.sem = n
				}
			}
		case strings.HasPrefix(line, "Arguments:"):
			cur.args = strings.TrimSpace(strings.TrimPrefix(line, "Arguments:"))
			cur = nil
		}
	}
	return notes
}

// compareWithReadelf checks every site of path against readelf: probe
// names, addresses, bases, semaphores and raw arguments, in order.
func compareWithReadelf(t *testing.T, readelf, path string) []Site {
	t.Helper()
	want := readelfNotes(t, readelf, path)
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sites, err := Sites(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != len(want) {
		t.Fatalf("%s: %d sites, readelf shows %d", path, len(sites), len(want))
	}
	var baseAddr uint64
	if s := f.Section(".stapsdt.base"); s != nil {
		baseAddr = s.Addr
	}
	for i, s := range sites {
		w := want[i]
		addr, sem := w.location, w.sem
		if baseAddr != 0 && w.base != 0 {
			addr += baseAddr - w.base
			if sem != 0 {
				sem += baseAddr - w.base
			}
		}
		if s.Provider != w.provider || s.Name != w.name || s.Addr != addr || s.Base != w.base ||
			s.Semaphore != sem || strings.TrimSpace(s.ArgsRaw) != w.args {
			t.Errorf("%s note %d:\n got %s:%s addr %#x base %#x sem %#x args %q\nwant %+v",
				path, i, s.Provider, s.Name, s.Addr, s.Base, s.Semaphore, s.ArgsRaw, w)
		}
	}
	return sites
}

// checkFileBytes checks offsets by what the file holds there: a NOP at each
// probe, a zero 2-byte counter at each semaphore, which must also match the
// .probes section's own address-to-offset mapping.
func checkFileBytes(t *testing.T, path string, sites []Site) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	probes := f.Section(".probes")
	for _, s := range sites {
		if s.Err != nil {
			t.Errorf("%s %s:%s at %#x: %v", path, s.Provider, s.Name, s.Addr, s.Err)
			continue
		}
		nop := map[elf.Machine][]byte{
			elf.EM_X86_64:  {0x90},
			elf.EM_AARCH64: {0x1f, 0x20, 0x03, 0xd5},
		}[f.Machine]
		if s.FileOffset > uint64(len(data)-len(nop)) || !bytes.Equal(data[s.FileOffset:s.FileOffset+uint64(len(nop))], nop) {
			t.Errorf("%s %s:%s: no NOP at file offset %#x", path, s.Provider, s.Name, s.FileOffset)
		}
		if s.Semaphore == 0 {
			if s.SemaphoreOffset != 0 {
				t.Errorf("%s %s:%s: semaphore offset %#x without semaphore", path, s.Provider, s.Name, s.SemaphoreOffset)
			}
			continue
		}
		if o := s.SemaphoreOffset; o+2 > uint64(len(data)) || data[o] != 0 || data[o+1] != 0 || o%2 != 0 {
			t.Errorf("%s %s:%s: no zero counter at semaphore offset %#x", path, s.Provider, s.Name, o)
		}
		if probes != nil && s.Semaphore >= probes.Addr && s.Semaphore < probes.Addr+probes.Size {
			if want := s.Semaphore - probes.Addr + probes.Offset; s.SemaphoreOffset != want {
				t.Errorf("%s %s:%s: semaphore offset %#x, .probes says %#x", path, s.Provider, s.Name, s.SemaphoreOffset, want)
			}
		}
	}
}

// checkArgs requires every argument of real notes to follow the grammar.
func checkArgs(t *testing.T, path string, sites []Site) {
	t.Helper()
	n, unresolved, unsupported := 0, 0, 0
	for _, s := range sites {
		if got := len(s.Args); got != len(strings.Fields(s.ArgsRaw)) {
			t.Errorf("%s %s:%s: %d args from %q", path, s.Provider, s.Name, got, s.ArgsRaw)
		}
		for _, a := range s.Args {
			n++
			switch {
			case a.Err == nil:
			case errors.Is(a.Err, ErrUnresolved):
				unresolved++
			case errors.Is(a.Err, ErrUnsupported):
				unsupported++
			default:
				t.Errorf("%s %s:%s: %v", path, s.Provider, s.Name, a)
			}
		}
	}
	t.Logf("%s: %d sites, %d probes, %d args (%d unresolved, %d unsupported)",
		filepath.Base(path), len(sites), len(Probes(sites)), n, unresolved, unsupported)
}

func TestSystemObjectsMatchReadelf(t *testing.T) {
	readelf := testutil.RequireTool(t, "readelf")
	for _, path := range systemObjects {
		t.Run(filepath.Base(path), func(t *testing.T) {
			testutil.RequireFile(t, path)
			sites := compareWithReadelf(t, readelf, path)
			checkFileBytes(t, path, sites)
			checkSymbols(t, readelf, path, sites)
			checkArgs(t, path, sites)
		})
	}
}

// TestSyntheticMatchReadelf cross-checks the synthetic objects of the unit
// tests (32/64-bit, both byte orders, prelinked) against readelf, which
// keeps the test builder honest.
func TestSyntheticMatchReadelf(t *testing.T) {
	readelf := testutil.RequireTool(t, "readelf")
	notes := []tNote{
		stdNote(tTextAddr+4, 0, "prov", "a", "-4@%eax"),
		stdNote(tTextAddr+8, tDataAddr+2, "prov", "b", ""),
		{pc: tTextAddr + 12 - 0x100, base: tBaseAddr - 0x100, sem: tDataAddr + 4 - 0x100, provider: "p2", name: "prelinked", args: "8@(%rsp) 1@$3"},
	}
	for _, e := range []*tELF{
		{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64, typ: elf.ET_EXEC},
		{class: elf.ELFCLASS32, order: binary.LittleEndian, machine: elf.EM_386, typ: elf.ET_DYN},
		{class: elf.ELFCLASS64, order: binary.BigEndian, machine: elf.EM_AARCH64, typ: elf.ET_EXEC},
		{class: elf.ELFCLASS32, order: binary.BigEndian, machine: elf.EM_PPC, typ: elf.ET_EXEC},
	} {
		e.notes = notes
		name := fmt.Sprintf("%v-%v", e.class, e.order)
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "obj")
			if err := os.WriteFile(path, e.bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			sites := compareWithReadelf(t, readelf, path)
			if s := sites[2]; s.Addr != tTextAddr+12 || s.Semaphore != tDataAddr+4 {
				t.Errorf("prelinked site %+v", s)
			}
		})
	}
}

// BenchmarkSites measures decoding every site of the largest object at hand
// (libjvm.so: about 500 sites).
func BenchmarkSites(b *testing.B) {
	const path = "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"
	testutil.RequireFile(b, path)
	for b.Loop() {
		if _, err := ReadSites(path); err != nil {
			b.Fatal(err)
		}
	}
}
