#include "textflag.h"

// func callSite(site uintptr, regs *[MaxArgs]uint64)
//
// The site (nop5; ret) needs 8 bytes of stack for the return address, plus 8
// for the kernel's optimized-uprobe trampoline call; NOSPLIT headroom covers
// both. Nothing lives below SP here, so the trampoline's push is harmless.
TEXT ·callSite(SB), NOSPLIT, $0-16
	MOVQ regs+8(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), SI
	MOVQ 16(AX), DX
	MOVQ 24(AX), CX
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ site+0(FP), AX
	CALL AX
	RET

// recordArgs stands in for a probe site in tests: it stores the argument
// registers into ·recorded and returns. The linker drops it from programs
// that do not use it.
TEXT ·recordArgs(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ DI, ·recorded+0(SB)
	MOVQ SI, ·recorded+8(SB)
	MOVQ DX, ·recorded+16(SB)
	MOVQ CX, ·recorded+24(SB)
	MOVQ R8, ·recorded+32(SB)
	MOVQ R9, ·recorded+40(SB)
	RET

// func recordArgsAddr() uintptr
TEXT ·recordArgsAddr(SB), NOSPLIT, $0-8
	LEAQ ·recordArgs(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// recordString is recordArgs that also copies the 16 bytes RDI points at
// into ·recordedString, for tests whose first argument is a string.
TEXT ·recordString(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ 0(DI), AX
	MOVQ AX, ·recordedString+0(SB)
	MOVQ 8(DI), AX
	MOVQ AX, ·recordedString+8(SB)
	JMP ·recordArgs(SB)

// func recordStringAddr() uintptr
TEXT ·recordStringAddr(SB), NOSPLIT, $0-8
	LEAQ ·recordString(SB), AX
	MOVQ AX, ret+0(FP)
	RET
