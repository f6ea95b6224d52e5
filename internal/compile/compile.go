package compile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/lang"
)

// Limits of generated programs.
const (
	scratchSize  = 16 * 1024 // per-CPU scratch area
	stackLimit   = 480       // bytes of the 512-byte BPF stack we use
	ringBufBytes = 1 << 20   // 1 MiB: drained every 50 ms; lost records are counted
	maxStackDeep = 127
)

// compiler holds the state shared by every program of one plan.
type compiler struct {
	opts Options
	prog *lang.Program
	plan *Plan
	maps map[string]*MapDesc
	// sitesByProbe caches resolved sites per attach point.
	specialID uint64
}

// Compile checks a program and generates its BPF programs.
func Compile(p *lang.Program, opts Options) (*Plan, error) {
	if opts.StrSize <= 0 {
		opts.StrSize = 64
	}
	if opts.StrSize > 1024 {
		return nil, fmt.Errorf("string size %d is too large (at most 1024)", opts.StrSize)
	}
	if opts.MapSize <= 0 {
		opts.MapSize = 4096
	}
	c := &compiler{
		opts: opts,
		prog: p,
		plan: &Plan{Source: p, Spec: &ebpf.CollectionSpec{
			Maps:     map[string]*ebpf.MapSpec{},
			Programs: map[string]*ebpf.ProgramSpec{},
		}},
		maps:      map[string]*MapDesc{},
		specialID: opts.SpecialIDBase,
	}
	for _, pr := range p.Probes {
		if pr.Trace != nil {
			c.plan.Trace = true
		}
	}
	if err := c.inferMaps(); err != nil {
		return nil, err
	}
	for i, pr := range p.Probes {
		if err := c.compileProbe(i, pr); err != nil {
			return nil, err
		}
	}
	c.addCommonMaps()
	return c.plan, nil
}

func (c *compiler) errorf(n lang.Node, hint, format string, args ...any) error {
	return c.prog.Errorf(n, nodeLen(n), hint, format, args...)
}

// nodeLen estimates how much source text a node spans, for the caret.
func nodeLen(n lang.Node) int {
	switch e := n.(type) {
	case *lang.Ident:
		return len(e.Name)
	case *lang.Call:
		return len(e.Name)
	case *lang.Var:
		return len(e.Name) + 1
	case *lang.MapExpr:
		return len(e.Name) + 1
	case *lang.AttachPoint:
		return len(e.Raw)
	}
	return 1
}

func (c *compiler) addCommonMaps() {
	m := c.plan.Spec.Maps
	m[MapEvents] = &ebpf.MapSpec{Name: MapEvents, Type: ebpf.RingBuf, MaxEntries: ringBufBytes}
	m[MapLost] = &ebpf.MapSpec{Name: MapLost, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}
	n := uint32(len(c.plan.Maps))
	if n == 0 {
		n = 1
	}
	m[MapErrors] = &ebpf.MapSpec{Name: MapErrors, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: n}
	m[MapScratch] = &ebpf.MapSpec{Name: MapScratch, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: scratchSize, MaxEntries: 1}
	if c.plan.HasStacks {
		m[MapStacks] = &ebpf.MapSpec{Name: MapStacks, Type: ebpf.StackTrace, KeySize: 4,
			ValueSize: 8 * maxStackDeep, MaxEntries: uint32(c.opts.MapSize)}
	}
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
}

func (c *compiler) compileProbe(idx int, pr *lang.Probe) error {
	groups := map[shape][]int{}
	var order []shape
	for _, ap := range pr.Points {
		switch ap.Kind {
		case lang.KindBegin, lang.KindEnd, lang.KindInterval:
			if len(pr.Points) > 1 {
				return c.errorf(ap, "give it a block of its own", "%s cannot share a block with other attach points", ap.Kind)
			}
			return c.compileSpecial(idx, pr, ap)
		}
		if c.opts.Resolver == nil {
			return c.errorf(ap, "", "no resolver for %s", ap.Raw)
		}
		sites, err := c.opts.Resolver.Resolve(ap)
		if err != nil {
			return c.prog.Errorf(ap, len(ap.Raw), "", "%v", err)
		}
		for _, s := range sites {
			sh := shape{kind: ap.Kind, ret: ap.Kind == lang.KindUretprobe}
			if s.USDT != nil {
				sh.key = usdtShapeKey(s)
			}
			if s.GoFunc != "" {
				sh.key, sh.atReturn = goShapeKey(pr, s), s.AtReturn
			}
			if s.Moved != 0 && ap.Kind == lang.KindUprobe && readsIP(pr) {
				sh.moved = s.Moved
			}
			if _, ok := groups[sh]; !ok {
				order = append(order, sh)
			}
			groups[sh] = append(groups[sh], len(c.plan.Sites))
			c.plan.Sites = append(c.plan.Sites, s)
		}
	}
	for gi, sh := range order {
		name := fmt.Sprintf("p%d_%d", idx, gi)
		siteIdx := groups[sh]
		g := newGen(c, pr, name, sh, siteIdx)
		insns, err := g.program()
		if err != nil {
			return err
		}
		c.addProgram(name, insns)
		c.plan.Programs = append(c.plan.Programs, &Program{Name: name, Kind: sh.kind, Sites: siteIdx, Return: sh.ret && !sh.atReturn, positions: g.posOf})
	}
	return nil
}

