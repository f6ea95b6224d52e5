package attach

import (
	"debug/elf"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
)

// Site is one place to put a uprobe: an instruction in an object file.
type Site struct {
	// Path is the object to attach to. It may go through /proc/PID/root/...
	// or /proc/PID/map_files/... to reach a file in another mount namespace.
	Path string
	// Offset is the file offset of the instruction (not its virtual address).
	Offset uint64
	// RefCtrOffset is the file offset of a USDT semaphore the kernel
	// increments while the probe is attached; 0 means none.
	RefCtrOffset uint64
	// Cookie is the value the BPF program reads with bpf_get_attach_cookie
	// when this site fires.
	Cookie uint64
}

// Options apply to every site of one [Set.Attach] call.
type Options struct {
	// PID limits the probes to one process (a kernel pid filter, so other
	// processes do not pay for them); 0 means every process.
	PID int
	// Return attaches uretprobes, which fire when the function returns.
	// Never used for Go functions: the caller probes their RET instructions.
	Return bool
	// ForcePerfEvent skips uprobe_multi and attaches one perf-event uprobe
	// per site, as on kernels older than 6.6 (used by tests and benchmarks).
	ForcePerfEvent bool
	// SkipRefused leaves out the sites the kernel refuses on their own (an
	// instruction it cannot probe, such as a lock-prefixed one) and attaches
	// the others; [Set.Refused] lists what was left out. For wildcards:
	// 'c:*' should not fail for libc's pthread_spin_lock.
	SkipRefused bool
}

// Refused is a site that [Set.Attach] left out with [Options.SkipRefused].
type Refused struct {
	Site Site
	Err  *Error
}

// maxCloseWorkers bounds how many links are detached at once. Each detach of
// a perf-event uprobe waits for an RCU grace period (6.13+); doing them in
// parallel overlaps those waits, and the bound keeps the number of OS
// threads blocked in close(2) reasonable.
const maxCloseWorkers = 64

var haveUprobeMulti = sync.OnceValue(func() bool {
	return features.HaveBPFLinkUprobeMulti() == nil
})

// UsesUprobeMulti reports whether [Set.Attach] with opts creates uprobe_multi
// links (true on Linux 6.6+ unless opts.ForcePerfEvent) rather than one perf
// event per site. The kernel is asked once per process.
func UsesUprobeMulti(opts Options) bool {
	return !opts.ForcePerfEvent && haveUprobeMulti()
}

// ProgramAttachType returns the attach type a program must be loaded with
// (ebpf.ProgramSpec.AttachType, program type ebpf.Kprobe) to be attached by
// [Set.Attach] with opts: AttachTraceUprobeMulti for uprobe_multi links,
// AttachNone for perf-event uprobes. The kernel refuses the other one.
func ProgramAttachType(opts Options) ebpf.AttachType {
	if UsesUprobeMulti(opts) {
		return ebpf.AttachTraceUprobeMulti
	}
	return ebpf.AttachNone
}

// Set is everything one session attached. Its zero value is not usable; call
// [NewSet]. A Set is safe for concurrent use.
type Set struct {
	mu      sync.Mutex
	links   []link.Link
	probes  int
	refused []Refused
	// semaphores are the links that hold a USDT semaphore up: CloseOnExit
	// detaches them itself, so that no semaphore outlives uscope.
	semaphores map[link.Link]bool
}

// Refused returns the sites left out because the kernel refused them, with
// [Options.SkipRefused].
func (s *Set) Refused() []Refused {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Refused(nil), s.refused...)
}

// NewSet returns an empty Set.
func NewSet() *Set { return &Set{} }

// Probes returns the number of sites currently attached.
func (s *Set) Probes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes
}

