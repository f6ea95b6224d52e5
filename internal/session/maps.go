package session

import (
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/output"
)

// readMap reads a map from the kernel, merging per-CPU values.
func (s *session) readMap(md *compile.MapDesc) *output.Map {
	m := &output.Map{Name: "@" + md.Name, Kind: output.AggValue}
	if md.Value.Kind == compile.KindAgg {
		m.Kind = md.Value.Agg
		m.LHistMin, m.LHistMax, m.LHistStep = md.Value.Min, md.Value.Max, md.Value.Step
	}
	bm := s.coll.Map(md.Spec)
	if bm == nil {
		return m
	}
	key := make([]byte, md.KeySize)
	it := bm.Iterate()
	if !md.PerCPU {
		var val []byte
		for it.Next(&key, &val) {
			m.Entries = append(m.Entries, output.Entry{Key: s.decodeKey(md, key), Value: s.decode(md.Value, val, 0)})
		}
		return m
	}
	var vals [][]byte
	for it.Next(&key, &vals) {
		e := output.Entry{Key: s.decodeKey(md, key)}
		output.MergeAgg(md.Value.Agg, vals, &e)
		m.Entries = append(m.Entries, e)
	}
	return m
}

func (s *session) decodeKey(md *compile.MapDesc, key []byte) []output.Value {
	if md.Key == nil {
		return nil
	}
	v := s.decode(md.Key, key, 0)
	if md.Key.MultiKey {
		return v.Elems
	}
	return []output.Value{v}
}

// printMap prints one map now, for print(@m, top, div).
func (s *session) printMap(md *compile.MapDesc, top, div int) {
	if s.cfg.Report != nil {
		s.out.flush()
		s.cfg.Report([]*output.Map{s.readMap(md)}, false)
		return
	}
	s.out.w.Map(s.readMap(md), output.PrintOptions{Top: top, Div: uint64(div)})
}

// printAllMaps prints every map at the end, as bpftrace does.
func (s *session) printAllMaps() {
	if s.plan == nil || s.coll == nil {
		return
	}
	var maps []*output.Map
	if !s.plan.Config.NoMapsOnExit {
		for _, md := range s.plan.Maps {
			maps = append(maps, s.readMap(md))
		}
	}
	if s.cfg.Report != nil {
		s.out.flush()
		s.cfg.Report(maps, true)
	} else {
		// bpftrace ends its main loop with two empty lines, maps or not.
		s.out.w.MapsAtExit(maps)
	}
	s.out.flush()
}

// mapLen counts the keys of a map now, for len(@m).
func (s *session) mapLen(md *compile.MapDesc) uint64 {
	m := s.coll.Map(md.Spec)
	if m == nil {
		return 0
	}
	var n uint64
	key := make([]byte, md.KeySize)
	next := make([]byte, md.KeySize)
	var cur any
	for {
		if err := m.NextKey(cur, next); err != nil {
			return n
		}
		n++
		copy(key, next)
		cur = key
	}
}
