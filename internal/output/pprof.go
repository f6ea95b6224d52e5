package output

import (
	"compress/gzip"
	"io"

	"github.com/uscope/uscope/internal/pbwire"
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
	return writePprof(w, stacks, [][2]string{{"samples", "count"}, {"cpu", "nanoseconds"}}, [2]string{"cpu", "nanoseconds"}, periodNanos, periodNanos)
}

// PprofCounts writes stacks counted at a probe (uscope stack) as a pprof
// profile with one sample value, typ/count ("calls/count").
func PprofCounts(w io.Writer, stacks []Sampled, typ string) error {
	return writePprof(w, stacks, [][2]string{{typ, "count"}}, [2]string{typ, "count"}, 1, 0)
}

// Field numbers of perftools.profiles.Profile (pprof's profile.proto) and
// of the messages in it. The encoder is written here, with internal/pbwire,
// rather than taken from github.com/google/pprof/profile: that package's
// init compiles regular expressions on every start of uscope, and
// google.golang.org/protobuf's opens the executable (issue 22).
const (
	pfSampleType  = 1
	pfSample      = 2
	pfLocation    = 4
	pfFunction    = 5
	pfStringTable = 6
	pfPeriodType  = 11
	pfPeriod      = 12

	pfValueTypeType, pfValueTypeUnit = 1, 2
	pfSampleLocation, pfSampleValue  = 1, 2
	pfLocationID, pfLocationLine     = 1, 4
	pfLineFunction                   = 1
	pfFunctionID, pfFunctionName     = 1, 2
	pfFunctionSystemName             = 3
)

// writePprof writes the profile: each sample's values are its count and,
// when periodNanos is not 0, count × periodNanos; function i+1 and
// location i+1 are the i-th distinct frame name.
func writePprof(w io.Writer, stacks []Sampled, sampleTypes [][2]string, periodType [2]string, period, periodNanos int64) error {
	strs := []string{""} // string_table[0] is ""
	strIdx := map[string]uint64{"": 0}
	str := func(s string) uint64 {
		if i, ok := strIdx[s]; ok {
			return i
		}
		i := uint64(len(strs))
		strs = append(strs, s)
		strIdx[s] = i
		return i
	}
	valueType := func(typ, unit string) []byte {
		b := pbwire.Varint(nil, pfValueTypeType, str(typ))
		return pbwire.Varint(b, pfValueTypeUnit, str(unit))
	}
	var out []byte
	msg := func(num pbwire.Number, m []byte) {
		out = pbwire.Bytes(out, num, m)
	}
	for _, st := range sampleTypes {
		msg(pfSampleType, valueType(st[0], st[1]))
	}
	var funcs []string // function and location i+1
	ids := map[string]uint64{}
	var locs, vals, m []byte
	for _, s := range stacks {
		if len(s.Frames) == 0 || s.Count == 0 {
			continue
		}
		locs = locs[:0]
		for i := len(s.Frames) - 1; i >= 0; i-- { // pprof: leaf first
			id, ok := ids[s.Frames[i]]
			if !ok {
				funcs = append(funcs, s.Frames[i])
				id = uint64(len(funcs))
				ids[s.Frames[i]] = id
			}
			locs = pbwire.AppendVarint(locs, id)
		}
		vals = pbwire.AppendVarint(vals[:0], s.Count)
		if periodNanos != 0 {
			vals = pbwire.AppendVarint(vals, uint64(int64(s.Count)*periodNanos))
		}
		m = pbwire.Bytes(m[:0], pfSampleLocation, locs)
		m = pbwire.Bytes(m, pfSampleValue, vals)
		msg(pfSample, m)
	}
	var line []byte
	for i := range funcs {
		id := uint64(i + 1)
		line = pbwire.Varint(line[:0], pfLineFunction, id)
		m = pbwire.Varint(m[:0], pfLocationID, id)
		m = pbwire.Bytes(m, pfLocationLine, line)
		msg(pfLocation, m)
	}
	for i, name := range funcs {
		n := str(name)
		m = pbwire.Varint(m[:0], pfFunctionID, uint64(i+1))
		m = pbwire.Varint(m, pfFunctionName, n)
		m = pbwire.Varint(m, pfFunctionSystemName, n)
		msg(pfFunction, m)
	}
	msg(pfPeriodType, valueType(periodType[0], periodType[1]))
	out = pbwire.Varint(out, pfPeriod, uint64(period))
	for _, s := range strs { // last: every string is known by now
		out = pbwire.String(out, pfStringTable, s)
	}
	zw := gzip.NewWriter(w)
	if _, err := zw.Write(out); err != nil {
		zw.Close()
		return err
	}
	return zw.Close()
}
