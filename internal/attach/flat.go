package attach

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// A site at file offset 0 exists only in a file that is not ELF: flat code
// a process maps and runs (resolve.Options.Unsafe). cilium/ebpf cannot
// attach there, as its address 0 means "look the symbol up", so such a
// path's sites are attached by a uprobe_multi link made here.

// linkCreateUprobeMulti is bpf_attr's link_create for uprobe_multi
// (include/uapi/linux/bpf.h, Linux 6.6).
type linkCreateUprobeMulti struct {
	progFD, targetFD, attachType, flags   uint32
	path, offsets, refCtrOffsets, cookies uint64
	cnt, multiFlags, pid                  uint32
	_                                     uint32
}

const (
	bpfLinkCreate         = 28 // BPF_LINK_CREATE
	bpfTraceUprobeMulti   = 48 // BPF_TRACE_UPROBE_MULTI
	bpfFUprobeMultiReturn = 1  // BPF_F_UPROBE_MULTI_RETURN
)

// atZero reports whether a path's sites include offset 0.
func atZero(sites []Site) bool {
	for _, st := range sites {
		if st.Offset == 0 {
			return true
		}
	}
	return false
}

// rawUprobeMulti attaches prog to sites, all in path, as one uprobe_multi
// link made with BPF_LINK_CREATE.
func rawUprobeMulti(prog *ebpf.Program, path string, sites []Site, opts Options) (link.Link, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot attach uprobes to %q: the path holds a NUL byte", path)}
	}
	offs := make([]uint64, len(sites))
	refs := make([]uint64, len(sites))
	cookies := make([]uint64, len(sites))
	for i, st := range sites {
		offs[i], refs[i], cookies[i] = st.Offset, st.RefCtrOffset, st.Cookie
	}
	attr := linkCreateUprobeMulti{
		progFD: uint32(prog.FD()), attachType: bpfTraceUprobeMulti,
		path: uint64(uintptr(unsafe.Pointer(p))), offsets: uint64(uintptr(unsafe.Pointer(&offs[0]))),
		refCtrOffsets: uint64(uintptr(unsafe.Pointer(&refs[0]))), cookies: uint64(uintptr(unsafe.Pointer(&cookies[0]))),
		cnt: uint32(len(sites)), pid: uint32(opts.PID),
	}
	if opts.Return {
		attr.multiFlags = bpfFUprobeMultiReturn
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, bpfLinkCreate, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(p)
	runtime.KeepAlive(offs)
	runtime.KeepAlive(refs)
	runtime.KeepAlive(cookies)
	runtime.KeepAlive(prog)
	if errno != 0 {
		return nil, explain(fmt.Errorf("create uprobe_multi link: %w", errno), path, nil, opts)
	}
	l, err := link.NewFromFD(int(fd))
	if err != nil {
		unix.Close(int(fd))
		return nil, explain(err, path, nil, opts)
	}
	return l, nil
}
