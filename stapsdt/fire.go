package stapsdt

import (
	"runtime"
	"unsafe"
)

// scratchSize bounds the NUL-terminated string copies Fire keeps on its
// stack; longer strings are copied to the heap.
const scratchSize = 256

// fire converts args to register values and calls the probe's site. It only
// runs when the probe is enabled.
func (pr *Probe) fire(args []any) {
	site := pr.site.Load()
	if site == 0 {
		return // unloaded since Enabled was checked
	}
	var regs [MaxArgs]uint64
	// String copies: in scratch while they fit, else each in its own heap
	// buffer held in keep. The register values are plain integers the GC
	// does not see, so both must stay alive, and the stack must not move,
	// until the site returns: nothing below calls a function that can grow
	// the stack, callSite is NOSPLIT, and KeepAlive holds the buffers.
	var scratch [scratchSize]byte
	var keep [MaxArgs][]byte
	used := 0
	str := func(i int, s string) {
		var p *byte
		if used+len(s)+1 <= len(scratch) {
			copy(scratch[used:], s)
			scratch[used+len(s)] = 0
			p = &scratch[used]
			used += len(s) + 1
		} else {
			b := make([]byte, len(s)+1)
			copy(b, s)
			keep[i] = b
			p = &b[0]
		}
		regs[i] = uint64(uintptr(unsafe.Pointer(p)))
	}
	n := min(len(args), len(pr.args))
	for i := 0; i < n; i++ {
		var v uint64
		switch x := args[i].(type) {
		case string:
			str(i, x)
			continue
		case []byte:
			str(i, unsafe.String(unsafe.SliceData(x), len(x)))
			continue
		case int:
			v = uint64(x)
		case int8:
			v = uint64(x)
		case int16:
			v = uint64(x)
		case int32:
			v = uint64(x)
		case int64:
			v = uint64(x)
		case uint:
			v = uint64(x)
		case uint8:
			v = uint64(x)
		case uint16:
			v = uint64(x)
		case uint32:
			v = uint64(x)
		case uint64:
			v = x
		case uintptr:
			v = uint64(x)
		case unsafe.Pointer:
			v = uint64(uintptr(x))
		case bool:
			if x {
				v = 1
			}
		}
		regs[i] = pr.args[i].normalize(v)
	}
	callSite(site, &regs)
	runtime.KeepAlive(&scratch)
	runtime.KeepAlive(&keep)
	runtime.KeepAlive(args)
}
