package resolve

import (
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt"
)

// ListOptions control List.
type ListOptions struct {
	// Pattern globs over whole probe lines: "usdt:*", "*gc__*",
	// "uprobe:*:SSL_*". A pattern that does not start with a probe type
	// or '*' matches the function or probe name alone ("malloc*",
	// "ns::Class::*"). "" lists every uprobe and usdt probe. Short kinds
	// (u:, ur:, U:) are accepted; uretprobe lines are listed only when the
	// pattern asks for them. Function names also match in demangled form.
	Pattern string
	// Details fills Display (the demangled name), Sites and Funcs of every
	// listing; without it only Kind, Func and Provider are set, which is
	// all a plain listing prints. Demangling costs a few microseconds per
	// C++ name.
	Details bool
	// Labels lists zero-sized function symbols too: labels such as
	// runtime.etext or a hand-written assembly entry point that marks an
	// address but has no code of its own as far as the symbol table and
	// pclntab say. Without it, list shows only functions with a size or
	// known from Go's function table.
	Labels bool
}

// ObjectListing is the object a Listing belongs to.
type ObjectListing struct {
	Target Target
	// Go describes a Go binary; nil for other objects.
	Go *GoInfo
	// USDTErr is a problem reading the object's USDT notes; the sites
	// decoded before it are listed.
	USDTErr error

	qpath []byte // Target.Path as a probe name field
}

// Listing is one line of `uscope list`: a probe and, with
// ListOptions.Details, its sites (every address of a function name, every
// call site of a USDT probe).
type Listing struct {
	Object   *ObjectListing
	Kind     string // lang.KindUprobe, KindUretprobe or KindUSDT
	Provider string // USDT provider
	Func     string // symbol name or USDT probe name
	Display  string // demangled name (with ListOptions.Details)
	Sites    []Site
	// Funcs are the symbols behind Sites, one per site, for uprobe and
	// uretprobe lines.
	Funcs []Function
	// Inlined is, with ListOptions.Details, for a uprobe line of a Go
	// function, how many times it was inlined into other functions
	// (Options.ProbeInline probes those copies too). A function that
	// exists only inlined is listed, under Details, with no Sites.
	Inlined int
}

// Probe returns the listing's pasteable probe name.
func (l *Listing) Probe() string { return string(l.AppendProbe(nil)) }

// AppendProbe appends the probe name to b.
func (l *Listing) AppendProbe(b []byte) []byte {
	b = append(b, l.Kind...)
	b = append(b, ':')
	if l.Object.qpath != nil {
		b = append(b, l.Object.qpath...)
	} else {
		b = appendField(b, l.Object.Target.Path, true)
	}
	if l.Kind == lang.KindUSDT {
		b = append(b, ':')
		b = appendField(b, l.Provider, false)
	}
	b = append(b, ':')
	return appendField(b, l.Func, false)
}

// listPattern is a List pattern taken apart.
type listPattern struct {
	g     Glob
	kinds []string // kinds to list
	all   bool     // the pattern matches every line of those kinds
}

func parseListPattern(p string) (listPattern, error) {
	var lp listPattern
	if p == "" {
		p = "*"
	}
	kind, rest, ok := strings.Cut(p, ":")
	switch kind {
	case "u":
		kind = lang.KindUprobe
	case "ur":
		kind = lang.KindUretprobe
	case "U":
		kind = lang.KindUSDT
	}
	switch {
	case ok && (kind == lang.KindUprobe || kind == lang.KindUretprobe || kind == lang.KindUSDT):
		p = kind + ":" + rest
		lp.kinds = []string{kind}
		lp.all = strings.Trim(rest, "*") == ""
	case strings.HasPrefix(p, "*"):
		// Whole lines of uprobes and USDT probes; uretprobe lines would
		// repeat the uprobe ones.
		lp.kinds = []string{lang.KindUprobe, lang.KindUSDT}
		lp.all = strings.Trim(p, "*") == ""
	default:
		// A name pattern.
		p = "*:" + p
		lp.kinds = []string{lang.KindUprobe, lang.KindUSDT}
	}
	lp.g = CompileGlob(p)
	return lp, nil
}