func (c *compiler) compileSpecial(idx int, pr *lang.Probe, ap *lang.AttachPoint) error {
	c.specialID++
	name := fmt.Sprintf("s%d", idx)
	sp := &Special{Kind: ap.Kind, ID: c.specialID, IntervalNanos: ap.IntervalNanos, Program: name}
	if ap.Kind == lang.KindInterval && ap.IntervalNanos == 0 {
		return c.errorf(ap, "use interval:s:1 or interval:ms:100", "interval must be positive")
	}
	g := newGen(c, pr, name, shape{kind: ap.Kind}, nil)
	g.special = sp
	insns, err := g.program()
	if err != nil {
		return err
	}
	c.addProgram(name, insns)
	c.plan.Specials = append(c.plan.Specials, sp)
	c.plan.Programs = append(c.plan.Programs, &Program{Name: name, Kind: ap.Kind, Special: sp, positions: g.posOf})
	return nil
}

func (c *compiler) addProgram(name string, insns []instruction) {
	spec := &ebpf.ProgramSpec{
		Name:         name,
		Type:         ebpf.Kprobe,
		License:      "GPL",
		Instructions: toAsm(insns),
	}
	if c.opts.Multi {
		spec.AttachType = ebpf.AttachTraceUprobeMulti
	}
	c.plan.Spec.Programs[name] = spec
}

// Listing renders the generated instructions of every program, for -d.
func (p *Plan) Listing() string {
	var b strings.Builder
	names := make([]string, 0, len(p.Spec.Programs))
	for n := range p.Spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, pg := range p.Programs {
		fmt.Fprintf(&b, "program %s (%s", pg.Name, pg.Kind)
		if pg.Return {
			b.WriteString(", return")
		}
		fmt.Fprintf(&b, ", %d sites)\n", len(pg.Sites))
		for i, si := range pg.Sites {
			if i == 8 {
				fmt.Fprintf(&b, "  ... %d more\n", len(pg.Sites)-8)
				break
			}
			s := p.Sites[si]
			fmt.Fprintf(&b, "  site %d: %s at %s+0x%x", si, s.Probe, s.AttachPath, s.Offset)
			if s.Placement != "" {
				fmt.Fprintf(&b, " entry %s", s.Placement)
			}
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v\n", p.Spec.Programs[pg.Name].Instructions)
	}
	for _, m := range p.Maps {
		fmt.Fprintf(&b, "map @%s: key %v, value %v (%s)\n", m.Name, m.Key, m.Value, m.Spec)
	}
	for i, pf := range p.Printfs {
		var types []string
		for _, a := range pf.Args {
			types = append(types, a.Type.String())
		}
		fmt.Fprintf(&b, "printf %d at %v: %q (%s), record %d bytes\n", i, pf.Pos, pf.Format, strings.Join(types, ", "), pf.Size)
	}
	return b.String()
}

// SourceOf returns the source position of the instruction at raw offset
// rawOff (in 8-byte units, as the verifier counts) of program name.
func (p *Plan) SourceOf(name string, rawOff int) (lang.Pos, bool) {
	spec := p.Spec.Programs[name]
	var prog *Program
	for _, pg := range p.Programs {
		if pg.Name == name {
			prog = pg
		}
	}
	if spec == nil || prog == nil {
		return lang.Pos{}, false
	}
	off := 0
	for i, ins := range spec.Instructions {
		if off >= rawOff {
			if i < len(prog.positions) && prog.positions[i].IsValid() {
				return prog.positions[i], true
			}
			return lang.Pos{}, false
		}
		off += int(ins.Size() / 8)
	}
	return lang.Pos{}, false
}
