// Package lazy builds package-level values on first use rather than in
// package initialisation, which every uscope command pays for at start-up,
// also those that never use the value (issue 22: `BEGIN { exit() }` in
// 15 ms).
package lazy

import (
	"regexp"
	"sync"
)

// Regexp returns a function that compiles expr on its first call (panicking,
// as regexp.MustCompile does, if it is invalid) and returns the same
// *regexp.Regexp from then on. It is safe for concurrent use.
func Regexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
