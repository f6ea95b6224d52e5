package resolve

import (
	"path/filepath"
	"strings"

	"github.com/uscope/uscope/proc"
)

// Library names found as bcc finds them: a short name given with a PID
// matches any object the process maps whose name starts with it ("ruby"
// is libruby-3.1.so, "python" libpython3.11.so.1.0 or the executable
// python3.11), and "pthread" is libc where libpthread is the empty stub
// glibc 2.34 and later ship (the functions moved into libc).

// looseName reports whether base (a mapped object's file name) is what a
// short name means in bcc's looser sense: lib<name> or <name> followed by
// a version ("-3.1", "3.11", ".so"). Exact matches (matchesName) win.
func looseName(name, base string) bool {
	if name == "" || strings.ContainsAny(name, "/*") {
		return false
	}
	for _, prefix := range []string{"lib" + strings.TrimPrefix(name, "lib"), name} {
		rest, ok := strings.CutPrefix(base, prefix)
		if !ok || rest == "" {
			continue
		}
		if c := rest[0]; c == '-' || c == '.' || c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

// looseTargets returns the objects of objs that name loosely means, the
// libraries before the executable, or nil.
func looseTargets(name string, objs []proc.Object) []Target {
	var libs, exes []Target
	for _, o := range objs {
		if !looseName(name, filepath.Base(o.Path)) {
			continue
		}
		t := Target{Path: o.Path, AttachPath: o.OpenPath}
		if o.Exe {
			exes = append(exes, t)
		} else if strings.Contains(filepath.Base(o.Path), ".so") {
			libs = append(libs, t)
		}
	}
	if len(libs) > 0 {
		return libs[:1]
	}
	if len(exes) > 0 {
		return exes[:1]
	}
	return nil
}

// isPthread reports whether a short name means libpthread.
func isPthread(name string) bool {
	switch name {
	case "pthread", "libpthread", "libpthread.so", "libpthread.so.0":
		return true
	}
	return false
}

// pthreadStub returns libc's targets in place of ts when name means
// libpthread and the one library ts holds defines no pthread_ function:
// glibc 2.34 and later keep libpthread.so.0 as an empty stub. lookup
// resolves "c" as ts was resolved.
func (r *Resolver) pthreadStub(name string, ts []Target, lookup func(string) ([]Target, error)) []Target {
	if !isPthread(name) || len(ts) != 1 {
		return ts
	}
	f, err := r.Object(ts[0].AttachPath)
	if err != nil {
		return ts
	}
	funcs, err := f.Functions()
	if err != nil {
		return ts
	}
	for _, s := range funcs {
		if strings.HasPrefix(s.Name, "pthread_") {
			return ts
		}
	}
	if c, err := lookup("c"); err == nil && len(c) > 0 {
		return c
	}
	return ts
}

// lookedFor says which file names a target was looked for as, for the
// error that nothing matched.
func lookedFor(name string) string {
	if strings.ContainsAny(name, "/*") || strings.Contains(name, ".so") {
		return name
	}
	lib := "lib" + strings.TrimPrefix(name, "lib")
	return lib + ".so*, " + lib + "-VERSION.so*, " + name + "VERSION"
}
