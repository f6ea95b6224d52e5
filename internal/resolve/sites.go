package resolve

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/hugepage"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/proc"
	"github.com/uscope/uscope/usdt"
)

// Site is one place a probe attaches: a function entry (or FUNC+OFF, or a
// raw address) for uprobes and uretprobes, a call site for USDT.
type Site struct {
	Kind       string // lang.KindUprobe, lang.KindUretprobe, lang.KindUSDT
	Probe      string // canonical name, e.g. "uprobe:/usr/bin/redis-server:createStringObject"
	Target     string // canonical object path (display)
	AttachPath string // path handed to the kernel
	Func       string // symbol (mangled) name, or USDT probe name
	Display    string // demangled name shown by `func` ("" for a mangled name Name demangles on first use)
	Provider   string // USDT provider
	// FuncAddr is the link-time address of the function start (0 for a raw
	// address and for USDT).
	FuncAddr uint64
	// Addr is the link-time address of the site.
	Addr uint64
	// Size is the function's size (0 for USDT and raw addresses).
	Size uint64
	// Offset is the file offset where the uprobe goes.
	Offset uint64
	// RefCtrOffset is the file offset of the USDT semaphore, 0 if none.
	RefCtrOffset uint64
	// USDT is the call site, nil unless Kind is usdt.
	USDT *usdt.Site
	// GoBinary is true when the object is a Go binary.
	GoBinary bool
	// GoFunc is the Go function (from pclntab) the site is in, "" when it
	// is not Go code; GoEntry marks its entry (placed after the stack
	// check), GoAsm a function written in assembly, and AtReturn one of
	// its RET instructions, where a uretprobe on it is attached as a plain
	// uprobe (see goSites).
	GoFunc   string
	GoEntry  bool
	GoAsm    bool
	AtReturn bool
	// Moved is how far an entry probe on a C or C++ function was moved
	// past the function's first instruction (Addr - FuncAddr), to an
	// instruction the kernel emulates; Placement says where and why, as
	// "+4 (jcc, emulated; skipped cmp)" ("" when not considered).
	Moved     uint64
	Placement string
	// Go is the binary of a site in Go code (GoFunc set), nil otherwise.
	Go GoBinary
	// Inlined is, for a copy of Func inlined into another Go function
	// (Options.ProbeInline), the name of that function; "" otherwise.
	Inlined string
	// demangled, when Display is "", is where Name demangles Func the
	// first time it is asked (see lazyName).
	demangled *lazyName
}

// lazyName is a C++ or Rust site's demangled name, computed on first use:
// a wildcard over a C++ library resolves tens of thousands of sites, and a
// program prints the names of the few it hits, if any (issue 22: demangling
// every function of libjvm.so was a quarter of its attach CPU). Copies of a
// Site share it.
type lazyName struct {
	once sync.Once
	name string
}

// Name is what func prints for the site: the demangled function name, or
// the USDT probe's.
func (s *Site) Name() string {
	if s.Display != "" {
		return s.Display
	}
	if d := s.demangled; d != nil {
		d.once.Do(func() { d.name = elfx.Demangle(s.Func) })
		return d.name
	}
	return s.Func
}

// SameName reports whether s and o have the same Name, without
// demangling when their fields already say so.
func (s *Site) SameName(o *Site) bool {
	if s.Func == o.Func && s.Display == o.Display && (s.Display != "" || (s.demangled == nil) == (o.demangled == nil)) {
		return true
	}
	return s.Name() == o.Name()
}

// GoBinary is what the compiler asks of a Go binary; *gobin.Binary
// implements it.
type GoBinary interface {
	// Params places the parameters and results of fn (gobin.Binary.Params).
	Params(fn string) ([]gobin.Param, error)
	// ParamType returns the DWARF type of a parameter or result of fn.
	ParamType(fn, name string) (*gobin.Type, error)
	// GoidOffset is the offset of the goroutine id in runtime.g.
	GoidOffset() (off int, fromDWARF bool, err error)
	// GoVersionAtLeast reports whether the binary was built by Go
	// major.minor or later.
	GoVersionAtLeast(major, minor int) bool
}

// ProbeName builds a canonical probe name, pasteable into a program:
// "uprobe:PATH:FUNC", "usdt:PATH:PROVIDER:NAME". A part that the language
// would split (it holds ':', white space, ',', '{', '}', '"', or, outside the
// path, '/' or '+') is written in double quotes:
// uprobe:/bin/app:"github.com/x/y.F".
func ProbeName(kind, path string, parts ...string) string {
	var b strings.Builder
	b.WriteString(kind)
	b.WriteByte(':')
	b.WriteString(quoteField(path, true))
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(quoteField(p, false))
	}
	return b.String()
}

