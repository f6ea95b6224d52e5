// Package resolve turns attach points as a user writes them
// (uprobe:TARGET:FUNC, usdt:TARGET:PROVIDER:NAME, ...) into the concrete
// sites the kernel attaches to: object paths, link-time addresses and file
// offsets, USDT semaphores. `uscope list` and the compiler share it, so that
// a listing shows exactly what would attach.
//
// TARGET may be a path, a program on PATH, a library short name looked up
// in /etc/ld.so.cache ("c", "libssl.so.3"), a glob with '*', or (with a
// PID) empty for the process's executable; with a PID, names and paths
// match the objects mapped in that process, opened through /proc so that
// containers, deleted files and memfds work.
package resolve

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/placement"
	"github.com/uscope/uscope/proc"
)

// Options configure a Resolver.
type Options struct {
	// PID, when non-zero, makes targets resolve among the objects mapped in
	// that process.
	PID int
	// LDCachePath overrides /etc/ld.so.cache (tests).
	LDCachePath string
	// DebugRoot overrides /usr/lib/debug as the root of separate debug
	// files (tests).
	DebugRoot string
	// AtExec says that the process is held at its first instruction (-c):
	// only the executable and the dynamic loader are mapped yet, so a
	// library name that is not mapped is looked up in ld.so.cache and
	// attached through the process's root.
	AtExec bool
	// ExactEntry keeps entry probes on C and C++ functions at their first
	// instruction (--exact-entry). Otherwise each moves to the first
	// instruction the kernel emulates when the instructions before it
	// cannot change what the probe sees (internal/placement).
	ExactEntry bool
	// ReadRegs names registers the programs read with reg(), besides the
	// argument registers: an entry probe never moves past a write to them.
	ReadRegs []string
	// KernelUretprobe keeps kernel uretprobes on C++ functions
	// (--kernel-uretprobe) instead of probes on their exits (cxxret.go).
	KernelUretprobe bool
	// ReadsRetval says that a program reads retval: exits where it is not
	// known (tail calls, unwinding) are refused or left out.
	ReadsRetval bool
	// ProbeInline makes a uprobe on a Go function attach also where the
	// function was inlined (from pclntab's inline trees), and lets it name
	// a function that exists only inlined; bpftrace's probe_inline config
	// key, off by default as in bpftrace. Uretprobes are not affected:
	// an inlined copy has no return.
	ProbeInline bool
	// Unsafe (--unsafe) lets a uprobe at an address attach to a file that
	// is not ELF (flat code a process maps and runs): the address is the
	// file offset, and nothing checks that an instruction starts there.
	Unsafe bool
}

// Error is a target or attach point that cannot be resolved for a reason the
// user can fix: a missing file, an unknown library, no matching function.
// Its text is one line: what was wrong, then what to try.
type Error struct {
	Msg  string // what was wrong
	Hint string // what to try, or ""
	Err  error  // the underlying cause, or nil
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + "; " + e.Hint
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

func errorf(hint string, cause error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hint: hint, Err: cause}
}

// Target is an object a TARGET names.
type Target struct {
	// Path is the canonical path shown to the user and used in probe names:
	// the path as written (made absolute), as found in ld.so.cache or PATH,
	// or as the process sees it.
	Path string
	// AttachPath opens the object and is handed to the kernel: Path itself,
	// or /proc/PID/root/<Path> or /proc/PID/map_files/<range> with a PID.
	AttachPath string
	// Written is the path as the user wrote it ("./bin/app"), which probe
	// names carry as bpftrace's do; empty when the target was not written
	// as a path (a library name, a program on PATH, a process's object).
	Written string
}

// Name is the target in probe names: the path as written, else Path.
func (t Target) Name() string {
	if t.Written != "" {
		return t.Written
	}
	return t.Path
}

// Resolver resolves targets and attach points and caches the objects it
// opens. It is safe for concurrent use. Close releases the objects.
type Resolver struct {
	opts Options

	mu      sync.Mutex
	objects map[string]*object // by AttachPath
	ldcache *proc.LDCache
	ldErr   error
	ldOnce  bool
	procs   map[int]*procState // per-PID objects, for targets
	syms    map[int]*symState  // per-PID mappings, for symbolization
	// perfMaps: per-PID JIT symbols from /tmp/perf-PID.map (perfmap.go).
	perfMaps map[int]*perfMap
	// lines: per-object DWARF line tables and inlines (lines.go).
	lines map[*object]*dwarfLines
	// keep: the registers entry placement keeps (keepRegs).
	keepOnce sync.Once
	keep     placement.RegSet
	// interned: one copy of each placement description (internChoice),
	// and the buffer it renders them in.
	internMu  sync.Mutex
	interned  map[string]string
	internBuf []byte
}

