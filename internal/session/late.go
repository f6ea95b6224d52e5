package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
	"github.com/uscope/uscope/proc"
)

// Probes whose object is not mapped yet (issue 19): with -p or -c, a USDT
// probe named without its object (usdt::PROVIDER:NAME) that no object of
// the process defines yet — a dynamic provider created later, such as
// libstapsdt's temporary .so or package stapsdt's memfd — makes the
// session wait for it instead of failing. While it waits, an
// attach.Notifier hooks the functions a process calls right after it maps
// new code (the dynamic linker's _dl_debug_state, the GDB JIT interface's
// __jit_debug_register_code, package stapsdt's notification function);
// the process that calls one (and is in the traced tree) is stopped, its
// mappings alone are read again and the program compiled against them;
// when every probe resolves, the session loads and attaches as usual and
// then lets the process run, so the probe is traced from its first firing.
// Nothing polls /proc. The whole program starts then: BEGIN runs, and the
// program's other probes attach, when the last probe appears.

// notifyHooks are the functions hooked while waiting, by the object they
// live in: the dynamic linker, or the executable.
var notifyHooks = struct{ ldso, exe []string }{
	ldso: []string{"_dl_debug_state"},
	exe:  []string{"__jit_debug_register_code", "github.com/uscope/uscope/stapsdt.loaded"},
}

// lateWait is the state of a session that waited for its probes' objects.
type lateWait struct {
	tree    *attach.Tree
	treeMap *ebpf.Map
	stopped int // the process stopped at its notification, to resume
}

// waitsForObjects reports whether a failed compile is one the session can
// wait out: -p or -c, and a USDT probe without target that no object
// mapped now defines.
func (s *session) waitsForObjects() bool { return len(s.notMapped()) > 0 }

// notMapped returns the attach points that wait for their object.
func (s *session) notMapped() []string {
	if s.pid == 0 || s.cfg.Program == nil {
		return nil
	}
	var out []string
	for _, pr := range s.cfg.Program.Probes {
		for _, ap := range pr.Points {
			if ap.Kind != lang.KindUSDT || ap.Target != "" {
				continue
			}
			if _, err := s.resolver.Resolve(ap); errors.Is(err, resolve.ErrNotMapped) {
				out = append(out, ap.Raw)
			}
		}
	}
	return out
}

// waitForObjects waits, as the comment above says, until the program
// compiles against the mappings of a process that just mapped new code,
// and returns that plan. first is the compile error of the start.
func (s *session) waitForObjects(ctx context.Context, opts *compile.Options, first error) (*compile.Plan, error) {
	lw := &lateWait{}
	s.late = lw
	var treeM *ebpf.Map
	if s.follows() {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: compile.MapTree, Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: compile.TreeMaxEntries})
		if err != nil {
			return nil, &Error{fmt.Errorf("wait for late objects: %w", err)}
		}
		lw.treeMap = m
		t, err := attach.NewTree(m)
		if err != nil {
			return nil, &Error{err}
		}
		lw.tree = t
		if err := t.Add(s.pid); err != nil {
			return nil, &Error{err}
		}
		if err := t.AddDescendants(s.pid); err != nil {
			return nil, &Error{err}
		}
		treeM = m
	}
	before := objectKeys(s.pid)
	hooked := map[siteKey]bool{}
	sites := s.notifySites(hooked)
	if len(sites) == 0 {
		// No dynamic linker, no JIT or stapsdt hook: nothing would tell
		// of a new object (a static program that maps none).
		return nil, first
	}
	n, err := attach.NewNotifier(sites, treeM, attach.Options{PID: s.probePID(), ForcePerfEvent: s.cfg.ForcePerfEvent})
	if err != nil {
		return nil, &Error{fmt.Errorf("wait for late objects: %w", err)}
	}
	defer func() {
		// Processes stopped at notifications not handled (the wait
		// ended): let them run.
		for _, pid := range n.Drain() {
			attach.Resume(pid)
		}
		n.Close()
	}()
	if !s.cfg.Quiet {
		fmt.Fprintf(os.Stderr, "Waiting for %s: no object of process %d defines it yet\n", strings.Join(s.notMapped(), ", "), s.pid)
	}
	if s.held != nil {
		if err := s.held.Release(); err != nil {
			return nil, &Error{fmt.Errorf("release %q: %w", s.cfg.Command[0], err)}
		}
		s.released = true
	}
	// The same ends as the session loop's: a signal, the duration, the
	// traced process's exit.
	var gone <-chan struct{}
	if s.held != nil {
		gone = s.held.Done()
	} else {
		gone = s.be.waitExit(s.pid)
	}
	var timeout <-chan time.Time
	if s.cfg.Duration > 0 {
		t := time.NewTimer(s.cfg.Duration)
		defer t.Stop()
		timeout = t.C
	}
	ended := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		var why string
		select {
		case <-ctx.Done():
			why = "tracing was stopped"
		case <-timeout:
			why = "the duration passed"
		case <-gone:
			why = fmt.Sprintf("process %d ended", s.pid)
		case <-stop:
			return
		}
		ended <- why
		n.Wake()
	}()
	for {
		select {
		case why := <-ended:
			if why != "tracing was stopped" && why != "the duration passed" {
				s.targetGone.Store(true)
			}
			fmt.Fprintf(os.Stderr, "uscope: %s before the probes appeared\n", why)
			return nil, first
		default:
		}
		pid, kind, err := n.Wait(time.Minute)
		if err != nil {
			return nil, &Error{err}
		}
		if pid == 0 {
			continue
		}
		plan, err := s.compileFor(pid, opts)
		if err == nil {
			lw.stopped = pid
			prefault(pid, before)
			return plan, nil
		}
		// Decided while the process is stopped: once resumed it may
		// exit, and its maps with it.
		pending := s.waitsForObjects()
		if kind == attach.NotifyExec && pending {
			// A new program: hook its executable and dynamic linker
			// too (s.resolver now reads this process).
			if err := n.Add(s.notifySites(hooked)); err != nil {
				attach.Resume(pid)
				return nil, &Error{fmt.Errorf("wait for late objects: %w", err)}
			}
		}
		attach.Resume(pid)
		if !pending {
			return nil, err
		}
	}
}

