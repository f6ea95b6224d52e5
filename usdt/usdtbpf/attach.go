package usdtbpf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/proc"
	"github.com/uscope/uscope/usdt"
)

// ErrNotFound is wrapped when the target has no usable site of the probe.
var ErrNotFound = errors.New("no such USDT probe")

// Target says where a probe's sites are.
type Target struct {
	// Path is the ELF object (executable or shared library) whose
	// .note.stapsdt holds the probe. The probe fires in every process
	// that runs it, those started later included, unless PID is set.
	Path string
	// PID limits the probe to one process. Without Path, every object the
	// process maps (its executable, shared libraries, dlopen'd and deleted
	// files, memfds) is searched for the probe.
	PID int
}

// Options tune [Attach]. The zero value is ready to use.
type Options struct {
	// Specs are libbpf's USDT maps of the program's collection, which
	// Attach fills so that BPF_USDT() and bpf_usdt_arg() read the
	// arguments; each site's attach cookie is then its spec id, as libbpf
	// does. Nil for programs that read arguments themselves (see
	// [FetchArg]).
	Specs *Specs
	// Cookie is the value bpf_usdt_cookie() returns (with Specs); without
	// Specs, site i of [Lookup]'s order gets the attach cookie Cookie+i.
	Cookie uint64
	// ForcePerfEvent attaches one perf-event uprobe per site instead of
	// uprobe_multi links (also the fallback on kernels before 6.6).
	ForcePerfEvent bool
}

// Link is one attached USDT probe. Close detaches it.
type Link struct {
	set   *attach.Set
	sites []usdt.Site
	specs *Specs
	ids   []uint32
	ips   []uint64
}

// Sites returns the call sites the probe is attached to.
func (l *Link) Sites() []usdt.Site { return append([]usdt.Site(nil), l.sites...) }

// Close detaches every site, releases the semaphores and the spec ids.
func (l *Link) Close() error {
	if l == nil || l.set == nil {
		return nil
	}
	err := l.set.Close()
	if l.specs != nil {
		l.specs.release(l.ids, l.ips)
	}
	l.set, l.ids, l.ips = nil, nil, nil
	return err
}

// AttachType is the attach type programs given to [Attach] must be loaded
// with (ebpf.ProgramSpec.AttachType of a Kprobe program): uprobe_multi on
// kernels that have it, none (perf-event uprobes) before Linux 6.6.
// [Prepare] sets it.
func AttachType(forcePerfEvent bool) ebpf.AttachType {
	return attach.ProgramAttachType(attach.Options{ForcePerfEvent: forcePerfEvent})
}

// kconfigMap names the map that answers usdt.bpf.h's LINUX_HAS_BPF_COOKIE.
const kconfigMap = "usdtbpf_kconfig"

