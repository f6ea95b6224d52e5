package compile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

// unit is one BPF program to generate: a probe's sites of one shape, or a
// BEGIN, END or interval probe. Check gives it an Info; emit turns it into
// instructions.
type unit struct {
	c       *compiler
	probe   *lang.Probe
	name    string
	shape   shape
	sites   []int // indexes into Plan.Sites
	special *Special
	profile *Profile // profile.go
	info    *Info
}

// shape groups the sites of one probe that can share a program.
type shape struct {
	kind string
	key  string // distinguishes USDT argument layouts and Go sites
	ret  bool
	// atReturn: return semantics at a Go function's RET instructions,
	// attached as plain uprobes.
	atReturn bool
	// moved: the distance every site of the program was moved past its
	// function's entry (Site.Moved), subtracted from ip. Set only when the
	// probe reads ip: sites moved by different distances then get programs
	// of their own.
	moved uint64
	// frameless: the probed function has no frame at any site of the
	// program; ustack takes its caller from [sp] (ustack.go).
	frameless bool
}

// expand is the second pass: it resolves every attach point to its sites
// and groups a probe's sites into units, one per shape (USDT argument
// specs and Go functions decide the types of argN and args, so each shape
// is checked and emitted on its own). Every attach point that resolves to
// nothing is reported.
func (c *compiler) expand() ([]*unit, error) {
	var units []*unit
	for idx, pr := range c.prog.Probes {
		us, err := c.expandProbe(idx, pr)
		if err != nil {
			c.report(err)
			continue
		}
		units = append(units, us...)
	}
	return units, c.errList()
}

// allSpecial reports whether every attach point is begin, end or interval.
func allSpecial(aps []*lang.AttachPoint) bool {
	for _, ap := range aps {
		switch ap.Kind {
		case lang.KindBegin, lang.KindEnd, lang.KindInterval, lang.KindBench, lang.KindSelf:
		default:
			return false
		}
	}
	return true
}

func (c *compiler) expandProbe(idx int, pr *lang.Probe) ([]*unit, error) {
	if len(pr.Points) > 1 && allSpecial(pr.Points) {
		// begin,end { ... }: one probe per special, sharing the block.
		var units []*unit
		for _, ap := range pr.Points {
			one := *pr
			one.Points = []*lang.AttachPoint{ap}
			us, err := c.expandSpecial(idx, &one, ap)
			if err != nil {
				return nil, err
			}
			units = append(units, us...)
		}
		return units, nil
	}
	groups := map[shape][]int{}
	var order []shape
	for _, ap := range pr.Points {
		switch ap.Kind {
		case lang.KindBegin, lang.KindEnd, lang.KindInterval, lang.KindBench, lang.KindSelf:
			if len(pr.Points) > 1 {
				return nil, c.errorf(ap, "give it a block of its own", "%s cannot share a block with other attach points", ap.Kind)
			}
			return c.expandSpecial(idx, pr, ap)
		case lang.KindProfile:
			return c.expandProfile(idx, pr, ap)
		}
		if c.opts.Resolver == nil {
			return nil, c.errorf(ap, "", "no resolver for %s", ap.Raw)
		}
		sites, err := c.opts.Resolver.Resolve(ap)
		if err != nil {
			// config = { missing_probes = warn|ignore } skips what
			// matches nothing, as bpftrace does.
			e := c.prog.Errorf(ap, len(ap.Raw), "", "%v", err)
			if errors.Is(err, resolve.ErrNoMatch) {
				// bpftrace's words, then what uscope looked at and
				// the near names.
				e.Msg, e.Hint = "No matches for "+noMatchName(ap)+".", err.Error()
			}
			switch c.plan.Config.MissingProbes {
			case "warn":
				e.Warning = true
				e.Msg += " Skipping."
				c.plan.Diagnostics = append(c.plan.Diagnostics, e)
				continue
			case "ignore":
				continue
			}
			return nil, e
		}
		// The resolver's slice becomes the plan's when it is the first:
		// a wildcard over a library has tens of thousands of sites, and a
		// copy of them would double the memory they take.
		base := len(c.plan.Sites)
		if base == 0 {
			c.plan.Sites = sites[:len(sites):len(sites)]
		} else {
			c.plan.Sites = append(c.plan.Sites, sites...)
		}
		for i := range sites {
			s := &c.plan.Sites[base+i]
			sh := shape{kind: ap.Kind, ret: ap.Kind == lang.KindUretprobe}
			if s.USDT != nil {
				sh.key = usdtShapeKey(*s)
			}
			if s.GoFunc != "" {
				sh.key, sh.atReturn = goShapeKey(pr, *s), s.AtReturn
			}
			sh.key = cShapeKey(pr, *s, sh.key)
			sh.atReturn = sh.atReturn || s.AtReturn // C++ exits too (resolve/cxxret.go)
			if s.Moved != 0 && ap.Kind == lang.KindUprobe && readsIP(pr) {
				sh.moved = s.Moved
			}
			sh.frameless = usesStack(c, pr) && framelessSite(ap.Kind, s)
			if _, ok := groups[sh]; !ok {
				order = append(order, sh)
			}
			groups[sh] = append(groups[sh], base+i)
		}
	}
	var units []*unit
	for gi, sh := range order {
		units = append(units, &unit{c: c, probe: pr, name: fmt.Sprintf("p%d_%d", idx, gi), shape: sh, sites: groups[sh]})
	}
	return units, nil
}

func (c *compiler) expandSpecial(idx int, pr *lang.Probe, ap *lang.AttachPoint) ([]*unit, error) {
	if ap.Kind == lang.KindInterval && ap.IntervalNanos == 0 {
		return nil, c.errorf(ap, "use interval:s:1 or interval:ms:100", "interval must be positive")
	}
	name := fmt.Sprintf("s%d", idx)
	for _, sp := range c.plan.Specials {
		if sp.Program == name { // begin,end { }: a program per special
			name = fmt.Sprintf("s%d_%d", idx, len(c.plan.Specials))
		}
	}
	// probe prints begin and end as bpftrace main names them, other
	// specials as written.
	pname := ap.Raw
	switch ap.Kind {
	case lang.KindBegin, lang.KindEnd:
		pname = strings.ToLower(ap.Kind)
	case lang.KindBench:
		pname = ap.Func // the benchmark's name in the results
	}
	sp := &Special{Kind: ap.Kind, ID: c.opts.SpecialIDBase + uint64(len(c.plan.Specials)+1), IntervalNanos: ap.IntervalNanos, Program: name,
		Name: pname, Index: len(c.plan.Specials)}
	c.plan.Specials = append(c.plan.Specials, sp)
	return []*unit{{c: c, probe: pr, name: name, shape: shape{kind: ap.Kind}, special: sp}}, nil
}

// noMatchName names an attach point as bpftrace's "No matches for" does:
// its probe type, a space, and the rest as written
// ("uprobe ./bin:func").
func noMatchName(ap *lang.AttachPoint) string {
	_, rest, _ := strings.Cut(ap.Raw, ":")
	return ap.Kind + " " + rest
}
