package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// DefaultLDCachePath is where glibc's dynamic loader keeps its cache.
const DefaultLDCachePath = "/etc/ld.so.cache"

// Magic strings of the two ld.so.cache formats.
const (
	ldCacheMagicOld = "ld.so-1.7.0"
	ldCacheMagicNew = "glibc-ld.so.cache"
	ldCacheVersion  = "1.1"
)

// Entry flag bits (glibc's ldconfig.h).
const (
	ldFlagTypeMask     = 0x00ff
	ldFlagELFLibc6     = 0x0003
	ldFlagRequiredMask = 0xff00
)

// hwcapExtension marks an hwcap field that indexes a glibc-hwcaps
// subdirectory rather than holding hardware capability bits.
const hwcapExtension = 1 << 62

// LDCacheEntry is one library of /etc/ld.so.cache.
type LDCacheEntry struct {
	Name  string // soname, e.g. "libc.so.6"
	Path  string // e.g. "/lib/x86_64-linux-gnu/libc.so.6"
	Flags int32  // type and architecture bits
	HWCap uint64 // hardware capabilities (0 for the baseline entry)
}

// Arch returns the entry's kind the way `ldconfig -p` prints it, e.g.
// "libc6,x86-64".
func (e LDCacheEntry) Arch() string {
	var kind string
	switch e.Flags & ldFlagTypeMask {
	case 0:
		kind = "libc4"
	case 1:
		kind = "ELF"
	case 2:
		kind = "libc5"
	case ldFlagELFLibc6:
		kind = "libc6"
	default:
		kind = "unknown"
	}
	switch e.Flags & ldFlagRequiredMask {
	case 0:
		return kind
	case 0x0100:
		return kind + ",64bit"
	case 0x0300:
		return kind + ",x86-64"
	case 0x0400:
		return kind + ",IA-64"
	case 0x0500:
		return kind + ",64bit"
	case 0x0600:
		return kind + ",N32"
	case 0x0700:
		return kind + ",64bit"
	case 0x0800:
		return kind + ",x32"
	case 0x0900:
		return kind + ",hard-float"
	case 0x0a00:
		return kind + ",AArch64"
	case 0x0b00:
		return kind + ",soft-float"
	case 0x0c00:
		return kind + ",nan2008"
	case 0x0d00:
		return kind + ",N32,nan2008"
	case 0x0e00:
		return kind + ",64bit,nan2008"
	case 0x0f00:
		return kind + ",double-float"
	case 0x1000:
		return kind + ",double-float"
	case 0x1100:
		return kind + ",double-float"
	}
	return kind + fmt.Sprintf(",flags=0x%x", e.Flags&ldFlagRequiredMask)
}

// Native reports whether the entry is a library for this program's
// architecture (libc6,x86-64 on amd64).
func (e LDCacheEntry) Native() bool { return e.Flags == hostFlags() }

// hostFlags is the entry flag value of libraries for this program's
// architecture.
func hostFlags() int32 {
	switch runtime.GOARCH {
	case "amd64":
		return 0x0303
	case "arm64":
		return 0x0a03
	case "386", "arm":
		return ldFlagELFLibc6
	}
	return -1
}

// LDCache is a parsed /etc/ld.so.cache. Entries keep the file's order,
// which is the loader's order of preference.
type LDCache struct {
	Entries []LDCacheEntry
}