func (lp listPattern) has(kind string) bool { return slices.Contains(lp.kinds, kind) }

// List calls fn for every probe of each target that matches the pattern,
// as `uscope list` prints them: per target, uprobe lines sorted by name,
// then uretprobe lines, then USDT lines sorted by provider and name. The
// Listing passed to fn is reused after fn returns. An object that cannot
// be opened is an error; so is any error fn returns.
func (r *Resolver) List(targets []Target, opts ListOptions, fn func(*Listing) error) error {
	lp, err := parseListPattern(opts.Pattern)
	if err != nil {
		return err
	}
	for _, t := range targets {
		o, err := r.object(t)
		if err != nil {
			return err
		}
		ol := &ObjectListing{Target: t, Go: o.goInfo(), qpath: appendField(nil, t.Path, true)}
		// Read the USDT notes while the symbol tables load.
		var sites []usdt.Site
		var wg sync.WaitGroup
		if lp.has(lang.KindUSDT) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sites, ol.USDTErr = o.usdtSites()
			}()
		}
		if lp.has(lang.KindUprobe) || lp.has(lang.KindUretprobe) {
			_, _ = o.functions() // errors are reported by listFuncs
		}
		wg.Wait()
		for _, kind := range []string{lang.KindUprobe, lang.KindUretprobe} {
			if lp.has(kind) {
				if err := r.listFuncs(o, ol, kind, lp, opts.Details, opts.Labels, fn); err != nil {
					return err
				}
			}
		}
		if lp.has(lang.KindUSDT) {
			if err := listUSDT(o, ol, sites, lp, opts.Details, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Resolver) listFuncs(o *object, ol *ObjectListing, kind string, lp listPattern, details, labels bool, fn func(*Listing) error) error {
	t := o.target
	funcs, err := o.functions()
	if err != nil {
		return openError(t, err)
	}
	isGo := o.goBinary() != nil
	m := newNameMatcher(lp.g, kind+":"+t.Path+":")
	hits := make([]int32, 0, len(funcs))
	for i := range funcs {
		if !labels && funcs[i].Size == 0 && funcs[i].Source&elfx.FromPclntab == 0 {
			continue // a label, not a function
		}
		if lp.all {
			hits = append(hits, int32(i))
			continue
		}
		if ok, _ := m.match(funcs[i].Name); ok {
			hits = append(hits, int32(i))
		}
	}
	// Sort by name, then address (funcs is in address order), and group
	// equal names into one line.
	names := make([]string, len(funcs))
	for _, i := range hits {
		names[i] = funcs[i].Name
	}
	sortByName(hits, names)
	var display []string
	if details {
		sorted := make([]string, len(hits))
		for k, i := range hits {
			sorted[k] = funcs[i].Name
		}
		if isGo {
			display = sorted
		} else {
			display = demangleMany(sorted)
		}
	}
	var l Listing
	var probe []byte
	for k := 0; k < len(hits); {
		name := funcs[hits[k]].Name
		l = Listing{Object: ol, Kind: kind, Func: name}
		j := k
		for ; j < len(hits) && funcs[hits[j]].Name == name; j++ {
			if !details {
				continue
			}
			if j == k {
				l.Display = display[k]
				probe = l.AppendProbe(probe[:0])
			}
			f := &funcs[hits[j]]
			l.Sites = append(l.Sites, Site{
				Kind: kind, Probe: string(probe), Target: t.Path, AttachPath: t.AttachPath, Func: f.Name,
				Display: display[j], FuncAddr: f.Addr, Addr: f.Addr, Size: f.Size, Offset: f.Offset, GoBinary: isGo,
			})
			r.describeEntry(o, &l.Sites[len(l.Sites)-1])
			l.Funcs = append(l.Funcs, *f)
		}
		if details && isGo && kind == lang.KindUprobe {
			if cs, err := o.goBinary().InlinedCopies(name); err == nil {
				l.Inlined = len(cs)
			}
		}
		if err := fn(&l); err != nil {
			return err
		}
		k = j
	}
	if details && isGo && kind == lang.KindUprobe {
		return listInlineOnly(o, ol, kind, m, lp.all, funcs, fn)
	}
	return nil
}

// listInlineOnly lists, for -v, the Go functions that match but exist only
// inlined: they have no entry in the function table, and only
// Options.ProbeInline can probe them.
func listInlineOnly(o *object, ol *ObjectListing, kind string, m *nameMatcher, all bool, funcs []Function, fn func(*Listing) error) error {
	b := o.goBinary()
	names := b.InlinedNames()
	if len(names) == 0 {
		return nil
	}
	have := make(map[string]bool, len(funcs))
	for i := range funcs {
		have[funcs[i].Name] = true
	}
	for _, name := range names {
		if have[name] {
			continue
		}
		if ok, _ := m.match(name); !ok && !all {
			continue
		}
		cs, err := b.InlinedCopies(name)
		if err != nil || len(cs) == 0 {
			continue
		}
		l := Listing{Object: ol, Kind: kind, Func: name, Display: name, Inlined: len(cs)}
		if err := fn(&l); err != nil {
			return err
		}
	}
	return nil
}

// demangleMany demangles names on all CPUs.
func demangleMany(names []string) []string {
	out := make([]string, len(names))
	n := runtime.GOMAXPROCS(0)
	if len(names) < 1024 || n < 2 {
		for i, s := range names {
			out[i] = elfx.Demangle(s)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(names) + n - 1) / n
	for lo := 0; lo < len(names); lo += chunk {
		hi := min(lo+chunk, len(names))
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i] = elfx.Demangle(names[i])
			}
		}(lo, hi)
	}
	wg.Wait()
	return out
}

