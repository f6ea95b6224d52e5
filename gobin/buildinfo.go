package gobin

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
)

// buildInfoMagic starts the Go linker's build information blob.
var buildInfoMagic = []byte("\xff Go buildinf:")

// maxBuildInfoString bounds the strings read from a build information blob.
const maxBuildInfoString = 1 << 20

// scanBuildInfo finds and decodes the build information blob in the
// writable loadable segments. debug/buildinfo looks only at the
// .go.buildinfo section, or, without section headers, at the first writable
// segment, which in a PIE is the relocated read-only data instead.
func scanBuildInfo(m *image) (*debug.BuildInfo, error) {
	for _, p := range m.loads {
		if p.Flags&elf.PF_W == 0 || p.Filesz == 0 {
			continue
		}
		seg, err := m.readFile(p.Vaddr, int(min(p.Filesz, maxScan)))
		if err != nil {
			continue
		}
		for i := 0; i < len(seg); {
			j := bytes.Index(seg[i:], buildInfoMagic)
			if j < 0 {
				break
			}
			i += j
			if (p.Vaddr+uint64(i))%16 == 0 {
				if bi, err := decodeBuildInfo(m, p.Vaddr+uint64(i), seg[i:]); err == nil {
					return bi, nil
				}
			}
			i++
		}
	}
	return nil, errors.New("no Go build information in the writable segments")
}

// decodeBuildInfo decodes the blob at the start of data (link-time address
// addr): a 32-byte header (magic, pointer size, flags), then either the Go
// version and module information inline as length-prefixed strings (Go
// 1.18+) or pointers to Go string headers.
func decodeBuildInfo(m *image, addr uint64, data []byte) (*debug.BuildInfo, error) {
	if len(data) < 32 {
		return nil, errors.New("build information truncated")
	}
	ptrSize := int(data[14])
	flags := data[15]
	var vers, mod string
	if flags&2 != 0 {
		rest := data[32:]
		for _, dst := range []*string{&vers, &mod} {
			n, k := binary.Uvarint(rest)
			if k <= 0 || n > maxBuildInfoString || n > uint64(len(rest)-k) {
				return nil, errors.New("bad inline string in build information")
			}
			*dst = string(rest[k : k+int(n)])
			rest = rest[k+int(n):]
		}
	} else {
		if ptrSize != m.ptrSize {
			return nil, fmt.Errorf("build information: pointer size %d", ptrSize)
		}
		for i, dst := range []*string{&vers, &mod} {
			hdr, err := m.ptr(addr + 16 + uint64(i*ptrSize))
			if err != nil {
				return nil, err
			}
			ptr, err := m.ptr(hdr)
			if err != nil {
				return nil, err
			}
			lb, err := m.read(hdr+uint64(ptrSize), ptrSize)
			if err != nil {
				return nil, err
			}
			n := m.word(lb)
			if n > maxBuildInfoString {
				return nil, errors.New("build information string too long")
			}
			if n > 0 {
				s, err := m.read(ptr, int(n))
				if err != nil {
					return nil, err
				}
				*dst = string(s)
			}
		}
	}
	if vers == "" {
		return nil, errors.New("build information without a Go version")
	}
	if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
		mod = mod[16 : len(mod)-16] // sentinels around the module information
	} else {
		mod = ""
	}
	bi, err := debug.ParseBuildInfo(mod)
	if err != nil {
		return nil, fmt.Errorf("build information: %w", err)
	}
	bi.GoVersion = vers
	return bi, nil
}
