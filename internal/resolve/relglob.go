package resolve

import (
	"path/filepath"
	"strings"
)

// absGlob makes a relative path pattern (./bin/usdt_*) absolute from the
// user's directory, as a relative path is, so that it matches the paths a
// process maps (bpftrace's usdt:./testprogs/usdt_test*::* with -c).
func absGlob(pattern string) string {
	if !strings.ContainsRune(pattern, '/') || filepath.IsAbs(pattern) {
		return pattern
	}
	abs, err := filepath.Abs(pattern)
	if err != nil {
		return pattern
	}
	return abs
}
