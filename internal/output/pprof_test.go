package output

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/pprof/profile"
)

// TestPprofFields: the hand-written encoder gives what
// github.com/google/pprof/profile reads back as a valid profile, with the
// sample and period types of each kind, one function and one location per
// distinct frame, and stacks leaf first.
func TestPprofFields(t *testing.T) {
	stacks := []Sampled{{Frames: []string{"main", "f", "g"}, Count: 5}, {Frames: []string{"main", "f"}, Count: 2}, {Count: 9}}
	for _, tc := range []struct {
		name   string
		write  func(*bytes.Buffer) error
		types  []string
		period int64
		values [][]int64
	}{
		{"Pprof", func(b *bytes.Buffer) error { return Pprof(b, stacks, 1e6) }, []string{"samples/count", "cpu/nanoseconds", "cpu/nanoseconds"}, 1e6, [][]int64{{5, 5e6}, {2, 2e6}}},
		{"PprofCounts", func(b *bytes.Buffer) error { return PprofCounts(b, stacks, "calls") }, []string{"calls/count", "calls/count"}, 1, [][]int64{{5}, {2}}},
	} {
		var buf bytes.Buffer
		if err := tc.write(&buf); err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(&buf)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := p.CheckValid(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		var types []string
		for _, st := range p.SampleType {
			types = append(types, st.Type+"/"+st.Unit)
		}
		types = append(types, p.PeriodType.Type+"/"+p.PeriodType.Unit)
		if got, want := fmt.Sprint(types), fmt.Sprint(tc.types); got != want {
			t.Errorf("%s: types %s, want %s", tc.name, got, want)
		}
		if p.Period != tc.period {
			t.Errorf("%s: period %d, want %d", tc.name, p.Period, tc.period)
		}
		if len(p.Function) != 3 || len(p.Location) != 3 || len(p.Sample) != 2 {
			t.Fatalf("%s: %d functions, %d locations, %d samples; want 3, 3, 2", tc.name, len(p.Function), len(p.Location), len(p.Sample))
		}
		for i, s := range p.Sample {
			var names []string
			for _, l := range s.Location {
				names = append(names, l.Line[0].Function.Name+"|"+l.Line[0].Function.SystemName)
			}
			want := [][]string{{"g|g", "f|f", "main|main"}, {"f|f", "main|main"}}[i]
			if fmt.Sprint(names) != fmt.Sprint(want) || fmt.Sprint(s.Value) != fmt.Sprint(tc.values[i]) {
				t.Errorf("%s: sample %d: %v %v, want %v %v", tc.name, i, names, s.Value, want, tc.values[i])
			}
		}
	}
}
