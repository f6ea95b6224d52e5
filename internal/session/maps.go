package session

import (
	"errors"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/output"
)

// readMap reads a map from the kernel, merging per-CPU values; take also
// clears it, each key deleted as it is read where the map type can
// (hash maps), so that no update between the read and the clear is lost.
func (s *session) readMap(md *compile.MapDesc, take bool) *output.Map {
	if !take {
		return s.readMapNow(md, nil)
	}
	if bm := s.coll.Map(md.Spec); bm != nil && md.Value.Agg != compile.AggTSeries && s.takeable(md) {
		limit := 2 * int(s.plan.Spec.Maps[md.Spec].MaxEntries)
		return s.readMapNow(md, &takeIterator{m: bm, next: make([]byte, md.KeySize), limit: limit})
	}
	m := s.readMapNow(md, nil)
	s.clearMap(md, false)
	return m
}

// takeable says whether md's map type has BPF_MAP_LOOKUP_AND_DELETE_ELEM.
func (s *session) takeable(md *compile.MapDesc) bool {
	spec := s.plan.Spec.Maps[md.Spec]
	if spec == nil {
		return false
	}
	switch spec.Type {
	case ebpf.Hash, ebpf.PerCPUHash, ebpf.LRUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// takeIterator reads and deletes each key a hash map holds when the
// iteration starts; keys added after that stay for the next read.
type takeIterator struct {
	m       bpfMap
	next    []byte
	keys    [][]byte
	limit   int // at most this many keys (a restarted walk repeats some)
	started bool
}

func (t *takeIterator) Next(keyOut, valueOut any) bool {
	if !t.started {
		t.started = true
		var prev any // nil: the first key
		for t.m.NextKey(prev, t.next) == nil && len(t.keys) < t.limit {
			k := append([]byte(nil), t.next...)
			t.keys = append(t.keys, k)
			prev = k
		}
	}
	key := keyOut.(*[]byte)
	for len(t.keys) > 0 {
		*key, t.keys = t.keys[0], t.keys[1:]
		err := t.m.LookupAndDelete(*key, valueOut)
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			// A kernel before 5.14 has no lookup-and-delete for hash
			// maps: read, then delete.
			if err = t.m.Lookup(*key, valueOut); err == nil {
				_ = t.m.Delete(*key)
			}
		}
		if err == nil {
			return true
		}
	}
	return false
}

// readMapNow reads a map from it (the map's own iterator when nil).
func (s *session) readMapNow(md *compile.MapDesc, it mapIterator) *output.Map {
	m := &output.Map{Name: "@" + md.Name, Kind: output.AggValue}
	if md.Value.Kind == compile.KindAgg {
		m.Kind = md.Value.Agg
		m.LHistMin, m.LHistMax, m.LHistStep = md.Value.Min, md.Value.Max, md.Value.Step
		m.HistBits = md.Value.HistBits
	}
	bm := s.coll.Map(md.Spec)
	if bm == nil {
		return m
	}
	key := make([]byte, md.KeySize)
	if it == nil {
		it = bm.Iterate()
	}
	if !md.PerCPU {
		var val []byte
		for it.Next(&key, &val) {
			m.Entries = append(m.Entries, output.Entry{Key: s.decodeKey(md, key), Value: s.decode(md.Value, val, 0)})
		}
		return m
	}
	var vals [][]byte
	if md.Value.Agg == compile.AggTSeries {
		return s.readTSeries(md, m, it)
	}
	for it.Next(&key, &vals) {
		e := output.Entry{Key: s.decodeKey(md, key)}
		output.MergeAgg(md.Value.Agg, vals, &e)
		m.Entries = append(m.Entries, e)
	}
	return m
}

// readTSeries reads a tseries() map: one BPF entry per key and interval
// slot (the key's last u64), reduced over the CPUs and gathered per key.
func (s *session) readTSeries(md *compile.MapDesc, m *output.Map, it mapIterator) *output.Map {
	m.TSeries = output.TSeries{Interval: md.Value.Step, Intervals: int(md.Value.Max), Func: md.Value.Builtin, Start: s.tseriesStart()}
	key := make([]byte, md.KeySize)
	var vals [][]byte
	byKey := map[string]int{}
	for it.Next(&key, &vals) {
		prefix := string(key[:md.BucketOff])
		i, ok := byKey[prefix]
		if !ok {
			i = len(m.Entries)
			byKey[prefix] = i
			m.Entries = append(m.Entries, output.Entry{Key: s.decodeKey(md, key[:md.BucketOff]), Points: map[uint64]int64{}})
		}
		epoch, v := output.ReduceTSeries(m.TSeries.Func, vals)
		if _, dup := m.Entries[i].Points[epoch]; !dup {
			m.Entries[i].Points[epoch] = v
		}
	}
	return m
}

// dummyTSMap is bpftrace's BPFTRACE_DUMMY_TS_MAP, a scalar map whose value
// tseries() takes as the time (without '@'): the hook bpftrace's runtime
// tests use, honoured so that its suite runs unchanged.
func dummyTSMap() string {
	return strings.TrimPrefix(os.Getenv("BPFTRACE_DUMMY_TS_MAP"), "@")
}

// tseriesStart turns the time tseries() read (CLOCK_TAI, or the dummy
// map's value as is) into wall-clock time.
func (s *session) tseriesStart() func(int64) time.Time {
	if dummyTSMap() != "" {
		return func(ns int64) time.Time { return time.Unix(0, ns) }
	}
	var tai, real unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_TAI, &tai)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	delta := tai.Nano() - real.Nano()
	return func(ns int64) time.Time { return time.Unix(0, ns-delta) }
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

// printMap prints one map now, for print(@m, top, div). A map without
// keys that holds nothing yet prints its type's zero value, as bpftrace
// main does (@: 0).
func (s *session) printMap(md *compile.MapDesc, top, div int, clear bool) {
	m := s.readMap(md, clear)
	if md.Key == nil && len(m.Entries) == 0 && md.Value.Agg != compile.AggTSeries {
		e := output.Entry{}
		if md.PerCPU {
			output.MergeAgg(md.Value.Agg, [][]byte{make([]byte, md.ValueSize)}, &e)
		} else {
			e.Value = s.decode(md.Value, make([]byte, md.ValueSize), 0)
		}
		m.Entries = []output.Entry{e}
	}
	if s.cfg.Report != nil {
		s.out.flush()
		s.cfg.Report([]*output.Map{m}, false)
		return
	}
	s.out.w.Map(m, output.PrintOptions{Top: top, Div: uint64(div)})
}

// printAllMaps prints every map at the end, as bpftrace does.
func (s *session) printAllMaps() {
	if s.plan == nil || s.coll == nil {
		return
	}
	var maps []*output.Map
	if !s.plan.Config.NoMapsOnExit {
		for _, md := range s.plan.Maps {
			maps = append(maps, s.readMap(md, false))
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
