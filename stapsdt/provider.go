package stapsdt

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Errors that Provider methods wrap; test for them with errors.Is.
var (
	// ErrLoaded is returned by AddProbe and Load on a loaded provider.
	ErrLoaded = errors.New("provider is loaded")
	// ErrNotLoaded is returned by Unload on a provider that is not loaded.
	ErrNotLoaded = errors.New("provider is not loaded")
)

// errUnsupportedArch is wrapped when the running architecture has no probe
// sites; it matches errors.ErrUnsupported.
var errUnsupportedArch = fmt.Errorf("probes are supported on amd64 and arm64 only: %w", errors.ErrUnsupported)

// maxNameLen bounds provider and probe names. The memfd name
// ("stapsdt-" + provider) must stay under the kernel's 249-byte limit.
const maxNameLen = 128

// checkName accepts C identifiers ([A-Za-z_][A-Za-z0-9_]*), which every
// tracer's probe syntax can spell (bpftrace, bcc, uscope). DTrace-style names
// with "-" are written with "__" instead, as dtrace -h does.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("stapsdt: %s name is empty", what)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("stapsdt: %s name %.20q... is %d bytes, at most %d", what, name, len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return fmt.Errorf("stapsdt: %s name %q: byte %d (%q) is not allowed: use letters, digits and _, not starting with a digit", what, name, i, c)
		}
	}
	return nil
}

// Option configures a Provider.
type Option func(*options)

type options struct {
	dir     string // directory for the file fallback; "" means os.TempDir()
	noMemfd bool   // always use a file
}

// WithTempDir sets the directory where Load writes the provider's ELF file
// when it cannot use an executable memfd (vm.memfd_noexec=2, seccomp or
// security policies). The directory's file system must allow executable
// mappings (no noexec mount option). The default is os.TempDir().
func WithTempDir(dir string) Option { return func(o *options) { o.dir = dir } }

// WithoutMemfd makes Load write the provider's ELF to a file (see
// WithTempDir) instead of trying a memfd first. The file is removed by
// Unload. Tracers that cannot resolve memfd mappings can use the file's path.
func WithoutMemfd() Option { return func(o *options) { o.noMemfd = true } }

// Provider is a set of USDT probes under one provider name. Create it with
// NewProvider, declare probes with AddProbe, then Load it to make the probes
// visible to tracers.
type Provider struct {
	name string
	opts options

	mu     sync.Mutex
	probes []*Probe
	byName map[string]*Probe
	m      *mapping // non-nil while loaded
}

