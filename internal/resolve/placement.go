package resolve

import (
	"cmp"
	"debug/elf"
	"fmt"
	"slices"
	"sync"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/placement"
)

// runningKernel is the emulation table of the running kernel, read once.
var runningKernel = sync.OnceValue(placement.Running)

// maxPlacedFunc bounds the size of a function whose entry probe may move:
// the whole function is decoded to find branches into its first
// instructions.
const maxPlacedFunc = 1 << 20

// chooseEntry returns where placement puts the entry probe of the C or C++
// function of s (an entry site, s.Addr == s.FuncAddr), and whether it
// applies: not for Go binaries (goSites places those), USDT, sites inside a
// function, functions of unknown size, or other architectures. A
// uretprobe's entry hook moves too: it takes the return address at (%rsp),
// which the skipped instructions leave alone.
func (r *Resolver) chooseEntry(o *object, s *Site) (placement.Choice, bool) {
	if (s.Kind != lang.KindUprobe && s.Kind != lang.KindUretprobe) || s.GoBinary || s.FuncAddr == 0 || s.Addr != s.FuncAddr ||
		s.Size == 0 || s.Size > maxPlacedFunc || !decodesX86(o.f.Machine()) {
		return placement.Choice{}, false
	}
	keep := r.keepRegs()
	k := runningKernel()
	// The code is decoded where it is mapped, not copied: a wildcard over a
	// large library reads all of its text (funcSites releases the pages).
	var c placement.Choice
	var head [16]byte // the first instruction, for Keep
	ok := false
	err := o.f.ViewAtAddr(s.FuncAddr, s.Size, func(code []byte) {
		if uint64(len(code)) == s.Size {
			c, ok = placement.Choose(code, keep, k), true
			copy(head[:], code)
		}
	})
	if err != nil || !ok {
		return placement.Choice{}, false
	}
	// Code elsewhere may enter at another symbol that starts inside the
	// skipped instructions or at the new site.
	for d := uint64(1); d <= c.Offset; d++ {
		if fn, off, ok := o.funcAt(s.FuncAddr + d); ok && off == 0 {
			return placement.Keep(head[:min(s.Size, uint64(len(head)))], k, fmt.Sprintf("symbol %s starts at +%d", fn.Name, d)), true
		}
	}
	return c, true
}

// placeEntries places the entry sites of sites (placeEntry) in address
// order, so that decoding reads the object's text front to back and touches
// each of its pages once: in name order a wildcard over a large library
// faulted every page in again and again, a trap each (a quarter of the CPU
// of attaching all of libjvm.so). The pages read are given back every
// releaseEvery bytes of text, so that a library's text is never resident
// all at once.
func (r *Resolver) placeEntries(o *object, sites []Site) {
	if r.opts.ExactEntry || len(sites) == 0 {
		return
	}
	order := make([]int32, len(sites))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(sites[a].FuncAddr, sites[b].FuncAddr) })
	defer o.f.ReleasePages()
	from := sites[order[0]].FuncAddr
	for _, i := range order {
		s := &sites[i]
		if s.FuncAddr-from >= releaseEvery {
			o.f.ReleasePages()
			from = s.FuncAddr
		}
		r.placeEntry(o, s)
	}
}

// releaseEvery is how much text placeEntries decodes between releases of
// the pages it read.
const releaseEvery = 4 << 20

// placeEntry moves the entry site s of a C or C++ function to the
// instruction chooseEntry picks, unless Options.ExactEntry is set, and
// records the choice in s.Placement and s.Moved.
func (r *Resolver) placeEntry(o *object, s *Site) {
	if r.opts.ExactEntry {
		return
	}
	c, ok := r.chooseEntry(o, s)
	if !ok {
		return
	}
	if c.Offset != 0 {
		off, err := o.f.AddrToOffset(s.FuncAddr + c.Offset)
		if err != nil {
			return
		}
		s.Addr, s.Offset, s.Moved = s.FuncAddr+c.Offset, off, c.Offset
	}
	s.Placement = r.internChoice(c)
}

// internChoice returns the one copy of c's text the resolver keeps: most
// of a library's functions share a handful of placements ("+0 (push,
// emulated)"), and a wildcard keeps one per site. The text is rendered
// into a buffer the resolver reuses, so a known one costs no allocation.
func (r *Resolver) internChoice(c placement.Choice) string {
	r.internMu.Lock()
	defer r.internMu.Unlock()
	r.internBuf = c.Append(r.internBuf[:0])
	if v, ok := r.interned[string(r.internBuf)]; ok {
		return v
	}
	if r.interned == nil {
		r.interned = map[string]string{}
	}
	v := string(r.internBuf)
	r.interned[v] = v
	return v
}

// describeEntry records in s.Placement where placeEntry would put the
// entry probe of s, leaving the site itself unmoved (uscope list -v).
func (r *Resolver) describeEntry(o *object, s *Site) {
	if r.opts.ExactEntry {
		return
	}
	if c, ok := r.chooseEntry(o, s); ok {
		s.Placement = c.String()
	}
}

// readCode copies size bytes of machine code at link-time address addr from
// the object's file with pread (the pages read do not stay resident in
// uscope, as those of the mapping do).
func readCode(o *object, addr, size uint64) ([]byte, bool) {
	off, err := o.f.AddrToOffset(addr)
	if err != nil {
		return nil, false
	}
	f, err := o.codeFile()
	if err != nil {
		return nil, false
	}
	code := make([]byte, size)
	if n, err := f.ReadAt(code, int64(off)); err != nil || n != len(code) {
		return nil, false
	}
	return code, true
}

// keepRegs is the set of registers placement must not skip a write of:
// the SysV argument registers, the ones the program reads, and rbp (user
// stacks are walked through the frame pointer chain). Computed once.
func (r *Resolver) keepRegs() placement.RegSet {
	r.keepOnce.Do(func() {
		r.keep = placement.SysVArgs.Union(append([]string{"rbp"}, r.opts.ReadRegs...)...)
	})
	return r.keep
}

// decodesX86 reports whether the architecture table decodes m's code with
// x86asm in 64-bit mode, the decoder of placement and the boundary check.
func decodesX86(m elf.Machine) bool {
	a, err := arch.ForMachine(m)
	return err == nil && a.Machine == m && a.Decoder == arch.DecoderX86
}
