package gobin

import (
	"errors"
	"fmt"

	"github.com/uscope/uscope/arch"
)

// ErrUnsupportedArch is wrapped by the code-walking methods for binaries
// whose architecture has no decoder here (everything but amd64 today).
var ErrUnsupportedArch = errors.New("machine code of this architecture is not decoded")

// decodesAMD64 reports whether the architecture table reads b's code with
// the x86 decoder in 64-bit mode.
func (b *Binary) decodesAMD64() error {
	a, err := arch.ForMachine(b.Machine)
	if err != nil || a.Machine != b.Machine || a.Decoder != arch.DecoderX86 {
		return fmt.Errorf("gobin: %v: %w", b.Machine, ErrUnsupportedArch)
	}
	return nil
}

// PrologueEnd returns where an entry probe of fn belongs: the address after
// its stack-check prologue ([PrologueEndAMD64]); ok is false when fn has no
// stack check (probe its entry). Binaries of other architectures give an
// error wrapping [ErrUnsupportedArch].
func (b *Binary) PrologueEnd(fn Func) (addr uint64, ok bool, err error) {
	if err := b.decodesAMD64(); err != nil {
		return 0, false, err
	}
	code, err := b.Code(fn)
	if err != nil {
		return 0, false, err
	}
	addr, _, ok = PrologueEndAMD64(code, fn.Entry)
	return addr, ok, nil
}

// RetSites returns the addresses of fn's RET instructions
// ([RetSitesAMD64]): where uscope puts a Go function's return probes.
func (b *Binary) RetSites(fn Func) ([]uint64, error) {
	if err := b.decodesAMD64(); err != nil {
		return nil, err
	}
	code, err := b.Code(fn)
	if err != nil {
		return nil, err
	}
	return RetSitesAMD64(code, fn.Entry)
}

// ReturnProbeSites returns where to probe fn's returns (the function
// [ReturnProbeSites] on its code); other architectures give an error
// wrapping [ErrUnsupportedArch].
func (b *Binary) ReturnProbeSites(fn Func) ([]uint64, error) {
	if err := b.decodesAMD64(); err != nil {
		return nil, err
	}
	code, err := b.Code(fn)
	if err != nil {
		return nil, err
	}
	return ReturnProbeSites(code, fn.Entry)
}

// JumpsOut returns the addresses of fn's jumps that leave it
// ([JumpsOutAMD64]).
func (b *Binary) JumpsOut(fn Func) ([]uint64, error) {
	if err := b.decodesAMD64(); err != nil {
		return nil, err
	}
	code, err := b.Code(fn)
	if err != nil {
		return nil, err
	}
	return JumpsOutAMD64(code, fn.Entry)
}