// Attach attaches prog to every site: one uprobe_multi link per object path
// when the kernel supports it (see [UsesUprobeMulti]), else one perf-event
// uprobe per site. prog must be a Kprobe program loaded with
// [ProgramAttachType](opts).
//
// On error, whatever this call attached is detached before returning and the
// error is an [*Error] naming the site and the fix where one is known;
// probes attached by earlier calls stay until [Set.Close].
//
// When uprobe_multi refuses a batch with a per-site error (a ref_ctr_offset
// mismatch, an instruction the kernel cannot probe), Attach narrows it down
// by attaching halves of the batch, so the BPF program may briefly run on
// some of the sites before the error is returned.
//
// The kernel checks that an offset holds an instruction it can probe only
// when it installs the breakpoint in a process that maps the file: at attach
// time for processes already running, silently later for the others.
func (s *Set) Attach(prog *ebpf.Program, sites []Site, opts Options) error {
	if opts.PID < 0 || opts.PID > math.MaxInt32 {
		return &Error{Msg: fmt.Sprintf("invalid process id %d; pass the PID of a running process", opts.PID)}
	}
	if prog == nil {
		return errors.New("attach uprobes: no BPF program given (internal error)")
	}
	if len(sites) == 0 {
		return nil
	}
	multi := UsesUprobeMulti(opts)
	all := len(sites)
	sites, refused, err := prefilter(sites, opts)
	if err != nil {
		return err
	}
	groups, err := checkSites(sites, multi)
	if err != nil {
		return err
	}

	var links []link.Link
	if multi {
		for _, g := range groups {
			l, ref, err := attachMulti(prog, g.path, g.sites, opts)
			if err != nil {
				_ = closeLinks(links)
				return err
			}
			links = append(links, l)
			refused = append(refused, ref...)
		}
	} else {
		var ref []Refused
		links, ref, err = attachPerf(prog, sites, opts)
		if err != nil {
			return err
		}
		refused = append(refused, ref...)
	}

	s.mu.Lock()
	if slices.ContainsFunc(sites, func(st Site) bool { return st.RefCtrOffset != 0 }) {
		if s.semaphores == nil {
			s.semaphores = map[link.Link]bool{}
		}
		for _, l := range links {
			s.semaphores[l] = true
		}
	}
	s.links = append(s.links, links...)
	s.probes += all - len(refused)
	s.refused = append(s.refused, refused...)
	s.mu.Unlock()
	return nil
}

// Close detaches everything the Set attached. Links are closed concurrently,
// because each perf-event uprobe waits for an RCU grace period when it goes
// (Linux 6.13+). Close is idempotent, and the Set may be reused afterwards.
func (s *Set) Close() error {
	s.mu.Lock()
	links := s.links
	s.links, s.probes, s.semaphores = nil, 0, nil
	s.mu.Unlock()
	if err := closeLinks(links); err != nil {
		return &Error{Msg: "detaching uprobes failed; some may stay until uscope exits", Err: err}
	}
	return nil
}