// Prepare readies a collection compiled from C with libbpf's usdt.bpf.h
// for loading with cilium/ebpf ([LoadCollectionSpec] calls it): every
// program in a "usdt" section gets [AttachType], and the kconfig extern
// LINUX_HAS_BPF_COOKIE, which cilium/ebpf does not resolve (it knows
// LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER and CONFIG_* only), reads
// 1 from a map of its own: [Attach] gives every site a cookie, which the
// kernels with uprobe_multi and perf-event cookies (5.15+) all pass. A
// program whose .kconfig declares other externs as well is refused.
func Prepare(spec *ebpf.CollectionSpec, forcePerfEvent bool) error {
	if spec == nil {
		return errors.New("usdtbpf: nil CollectionSpec")
	}
	for _, p := range spec.Programs {
		if p.Type == ebpf.Kprobe && (p.SectionName == "usdt" || strings.HasPrefix(p.SectionName, "usdt/") || strings.HasPrefix(p.SectionName, "usdt.s")) {
			p.AttachType = AttachType(forcePerfEvent)
		}
	}
	staticFuncs(spec, libbpfFuncs)
	if spec.Types == nil {
		return nil
	}
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(".kconfig", &ds); err != nil {
		return nil // no kconfig externs
	}
	var names []string
	cookie := -1
	for _, v := range ds.Vars {
		if bv, ok := v.Type.(*btf.Var); ok {
			names = append(names, bv.Name)
			if bv.Name == "LINUX_HAS_BPF_COOKIE" {
				cookie = int(v.Offset)
			}
		}
	}
	if cookie < 0 {
		return nil
	}
	if len(names) != 1 || ds.Size == 0 {
		return fmt.Errorf("usdtbpf: the program declares kconfig externs %v; with usdt.bpf.h's LINUX_HAS_BPF_COOKIE only that one can be answered", names)
	}
	value := make([]byte, ds.Size)
	value[cookie] = 1
	spec.Maps[kconfigMap] = &ebpf.MapSpec{
		Name: kconfigMap, Type: ebpf.Array, KeySize: 4, ValueSize: ds.Size, MaxEntries: 1,
		Contents: []ebpf.MapKV{{Key: uint32(0), Value: value}},
	}
	// The extern's loads are the direct map-value loads without a map
	// name (cilium/ebpf marks them for its own .kconfig map).
	for _, p := range spec.Programs {
		for i, ins := range p.Instructions {
			if !ins.OpCode.IsDWordLoad() || ins.Src != asm.PseudoMapValue || ins.Reference() != "" || ins.Map() != nil {
				continue
			}
			n := asm.LoadMapValue(ins.Dst, 0, uint32(cookie)).WithReference(kconfigMap)
			if fn := btf.FuncMetadata(&ins); fn != nil {
				n = btf.WithFuncMetadata(n, fn)
			}
			if src := ins.Source(); src != nil {
				n = n.WithSource(src)
			}
			if sym := ins.Symbol(); sym != "" {
				n = n.WithSymbol(sym) // the first instruction of a function
			}
			p.Instructions[i] = n
		}
	}
	return nil
}

// libbpfFuncs are usdt.bpf.h's functions, declared __weak __hidden.
var libbpfFuncs = map[string]bool{"bpf_usdt_arg": true, "bpf_usdt_arg_cnt": true, "bpf_usdt_cookie": true}

// staticFuncs gives the functions named in names static linkage in the
// programs' BTF, as libbpf does for hidden global functions: the verifier
// then checks them in the context of each call (a pointer argument is the
// caller's stack, not "memory or NULL").
func staticFuncs(spec *ebpf.CollectionSpec, names map[string]bool) {
	for _, p := range spec.Programs {
		for i := range p.Instructions {
			if fn := btf.FuncMetadata(&p.Instructions[i]); fn != nil && names[fn.Name] && fn.Linkage == btf.GlobalFunc {
				fn.Linkage = btf.StaticFunc
			}
		}
	}
}

