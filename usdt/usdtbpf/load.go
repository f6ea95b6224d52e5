package usdtbpf

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
)

// LoadCollectionSpec reads a BPF object compiled from C with libbpf's
// usdt.bpf.h and returns its spec, [Prepare]d for [Attach]. usdt.bpf.h
// declares its maps and functions __weak, which cilium/ebpf refuses
// ("unsupported binding: STB_WEAK") or leaves out ("unsatisfied program
// reference"); in a single object a weak definition is the definition, so
// the copy read here binds every defined weak symbol globally. The file is
// not changed.
func LoadCollectionSpec(path string) (*ebpf.CollectionSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("usdtbpf: %w", err)
	}
	hidden, err := bindMapsGlobal(b)
	if err != nil {
		return nil, fmt.Errorf("usdtbpf: %s: %w", path, err)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("usdtbpf: %s: %w", path, err)
	}
	staticFuncs(spec, hidden)
	return spec, Prepare(spec, false)
}

// bindMapsGlobal rewrites, in the ELF image b, the binding of every weak
// symbol the object defines to global, and returns the names of its hidden
// functions.
func bindMapsGlobal(b []byte) (map[string]bool, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("not a 64-bit BPF object")
	}
	syms := f.Section(".symtab")
	if syms == nil || syms.Link >= uint32(len(f.Sections)) {
		return nil, nil
	}
	strs, err := f.Sections[syms.Link].Data()
	if err != nil {
		return nil, err
	}
	const symSize = 24 // Elf64_Sym
	if syms.Offset > uint64(len(b)) || syms.Size > uint64(len(b))-syms.Offset {
		return nil, fmt.Errorf(".symtab outside the file")
	}
	tab := b[syms.Offset : syms.Offset+syms.Size]
	hidden := map[string]bool{}
	for off := 0; off+symSize <= len(tab); off += symSize {
		name := f.ByteOrder.Uint32(tab[off:])
		info, other := tab[off+4], tab[off+5]
		shndx := elf.SectionIndex(f.ByteOrder.Uint16(tab[off+6:]))
		if shndx == elf.SHN_UNDEF || int(name) >= len(strs) {
			continue
		}
		if elf.ST_TYPE(info) == elf.STT_FUNC && elf.ST_VISIBILITY(other) == elf.STV_HIDDEN {
			n := strs[name:]
			if i := bytes.IndexByte(n, 0); i >= 0 {
				hidden[string(n[:i])] = true
			}
		}
		if elf.ST_BIND(info) == elf.STB_WEAK {
			tab[off+4] = elf.ST_INFO(elf.STB_GLOBAL, elf.ST_TYPE(info))
		}
	}
	return hidden, nil
}