// NewProvider returns a provider named name: the "provider" part of the
// usdt:TARGET:PROVIDER:NAME probes tracers see. The name must be a C
// identifier of at most 128 bytes.
func NewProvider(name string, opts ...Option) (*Provider, error) {
	if err := checkName("provider", name); err != nil {
		return nil, err
	}
	p := &Provider{name: name, byName: make(map[string]*Probe)}
	for _, o := range opts {
		o(&p.opts)
	}
	return p, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// AddProbe declares a probe with up to MaxArgs arguments of the given
// types. Names are C identifiers, unique within the provider. Probes can only
// be added while the provider is not loaded.
func (p *Provider) AddProbe(name string, args ...ArgType) (*Probe, error) {
	if err := checkName("probe", name); err != nil {
		return nil, err
	}
	if len(args) > MaxArgs {
		return nil, fmt.Errorf("stapsdt: probe %s:%s: %d arguments, at most %d", p.name, name, len(args), MaxArgs)
	}
	for i, t := range args {
		if !t.valid() {
			return nil, fmt.Errorf("stapsdt: probe %s:%s: argument %d: invalid type %v", p.name, name, i, t)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m != nil {
		return nil, fmt.Errorf("stapsdt: adding probe %s:%s: %w", p.name, name, ErrLoaded)
	}
	if _, dup := p.byName[name]; dup {
		return nil, fmt.Errorf("stapsdt: probe %s:%s is already declared", p.name, name)
	}
	pr := &Probe{provider: p, name: name, args: append([]ArgType(nil), args...)}
	pr.sema.Store(&disabledSema)
	p.probes = append(p.probes, pr)
	p.byName[name] = pr
	return pr, nil
}

// defs returns the probes as the image builder wants them.
func (p *Provider) defs() []probeDef {
	defs := make([]probeDef, len(p.probes))
	for i, pr := range p.probes {
		defs[i] = probeDef{name: pr.name, args: pr.args}
	}
	return defs
}

// Load builds the provider's ELF object, writes it to a memfd (or a file,
// see WithTempDir), and maps it into the process, after which tracers can
// find and attach to the probes. A provider can be loaded again after
// Unload.
func (p *Provider) Load() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m != nil {
		return fmt.Errorf("stapsdt: loading provider %s: %w", p.name, ErrLoaded)
	}
	if len(p.probes) == 0 {
		return fmt.Errorf("stapsdt: loading provider %s: no probes declared", p.name)
	}
	a, err := hostArch()
	if err != nil {
		return fmt.Errorf("stapsdt: loading provider %s: %w", p.name, err)
	}
	img, err := buildImage(a, p.name, p.defs(), os.Getpagesize())
	if err != nil {
		return fmt.Errorf("stapsdt: loading provider %s: %w", p.name, err)
	}
	m, err := mapImage(p.name, img, p.opts)
	if err != nil {
		return fmt.Errorf("stapsdt: loading provider %s: %w", p.name, err)
	}
	p.m = m
	for i, pr := range p.probes {
		pr.site.Store(m.addr(img.sites[i]))
		pr.sema.Store(m.word(img.semas[i]))
	}
	loaded()
	return nil
}

// Unload unmaps the provider's object and closes (and, for the file
// fallback, removes) its file. Tracers attached to its probes stop seeing
// them; afterwards Enabled reports false and Fire does nothing. Unload must
// not run while other goroutines may be inside Enabled or Fire of this
// provider's probes.
func (p *Provider) Unload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		return fmt.Errorf("stapsdt: unloading provider %s: %w", p.name, ErrNotLoaded)
	}
	for _, pr := range p.probes {
		pr.sema.Store(&disabledSema)
		pr.site.Store(0)
	}
	err := p.m.close()
	p.m = nil
	if err != nil {
		return fmt.Errorf("stapsdt: unloading provider %s: %w", p.name, err)
	}
	return nil
}

// Path returns a path other processes can open to read the loaded
// provider's ELF object: /proc/PID/fd/N for a memfd, or the file's path for
// the file fallback. It is "" when the provider is not loaded. Tracers take
// it as the target: usdt:PATH:PROVIDER:PROBE.
func (p *Provider) Path() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		return ""
	}
	return p.m.path
}

// Probe is one probe of a Provider, created by AddProbe.
type Probe struct {
	// provider keeps the Provider, and so its open file, reachable while
	// the probe is: tracers find the probes through that file descriptor.
	provider *Provider
	name     string
	args     []ArgType

	// sema points at the probe's semaphore slot while loaded, at
	// disabledSema otherwise. It is never nil, which keeps Fire inlinable.
	sema atomic.Pointer[uint32]
	// site is the address of the probe's code while loaded, 0 otherwise.
	site atomic.Uintptr
}

// Name returns the probe's name.
func (pr *Probe) Name() string { return pr.name }

// Args returns the probe's declared argument types.
func (pr *Probe) Args() []ArgType { return append([]ArgType(nil), pr.args...) }

// Enabled reports whether a tracer is attached to the probe: the kernel
// increments the probe's semaphore while a uprobe that names it is installed.
// It is one atomic load of the semaphore, cheap enough to guard the
// preparation of expensive arguments.
func (pr *Probe) Enabled() bool {
	return atomic.LoadUint32(pr.sema.Load()) != 0
}

// disabledSema is the semaphore of probes that are not loaded; it stays 0.
var disabledSema uint32

// Fire hits the probe with the given arguments if it is enabled, and does
// nothing, without allocating, otherwise. Arguments are matched to the
// declared types in order: integers (of any basic integer type), bool,
// uintptr and unsafe.Pointer are passed as values, truncated and sign- or
// zero-extended to the declared size; a string or []byte is passed as a
// pointer to a NUL-terminated copy. Missing arguments are passed as 0, extra
// ones are ignored, and values of other types (including named types such as
// time.Duration) are passed as 0.
func (pr *Probe) Fire(args ...any) {
	if pr.Enabled() {
		pr.fire(args)
	}
}
