package gobin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// The inline tree: for each function, the Go linker records in pclntab
// which instructions came from functions inlined into it. A function's
// PCDATA_InlTreeIndex table maps each instruction to an index in its
// FUNCDATA_InlTree array (-1: the function's own code); each entry of the
// array names the inlined function and the instruction of the caller
// (parentPc) that stands for the call, whose own index gives the next
// level out.
const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
	inlinedCallSize    = 16 // Go 1.20 and later: funcID, pad, nameOff, parentPc, startLine
	// maxInlTree bounds the entries read from one function's tree.
	maxInlTree = 1 << 16
	// mdWordGofunc is where Go 1.20 to 1.27 keep moduledata.gofunc, in
	// pointer-sized words.
	mdWordGofunc = 40
)

// An InlinedCopy is a place where a function was inlined into another.
type InlinedCopy struct {
	// Func is the inlined function's name, as in Func.Name.
	Func string
	// Outer is the function whose code holds the copy.
	Outer string
	// Addr is the link-time address of the copy's first instruction:
	// the lowest address of the instructions that came from this
	// inlining (nested inlinings included).
	Addr uint64
}

// InlinedCopies returns every place, in every function, where the function
// named name was inlined, sorted by address. It reads the inline trees of
// the binary's function table (Go 1.20 and later; an error before) and
// works on stripped binaries. A function never inlined has none.
func (b *Binary) InlinedCopies(name string) ([]InlinedCopy, error) {
	if err := b.loadInline(); err != nil {
		return nil, err
	}
	return append([]InlinedCopy(nil), b.inlined[name]...), nil
}

// InlinedNames returns the names of every function inlined somewhere,
// sorted; some exist only inlined, with no entry in the function table.
func (b *Binary) InlinedNames() []string {
	if b.loadInline() != nil {
		return nil
	}
	names := make([]string, 0, len(b.inlined))
	for n := range b.inlined {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (b *Binary) loadInline() error {
	b.inlineOnce.Do(func() {
		b.inlined, b.inlineErr = b.readInlineTrees()
	})
	return b.inlineErr
}

// readInlineTrees decodes the inline tree of every function.
func (b *Binary) readInlineTrees() (map[string][]InlinedCopy, error) {
	t := b.pcln
	if t.magic != magic120 {
		return nil, fmt.Errorf("gobin: inline trees are read for Go 1.20 and later, not %s", b.GoVersion)
	}
	if err := b.loadFuncs(); err != nil {
		return nil, err
	}
	gofunc, err := b.findGofunc()
	if err != nil {
		return nil, fmt.Errorf("gobin: inline trees: %w", err)
	}
	out := map[string][]InlinedCopy{}
	for i := range b.funcs {
		copies, err := b.inlineTree(i, gofunc)
		if err != nil {
			continue // one damaged record does not hide the others
		}
		for _, c := range copies {
			out[c.Func] = append(out[c.Func], c)
		}
	}
	for _, cs := range out {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Addr < cs[j].Addr })
	}
	return out, nil
}

// funcRecord returns the offset in t.data of function i's _func record.
func (t *pclntab) funcRecord(i int) uint64 {
	_, funcOff := t.entry(i)
	return t.pclnOff + funcOff
}

// pctabOff is the offset of the pc-value tables from the header (Go 1.18+).
func (t *pclntab) pctabOff() uint64 {
	return t.mem.word(t.data[8+6*uint64(t.ptrSize):])
}