// New returns a Resolver.
func New(opts Options) *Resolver {
	return &Resolver{opts: opts, objects: map[string]*object{}, procs: map[int]*procState{}}
}

// Close closes every object the Resolver opened.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for k, o := range r.objects {
		if err := o.close(); err != nil && first == nil {
			first = err
		}
		delete(r.objects, k)
	}
	return first
}

// PID returns the process the Resolver works in, or 0.
func (r *Resolver) PID() int { return r.opts.PID }

func (r *Resolver) ldCache() (*proc.LDCache, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ldOnce {
		r.ldOnce = true
		p := r.opts.LDCachePath
		if p == "" {
			p = proc.DefaultLDCachePath
		}
		r.ldcache, r.ldErr = proc.ReadLDCache(p)
	}
	return r.ldcache, r.ldErr
}

func (r *Resolver) ldCacheName() string {
	if r.opts.LDCachePath != "" {
		return r.opts.LDCachePath
	}
	return proc.DefaultLDCachePath
}

// Object opens (once) and returns the ELF object at path, which is a
// Target's AttachPath.
func (r *Resolver) Object(path string) (*elfx.File, error) {
	o, err := r.object(Target{Path: path, AttachPath: path})
	if err != nil {
		return nil, err
	}
	return o.f, nil
}

// object returns the cached object for t.
func (r *Resolver) object(t Target) (*object, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.objects[t.AttachPath]; ok {
		return o, nil
	}
	var opts []elfx.Option
	if r.opts.DebugRoot != "" {
		opts = append(opts, elfx.WithDebugRoot(r.opts.DebugRoot))
	}
	f, err := elfx.Open(t.AttachPath, opts...)
	if err != nil {
		return nil, openError(t, err)
	}
	o := &object{target: t, f: f}
	r.objects[t.AttachPath] = o
	return o, nil
}

// openError turns an elfx.Open failure into a one-line Error naming the
// path the user knows.
func openError(t Target, err error) error {
	name := t.Path
	var fe *elfx.FormatError
	switch {
	case errors.Is(err, elfx.ErrNotELF):
		return errorf("give an executable or a shared library", err, "%s is not an ELF file", name)
	case errors.As(err, &fe):
		return errorf("", err, "%s: truncated or damaged ELF file: %s", name, fe.Msg)
	case errors.Is(err, fs.ErrNotExist):
		return errorf("", err, "%s does not exist", name)
	case errors.Is(err, fs.ErrPermission):
		return errorf("run as root", err, "%s: permission denied", name)
	case strings.Contains(err.Error(), "not an ELF file"):
		return errorf("", err, "%s is not an ELF file", name)
	}
	return errorf("", err, "%s: %v", name, unwrapPathError(err))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Targets turns a TARGET as written into the objects it names: a path, a
// program on PATH, a library short name from ld.so.cache, a glob with '*',
// or "" for the executable of the Resolver's process. With a PID, names and
// paths match the objects mapped in that process.
func (r *Resolver) Targets(target string) ([]Target, error) {
	if r.opts.PID != 0 {
		return r.processTargets(target)
	}
	switch {
	case target == "":
		return nil, errorf("give a path, a program on PATH or a library, or -p PID", nil, "no target")
	case IsGlob(target):
		return r.globTargets(target)
	case strings.ContainsRune(target, '/'):
		p, err := filepath.Abs(target)
		if err != nil {
			return nil, errorf("", err, "%s: %v", target, err)
		}
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errorf("", err, "%s does not exist", target)
			}
			return nil, errorf("", err, "%s: %v", target, unwrapPathError(err))
		}
		return []Target{{Path: p, AttachPath: p, Written: target}}, nil
	}
	return r.nameTargets(target)
}

// looksLikeLibrary reports whether a bare name can only mean a library.
func looksLikeLibrary(name string) bool {
	return strings.HasPrefix(name, "lib") || strings.Contains(name, ".so")
}

// nameTargets resolves a bare name: a program on PATH, else a library.
func (r *Resolver) nameTargets(name string) ([]Target, error) {
	if !looksLikeLibrary(name) {
		if p, err := proc.LookPath(name); err == nil {
			return []Target{{Path: p, AttachPath: p}}, nil
		}
	}
	c, err := r.ldCache()
	if err != nil {
		return nil, errorf("give a path", err, "cannot look up library %q: %v", name, err)
	}
	if e, ok := c.Lookup(name); ok {
		ts := []Target{{Path: e.Path, AttachPath: e.Path}}
		return r.pthreadStub(name, ts, r.nameTargets), nil
	}
	if looksLikeLibrary(name) {
		return nil, errorf("give a path", nil, "unknown library %q: not in %s", name, r.ldCacheName())
	}
	return nil, errorf("give a path", nil, "unknown library %q: not in %s (nor a program on PATH)", name, r.ldCacheName())
}

