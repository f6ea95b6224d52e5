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
	// scratchSize is the per-CPU scratch area; instructions address it
	// with 16-bit offsets, so it stays under 32 KiB.
	scratchSize = 32*1024 - 8
	// MaxStrLen bounds max_strlen (and --str-size, less the NUL): a string
	// of it and a copy fit in the scratch area.
	MaxStrLen    = 12 * 1024
	stackLimit   = 480 // bytes of the 512-byte BPF stack we use
	maxStackDeep = 127
)

// compiler holds the state shared by the passes of one plan.
type compiler struct {
	opts Options
	prog *lang.Program
	plan *Plan
	// mapTypes are the @maps check found, in mapOrder (first use).
	mapTypes map[string]*mapType
	mapOrder []string
	// maps are their descriptions, laid out by resources.
	maps map[string]*MapDesc
	// structs are the C structs and unions the program defines.
	structs map[string]*cStruct
	// enums are the program's enums by type name ("enum Foo"), and
	// enumerators its enumerators by name.
	enums       map[string]*Type
	enumerators map[string]enumerator
	errs        []error
	// expandedFrom holds, for a call copied out of a macro's body, the
	// calls of the macros it was expanded from, innermost first.
	expandedFrom map[*lang.Call][]*lang.Call
	// symNames are the builtins (func, probe) the program uses as
	// strings: their names tables are made (symnames.go).
	symNames  map[string]bool
	symTables map[string]symTable // their names and string sizes (symNameTable)
}

// Compile runs the passes over a parsed program: lower (desugaring),
// expand (attach points to sites and units), check (types, every
// mistake), resources (maps and records) and emit (BPF instructions).
func Compile(p *lang.Program, opts Options) (*Plan, error) {
	if opts.StrSize <= 0 {
		opts.StrSize = 64
	}
	if opts.StrSize > MaxStrLen+1 {
		return nil, fmt.Errorf("string size %d is too large (at most %d)", opts.StrSize, MaxStrLen)
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
		mapTypes: map[string]*mapType{},
		maps:     map[string]*MapDesc{},
	}
	for _, pr := range p.Probes {
		if pr.Trace != nil {
			c.plan.Trace = true
		}
	}
	c.plan.EventHeader = c.plan.Trace || opts.EventHeader
	c.applyConfig(p.Config)
	c.structTypes(p.Structs)
	c.enumTypes(p.Enums)
	c.expandMacros()
	if err := c.errList(); err != nil {
		return nil, err
	}
	for _, err := range lower(p, opts.Params, c.directiveDefines(opts.Defines), c.configValues()) {
		c.report(err)
	}
	if err := c.errList(); err != nil {
		return nil, err
	}
	units, err := c.expand()
	if err != nil {
		return nil, err
	}
	if err := c.check(units); err != nil {
		return nil, err
	}
	c.warnings()
	c.resources(units)
	if err := c.emit(units); err != nil {
		return nil, err
	}
	return c.plan, nil
}

func (c *compiler) errorf(n lang.Node, hint, format string, args ...any) error {
	return c.prog.Errorf(n, nodeLen(n), hint, format, args...)
}

// bracketLen is how many bytes from off, through the first '[' and its
// matching ']', the source spans (1 when it has none).
func bracketLen(src string, off int) int {
	depth := 0
	for i := off; i < len(src); i++ {
		switch src[i] {
		case '[':
			depth++
		case ']':
			if depth--; depth == 0 {
				return i + 1 - off
			}
		}
	}
	return 1
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
