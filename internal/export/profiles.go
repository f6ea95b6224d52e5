package export

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/pbwire"
	"github.com/uscope/uscope/internal/session"
)

// OTLP profiles (issue 20): the OpenTelemetry Go SDK has no profiles
// signal, and the generated Go types of the profiles protocol
// (go.opentelemetry.io/proto/slim/otlp/profiles/v1development) cannot be
// linked beside go.opentelemetry.io/proto/otlp, which the SDK's exporters
// use: both register the same protobuf files (common.proto,
// resource.proto) and the protobuf runtime panics at start; and uscope
// links no protobuf runtime at all, for start-up's sake (issue 22). So the
// request is encoded here with internal/pbwire, field by field, after
// opentelemetry/proto/profiles/v1development/profiles.proto as the
// Collector v0.161 (proto v0.4.0) reads it: a dictionary of strings,
// functions, locations, stacks and attributes (index 0 of each the zero
// value), and one Profile per map keyed by a user stack. The protocol is
// experimental: the Collector accepts it behind its service.profilesSupport
// feature gate, and its schema may change between Collector versions.

// Profile is one OTLP profile: the entries of one map whose key holds a
// user stack.
type Profile struct {
	// Name is the map's name without '@': the sample type ("stacks").
	Name string
	// Unit is the sample value's unit ("count").
	Unit    string
	Samples []ProfileSample
	// PeriodNanos, when set, is the sampling period (profile:hz).
	PeriodNanos int64
	Start, End  time.Time
}

// ProfileSample is one counted stack.
type ProfileSample struct {
	// Frames are the symbolized frames, innermost first.
	Frames []string
	Value  int64
	// Attrs are the key's other parts (comm, pid, ...) by label name.
	Attrs map[string]string
}

