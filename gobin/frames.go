package gobin

import (
	"bytes"
	"errors"
	"sort"
)

// An SPDelta says that in [Start, End) (link-time addresses) the stack
// pointer is Delta bytes below where it was at the function's entry, the
// slot of the return address: the caller's frame is at SP + Delta + 8.
type SPDelta struct {
	Start, End uint64
	Delta      int64
}

// SPDeltas decodes fn's stack-pointer table (pclntab's pcsp), the table
// Go's own unwinder walks stacks with. Go 1.18 and later.
func (b *Binary) SPDeltas(fn Func) ([]SPDelta, error) {
	t := b.pcln
	if err := b.loadFuncs(); err != nil {
		return nil, err
	}
	if t == nil || !t.needsTextStart() {
		return nil, errors.New("gobin: SP tables are read for Go 1.18 and later")
	}
	i := sort.Search(len(b.funcs), func(i int) bool { return b.funcs[i].Entry >= fn.Entry })
	if i >= len(b.funcs) || b.funcs[i].Entry != fn.Entry {
		return nil, errors.New("gobin: no such function")
	}
	rec := t.funcRecord(i)
	if rec+20 > uint64(len(t.data)) {
		return nil, errors.New("gobin: function record out of range")
	}
	off := t.order.Uint32(t.data[rec+16:]) // after entryOff, nameOff, args, deferreturn
	if off == 0 {
		return nil, nil
	}
	rs, err := t.pcValues(off, fn.End-fn.Entry)
	if err != nil {
		return nil, err
	}
	out := make([]SPDelta, 0, len(rs))
	for _, r := range rs {
		out = append(out, SPDelta{Start: fn.Entry + r.start, End: fn.Entry + r.end, Delta: r.val})
	}
	return out, nil
}

// SavesFramePointer reports whether fn (amd64) links a frame into the
// frame-pointer chain in its prologue: push %rbp; mov %rsp,%rbp (Go 1.21
// and later), or a store of %rbp into its frame (earlier releases).
// Leaf functions without a frame and NOFRAME assembly (crosscall2,
// asmcgocall's start) do not; a frame-pointer walk skips their callers.
func (b *Binary) SavesFramePointer(fn Func) bool {
	code, err := b.Code(fn)
	if err != nil {
		return true // unknown: the frame pointer is the best guess
	}
	if len(code) > 64 {
		code = code[:64]
	}
	if bytes.Contains(code, []byte{0x55, 0x48, 0x89, 0xe5}) {
		return true
	}
	// mov %rbp, N(%rsp) then lea N(%rsp), %rbp; a store alone is a
	// register save (crosscall2's), not a frame.
	store := bytes.Contains(code, []byte{0x48, 0x89, 0x6c, 0x24}) || bytes.Contains(code, []byte{0x48, 0x89, 0xac, 0x24})
	lea := bytes.Contains(code, []byte{0x48, 0x8d, 0x6c, 0x24}) || bytes.Contains(code, []byte{0x48, 0x8d, 0xac, 0x24})
	return store && lea
}