// ReadLDCache reads and parses an ld.so.cache file.
func ReadLDCache(path string) (*LDCache, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseLDCache(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// errLDCache reports a damaged cache.
var errLDCache = errors.New("damaged ld.so.cache")

// ParseLDCache parses the contents of an ld.so.cache file in glibc's new
// format ("glibc-ld.so.cache1.1"), the old format ("ld.so-1.7.0"), or the
// old format followed by the new one (then the new part is used).
func ParseLDCache(b []byte) (*LDCache, error) {
	switch {
	case strings.HasPrefix(string(b[:min(len(b), len(ldCacheMagicNew))]), ldCacheMagicNew):
		return parseNew(b)
	case strings.HasPrefix(string(b[:min(len(b), len(ldCacheMagicOld))]), ldCacheMagicOld):
		if len(b) < 16 {
			return nil, fmt.Errorf("%w: truncated header", errLDCache)
		}
		nlibs := uint64(binary.LittleEndian.Uint32(b[12:]))
		end := 16 + nlibs*12
		if end > uint64(len(b)) {
			return nil, fmt.Errorf("%w: %d entries do not fit in %d bytes", errLDCache, nlibs, len(b))
		}
		// A new-format cache may follow, 8-byte aligned.
		if nw := (end + 7) &^ 7; nw < uint64(len(b)) && strings.HasPrefix(string(b[nw:]), ldCacheMagicNew) {
			if c, err := parseNew(b[nw:]); err == nil {
				return c, nil
			}
		}
		return parseOld(b, int(nlibs))
	}
	return nil, fmt.Errorf("%w: unknown format (no %q or %q magic)", errLDCache, ldCacheMagicNew, ldCacheMagicOld)
}

func parseOld(b []byte, nlibs int) (*LDCache, error) {
	strs := b[16+nlibs*12:]
	c := &LDCache{Entries: make([]LDCacheEntry, 0, nlibs)}
	for i := 0; i < nlibs; i++ {
		e := b[16+i*12:]
		key := binary.LittleEndian.Uint32(e[4:])
		val := binary.LittleEndian.Uint32(e[8:])
		name, ok1 := cstr(strs, uint64(key))
		path, ok2 := cstr(strs, uint64(val))
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: entry %d points outside the file", errLDCache, i)
		}
		c.Entries = append(c.Entries, LDCacheEntry{Name: name, Path: path, Flags: int32(binary.LittleEndian.Uint32(e))})
	}
	return c, nil
}

func parseNew(b []byte) (*LDCache, error) {
	const hdr = 48
	if len(b) < hdr {
		return nil, fmt.Errorf("%w: truncated header", errLDCache)
	}
	if string(b[17:20]) != ldCacheVersion {
		return nil, fmt.Errorf("%w: unsupported version %q", errLDCache, b[17:20])
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[28]&3 == 3 {
		bo = binary.BigEndian
	}
	nlibs := uint64(bo.Uint32(b[20:]))
	if hdr+nlibs*24 > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d entries do not fit in %d bytes", errLDCache, nlibs, len(b))
	}
	c := &LDCache{Entries: make([]LDCacheEntry, 0, nlibs)}
	for i := uint64(0); i < nlibs; i++ {
		e := b[hdr+i*24:]
		name, ok1 := cstr(b, uint64(bo.Uint32(e[4:])))
		path, ok2 := cstr(b, uint64(bo.Uint32(e[8:])))
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: entry %d points outside the file", errLDCache, i)
		}
		c.Entries = append(c.Entries, LDCacheEntry{Name: name, Path: path, Flags: int32(bo.Uint32(e)), HWCap: bo.Uint64(e[16:])})
	}
	return c, nil
}

// cstr returns the NUL-terminated string at off in b.
func cstr(b []byte, off uint64) (string, bool) {
	if off >= uint64(len(b)) {
		return "", false
	}
	s := b[off:]
	for i, c := range s {
		if c == 0 {
			return string(s[:i]), true
		}
	}
	return "", false
}

// Lookup finds a library by the name a user writes: a soname
// ("libssl.so.3"), or a short name ("c", "libc", "pthread", "stdc++") that
// stands for lib<name>.so or lib<name>.so.<version>. Entries for this
// program's architecture are preferred, then versioned sonames (what
// processes load) over the bare development name, then baseline entries
// over glibc-hwcaps ones, then the cache's order.
func (c *LDCache) Lookup(name string) (LDCacheEntry, bool) {
	if c == nil || name == "" || strings.ContainsRune(name, '/') {
		return LDCacheEntry{}, false
	}
	exact := strings.Contains(name, ".so")
	base := name
	if !exact && !strings.HasPrefix(base, "lib") {
		base = "lib" + base
	}
	host := hostFlags()
	best, bestRank := -1, 0
	for i, e := range c.Entries {
		rank := 0
		switch {
		case exact && e.Name == name:
		case !exact && strings.HasPrefix(e.Name, base+".so."):
		case !exact && e.Name == base+".so":
			rank += 2
		default:
			continue
		}
		if e.Flags != host {
			rank += 4
		}
		if e.HWCap != 0 {
			rank++
		}
		if best < 0 || rank < bestRank {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return LDCacheEntry{}, false
	}
	return c.Entries[best], true
}

// LookPath finds a program the way a shell does, through PATH, and returns
// its absolute path.
func LookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}