// closeLinks closes links with up to maxCloseWorkers in flight and returns
// the errors joined.
func closeLinks(links []link.Link) error {
	switch len(links) {
	case 0:
		return nil
	case 1:
		return links[0].Close()
	}
	workers := min(len(links), maxCloseWorkers)
	errs := make([]error, len(links))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = links[i].Close()
			}
		}()
	}
	for i := range links {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// group is the sites of one object path, in the caller's order.
type group struct {
	path  string
	sites []Site
}

// object is what checkSites learned about one file.
type object struct {
	size int64
	// exec and write are the file ranges of executable and writable PT_LOAD
	// segments; nil when the file is not ELF (then nothing is checked).
	exec, write []fileRange
}

type fileRange struct{ off, end uint64 }

func inRanges(rs []fileRange, off, n uint64) bool {
	for _, r := range rs {
		if off >= r.off && off+n <= r.end {
			return true
		}
	}
	return false
}

// checkSites validates sites against their files before the kernel sees them
// (so mistakes get a precise message), and groups them by path. Each file's
// ELF program headers are read once; symbols are never parsed.
func checkSites(sites []Site, multi bool) ([]group, error) {
	objs := map[string]*object{}
	index := map[string]int{}
	var groups []group
	// Each group's slice at its final size: a wildcard puts tens of
	// thousands of sites in one (appending moved them again and again).
	count := map[string]int{}
	for i := range sites {
		count[sites[i].Path]++
	}
	for _, st := range sites {
		obj, ok := objs[st.Path]
		if !ok {
			var err error
			if obj, err = inspect(st.Path); err != nil {
				return nil, err
			}
			objs[st.Path] = obj
			index[st.Path] = len(groups)
			groups = append(groups, group{path: st.Path, sites: make([]Site, 0, count[st.Path])})
		}
		if err := checkSite(st, obj, multi); err != nil {
			return nil, err
		}
		g := &groups[index[st.Path]]
		g.sites = append(g.sites, st)
	}
	return groups, nil
}

func inspect(path string) (*object, error) {
	if path == "" {
		return nil, &Error{Msg: "a probe site has no object path (internal error)"}
	}
	fi, err := os.Stat(path)
	if err != nil {
		msg := fmt.Sprintf("cannot attach uprobes to %s: the file is not accessible", path)
		if errors.Is(err, os.ErrNotExist) {
			msg = fmt.Sprintf("cannot attach uprobes to %s: no such file (did the process exit or the file get replaced?)", path)
		}
		return nil, &Error{Path: path, Msg: msg, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot attach uprobes to %s: not a regular file; give an executable or shared library", path)}
	}
	obj := &object{size: fi.Size()}
	f, err := elf.Open(path)
	if err != nil {
		// Not ELF (or not readable as ELF): let the kernel judge the offsets.
		return obj, nil
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 {
			continue
		}
		r := fileRange{p.Off, p.Off + p.Filesz}
		if p.Flags&elf.PF_X != 0 {
			obj.exec = append(obj.exec, r)
		}
		if p.Flags&elf.PF_W != 0 {
			obj.write = append(obj.write, r)
		}
	}
	if obj.exec == nil {
		obj.exec = []fileRange{} // ELF without code: every offset is wrong.
	}
	return obj, nil
}

func checkSite(st Site, obj *object, multi bool) error {
	where := fmt.Sprintf("%s+%#x", st.Path, st.Offset)
	switch {
	case st.Offset == 0 && obj.exec != nil: // (a file that is not ELF may start with code)
		return &Error{Path: st.Path, Msg: fmt.Sprintf("cannot attach a uprobe at %s: offset 0 is the ELF header, not code (internal error: the probe's address was not resolved)", where)}
	case st.Offset >= uint64(obj.size):
		return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf("cannot attach a uprobe at %s: the offset is past the end of the file (%d bytes); was the file replaced since it was inspected?", where, obj.size)}
	case obj.exec != nil && !inRanges(obj.exec, st.Offset, 1):
		return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf("cannot attach a uprobe at %s: the offset is not in the file's executable code; give a file offset of an instruction (not a virtual address)", where)}
	}
	if st.RefCtrOffset == 0 {
		return nil
	}
	sema := fmt.Sprintf("USDT semaphore at %s+%#x", st.Path, st.RefCtrOffset)
	switch {
	case st.RefCtrOffset%2 != 0:
		return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf("cannot attach a uprobe at %s: its %s is not 2-byte aligned; the semaphore offset is wrong", where, sema)}
	case st.RefCtrOffset+2 > uint64(obj.size):
		return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf("cannot attach a uprobe at %s: its %s is past the end of the file", where, sema)}
	case obj.write != nil && !inRanges(obj.write, st.RefCtrOffset, 2):
		return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf("cannot attach a uprobe at %s: its %s is not in a writable segment of the file, so the kernel could never enable it", where, sema)}
	case !multi && st.RefCtrOffset >= 1<<32:
		return &Error{Path: st.Path, Offset: st.Offset, Msg: fmt.Sprintf("cannot attach a uprobe at %s: its %s is beyond 4 GiB, which perf-event uprobes cannot express; this needs uprobe_multi (Linux 6.6+)", where, sema)}
	}
	return nil
}

// multiAttacher attaches one uprobe_multi link for a subset of one path's
// sites; attachMulti and its error diagnosis share it.
type multiAttacher struct {
	ex   *link.Executable
	prog *ebpf.Program
	opts Options
}

func (m multiAttacher) attach(sites []Site) (link.Link, error) {
	addrs := make([]uint64, len(sites))
	cookies := make([]uint64, len(sites))
	var refs []uint64
	for i, st := range sites {
		addrs[i], cookies[i] = st.Offset, st.Cookie
		if st.RefCtrOffset != 0 && refs == nil {
			refs = make([]uint64, len(sites))
		}
	}
	if refs != nil {
		for i, st := range sites {
			refs[i] = st.RefCtrOffset
		}
	}
	mo := &link.UprobeMultiOptions{
		Addresses:     addrs,
		Cookies:       cookies,
		RefCtrOffsets: refs,
		PID:           uint32(m.opts.PID),
	}
	if m.opts.Return {
		return m.ex.UretprobeMulti(nil, m.prog, mo)
	}
	return m.ex.UprobeMulti(nil, m.prog, mo)
}

