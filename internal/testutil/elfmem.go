package testutil

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
)

// SymbolValue returns the value (link-time address) of the symbol name in
// the .symtab of the ELF file at path, failing the test when it is absent.
func SymbolValue(t testing.TB, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0
}

// ReadUint16 reads 2 bytes at addr of process pid through /proc/PID/mem, as
// a tracer without the kernel's ref_ctr would read a USDT semaphore.
func ReadUint16(t testing.TB, pid int, addr uint64) uint16 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [2]byte
	if _, err := f.ReadAt(b[:], int64(addr)); err != nil {
		t.Fatalf("read 2 bytes of process %d at %#x: %v", pid, addr, err)
	}
	return binary.LittleEndian.Uint16(b[:])
}
