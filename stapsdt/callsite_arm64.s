#include "textflag.h"

// func callSite(site uintptr, regs *[MaxArgs]uint64)
//
// The frame is not empty so that the assembler saves the link register,
// which the BL to the site (nop; ret) overwrites.
TEXT ·callSite(SB), NOSPLIT, $16-16
	MOVD regs+8(FP), R9
	MOVD 0(R9), R0
	MOVD 8(R9), R1
	MOVD 16(R9), R2
	MOVD 24(R9), R3
	MOVD 32(R9), R4
	MOVD 40(R9), R5
	MOVD site+0(FP), R10
	CALL (R10)
	RET

// recordArgs stands in for a probe site in tests: it stores the argument
// registers into ·recorded and returns. The linker drops it from programs
// that do not use it.
TEXT ·recordArgs(SB), NOSPLIT|NOFRAME, $0-0
	MOVD $·recorded(SB), R9
	MOVD R0, 0(R9)
	MOVD R1, 8(R9)
	MOVD R2, 16(R9)
	MOVD R3, 24(R9)
	MOVD R4, 32(R9)
	MOVD R5, 40(R9)
	RET

// func recordArgsAddr() uintptr
TEXT ·recordArgsAddr(SB), NOSPLIT, $0-8
	MOVD $·recordArgs(SB), R0
	MOVD R0, ret+0(FP)
	RET

// recordString is recordArgs that also copies the 16 bytes R0 points at
// into ·recordedString, for tests whose first argument is a string.
TEXT ·recordString(SB), NOSPLIT|NOFRAME, $0-0
	MOVD $·recordedString(SB), R9
	MOVD 0(R0), R10
	MOVD R10, 0(R9)
	MOVD 8(R0), R10
	MOVD R10, 8(R9)
	JMP ·recordArgs(SB)

// func recordStringAddr() uintptr
TEXT ·recordStringAddr(SB), NOSPLIT, $0-8
	MOVD $·recordString(SB), R0
	MOVD R0, ret+0(FP)
	RET