// compileFor compiles the program against the mappings of pid, which
// has just mapped new code.
func (s *session) compileFor(pid int, opts *compile.Options) (*compile.Plan, error) {
	r := resolve.New(resolve.Options{PID: pid,
		ExactEntry: s.cfg.ExactEntry, ReadRegs: programRegs(s.cfg.Program),
		KernelUretprobe: s.cfg.KernelUretprobe, ReadsRetval: readsRetval(s.cfg.Program),
		ProbeInline: s.cfg.ProbeInline})
	s.resolver.Close()
	s.resolver = r
	opts.Resolver = r
	return compile.Compile(s.cfg.Program, *opts)
}

// siteKey identifies a hooked instruction: the file and the offset.
type siteKey struct {
	dev, ino, off uint64
}

// notifySites are the entries of the notification hooks in the dynamic
// linker and the executable of the resolver's process, leaving out those
// already in hooked (which it updates).
func (s *session) notifySites(hooked map[siteKey]bool) []attach.Site {
	objs, err := proc.Objects(s.resolver.PID())
	if err != nil {
		return nil
	}
	var out []attach.Site
	for _, o := range objs {
		names := notifyHooks.exe
		if !o.Exe {
			if !isDynamicLinker(o.Path) {
				continue
			}
			names = notifyHooks.ldso
		}
		for _, name := range names {
			sites, err := s.resolver.Resolve(&lang.AttachPoint{Kind: lang.KindUprobe, Target: o.Path, Func: name, Raw: "uprobe:" + o.Path + ":" + name})
			if err != nil {
				continue
			}
			for _, st := range sites {
				var fi unix.Stat_t
				if unix.Stat(st.AttachPath, &fi) != nil {
					continue
				}
				k := siteKey{fi.Dev, fi.Ino, st.Offset}
				if hooked[k] {
					continue
				}
				hooked[k] = true
				out = append(out, attach.Site{Path: st.AttachPath, Offset: st.Offset})
			}
		}
	}
	return out
}

// isDynamicLinker reports whether path names the dynamic linker
// (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-2.31.so, ld-musl-*).
func isDynamicLinker(path string) bool {
	b := filepath.Base(path)
	return strings.HasPrefix(b, "ld-") && strings.Contains(b, ".so")
}

// lateHandOver moves the processes of the waiting tree into the session's
// own (called after startTree) and stops the waiting tree's tracers: the
// session's tracers run first, so no fork is missed between the two.
func (s *session) lateHandOver() error {
	lw := s.late
	if lw == nil || lw.tree == nil {
		return nil
	}
	old := lw.tree
	copyTree := func() error {
		for _, pid := range old.Pids() {
			if s.tree != nil {
				if err := s.tree.Add(pid); err != nil {
					return &Error{err}
				}
			}
		}
		return nil
	}
	err := copyTree()
	old.Close()
	lw.tree = nil
	if err == nil {
		err = copyTree() // what forked while the first copy ran
	}
	return err
}

// lateResume lets the process that was stopped at its notification run,
// now that every probe is attached.
func (s *session) lateResume() {
	if s.late != nil && s.late.stopped != 0 {
		attach.Resume(s.late.stopped)
		s.late.stopped = 0
	}
}

// lateClose frees what waiting left (on every path).
func (s *session) lateClose() {
	lw := s.late
	if lw == nil {
		return
	}
	s.lateResume()
	if lw.tree != nil {
		lw.tree.Close()
	}
	if lw.treeMap != nil {
		lw.treeMap.Close()
	}
}

// objKey identifies a mapped file.
type objKey struct {
	major, minor uint32
	inode        uint64
}

// objectKeys returns the objects mapped in pid now.
func objectKeys(pid int) map[objKey]bool {
	objs, _ := proc.Objects(pid)
	out := make(map[objKey]bool, len(objs))
	for _, o := range objs {
		out[objKey{o.Major, o.Minor, o.Inode}] = true
	}
	return out
}

// prefaultBudget bounds the bytes of one new object's data faulted in.
const prefaultBudget = 1 << 20

// prefault touches each page of the readable, non-executable mappings of
// the objects pid mapped since before (up to prefaultBudget each), through
// /proc/PID/mem, which faults them into the process: a probe's first
// firing reads strings in an object just mapped (its .rodata) only from a
// present page, since a BPF program cannot take a page fault.
func prefault(pid int, before map[objKey]bool) {
	objs, err := proc.Objects(pid)
	if err != nil {
		return
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return
	}
	defer f.Close()
	page := uint64(os.Getpagesize())
	var b [1]byte
	for _, o := range objs {
		if before[objKey{o.Major, o.Minor, o.Inode}] {
			continue
		}
		budget := uint64(prefaultBudget)
		for _, m := range o.Mappings {
			if !m.Perms.Read || m.Perms.Exec {
				continue
			}
			for a := m.Start; a < m.End && budget > 0; a += page {
				_, _ = f.ReadAt(b[:], int64(a))
				budget -= min(budget, page)
			}
		}
	}
}
