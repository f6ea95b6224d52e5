package resolve

import (
	"path/filepath"
	"strings"

	"github.com/uscope/uscope/proc"
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

// unmappedGlobTargets: with a PID, a wildcarded path also names the ELF
// files it matches in the process's file system that the process has not
// mapped (have holds those it has), attached through its root as a path is:
// bpftrace attaches to every file the pattern matches
// (usdt:./bin/x*::* with -c ./bin/x).
func unmappedGlobTargets(pid int, pattern string, have []Target) []Target {
	root := proc.Root(pid)
	matches, err := filepath.Glob(root + strings.ReplaceAll(escapeGlob(absGlob(pattern)), `\*`, "*"))
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, t := range have {
		seen[t.Path] = true
	}
	var out []Target
	for _, m := range matches {
		p := strings.TrimPrefix(m, root)
		if seen[p] {
			continue
		}
		ap, err := proc.RootPath(pid, p) // never out of its root
		if err != nil || !isELFFile(ap) {
			continue
		}
		seen[p] = true
		out = append(out, Target{Path: p, AttachPath: ap})
	}
	return out
}