func listUSDT(o *object, ol *ObjectListing, sites []usdt.Site, lp listPattern, details bool, fn func(*Listing) error) error {
	t := o.target
	isGo := o.goBinary() != nil
	// Group the sites by probe, in provider and name order; sites keep
	// address order.
	idx := make([]int, len(sites))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		sa, sb := &sites[a], &sites[b]
		if c := strings.Compare(sa.Provider, sb.Provider); c != 0 {
			return c
		}
		if c := strings.Compare(sa.Name, sb.Name); c != 0 {
			return c
		}
		return cmpUint(sa.Addr, sb.Addr)
	})
	prefix := lang.KindUSDT + ":" + t.Path + ":"
	for k := 0; k < len(idx); {
		first := &sites[idx[k]]
		j := k
		for j < len(idx) && sites[idx[j]].Provider == first.Provider && sites[idx[j]].Name == first.Name {
			j++
		}
		group := idx[k:j]
		k = j
		if !lp.all && !lp.g.Match(prefix+first.Provider+":"+first.Name) {
			continue
		}
		l := Listing{Object: ol, Kind: lang.KindUSDT, Provider: first.Provider, Func: first.Name}
		if details {
			l.Display = first.Name
			probe := l.Probe()
			for _, i := range group {
				s := &sites[i]
				l.Sites = append(l.Sites, Site{
					Kind: lang.KindUSDT, Probe: probe, Target: t.Path, AttachPath: t.AttachPath,
					Func: s.Name, Display: s.Name, Provider: s.Provider, Addr: s.Addr, Offset: s.FileOffset,
					RefCtrOffset: s.SemaphoreOffset, USDT: s, GoBinary: isGo,
				})
			}
		}
		if err := fn(&l); err != nil {
			return err
		}
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