func attachMulti(prog *ebpf.Program, path string, sites []Site, opts Options) (link.Link, []Refused, error) {
	if atZero(sites) {
		l, err := rawUprobeMulti(prog, path, sites, opts)
		return l, nil, err
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, nil, explain(err, path, nil, opts)
	}
	m := multiAttacher{ex, prog, opts}
	var refused []Refused
	for {
		l, err := m.attach(sites)
		if err == nil {
			return l, refused, nil
		}
		if len(sites) > 1 && siteSpecific(err) {
			if opts.SkipRefused {
				if i, serr, ok := m.bisect(sites); ok {
					refused = append(refused, Refused{sites[i], explain(serr, path, &sites[i], opts)})
					sites = slices.Delete(slices.Clone(sites), i, i+1)
					continue
				}
			} else if st, serr, ok := m.locate(sites); ok {
				return nil, nil, explain(serr, path, &st, opts)
			}
		}
		if len(sites) == 1 {
			return nil, nil, explain(err, path, &sites[0], opts)
		}
		return nil, nil, explain(err, path, nil, opts)
	}
}

// locate finds a site the kernel refuses on its own while the rest of the
// batch attaches, by bisection: about log2(len(sites))+2 attach attempts,
// each detached at once. ok is false when the failure is not caused by one
// site (it is about the program, the process, or several sites at once).
func (m multiAttacher) locate(sites []Site) (Site, error, bool) {
	i, err, ok := m.bisect(sites)
	if !ok {
		return Site{}, nil, false
	}
	rest := make([]Site, 0, len(sites)-1)
	rest = append(append(rest, sites[:i]...), sites[i+1:]...)
	l, rerr := m.attach(rest)
	if rerr != nil {
		return Site{}, nil, false
	}
	_ = l.Close()
	return sites[i], err, true
}

// bisect finds the first site of a refused batch that the kernel refuses on
// its own: the index and the kernel's error, or ok false when no single
// site is refused.
func (m multiAttacher) bisect(sites []Site) (int, error, bool) {
	lo, base := sites, 0
	for len(lo) > 1 {
		half := len(lo) / 2
		l, err := m.attach(lo[:half])
		if err != nil {
			lo = lo[:half]
			continue
		}
		_ = l.Close()
		lo, base = lo[half:], base+half
	}
	l, err := m.attach(lo)
	if err == nil {
		_ = l.Close()
		return 0, nil, false
	}
	return base, err, true
}

// attachPerf attaches one perf-event uprobe per site, in order. On error it
// detaches what it attached.
func attachPerf(prog *ebpf.Program, sites []Site, opts Options) ([]link.Link, []Refused, error) {
	execs := map[string]*link.Executable{}
	links := make([]link.Link, 0, len(sites))
	var refused []Refused
	fail := func(err error, path string, st *Site) ([]link.Link, []Refused, error) {
		_ = closeLinks(links)
		return nil, nil, explain(err, path, st, opts)
	}
	if atZero(sites) {
		return nil, nil, &Error{Path: sites[0].Path, Msg: "a probe at offset 0 of a file that is not ELF needs uprobe_multi links (Linux 6.6+), not perf-event uprobes"}
	}
	for i := range sites {
		st := &sites[i]
		ex := execs[st.Path]
		if ex == nil {
			var err error
			if ex, err = link.OpenExecutable(st.Path); err != nil {
				return fail(err, st.Path, nil)
			}
			execs[st.Path] = ex
		}
		uo := &link.UprobeOptions{
			Address:      st.Offset,
			RefCtrOffset: st.RefCtrOffset,
			Cookie:       st.Cookie,
			PID:          opts.PID,
		}
		var (
			l   link.Link
			err error
		)
		if opts.Return {
			l, err = ex.Uretprobe("", prog, uo)
		} else {
			l, err = ex.Uprobe("", prog, uo)
		}
		if err != nil && opts.SkipRefused && len(sites) > 1 && siteSpecific(err) {
			refused = append(refused, Refused{*st, explain(err, st.Path, st, opts)})
			continue
		}
		if err != nil {
			return fail(err, st.Path, st)
		}
		links = append(links, l)
	}
	return links, refused, nil
}