// funcTables returns the offsets of function i's pcdata table idx (into
// pctab) and funcdata idx (from gofunc); ok is false when it has neither.
func (t *pclntab) funcTables(i int, pcdata, funcdata int) (pcOff, fdOff uint32, ok bool) {
	rec := t.funcRecord(i)
	n := uint64(len(t.data))
	if rec+44 > n {
		return 0, 0, false
	}
	npcdata := uint64(t.order.Uint32(t.data[rec+28:]))
	nfuncdata := uint64(t.data[rec+43])
	if uint64(pcdata) >= npcdata || uint64(funcdata) >= nfuncdata || npcdata > 1024 {
		return 0, 0, false
	}
	pcAt := rec + 44 + uint64(pcdata)*4
	fdAt := rec + 44 + npcdata*4 + uint64(funcdata)*4
	if fdAt+4 > n {
		return 0, 0, false
	}
	pcOff, fdOff = t.order.Uint32(t.data[pcAt:]), t.order.Uint32(t.data[fdAt:])
	return pcOff, fdOff, pcOff != 0 && fdOff != ^uint32(0)
}

// A pcRange is a run of instructions [start, end) (offsets from the
// function's entry) with one value of a pc-value table.
type pcRange struct {
	start, end uint64
	val        int64
}

// pcValues decodes the pc-value table at off in pctab for a function of
// size bytes: pairs of a zig-zag value delta and a pc delta (in units of
// the instruction size quantum), starting from the value -1.
func (t *pclntab) pcValues(off uint32, size uint64) ([]pcRange, error) {
	base := t.pctabOff() + uint64(off)
	if base >= uint64(len(t.data)) {
		return nil, errors.New("pc-value table out of range")
	}
	p := t.data[base:]
	quantum := uint64(t.data[6])
	var out []pcRange
	val, pc := int64(-1), uint64(0)
	for first := true; ; first = false {
		uv, n := binary.Uvarint(p)
		if n <= 0 {
			return nil, errors.New("bad pc-value table")
		}
		if uv == 0 && !first {
			return out, nil
		}
		p = p[n:]
		vd := int64(uv >> 1)
		if uv&1 != 0 {
			vd = ^vd
		}
		pd, n := binary.Uvarint(p)
		if n <= 0 {
			return nil, errors.New("bad pc-value table")
		}
		p = p[n:]
		val += vd
		end := pc + pd*quantum
		if end > size || end < pc {
			return nil, errors.New("pc-value table runs past the function")
		}
		out = append(out, pcRange{pc, end, val})
		pc = end
		if len(out) > 1<<20 {
			return nil, errors.New("pc-value table too long")
		}
	}
}

// valueAt returns the table's value at pc offset off (-1 when none).
func valueAt(rs []pcRange, off uint64) int64 {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].end > off })
	if i < len(rs) && rs[i].start <= off {
		return rs[i].val
	}
	return -1
}

// inlineTree returns the inlined copies in function i.
func (b *Binary) inlineTree(i int, gofunc uint64) ([]InlinedCopy, error) {
	t := b.pcln
	fn := b.funcs[i]
	pcOff, fdOff, ok := t.funcTables(i, pcdataInlTreeIndex, funcdataInlTree)
	if !ok {
		return nil, nil
	}
	ranges, err := t.pcValues(pcOff, fn.Size())
	if err != nil {
		return nil, err
	}
	maxIdx := int64(-1)
	for _, r := range ranges {
		if r.val >= maxInlTree {
			return nil, fmt.Errorf("inline index %d", r.val)
		}
		maxIdx = max(maxIdx, r.val)
	}
	if maxIdx < 0 {
		return nil, nil
	}
	tree, err := b.mem.read(gofunc+uint64(fdOff), int(maxIdx+1)*inlinedCallSize)
	if err != nil {
		return nil, err
	}
	n := int(maxIdx + 1)
	names := make([]string, n)
	parent := make([]int64, n)
	for j := 0; j < n; j++ {
		e := tree[j*inlinedCallSize:]
		if e[1] != 0 || e[2] != 0 || e[3] != 0 || e[0] >= 64 {
			return nil, fmt.Errorf("inline entry %d: not an inlinedCall (% x)", j, e[:4])
		}
		name, err := t.funcName(int32(t.order.Uint32(e[4:])))
		if err != nil {
			return nil, err
		}
		ppc := int64(int32(t.order.Uint32(e[8:])))
		if ppc < 0 || uint64(ppc) >= fn.Size() {
			return nil, fmt.Errorf("inline entry %d: parent pc %d outside %s", j, ppc, fn.Name)
		}
		names[j] = name
		parent[j] = valueAt(ranges, uint64(ppc))
		if parent[j] >= int64(n) || parent[j] == int64(j) {
			return nil, fmt.Errorf("inline entry %d: bad parent %d", j, parent[j])
		}
	}
	// The lowest instruction of each inlining, nested ones included.
	low := make([]uint64, n)
	seen := make([]bool, n)
	for _, r := range ranges {
		for v, depth := r.val, 0; v >= 0 && depth <= n; v, depth = parent[v], depth+1 {
			if !seen[v] || r.start < low[v] {
				low[v], seen[v] = r.start, true
			}
		}
	}
	var out []InlinedCopy
	for j := 0; j < n; j++ {
		if seen[j] {
			out = append(out, InlinedCopy{Func: names[j], Outer: fn.Name, Addr: fn.Entry + low[j]})
		}
	}
	return out, nil
}

