package usdt

// The x86-64 slots the tests expect, from the kernel's struct pt_regs
// (arch/x86/include/asm/ptrace.h).
var (
	regR15 = Reg{"r15", 0}
	regR14 = Reg{"r14", 8}
	regR13 = Reg{"r13", 16}
	regR12 = Reg{"r12", 24}
	regRBP = Reg{"rbp", 32}
	regRBX = Reg{"rbx", 40}
	regR11 = Reg{"r11", 48}
	regR10 = Reg{"r10", 56}
	regR9  = Reg{"r9", 64}
	regR8  = Reg{"r8", 72}
	regRAX = Reg{"rax", 80}
	regRCX = Reg{"rcx", 88}
	regRDX = Reg{"rdx", 96}
	regRSI = Reg{"rsi", 104}
	regRDI = Reg{"rdi", 112}
)
