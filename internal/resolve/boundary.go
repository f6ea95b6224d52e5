package resolve

import (
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// checkBoundary reports an error unless fnAddr+off starts an instruction,
// decoding the function's code from its first byte (x86-64). A probe in the
// middle of an instruction would corrupt the program.
func (o *object) checkBoundary(name string, fnAddr, off uint64) error {
	if off == 0 {
		return nil
	}
	code := make([]byte, off+16)
	n, _ := o.f.ReadAtAddr(code, fnAddr)
	code = code[:n]
	pos := uint64(0)
	var prev uint64
	for pos < off {
		if pos >= uint64(len(code)) {
			return errorf("", nil, "cannot read the code of %s up to +%d", name, off)
		}
		inst, err := x86asm.Decode(code[pos:], 64)
		if err != nil || inst.Len == 0 {
			return errorf("", err, "cannot decode %s at +%d to check that +%d starts an instruction", name, pos, off)
		}
		prev = pos
		pos += uint64(inst.Len)
	}
	if pos != off {
		return errorf(fmt.Sprintf("instructions of %s start at +%d and +%d; see objdump -d", name, prev, pos), nil,
			"%s+%d is inside an instruction", name, off)
	}
	return nil
}