// Attach attaches prog, a Kprobe program loaded with [AttachType], to every
// call site of the USDT probe provider:name ("" matches any provider) in
// target: one uprobe_multi link per object (one perf-event uprobe per
// site as the fallback), each site's semaphore raised through the
// kernel's ref_ctr_offset while attached, and its cookie set. With
// opts.Specs, each site's arguments are written to libbpf's spec maps
// first, so C programs using BPF_USDT() read them unchanged.
//
// Errors wrap [ErrNotFound] when nothing matches; attach failures are one
// line naming the site and the fix. On error nothing stays attached.
func Attach(prog *ebpf.Program, target Target, provider, name string, opts *Options) (*Link, error) {
	if opts == nil {
		opts = &Options{}
	}
	if prog == nil {
		return nil, errors.New("usdtbpf: nil program")
	}
	found, err := lookup(target, provider, name)
	if err != nil {
		return nil, err
	}
	l := &Link{set: attach.NewSet(), specs: opts.Specs}
	sites := make([]attach.Site, 0, len(found))
	for i, f := range found {
		cookie := opts.Cookie + uint64(i)
		if opts.Specs != nil {
			enc, err := EncodeSpec(f.site, opts.Cookie)
			if err != nil {
				l.Close()
				return nil, err
			}
			id, err := opts.Specs.add(enc)
			if err != nil {
				l.Close()
				return nil, err
			}
			l.ids = append(l.ids, id)
			cookie = uint64(id)
			if f.obj != nil && opts.Specs.ipToID != nil {
				ip := f.obj.RuntimeAddr(f.site.Addr)
				if err := opts.Specs.ipToID.Put(ip, id); err == nil {
					l.ips = append(l.ips, ip)
				}
			}
		}
		l.sites = append(l.sites, f.site)
		sites = append(sites, attach.Site{Path: f.path, Offset: f.site.FileOffset, RefCtrOffset: f.site.SemaphoreOffset, Cookie: cookie})
	}
	if err := l.set.Attach(prog, sites, attach.Options{PID: target.PID, ForcePerfEvent: opts.ForcePerfEvent}); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Lookup returns the usable call sites of provider:name ("" matches any
// provider) in target, in the order [Attach] numbers them: without
// [Options.Specs], site i gets the attach cookie Options.Cookie+i, so a
// program generated for these sites (see [FetchArg]) can tell them apart
// with bpf_get_attach_cookie. Errors wrap [ErrNotFound] when nothing
// matches.
func Lookup(target Target, provider, name string) ([]usdt.Site, error) {
	found, err := lookup(target, provider, name)
	if err != nil {
		return nil, err
	}
	out := make([]usdt.Site, len(found))
	for i, f := range found {
		out[i] = f.site
	}
	return out, nil
}

// found is a site and the object it is in.
type found struct {
	object
	site usdt.Site
}

func lookup(target Target, provider, name string) ([]found, error) {
	if name == "" {
		return nil, errors.New("usdtbpf: empty probe name")
	}
	objs, err := targetObjects(target)
	if err != nil {
		return nil, err
	}
	var out []found
	for _, o := range objs {
		all, err := usdt.ReadSites(o.path)
		if err != nil {
			if target.Path != "" {
				return nil, fmt.Errorf("usdtbpf: %s: %w", target.Path, err)
			}
			continue // not an object whose notes can be read
		}
		for _, s := range all {
			if s.Name == name && (provider == "" || s.Provider == provider) && s.Err == nil {
				out = append(out, found{o, s})
			}
		}
	}
	if len(out) == 0 {
		where := target.Path
		if where == "" {
			where = fmt.Sprintf("any object mapped by process %d", target.PID)
		}
		return nil, fmt.Errorf("usdtbpf: %w: %s in %s (list the probes with usdt.ReadSites or `uscope list`)", ErrNotFound, probeName(provider, name), where)
	}
	return out, nil
}

func probeName(provider, name string) string {
	if provider == "" {
		return name
	}
	return provider + ":" + name
}

// object is one file to search, and its mapping in the target process if
// known.
type object struct {
	path string
	obj  *proc.Object
}

// targetObjects lists the files a target's probe sites may be in.
func targetObjects(t Target) ([]object, error) {
	if t.PID < 0 {
		return nil, fmt.Errorf("usdtbpf: invalid process id %d", t.PID)
	}
	var objs []proc.Object
	if t.PID > 0 {
		var err error
		if objs, err = proc.Objects(t.PID); err != nil {
			return nil, fmt.Errorf("usdtbpf: %w", err)
		}
	}
	if t.Path != "" {
		fi, err := os.Stat(t.Path)
		if err != nil {
			return nil, fmt.Errorf("usdtbpf: %w", err)
		}
		o := object{path: t.Path}
		for i := range objs {
			if st, err := os.Stat(objs[i].OpenPath); err == nil && os.SameFile(fi, st) {
				o.obj = &objs[i]
				break
			}
		}
		return []object{o}, nil
	}
	if t.PID == 0 {
		return nil, errors.New("usdtbpf: a target needs a Path or a PID")
	}
	var out []object
	for i := range objs {
		out = append(out, object{path: objs[i].OpenPath, obj: &objs[i]})
	}
	return out, nil
}
