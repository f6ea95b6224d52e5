package compile

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// resources is the fourth pass, one walk over the checked units: it lays
// out every map (key and value layouts, the BPF map specs), gives each
// printf, time() and print(value) call its record id and layout, and
// creates the maps every plan has (the stack map when a stack is used).
func (c *compiler) resources(units []*unit) {
	for _, name := range c.mapOrder {
		m := c.mapTypes[name]
		c.newMap(name, m.key, m.val)
	}
	for _, u := range units {
		lang.Inspect(u.probe, func(n lang.Node) bool {
			if e, ok := n.(lang.Expr); ok {
				if t := u.info.Types[e]; t != nil && t.Kind == KindStack {
					c.plan.HasStacks = true
				}
			}
			call, ok := n.(*lang.Call)
			if !ok {
				return true
			}
			switch call.Name {
			case "printf", "cat", "system", "errorf", "warnf", "debugf":
				u.info.records[call] = len(c.plan.Printfs)
				c.plan.Printfs = append(c.plan.Printfs, c.printfLayout(u, call))
			case "time":
				f := "%H:%M:%S\n"
				if len(call.Args) > 0 {
					f = call.Args[0].(*lang.StrLit).Value
				}
				u.info.records[call] = len(c.plan.Times)
				c.plan.Times = append(c.plan.Times, f)
			case "print":
				if me, ok := call.Args[0].(*lang.MapExpr); ok && me.Keys == nil {
					break
				}
				u.info.records[call] = len(c.plan.Values)
				c.plan.Values = append(c.plan.Values, u.info.Types[call.Args[0]])
			}
			return true
		})
	}
	if c.opts.TraceUserStack {
		c.plan.HasStacks = true
	}
	c.addCommonMaps(len(units))
	c.addSymNames()
}

// printfLayout places a printf's arguments in its record: the id, the
// bcc trace fields for trace programs, then each argument at its storage
// size.
func (c *compiler) printfLayout(u *unit, e *lang.Call) *PrintfDesc {
	desc := &PrintfDesc{Format: e.Args[0].(*lang.StrLit).Value, Pos: e.Pos, Action: e.Name, End: callEnd(c.prog.Source, e)}
	for _, m := range c.expandedFrom[e] {
		desc.ExpandedFrom = append(desc.ExpandedFrom, MacroCall{Pos: m.Pos, End: callEnd(c.prog.Source, m)})
	}
	size := 8
	if c.plan.EventHeader {
		size += c.traceHeaderSize()
	}
	for _, a := range e.Args[1:] {
		t := u.info.Types[a]
		desc.Args = append(desc.Args, Field{Type: t, Offset: size})
		size += t.StorageSize()
	}
	desc.Size = size
	return desc
}

func (c *compiler) newMap(name string, key, val *Type) *MapDesc {
	m := &MapDesc{Name: name, Spec: fmt.Sprintf("m%d", len(c.plan.Maps)), Key: key, Value: val, Index: len(c.plan.Maps)}
	m.KeySize = 8
	if key != nil {
		m.KeySize = key.StorageSize()
		if key.MultiKey {
			off := 0
			for _, e := range key.Elems {
				m.KeyFields = append(m.KeyFields, Field{Type: e, Offset: off})
				off += e.StorageSize()
			}
		}
	}
	mt := ebpf.Hash
	if val.Kind == KindAgg {
		m.PerCPU = true
		mt = ebpf.PerCPUHash
		nb := 0
		switch val.Agg {
		case AggLhist:
			nb = lhistBuckets(val)
		case AggHist:
			nb = output.HistBuckets(val.HistBits)
		}
		m.ValueSize = output.AggValueSize(val.Agg, nb)
		if val.Agg == AggTSeries {
			m.BucketOff = m.KeySize
			m.KeySize += 8
		}
	} else {
		m.ValueSize = val.StorageSize()
	}
	size := c.opts.MapSize
	if d := c.mapDecl(name); d != nil {
		// let @m = lruhash(N): its size, and LRU eviction when asked.
		size = d.Size
		if strings.Contains(d.Kind, "lru") {
			mt = ebpf.LRUHash
			if m.PerCPU {
				mt = ebpf.LRUCPUHash
			}
		}
	}
	c.maps[name] = m
	c.plan.Maps = append(c.plan.Maps, m)
	c.plan.Spec.Maps[m.Spec] = &ebpf.MapSpec{
		Name: m.Spec, Type: mt, KeySize: uint32(m.KeySize), ValueSize: uint32(m.ValueSize),
		MaxEntries: uint32(size),
	}
	return m
}

// addCommonMaps creates the maps every plan has; programs is how many
// programs emit will generate (the lost-record counts are per program).
func (c *compiler) addCommonMaps(programs int) {
	m := c.plan.Spec.Maps
	m[MapEvents] = &ebpf.MapSpec{Name: MapEvents, Type: ebpf.RingBuf, MaxEntries: uint32(c.opts.ringBufSize())}
	// MapLost counts the records the ring buffer refused, by program.
	m[MapLost] = &ebpf.MapSpec{Name: MapLost, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: uint32(max(1, programs))}
	n := uint32(len(c.plan.Maps))
	if n == 0 {
		n = 1
	}
	m[MapErrors] = &ebpf.MapSpec{Name: MapErrors, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: n}
	m[MapScratch] = &ebpf.MapSpec{Name: MapScratch, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: scratchSize, MaxEntries: 1}
	if c.opts.FilterTree {
		// Not preallocated: populating 32768 elements on every CPU took
		// a tenth of a -c one-liner's CPU time; a traced tree has a few.
		m[MapTree] = &ebpf.MapSpec{Name: MapTree, Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: TreeMaxEntries,
			Flags: unix.BPF_F_NO_PREALLOC}
	}
	if c.plan.HasStacks {
		m[MapStacks] = &ebpf.MapSpec{Name: MapStacks, Type: ebpf.StackTrace, KeySize: 4,
			ValueSize: 8 * maxStackDeep, MaxEntries: uint32(c.opts.MapSize)}
		c.addUnwindMaps()
	}
}

// callEnd is the column just past a call's closing parenthesis (its
// opening one follows the name), for messages that name the call's place.
func callEnd(src string, e *lang.Call) int {
	off := e.Pos.Offset + len(e.Name)
	depth, inStr := 0, false
	for i := off; i < len(src); i++ {
		switch c := src[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return e.Pos.Col + i + 1 - e.Pos.Offset
			}
		}
	}
	return e.Pos.Col + len(e.Name)
}

// mapDecl is the let @m = KIND(N) declaration of a map, or nil.
func (c *compiler) mapDecl(name string) *lang.MapDecl {
	for _, d := range c.prog.MapDecls {
		if d.Name == name {
			return d
		}
	}
	return nil
}