// globTargets expands a TARGET with '*': over the file system when it has a
// '/', else over the library names of ld.so.cache.
func (r *Resolver) globTargets(pattern string) ([]Target, error) {
	var out []Target
	if strings.ContainsRune(pattern, '/') {
		abs, err := filepath.Abs(pattern)
		if err != nil {
			return nil, errorf("", err, "%s: %v", pattern, err)
		}
		matches, err := filepath.Glob(strings.ReplaceAll(escapeGlob(abs), `\*`, "*"))
		if err != nil {
			return nil, errorf("", err, "bad target pattern %q: %v", pattern, err)
		}
		written := writtenLike(pattern)
		for _, m := range matches {
			if isELFFile(m) {
				out = append(out, Target{Path: m, AttachPath: m, Written: written(m)})
			}
		}
	} else {
		c, err := r.ldCache()
		if err != nil {
			return nil, errorf("give a path", err, "cannot look up library %q: %v", pattern, err)
		}
		g := CompileGlob(pattern)
		seen := map[string]bool{}
		for _, e := range c.Entries {
			if e.HWCap != 0 || !e.Native() {
				continue
			}
			if (g.Match(e.Name) || g.Match(filepath.Base(e.Path))) && !seen[e.Path] {
				seen[e.Path] = true
				out = append(out, Target{Path: e.Path, AttachPath: e.Path})
			}
		}
	}
	if len(out) == 0 {
		return nil, errorf("give a path or a library name", nil, "no ELF file matches %q", pattern)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// writtenLike returns a function that writes a path, a match of pattern,
// as pattern is written: absolute, or relative to the working directory
// (read once, not per match), "./" kept.
func writtenLike(pattern string) func(path string) string {
	if filepath.IsAbs(pattern) {
		return func(path string) string { return path }
	}
	wd, wdErr := os.Getwd()
	return func(path string) string {
		if wdErr != nil {
			return path
		}
		rel, err := filepath.Rel(wd, path)
		if err != nil {
			return path
		}
		if strings.HasPrefix(pattern, "./") && !strings.HasPrefix(rel, "../") {
			rel = "./" + rel
		}
		return rel
	}
}

// escapeGlob escapes the characters filepath.Match treats specially, so that
// only '*' stays a wildcard.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `?`, `\?`, `[`, `\[`, `*`, `\*`)
	return r.Replace(s)
}

// isELFFile reports whether path is a regular file starting with the ELF
// magic.
func isELFFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var m [4]byte
	if _, err := f.ReadAt(m[:], 0); err != nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular() && string(m[:]) == elf.ELFMAG
}

// procState caches what the Resolver knows about a process.
type procState struct {
	objs []proc.Object
	err  error
}

// processObjects returns the objects mapped in pid (cached).
func (r *Resolver) processObjects(pid int) ([]proc.Object, error) {
	r.mu.Lock()
	st := r.procs[pid]
	r.mu.Unlock()
	if st != nil {
		return st.objs, st.err
	}
	objs, err := proc.Objects(pid)
	if err != nil {
		var np *proc.NoProcessError
		if errors.As(err, &np) {
			err = errorf("", err, "process %d does not exist", pid)
		} else {
			err = errorf("run as root", err, "cannot read the mappings of process %d: %v", pid, unwrapPathError(err))
		}
	}
	r.mu.Lock()
	r.procs[pid] = &procState{objs: objs, err: err}
	r.mu.Unlock()
	return objs, err
}