// funcName reads a name from the function name table. Offset 0, the
// table's first name, is never that of an inlined function; refusing it
// keeps zero-filled memory from passing for an inline tree.
func (t *pclntab) funcName(off int32) (string, error) {
	at := t.funcnameOff + uint64(off)
	if off <= 0 || at >= uint64(len(t.data)) {
		return "", fmt.Errorf("name offset %d out of range", off)
	}
	if t.data[at-1] != 0 {
		return "", fmt.Errorf("name offset %d is inside a name", off)
	}
	s := t.data[at:]
	end := bytes.IndexByte(s, 0)
	if end <= 0 || end > 4096 {
		return "", errors.New("unterminated name")
	}
	return string(s[:end]), nil
}

// findGofunc returns the address funcdata offsets are relative to
// (runtime.moduledata.gofunc, the symbol go:func.*): from the symbol table,
// else the word of the moduledata, after its text fields, that makes the
// inline trees of the first functions that have one decode cleanly.
func (b *Binary) findGofunc() (uint64, error) {
	if !b.Stripped {
		if syms, err := b.f.Symbols(); err == nil {
			for _, s := range syms {
				if s.Name == "go:func.*" || s.Name == "go.func.*" {
					return s.Value, nil
				}
			}
		}
	}
	md, err := b.findModuledata()
	if err != nil {
		return 0, err
	}
	p := uint64(b.PtrSize)
	words, err := b.mem.read(md, int(maxModuledataWord*p))
	if err != nil {
		return 0, fmt.Errorf("moduledata at %#x: %w", md, err)
	}
	// The functions to check candidates on.
	var probe []int
	for i := range b.funcs {
		if _, _, ok := b.pcln.funcTables(i, pcdataInlTreeIndex, funcdataInlTree); ok {
			probe = append(probe, i)
			if len(probe) == 32 {
				break
			}
		}
	}
	if len(probe) == 0 {
		return 0, errors.New("no function has an inline tree")
	}
	// Go 1.20 to 1.27 keep gofunc at word 40: tried first.
	order := []int{mdWordGofunc}
	for w := mdWordText + 2; w < maxModuledataWord; w++ {
		if w != mdWordGofunc {
			order = append(order, w)
		}
	}
	for _, w := range order {
		v := b.mem.word(words[uint64(w)*p:])
		if v == 0 || b.mem.progFor(v, 1) == nil || b.mem.isExec(v) {
			continue
		}
		good, some := true, false
		for _, i := range probe {
			cs, err := b.inlineTree(i, v)
			if err != nil {
				good = false
				break
			}
			some = some || len(cs) > 0
		}
		if good && some {
			return v, nil
		}
	}
	return 0, errors.New("no word of the moduledata locates the inline trees (go:func.*)")
}
