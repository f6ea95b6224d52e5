package session

import (
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/output"
)

var aggKinds = map[compile.AggKind]output.AggKind{
	compile.AggNone: output.AggValue, compile.AggCount: output.AggCount, compile.AggSum: output.AggSum,
	compile.AggMin: output.AggMin, compile.AggMax: output.AggMax, compile.AggAvg: output.AggAvg,
	compile.AggStats: output.AggStats, compile.AggHist: output.AggHist, compile.AggLhist: output.AggLHist,
}

// readMap reads a map from the kernel, merging per-CPU values.
func (s *session) readMap(md *compile.MapDesc) *output.Map {
	m := &output.Map{Name: "@" + md.Name, Kind: output.AggValue}
	if md.Value.Kind == compile.KindAgg {
		m.Kind = aggKinds[md.Value.Agg]
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
		mergeAgg(md, vals, &e)
		m.Entries = append(m.Entries, e)
	}
	return m
}

// mergeAgg reduces the per-CPU values of an aggregation into e.
func mergeAgg(md *compile.MapDesc, vals [][]byte, e *output.Entry) {
	switch md.Value.Agg {
	case compile.AggCount, compile.AggSum:
		var sum int64
		for _, v := range vals {
			sum += int64(le.Uint64(v))
		}
		e.Value = output.IntValue(sum, 8)
	case compile.AggMin, compile.AggMax:
		var best int64
		set := false
		for _, v := range vals {
			if le.Uint64(v[8:]) == 0 {
				continue
			}
			x := int64(le.Uint64(v))
			if !set || (md.Value.Agg == compile.AggMin && x < best) || (md.Value.Agg == compile.AggMax && x > best) {
				best, set = x, true
			}
		}
		e.Value = output.IntValue(best, 8)
	case compile.AggAvg, compile.AggStats:
		for _, v := range vals {
			e.Count += int64(le.Uint64(v))
			e.Sum += int64(le.Uint64(v[8:]))
		}
	case compile.AggHist, compile.AggLhist:
		n := md.ValueSize / 8
		e.Buckets = make([]uint64, n)
		for _, v := range vals {
			for i := 0; i < n; i++ {
				e.Buckets[i] += le.Uint64(v[8*i:])
			}
		}
	}
}

func (s *session) decodeKey(md *compile.MapDesc, key []byte) []output.Value {
	if md.Key == nil {
		return nil
	}
	v := s.decode(md.Key, key, 0)
	if md.Key.Kind == compile.KindTuple {
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
	for _, md := range s.plan.Maps {
		maps = append(maps, s.readMap(md))
	}
	if s.cfg.Report != nil {
		s.out.flush()
		s.cfg.Report(maps, true)
	} else if len(maps) > 0 {
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
