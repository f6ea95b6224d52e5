//go:build amd64 || arm64

package stapsdt

// callSite loads regs into the argument registers the notes name (RDI, RSI,
// RDX, RCX, R8, R9 on amd64; R0-R5 on arm64) and calls the probe site at
// address site. It is NOSPLIT: the stack does not move during the call, so
// pointers to stack buffers in regs stay valid.
//
//go:noescape
func callSite(site uintptr, regs *[MaxArgs]uint64)

// recorded receives the argument registers from recordArgs, a stand-in
// probe site that tests use to check what callSite passes.
var recorded [MaxArgs]uint64

// recordedString receives 16 bytes at the first argument's address from
// recordString, a stand-in site for tests whose first argument is a string.
var recordedString [16]byte

// recordArgsAddr returns the address of recordArgs (test support).
func recordArgsAddr() uintptr

// recordStringAddr returns the address of recordString (test support).
func recordStringAddr() uintptr