// fieldSpecial marks the bytes that end an attach point field; fieldSlash
// adds those that end a function field but not a path.
var fieldSpecial, fieldSlash = func() (a, b [256]bool) {
	for _, c := range ": \t\n\r\v\f,{}\"\\" {
		a[c], b[c] = true, true
	}
	b['/'], b['+'] = true, true
	return a, b
}()

// quoteField quotes one field of an attach point when the language needs it.
func quoteField(s string, slashOK bool) string {
	if !needsQuotes(s, slashOK) {
		return s
	}
	return string(appendField(nil, s, slashOK))
}

func needsQuotes(s string, slashOK bool) bool {
	tab := &fieldSlash
	if slashOK {
		tab = &fieldSpecial
	}
	for i := 0; i < len(s); i++ {
		if tab[s[i]] {
			return true
		}
	}
	return false
}

// appendField appends s to b, quoted when the language needs it.
func appendField(b []byte, s string, slashOK bool) []byte {
	if !needsQuotes(s, slashOK) {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// Resolve returns every site an attach point names: for uprobe and
// uretprobe, the functions whose mangled or demangled name matches the glob
// in Func (at Offset past their start with FUNC+OFF), or the raw address
// 0xADDR, which must fall in an executable segment; for usdt, every call
// site of the matching probes. Targets expand as Targets describes. It is
// an error when nothing matches.
func (r *Resolver) Resolve(ap *lang.AttachPoint) ([]Site, error) {
	switch ap.Kind {
	case lang.KindUprobe, lang.KindUretprobe, lang.KindUSDT:
	default:
		return nil, errorf("", nil, "%s probes have no sites to resolve", ap.Kind)
	}
	if sites, ok, err := r.lineSites(ap); ok {
		return sites, err
	}
	// usdt::[PROVIDER:]NAME with -p searches every object the process maps:
	// its libraries and objects it created at run time (memfds), not only
	// its executable.
	everyObject := ap.Kind == lang.KindUSDT && ap.Target == "" && r.opts.PID != 0
	var targets []Target
	var err error
	if everyObject {
		targets, err = r.processObjectTargets()
	} else {
		targets, err = r.Targets(ap.Target)
	}
	if err != nil {
		return nil, err
	}
	var out []Site
	var firstErr error
	for _, t := range targets {
		o, err := r.object(t)
		if err != nil && errors.Is(err, elfx.ErrNotELF) && ap.HasAddr && ap.Kind != lang.KindUSDT {
			if r.opts.Unsafe {
				out = append(out, flatSite(t, ap))
				continue
			}
			err = errorf(fmt.Sprintf("with --unsafe, 0x%x is taken as a file offset in it", ap.Addr), err, "%s is not an ELF file", t.Path)
		}
		if err != nil {
			if len(targets) == 1 {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		var sites []Site
		if ap.Kind == lang.KindUSDT {
			sites, err = r.usdtSites(o, ap)
		} else {
			sites, err = r.funcSites(o, ap)
		}
		if err != nil {
			if len(targets) == 1 {
				if everyObject {
					err = notMapped(err)
				}
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if out == nil {
			out = sites // one target: no copy of tens of thousands of sites
		} else {
			out = append(out, sites...)
		}
	}
	if len(out) == 0 {
		if everyObject && (firstErr == nil || errors.Is(firstErr, ErrNoMatch)) {
			what := ap.Func
			if ap.Provider != "" {
				what = ap.Provider + ":" + ap.Func
			}
			hint := fmt.Sprintf("try: uscope list -p %d 'usdt:*'", r.opts.PID)
			if r.opts.AtExec {
				// Held at its first instruction, the command has mapped
				// only its executable and the dynamic loader.
				hint = "name the library that defines it: usdt:LIBRARY:[PROVIDER:]NAME (with -c, libraries are not loaded yet)"
			}
			return nil, errorf(hint, ErrNotMapped, "no USDT probe matches %q in any object mapped in process %d", what, r.opts.PID)
		}
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, noMatch(ap, targets, nil)
	}
	r.withGo(out)
	return out, nil
}

// withGo gives the sites in Go code their binary, which answers the
// compiler's questions about parameters and goid; a site whose binary
// cannot be read as Go is treated as C.
func (r *Resolver) withGo(sites []Site) {
	for i := range sites {
		if sites[i].GoFunc == "" {
			continue
		}
		if b := r.GoBinary(sites[i].AttachPath); b != nil {
			sites[i].Go = b
		} else {
			sites[i].GoFunc = ""
		}
	}
}

// ErrNotMapped is the cause of the error of a USDT probe named without its
// object (usdt::[PROVIDER:]NAME) that no object mapped in the process
// defines: one mapped later may (a dynamic provider).
var ErrNotMapped = errors.New("not in any object mapped yet")

// notMapped adds ErrNotMapped to the causes of a no-match error.
func notMapped(err error) error {
	var e *Error
	if errors.As(err, &e) && errors.Is(err, ErrNoMatch) {
		return &Error{Msg: e.Msg, Hint: e.Hint, Err: errors.Join(e.Err, ErrNotMapped)}
	}
	return err
}

// ErrNoMatch is the cause of the error of an attach point that matched
// nothing: the object was read, and nothing in it matched.
var ErrNoMatch = errors.New("nothing matches")

// processObjectTargets returns every object mapped in the Resolver's process.
func (r *Resolver) processObjectTargets() ([]Target, error) {
	pid := r.opts.PID
	if !proc.Exists(pid) {
		return nil, errorf("", proc.ErrNoProcess, "process %d does not exist", pid)
	}
	objs, err := r.processObjects(pid)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, errorf("", nil, "process %d maps no ELF objects", pid)
	}
	out := make([]Target, len(objs))
	for i, o := range objs {
		out[i] = Target{Path: o.Path, AttachPath: o.OpenPath}
	}
	return out, nil
}

// noMatch builds the error for an attach point that matched nothing.
// names are the object's names of that kind, for "did you mean".
func noMatch(ap *lang.AttachPoint, targets []Target, names []string) error {
	what := ap.Func
	where := ap.Target
	if len(targets) == 1 {
		where = targets[0].Path
	}
	kindWord := "function"
	listKind := "uprobe"
	if ap.Kind == lang.KindUSDT {
		kindWord = "USDT probe"
		listKind = "usdt"
		if ap.Provider != "" {
			what = ap.Provider + ":" + ap.Func
		}
	}
	core := strings.Trim(ap.Func, "*")
	pat := listKind + ":*"
	if core != "" && !strings.ContainsAny(core, "*'") {
		pat = listKind + ":*" + core + "*"
	}
	hint := fmt.Sprintf("try: uscope list %s '%s'", shellWord(where), pat)
	if dym := didYouMean(ap.Func, names); dym != "" {
		hint = dym + " (" + hint + ")"
	}
	return errorf(hint, ErrNoMatch, "no %s matches %q in %s", kindWord, what, where)
}

// shellWord quotes s for a shell command line when it needs it.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"*?[]$`\\;&|<>()") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// flatSite is a uprobe at file offset ap.Addr of a file that is not ELF
// (Options.Unsafe).
func flatSite(t Target, ap *lang.AttachPoint) Site {
	addr := fmt.Sprintf("0x%x", ap.Addr)
	return Site{Kind: ap.Kind, Probe: ProbeName(ap.Kind, t.Name(), addr), Target: t.Path, AttachPath: t.AttachPath,
		Addr: ap.Addr, Offset: ap.Addr, Display: addr}
}

// funcSites resolves a uprobe or uretprobe in one object.
func (r *Resolver) funcSites(o *object, ap *lang.AttachPoint) ([]Site, error) {
	t := o.target
	isGo := o.goBinary() != nil
	if ap.HasAddr {
		if !o.f.InExecSegment(ap.Addr) {
			return nil, errorf(fmt.Sprintf("give an address of code: uscope list -v %s", shellWord(t.Path)), nil,
				"address 0x%x is not in an executable segment of %s", ap.Addr, t.Path)
		}
		off, _ := o.f.AddrToOffset(ap.Addr)
		s := Site{
			Kind: ap.Kind, Probe: ProbeName(ap.Kind, t.Name(), fmt.Sprintf("0x%x", ap.Addr)),
			Target: t.Path, AttachPath: t.AttachPath, Addr: ap.Addr, Offset: off, GoBinary: isGo,
		}
		if fn, d, ok := o.funcAt(ap.Addr); ok {
			s.Func = fn.Name
			s.Display = displayName(fn.Name, isGo)
			if d != 0 {
				s.Display += fmt.Sprintf("+0x%x", d)
			}
		} else {
			s.Display = fmt.Sprintf("0x%x", ap.Addr)
		}
		return r.goSites(o, ap, []Site{s})
	}
	funcs, err := o.functions()
	if err != nil {
		return nil, openError(t, err)
	}
	g := CompileGlob(ap.Func)
	m := newNameMatcher(g, "")
	// A hit is an index into funcs (the entries are large: sorting and
	// growing a slice of them would move tens of megabytes on a library).
	type hit struct {
		i         int32
		demangled string
	}
	var hits []hit
	if ap.Func == "*" {
		hits = make([]hit, 0, len(funcs)) // not grown 16 times
	}
	for i := range funcs {
		fn := &funcs[i]
		if g.Literal() {
			// Fast path: an exact mangled name, or name@version.
			if fn.Name == ap.Func || (fn.Version != "" && (fn.Name+"@"+fn.Version == ap.Func || fn.Name+"@@"+fn.Version == ap.Func)) {
				hits = append(hits, hit{i: int32(i)})
				continue
			}
		}
		if ok, d := m.match(fn.Name); ok {
			hits = append(hits, hit{int32(i), d})
		}
	}
	if len(hits) == 0 {
		if isGo && r.opts.ProbeInline && ap.Kind == lang.KindUprobe && !ap.HasOffset {
			if sites := r.goInlineOnly(o, ap, g); len(sites) > 0 {
				return sites, nil
			}
		}
		if isGo && !r.opts.ProbeInline && g.Literal() && ap.Kind == lang.KindUprobe {
			if cs, err := o.goBinary().InlinedCopies(ap.Func); err == nil && len(cs) > 0 {
				return nil, errorf("add --probe-inline to probe its inlined copies", nil,
					"%s in %s exists only inlined, %d times, with no function of its own", ap.Func, t.Path, len(cs))
			}
		}
		if sites := r.cInlineOnly(o, ap, g); len(sites) > 0 {
			return sites, nil
		}
		names := make([]string, len(funcs))
		for i, fn := range funcs {
			names[i] = fn.Name
		}
		return nil, noMatch(ap, []Target{t}, names)
	}
	if ap.HasOffset && len(hits) > 1 {
		names := map[string]bool{}
		for _, h := range hits {
			names[funcs[h.i].Name] = true
		}
		if len(names) > 1 {
			return nil, errorf("name one function", nil, "%s+%d: an offset needs one function, but %q matches %d in %s",
				ap.Func, ap.Offset, ap.Func, len(names), t.Path)
		}
	}
	// By name, then address; the index keeps equal entries in table order.
	slices.SortFunc(hits, func(a, b hit) int {
		fa, fb := &funcs[a.i], &funcs[b.i]
		if c := strings.Compare(fa.Name, fb.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(fa.Addr, fb.Addr); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	// Names not demangled to match are demangled when printed (Name).
	var lazy []lazyName
	if !isGo {
		n := 0
		for _, h := range hits {
			if h.demangled == "" && elfx.IsMangled(funcs[h.i].Name) {
				n++
			}
		}
		lazy = make([]lazyName, 0, n)
	}
	// The symbol tables are read: give their pages back.
	o.f.ReleasePages()
	seen := make(map[uint64]bool, len(hits)) // one site per address: aliases would fire twice
	probePrefix := ProbeName(ap.Kind, t.Name()) + ":"
	out := make([]Site, 0, len(hits))
	hugepage.Advise(out) // 43,713 sites of libjvm.so are 11 MB: 2,800 faults, or 6
	for _, h := range hits {
		fn := &funcs[h.i]
		addr := fn.Addr + ap.Offset
		if fn.Size == 0 && !ap.HasOffset && g.Literal() && !r.opts.Unsafe {
			// A symbol of size 0 (_init, an assembly label) may not be
			// code at all: bpftrace's check, and its words. Wildcards
			// take such symbols, as bpftrace's uprobe_multi does.
			return nil, errorf("use --unsafe to attach anyway: a probe that is not on an instruction corrupts the target process", nil,
				"Could not determine boundary for %s (symbol has size 0)", fn.Name)
		}
		if ap.HasOffset {
			if fn.Size != 0 && ap.Offset >= fn.Size {
				return nil, errorf("give an offset inside the function", nil, "Offset outside the function bounds ('%s' size is %d): %s+%d in %s", fn.Name, fn.Size, ap.Func, ap.Offset, t.Path)
			}
			if decodesX86(o.f.Machine()) {
				if err := o.checkBoundary(fn.Name, fn.Addr, ap.Offset); err != nil {
					return nil, err
				}
			}
		}
		off, err := o.f.AddrToOffset(addr)
		if err != nil {
			return nil, errorf("", err, "%s in %s is at 0x%x, outside the executable segments", fn.Name, t.Path, addr)
		}
		if seen[addr] {
			continue
		}
		seen[addr] = true
		d := h.demangled
		var ld *lazyName
		if d == "" && !isGo && elfx.IsMangled(fn.Name) {
			lazy = append(lazy, lazyName{})
			ld = &lazy[len(lazy)-1]
		} else if d == "" {
			d = fn.Name // displayName of a name that is not mangled
		}
		probe := probePrefix + quoteField(fn.Name, false) // ProbeName(ap.Kind, t.Name(), fn.Name), one allocation
		if ap.HasOffset {
			probe += fmt.Sprintf("+%d", ap.Offset)
		}
		s := Site{
			Kind: ap.Kind, Probe: probe, Target: t.Path, AttachPath: t.AttachPath,
			Func: fn.Name, Display: d, FuncAddr: fn.Addr, Addr: addr, Size: fn.Size, Offset: off, GoBinary: isGo,
			demangled: ld,
		}
		out = append(out, s)
	}
	if !ap.HasOffset {
		r.placeEntries(o, out)
	}
	if isGo {
		return r.goSites(o, ap, out)
	}
	sites, err := r.cxxReturns(o, ap, out)
	return r.cInlineSites(o, ap, sites, err)
}

// displayName is the name `func` prints: demangled for C++ and Rust.
func displayName(name string, isGo bool) string {
	if isGo {
		return name
	}
	return elfx.Demangle(name)
}

// usdtSites resolves a usdt attach point in one object.
func (r *Resolver) usdtSites(o *object, ap *lang.AttachPoint) ([]Site, error) {
	t := o.target
	all, err := o.usdtSites()
	if err != nil && len(all) == 0 {
		return nil, errorf("", err, "%s: cannot read USDT notes: %v", t.Path, err)
	}
	gp := CompileGlob(ap.Provider)
	gn := CompileGlob(ap.Func)
	isGo := o.goBinary() != nil
	var out []Site
	var siteErr error
	for i := range all {
		s := &all[i]
		if (ap.Provider != "" && !gp.Match(s.Provider)) || !gn.Match(s.Name) {
			continue
		}
		if s.Err != nil {
			if siteErr == nil {
				siteErr = s.Err
			}
			continue
		}
		out = append(out, Site{
			Kind: lang.KindUSDT, Probe: ProbeName(lang.KindUSDT, t.Name(), s.Provider, s.Name),
			Target: t.Path, AttachPath: t.AttachPath, Func: s.Name, Display: s.Name, Provider: s.Provider,
			Addr: s.Addr, Offset: s.FileOffset, RefCtrOffset: s.SemaphoreOffset, USDT: s, GoBinary: isGo,
		})
	}
	if len(out) == 0 {
		if siteErr != nil {
			return nil, errorf("", siteErr, "USDT probe %q in %s cannot be attached: %v", ap.Func, t.Path, siteErr)
		}
		names := make([]string, len(all))
		for i := range all {
			names[i] = all[i].Name
		}
		return nil, noMatch(ap, []Target{t}, names)
	}
	if ap.Provider == "" && !IsGlob(ap.Func) {
		if err := ambiguousProvider(ap, t, out); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		if out[i].Func != out[j].Func {
			return out[i].Func < out[j].Func
		}
		return out[i].Addr < out[j].Addr
	})
	return out, nil
}

// ambiguousProvider returns an error when a probe name written without its
// provider is defined by several providers of one object: the user must say
// which one (a glob in the name, like usdt:T:*:NAME, takes them all).
func ambiguousProvider(ap *lang.AttachPoint, t Target, sites []Site) error {
	var provs []string
	seen := map[string]bool{}
	for _, s := range sites {
		if !seen[s.Provider] {
			seen[s.Provider] = true
			provs = append(provs, s.Provider)
		}
	}
	if len(provs) < 2 {
		return nil
	}
	sort.Strings(provs)
	kind := ap.Kind
	if k, _, ok := strings.Cut(ap.Raw, ":"); ok && k != "" {
		kind = k
	}
	hint := fmt.Sprintf("name one, like %s", ProbeName(kind, t.Path, provs[0], ap.Func))
	return errorf(hint, nil, "USDT probe %q is defined by %d providers in %s: %s",
		ap.Func, len(provs), t.Path, strings.Join(provs, ", "))
}
