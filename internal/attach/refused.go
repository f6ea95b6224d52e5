package attach

import (
	"fmt"
	"os"
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
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var buf [16]byte
	for _, st := range sites {
		f, ok := files[st.Path]
		if !ok {
			f, _ = os.Open(st.Path)
			files[st.Path] = f
		}
		if f != nil {
			n, _ := f.ReadAt(buf[:], int64(st.Offset))
			switch {
			case n > 0 && evexInsn(buf[:n]):
				if !skip {
					return nil, nil, evexError(st)
				}
				refused = append(refused, Refused{st, evexError(st)})
				continue
			case skip && n > 0 && refusedInsn(buf[:n]):
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
