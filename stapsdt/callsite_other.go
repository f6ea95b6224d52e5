//go:build !amd64 && !arm64

package stapsdt

// callSite does nothing: there are no probe sites on this architecture, and
// Load fails before any site address exists.
func callSite(site uintptr, regs *[MaxArgs]uint64) {}
