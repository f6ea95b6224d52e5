package elfx

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// ntGNUBuildID is the note type of a GNU build-id.
const ntGNUBuildID = 3

// eachNote calls fn for every note in b (the contents of a SHT_NOTE section
// or PT_NOTE segment). Malformed trailing data ends the walk.
func eachNote(b []byte, order binary.ByteOrder, fn func(name string, typ uint32, desc []byte) bool) {
	for len(b) >= 12 {
		namesz := uint64(order.Uint32(b[0:]))
		descsz := uint64(order.Uint32(b[4:]))
		typ := order.Uint32(b[8:])
		b = b[12:]
		nameEnd := align4(namesz)
		if nameEnd > uint64(len(b)) {
			return
		}
		name := b[:namesz]
		name = bytes.TrimRight(name, "\x00")
		b = b[nameEnd:]
		descEnd := align4(descsz)
		if descsz > uint64(len(b)) {
			return
		}
		desc := b[:descsz]
		if !fn(string(name), typ, desc) {
			return
		}
		if descEnd > uint64(len(b)) {
			return
		}
		b = b[descEnd:]
	}
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// BuildID returns the GNU build-id as lowercase hex, or "" if the object has
// none. It looks in SHT_NOTE sections and then in PT_NOTE segments.
func (f *File) BuildID() string {
	var id string
	find := func(b []byte) {
		eachNote(b, f.order, func(name string, typ uint32, desc []byte) bool {
			if name == "GNU" && typ == ntGNUBuildID && len(desc) > 0 {
				id = hex.EncodeToString(desc)
				return false
			}
			return true
		})
	}
	_ = f.withFaults(func() error {
		for _, s := range f.ef.Sections {
			if s.Type != elf.SHT_NOTE {
				continue
			}
			if b, err := f.sectionBytes(s); err == nil {
				find(b)
			}
			if id != "" {
				return nil
			}
		}
		for _, p := range f.ef.Progs {
			if p.Type != elf.PT_NOTE {
				continue
			}
			end := p.Off + p.Filesz
			if end < p.Off || end > uint64(len(f.data)) {
				continue
			}
			find(f.data[p.Off:end])
			if id != "" {
				return nil
			}
		}
		return nil
	})
	return id
}

// DebugLink returns the file name and CRC32 recorded in .gnu_debuglink.
func (f *File) DebugLink() (name string, crc uint32, ok bool) {
	b, err := f.SectionData(".gnu_debuglink")
	if err != nil || len(b) == 0 {
		return "", 0, false
	}
	i := bytes.IndexByte(b, 0)
	if i <= 0 {
		return "", 0, false
	}
	name = string(b[:i])
	at := align4(uint64(i + 1))
	if at+4 > uint64(len(b)) {
		return "", 0, false
	}
	if name != filepath.Base(name) || name == "." || name == ".." {
		return "", 0, false // a link names a file, never a path
	}
	return name, f.order.Uint32(b[at:]), true
}

// DebugFile returns the separate debug file of a stripped object, found by
// build-id under the debug root (.build-id/xx/yyyy.debug) or by
// .gnu_debuglink (next to the object, in its .debug subdirectory, or under
// the debug root mirroring its directory). A candidate is accepted only when
// its build-id or CRC matches. It returns nil when there is none; the file is
// closed with f.
func (f *File) DebugFile() *File {
	f.debugOnce.Do(func() {
		if f.cfg.noDebug {
			return
		}
		f.debugFile, f.debugPath = f.findDebugFile()
	})
	return f.debugFile
}

// DebugFilePath returns the path of the separate debug file, or "".
func (f *File) DebugFilePath() string {
	if f.DebugFile() == nil {
		return ""
	}
	return f.debugPath
}

func (f *File) findDebugFile() (*File, string) {
	root := f.cfg.debugRoot
	if id := f.BuildID(); len(id) > 2 && root != "" {
		p := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
		if d, err := Open(p, WithoutDebugFile()); err == nil {
			if d.BuildID() == id && d.ef.SectionByType(elf.SHT_SYMTAB) != nil {
				return d, p
			}
			d.Close()
		}
	}
	name, crc, ok := f.DebugLink()
	if !ok || f.path == "" {
		return nil, ""
	}
	dir := filepath.Dir(f.path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	cands := []string{filepath.Join(dir, name), filepath.Join(dir, ".debug", name)}
	if root != "" {
		cands = append(cands, filepath.Join(root, dir, name))
	}
	self, _ := os.Stat(f.path)
	for _, p := range cands {
		st, err := os.Stat(p)
		if err != nil || (self != nil && os.SameFile(st, self)) {
			continue
		}
		if c, err := fileCRC(p); err != nil || c != crc {
			continue
		}
		d, err := Open(p, WithoutDebugFile())
		if err != nil {
			continue
		}
		if d.ef.SectionByType(elf.SHT_SYMTAB) == nil {
			d.Close()
			continue
		}
		return d, p
	}
	return nil, ""
}

// fileCRC computes the CRC-32 (IEEE) that .gnu_debuglink records.
func fileCRC(path string) (uint32, error) {
	fd, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fd.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, fd); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}
