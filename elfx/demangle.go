package elfx

import (
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// IsMangled reports whether name looks like an Itanium C++ or Rust mangled
// name ("_Z...", "_R...").
func IsMangled(name string) bool {
	return strings.HasPrefix(name, "_Z") || strings.HasPrefix(name, "_R") || strings.HasPrefix(name, "__Z")
}

// Demangle returns the demangled form of a C++ (Itanium ABI) or Rust (legacy
// and v0) symbol name, or name itself when it is not mangled or does not
// demangle. A "@VERSION" suffix is kept.
func Demangle(name string) (out string) {
	if !IsMangled(name) {
		return name
	}
	base, ver := name, ""
	if i := strings.IndexByte(name, '@'); i > 0 {
		base, ver = name[:i], name[i:]
	}
	defer func() {
		if recover() != nil {
			out = name
		}
	}()
	d := demangle.Filter(base)
	if d == base {
		return name
	}
	return d + ver
}