// Profiles returns a Profile for each map of sn whose key has exactly one
// user stack and whose values are integers (count(), sum()); the key's
// other parts become sample attributes named as the Prometheus labels
// are (KeyNames).
func Profiles(sn session.Snapshot, keyNames map[string][]string) []Profile {
	var out []Profile
	for _, m := range sn.Maps {
		if m == nil || len(m.Entries) == 0 || (m.Kind != output.AggCount && m.Kind != output.AggSum) {
			continue
		}
		stackAt := -1
		for i, k := range m.Entries[0].Key {
			if k.Kind == output.KindStack {
				if stackAt >= 0 {
					stackAt = -2
					break
				}
				stackAt = i
			}
		}
		if stackAt < 0 {
			continue
		}
		name := strings.TrimPrefix(m.Name, "@")
		if name == "" {
			name = "stacks"
		}
		names := keyNames[m.Name]
		p := Profile{Name: name, Unit: "count"}
		for _, e := range m.Entries {
			if stackAt >= len(e.Key) || len(e.Key[stackAt].Frames) == 0 {
				continue
			}
			v := int64(intValue(e.Value))
			if v <= 0 {
				continue
			}
			s := ProfileSample{Frames: e.Key[stackAt].Frames, Value: v, Attrs: map[string]string{}}
			for i, k := range e.Key {
				if i == stackAt {
					continue
				}
				label := "key" + strconv.Itoa(i)
				if i < len(names) && names[i] != "" {
					label = names[i]
				}
				s.Attrs[label] = labelValue(k)
			}
			p.Samples = append(p.Samples, s)
		}
		if len(p.Samples) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// dict is the ProfilesDictionary being built: tables with the zero value
// at index 0, and the indices of what they hold.
type dict struct {
	strs      []string
	strIdx    map[string]int32
	funcs     int32 // function i+1 names strs[funcName[i]]
	funcName  []int32
	funcIdx   map[string]int32
	stacks    [][]int32
	stackIdx  map[string]int32
	attrs     [][2]int32 // key strindex, value strindex
	attrIdx   map[[2]int32]int32
	locations int32
}

func newDict() *dict {
	return &dict{strs: []string{""}, strIdx: map[string]int32{"": 0}, funcIdx: map[string]int32{},
		stacks: [][]int32{nil}, stackIdx: map[string]int32{}, attrs: [][2]int32{{}}, attrIdx: map[[2]int32]int32{}}
}

func (d *dict) str(s string) int32 {
	if i, ok := d.strIdx[s]; ok {
		return i
	}
	i := int32(len(d.strs))
	d.strs = append(d.strs, s)
	d.strIdx[s] = i
	return i
}

// function returns the location index of a frame: one function and one
// location per distinct name (frames are names, not addresses).
func (d *dict) function(name string) int32 {
	if i, ok := d.funcIdx[name]; ok {
		return i
	}
	d.funcName = append(d.funcName, d.str(name))
	d.funcs++
	d.locations++
	d.funcIdx[name] = d.funcs
	return d.funcs
}

func (d *dict) stack(frames []string) int32 {
	locs := make([]int32, len(frames))
	var key strings.Builder
	for i, f := range frames {
		locs[i] = d.function(f)
		fmt.Fprintf(&key, "%d,", locs[i])
	}
	if i, ok := d.stackIdx[key.String()]; ok {
		return i
	}
	i := int32(len(d.stacks))
	d.stacks = append(d.stacks, locs)
	d.stackIdx[key.String()] = i
	return i
}

func (d *dict) attr(k, v string) int32 {
	kv := [2]int32{d.str(k), d.str(v)}
	if i, ok := d.attrIdx[kv]; ok {
		return i
	}
	i := int32(len(d.attrs))
	d.attrs = append(d.attrs, kv)
	d.attrIdx[kv] = i
	return i
}

// EncodeProfiles returns an ExportProfilesServiceRequest in protobuf with
// the profiles under one resource (service.name, host.name and attrs) and
// uscope's instrumentation scope.
func EncodeProfiles(profiles []Profile, attrs map[string]string) []byte {
	d := newDict()
	var profs [][]byte
	for _, p := range profiles {
		profs = append(profs, encodeProfile(d, p))
	}
	var scope []byte
	scope = pbwire.Bytes(scope, 1, scopeMsg())
	for _, p := range profs {
		scope = pbwire.Bytes(scope, 2, p)
	}
	var rp []byte
	rp = pbwire.Bytes(rp, 1, resourceMsg(attrs))
	rp = pbwire.Bytes(rp, 2, scope)
	var req []byte
	req = pbwire.Bytes(req, 1, rp)
	req = pbwire.Bytes(req, 2, d.encode())
	return req
}

func encodeProfile(d *dict, p Profile) []byte {
	var b []byte
	b = appendMsg(b, 1, valueType(d.str(p.Name), d.str(p.Unit)))
	for _, s := range p.Samples {
		var sm []byte
		sm = pbwire.Varint(sm, 1, uint64(d.stack(s.Frames)))
		if len(s.Attrs) > 0 {
			keys := make([]string, 0, len(s.Attrs))
			for k := range s.Attrs {
				keys = append(keys, k)
			}
			sortStrings(keys)
			var idx []uint64
			for _, k := range keys {
				idx = append(idx, uint64(d.attr(k, s.Attrs[k])))
			}
			sm = appendPacked(sm, 2, idx)
		}
		sm = appendPacked(sm, 4, []uint64{uint64(s.Value)})
		b = appendMsg(b, 2, sm)
	}
	if !p.Start.IsZero() {
		b = pbwire.Fixed64(b, 3, uint64(p.Start.UnixNano()))
		if p.End.After(p.Start) {
			b = pbwire.Varint(b, 4, uint64(p.End.Sub(p.Start).Nanoseconds()))
		}
	}
	if p.PeriodNanos > 0 {
		b = appendMsg(b, 5, valueType(d.str("cpu"), d.str("nanoseconds")))
		b = pbwire.Varint(b, 6, uint64(p.PeriodNanos))
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	b = pbwire.Bytes(b, 7, id)
	return b
}

// encode renders the dictionary (ProfilesDictionary).
func (d *dict) encode() []byte {
	var b []byte
	b = appendMsg(b, 1, nil) // mapping_table[0]
	b = appendMsg(b, 2, nil) // location_table[0]
	for i := int32(1); i <= d.locations; i++ {
		var line []byte
		line = pbwire.Varint(line, 1, uint64(i))
		b = appendMsg(b, 2, appendMsg(nil, 3, line))
	}
	b = appendMsg(b, 3, nil) // function_table[0]
	for _, n := range d.funcName {
		var fn []byte
		fn = pbwire.Varint(fn, 1, uint64(n))
		fn = pbwire.Varint(fn, 2, uint64(n))
		b = appendMsg(b, 3, fn)
	}
	// link_table[0]: trace id of 16 and span id of 8 zero bytes.
	var link []byte
	link = pbwire.Bytes(link, 1, make([]byte, 16))
	link = pbwire.Bytes(link, 2, make([]byte, 8))
	b = appendMsg(b, 4, link)
	for _, s := range d.strs {
		b = pbwire.String(b, 5, s)
	}
	for i, kv := range d.attrs {
		if i == 0 {
			b = appendMsg(b, 6, nil)
			continue
		}
		var a []byte
		a = pbwire.Varint(a, 1, uint64(kv[0]))
		a = appendMsg(a, 2, anyValue(d.strs[kv[1]]))
		b = appendMsg(b, 6, a)
	}
	for i, locs := range d.stacks {
		if i == 0 {
			b = appendMsg(b, 7, nil)
			continue
		}
		idx := make([]uint64, len(locs))
		for j, l := range locs {
			idx[j] = uint64(l)
		}
		b = appendMsg(b, 7, appendPacked(nil, 1, idx))
	}
	return b
}

func valueType(typ, unit int32) []byte {
	b := pbwire.Varint(nil, 1, uint64(typ))
	return pbwire.Varint(b, 2, uint64(unit))
}

// anyValue is a common.v1.AnyValue holding s.
func anyValue(s string) []byte {
	return pbwire.String(nil, anyString, s)
}

// resourceMsg is a resource.v1.Resource with the attributes of
// resourceAttrs.
func resourceMsg(attrs map[string]string) []byte {
	var b []byte
	for _, a := range resourceAttrs(attrs) {
		b = appendKeyValue(b, resourceAttributes, a)
	}
	return b
}

// scopeMsg is uscope's common.v1.InstrumentationScope.
func scopeMsg() []byte {
	b := pbwire.String(nil, scopeName, scope.Name)
	if scope.Version != "" {
		b = pbwire.String(b, scopeVersion, scope.Version)
	}
	return b
}

func appendMsg(b []byte, num pbwire.Number, msg []byte) []byte {
	return pbwire.Bytes(b, num, msg)
}

func appendPacked(b []byte, num pbwire.Number, vs []uint64) []byte {
	m := len(b)
	b = pbwire.Open(b, num)
	for _, v := range vs {
		b = pbwire.AppendVarint(b, v)
	}
	return pbwire.Close(b, m)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// SendProfiles sends an encoded request (EncodeProfiles) to rawURL, as
// StartOTLP's URLs: gRPC to the profiles service
// (opentelemetry.proto.collector.profiles.v1development.ProfilesService),
// or HTTP/protobuf to PREFIX/v1development/profiles.
func SendProfiles(ctx context.Context, rawURL string, req []byte) error {
	c, err := newOTLPClient(rawURL)
	if err != nil {
		return err
	}
	defer c.close()
	return c.send(ctx, profilesSignal, req)
}