// processTargets resolves TARGET among the objects mapped in the process.
func (r *Resolver) processTargets(target string) ([]Target, error) {
	pid := r.opts.PID
	if !proc.Exists(pid) {
		return nil, errorf("", proc.ErrNoProcess, "process %d does not exist", pid)
	}
	objs, err := r.processObjects(pid)
	if err != nil {
		return nil, err
	}
	toTarget := func(o proc.Object) Target { return Target{Path: o.Path, AttachPath: o.OpenPath} }
	var out []Target
	switch {
	case target == "":
		for _, o := range objs {
			if o.Exe {
				return []Target{toTarget(o)}, nil
			}
		}
		exe, _, err := proc.Exe(pid)
		if err != nil {
			return nil, errorf("", err, "cannot find the executable of process %d: %v", pid, err)
		}
		p, err := proc.RootPath(pid, exe)
		if err != nil {
			p = proc.Dir(pid) + "/exe" // the file itself, whatever its path
		}
		return []Target{{Path: exe, AttachPath: p}}, nil
	case IsGlob(target):
		pattern := target
		if strings.ContainsRune(target, '/') && !filepath.IsAbs(target) {
			// Relative to the user's directory, as without a PID.
			if abs, err := filepath.Abs(target); err == nil {
				pattern = abs
			}
		}
		g := CompileGlob(pattern)
		written := writtenLike(target)
		seen := map[string]bool{}
		for _, o := range objs {
			if g.Match(o.Path) || (!strings.ContainsRune(target, '/') && g.Match(filepath.Base(o.Path))) {
				t := toTarget(o)
				if strings.ContainsRune(target, '/') {
					t.Written = written(o.Path)
				}
				seen[o.Path] = true
				out = append(out, t)
			}
		}
		if strings.ContainsRune(target, '/') {
			// A path pattern also names the files not mapped (yet), in
			// the process's file system, as bpftrace expands it.
			fsTargets, _ := r.globTargets(target)
			for _, t := range fsTargets {
				if seen[t.Path] {
					continue
				}
				if rp, err := proc.RootPath(pid, t.Path); err == nil {
					if _, err := os.Stat(rp); err == nil {
						t.AttachPath = rp
						out = append(out, t)
					}
				}
			}
		}
	case strings.ContainsRune(target, '/'):
		clean := filepath.Clean(target)
		if !filepath.IsAbs(clean) {
			// Relative to the user's directory, as without a PID.
			if abs, err := filepath.Abs(clean); err == nil {
				clean = abs
			}
		}
		var ino uint64
		rootPath, rerr := proc.RootPath(pid, clean) // never out of its root
		if st, err := os.Stat(rootPath); rerr == nil && err == nil {
			if s, ok := st.Sys().(*syscall.Stat_t); ok {
				ino = s.Ino
			}
		}
		for _, o := range objs {
			if o.Path == clean || (ino != 0 && o.Inode == ino && !o.Deleted) {
				t := toTarget(o)
				t.Written = target
				out = append(out, t)
				break
			}
		}
		if len(out) == 0 {
			// Not mapped (yet): attach through the process's root, so a
			// library it loads later is covered.
			if errors.Is(rerr, proc.ErrOutsideRoot) {
				return nil, errorf("give the path of the file the link points to inside the process's root", rerr,
					"%s in process %d is a link that leads out of its root; not following it", target, pid)
			}
			if ino == 0 {
				return nil, errorf(fmt.Sprintf("see what it maps: uscope list -p %d", pid), nil,
					"%s does not exist in the file system of process %d", target, pid)
			}
			return []Target{{Path: clean, AttachPath: rootPath, Written: target}}, nil
		}
	default:
		for _, o := range objs {
			if matchesName(target, filepath.Base(o.Path)) {
				out = append(out, toTarget(o))
			}
		}
		if len(out) == 0 {
			out = looseTargets(target, objs) // bccnames.go
		}
		// Several versions of one short name: prefer what ld.so.cache says.
		if len(out) > 1 {
			sort.SliceStable(out, func(i, j int) bool { return len(filepath.Base(out[i].Path)) < len(filepath.Base(out[j].Path)) })
			out = out[:1]
		}
		// Not mapped (yet): the library ld.so.cache names, through the
		// process's root, attached by inode, so that the kernel puts the
		// probes in when the process maps it (dlopen later, or -c's
		// libraries before they load), from its first call.
		if len(out) == 0 {
			if ts, err := r.nameTargets(target); err == nil {
				for _, t := range ts {
					if p, err := proc.RootPath(pid, t.Path); err == nil {
						out = append(out, Target{Path: t.Path, AttachPath: p})
					}
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errorf(fmt.Sprintf("see what it maps: uscope list -p %d", pid), nil,
			"%q is not mapped in process %d (looked at its %d objects for %s)", target, pid, len(objs), lookedFor(target))
	}
	return r.pthreadStub(target, out, r.processTargets), nil
}

// matchesName reports whether base (a file name) is what a user means by
// name: the same file name, or a library short name ("c", "libc", "ssl",
// "libssl.so") standing for lib<name>.so[.<version>].
func matchesName(name, base string) bool {
	if name == base {
		return true
	}
	if strings.Contains(name, ".so") {
		return strings.HasPrefix(base, name+".")
	}
	lib := name
	if !strings.HasPrefix(lib, "lib") {
		lib = "lib" + lib
	}
	return base == lib+".so" || strings.HasPrefix(base, lib+".so.")
}
