package attach

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// memberOffset finds the byte offset of member field of the struct named
// typ in raw BTF (the bytes of /sys/kernel/btf/vmlinux) by walking the type
// section once, without building the types: cilium/ebpf's full decode of
// the kernel's BTF costs tens of milliseconds and megabytes on every -c
// and -p session, for one number. ok is false when the struct or the member
// is not there, or the BTF cannot be read (the caller then decodes it the
// full way); a malformed input never panics.
func memberOffset(raw []byte, typ, field string) (off uint32, ok bool) {
	const hdrMin = 24
	if len(raw) < hdrMin {
		return 0, false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint16(raw) == 0xeb9f:
	case binary.BigEndian.Uint16(raw) == 0xeb9f:
		bo = binary.BigEndian
	default:
		return 0, false
	}
	hdrLen := uint64(bo.Uint32(raw[4:]))
	typeOff, typeLen := uint64(bo.Uint32(raw[8:])), uint64(bo.Uint32(raw[12:]))
	strOff, strLen := uint64(bo.Uint32(raw[16:])), uint64(bo.Uint32(raw[20:]))
	n := uint64(len(raw))
	if hdrLen < hdrMin || hdrLen+typeOff+typeLen > n || hdrLen+strOff+strLen > n {
		return 0, false
	}
	types := raw[hdrLen+typeOff : hdrLen+typeOff+typeLen]
	strs := raw[hdrLen+strOff : hdrLen+strOff+strLen]
	name := func(o uint32) string {
		if uint64(o) >= uint64(len(strs)) {
			return ""
		}
		s := strs[o:]
		for i, c := range s {
			if c == 0 {
				return string(s[:i])
			}
		}
		return ""
	}
	for p := 0; p+12 <= len(types); {
		nameOff, info := bo.Uint32(types[p:]), bo.Uint32(types[p+4:])
		vlen, kind, kflag := int(info&0xffff), (info>>24)&0x1f, info>>31 == 1
		p += 12
		var extra int
		switch kind {
		case 1, 14, 17: // INT, VAR, DECL_TAG
			extra = 4
		case 3: // ARRAY
			extra = 12
		case 4, 5, 15, 19: // STRUCT, UNION, DATASEC, ENUM64
			extra = 12 * vlen
		case 6, 13: // ENUM, FUNC_PROTO
			extra = 8 * vlen
		case 2, 7, 8, 9, 10, 11, 12, 16, 18: // no trailing data
		default:
			return 0, false // a kind this walk does not know: cannot skip it
		}
		if p+extra > len(types) {
			return 0, false
		}
		if kind == 4 && name(nameOff) == typ {
			for m := range vlen {
				mem := types[p+12*m:]
				if name(bo.Uint32(mem)) != field {
					continue
				}
				bits := bo.Uint32(mem[8:])
				if kflag {
					bits &= 0xffffff // the high 8 bits are a bitfield's size
				}
				if bits%8 != 0 {
					return 0, false
				}
				return bits / 8, true
			}
			return 0, false
		}
		p += extra
	}
	return 0, false
}

// kernelMemberOffset is memberOffset on the running kernel's BTF. The file
// is mapped (Linux 6.16+), so only the pages the walk reaches are touched:
// task_struct comes early, and reading all 5 MB through sysfs takes a
// syscall per 4 KiB page. Older kernels read it.
func kernelMemberOffset(typ, field string) (uint32, error) {
	const path = "/sys/kernel/btf/vmlinux"
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var raw []byte
	if st, err := f.Stat(); err == nil && st.Size() > 0 && st.Size() == int64(int(st.Size())) {
		if m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
			defer unix.Munmap(m)
			raw = m
		}
	}
	if raw == nil {
		if raw, err = io.ReadAll(f); err != nil {
			return 0, err
		}
	}
	off, ok := memberOffset(raw, typ, field)
	if !ok {
		return 0, fmt.Errorf("no %s.%s found by the quick walk of %s", typ, field, path)
	}
	return off, nil
}
