package output

import (
	"io"

	"github.com/google/pprof/profile"
)

// Sampled is one counted stack of a profile: frames root first (as in a
// folded line, after the process name) and how often it was seen.
type Sampled struct {
	Frames []string
	Count  uint64
}

// Pprof writes stacks as a gzipped pprof profile (github.com/google/pprof's
// format, read by go tool pprof, Grafana Pyroscope, speedscope), with two
// sample values: samples/count and cpu/nanoseconds (count × periodNanos).
// Frames are functions by name, one location each: the stacks carry names,
// not addresses.
func Pprof(w io.Writer, stacks []Sampled, periodNanos int64) error {
	return writePprof(w, stacks, &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     periodNanos,
	}, periodNanos)
}

// PprofCounts writes stacks counted at a probe (uscope stack) as a pprof
// profile with one sample value, typ/count ("calls/count").
func PprofCounts(w io.Writer, stacks []Sampled, typ string) error {
	return writePprof(w, stacks, &profile.Profile{
		SampleType: []*profile.ValueType{{Type: typ, Unit: "count"}},
		PeriodType: &profile.ValueType{Type: typ, Unit: "count"},
		Period:     1,
	}, 0)
}

// writePprof fills p with the stacks: each sample's values are its count
// and, when periodNanos is not 0, count × periodNanos.
func writePprof(w io.Writer, stacks []Sampled, p *profile.Profile, periodNanos int64) error {
	locs := map[string]*profile.Location{}
	loc := func(name string) *profile.Location {
		if l, ok := locs[name]; ok {
			return l
		}
		id := uint64(len(p.Function) + 1)
		fn := &profile.Function{ID: id, Name: name, SystemName: name}
		l := &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, l)
		locs[name] = l
		return l
	}
	for _, s := range stacks {
		if len(s.Frames) == 0 || s.Count == 0 {
			continue
		}
		sm := &profile.Sample{Value: []int64{int64(s.Count)}}
		if periodNanos != 0 {
			sm.Value = append(sm.Value, int64(s.Count)*periodNanos)
		}
		for i := len(s.Frames) - 1; i >= 0; i-- { // pprof: leaf first
			sm.Location = append(sm.Location, loc(s.Frames[i]))
		}
		p.Sample = append(p.Sample, sm)
	}
	if err := p.CheckValid(); err != nil {
		return err
	}
	return p.Write(w)
}
