package attach

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/uscope/uscope/arch"
)

// x86 first bytes the kernel refuses to probe (arch/x86/kernel/uprobes.c,
// uprobe_init_insn): the lock prefix and the ES, CS, SS and DS segment
// prefixes, and instructions encoded with VEX (c4, c5), such as the AVX2
// string functions of glibc (Linux 6.18 accepts EVEX ones). Checking them here spares the
// bisection that would find each refused site with about log2(n) attach
// attempts of large batches.
var refusedPrefix = [256]bool{0xf0: true, 0x26: true, 0x2e: true, 0x36: true, 0x3e: true}

// refusedInsn reports whether the kernel refuses to probe the x86-64
// instruction that code starts with.
func refusedInsn(code []byte) bool {
	for i, b := range code {
		switch {
		case refusedPrefix[b]:
			return true
		case b == 0x64 || b == 0x65 || b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3:
			continue // other legacy prefixes
		case b >= 0x40 && b <= 0x4f:
			// A REX prefix: the opcode follows.
			return i+1 < len(code) && (code[i+1] == 0xc4 || code[i+1] == 0xc5)
		}
		return b == 0xc4 || b == 0xc5
	}
	return false
}

// evexInsn reports whether the x86-64 instruction that code starts with is
// EVEX-encoded (AVX-512; the architecture table's Unprobeable rule). Linux
// 6.18 accepts uprobes on such instructions but executes them wrongly out of
// line, and every process that runs the probed instruction misbehaves: with glibc's __strchr_evex probed, printf
// printed its format strings raw and gcc crashed, system-wide. uscope never
// puts a probe on one.
func evexInsn(code []byte) bool {
	return arch.AMD64.Unprobeable(code) != ""
}

// evexError explains why a site on an EVEX instruction is refused.
func evexError(st Site) *Error {
	return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf(
		"will not probe %s+%#x: its instruction is EVEX-encoded (AVX-512), which the kernel executes wrongly when probed, breaking the traced program; probe another instruction (FUNC+OFF) or another function",
		st.Path, st.Offset)}
}

// prefilter splits sites into those to attach and those left out, judged
// from their first instruction (x86-64 only; elsewhere, and for files it
// cannot read, every site is kept): with opts.SkipRefused, sites the kernel
// would refuse; always, sites on EVEX instructions, which are unsafe — a
// lone one is an error.
func prefilter(sites []Site, opts Options) (keep []Site, refused []Refused, err error) {
	if a := arch.Host(); a == nil || a.Decoder != arch.DecoderX86 {
		return sites, nil, nil
	}
	skip := opts.SkipRefused && len(sites) > 1
	insns := firstInsns(sites)
	keep = make([]Site, 0, len(sites))
	for i, st := range sites {
		if b := insns(i); len(b) > 0 {
			switch {
			case evexInsn(b):
				if !skip {
					return nil, nil, evexError(st)
				}
				refused = append(refused, Refused{st, evexError(st)})
				continue
			case skip && refusedInsn(b):
				refused = append(refused, Refused{st, explain(syscall.EOPNOTSUPP, st.Path, &st, opts)})
				continue
			}
		}
		keep = append(keep, st)
	}
	if len(keep) == 0 && len(refused) > 0 {
		return nil, nil, refused[0].Err
	}
	return keep, refused, nil
}

// firstInsns reads up to 16 bytes at every site's file offset and returns
// them by site index (empty for a file it cannot read). The reads go in
// file order through a window of readWindow bytes: tens of thousands of
// sites of one library take a few hundred preads, not one each.
func firstInsns(sites []Site) func(i int) []byte {
	const insnBytes, readWindow = 16, 256 << 10
	order := make([]int32, len(sites))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(sites[a].Path, sites[b].Path); c != 0 {
			return c
		}
		return cmp.Compare(sites[a].Offset, sites[b].Offset)
	})
	out := make([][insnBytes]byte, len(sites))
	n := make([]uint8, len(sites))
	var (
		f         *os.File
		path      string
		win       []byte
		winOff    uint64
		winLen    int
		openedAny bool
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for _, i := range order {
		st := &sites[i]
		if !openedAny || st.Path != path {
			if f != nil {
				f.Close()
			}
			f, _ = os.Open(st.Path)
			path, openedAny, winLen = st.Path, true, 0
		}
		if f == nil {
			continue
		}
		if st.Offset < winOff || st.Offset+insnBytes > winOff+uint64(winLen) {
			if win == nil {
				win = make([]byte, readWindow)
			}
			winOff = st.Offset
			winLen, _ = f.ReadAt(win, int64(winOff))
		}
		if st.Offset >= winOff && st.Offset < winOff+uint64(winLen) {
			n[i] = uint8(copy(out[i][:], win[st.Offset-winOff:winLen]))
		}
	}
	return func(i int) []byte { return out[i][:n[i]] }
}
