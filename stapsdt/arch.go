package stapsdt

import "runtime"

// hostArch returns the conventions for the running architecture.
func hostArch() (*arch, error) { return archFor(runtime.GOARCH) }
