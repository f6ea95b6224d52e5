package export

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

func stackKey(frames ...string) output.Value {
	return output.Value{Kind: output.KindStack, Frames: frames}
}

// TestProfilesFromSnapshot: a count() map keyed by comm and a ustack
// becomes one profile whose samples carry the stack, the count and comm
// as an attribute; maps without a stack, or with non-integer values, are
// left out.
func TestProfilesFromSnapshot(t *testing.T) {
	sn := session.Snapshot{Maps: []*output.Map{
		{Name: "@stacks", Kind: output.AggCount, Entries: []output.Entry{
			{Key: []output.Value{{Kind: output.KindString, Str: "app"}, stackKey("leaf", "mid", "main")}, Value: output.Value{Kind: output.KindInt, Uint: 5}},
			{Key: []output.Value{{Kind: output.KindString, Str: "app"}, stackKey("other", "main")}, Value: output.Value{Kind: output.KindInt, Uint: 2}},
		}},
		{Name: "@calls", Kind: output.AggCount, Entries: []output.Entry{
			{Key: []output.Value{{Kind: output.KindString, Str: "app"}}, Value: output.Value{Kind: output.KindInt, Uint: 9}},
		}},
		{Name: "@h", Kind: output.AggHist, Entries: []output.Entry{{Key: []output.Value{stackKey("x")}}}},
	}}
	ps := Profiles(sn, map[string][]string{"@stacks": {"comm", "ustack"}})
	if len(ps) != 1 || ps[0].Name != "stacks" || len(ps[0].Samples) != 2 {
		t.Fatalf("profiles %+v", ps)
	}
	s := ps[0].Samples[0]
	if s.Value != 5 || !slices.Equal(s.Frames, []string{"leaf", "mid", "main"}) || s.Attrs["comm"] != "app" || len(s.Attrs) != 1 {
		t.Errorf("sample %+v", s)
	}
}

// TestEncodeProfiles: the request is well-formed protobuf whose
// dictionary starts every table with its zero value and holds each
// function name once.
func TestEncodeProfiles(t *testing.T) {
	b := EncodeProfiles([]Profile{{Name: "stacks", Unit: "count", Samples: []ProfileSample{
		{Frames: []string{"leaf", "main"}, Value: 3, Attrs: map[string]string{"comm": "app"}},
		{Frames: []string{"other", "main"}, Value: 1},
	}}}, nil)
	fields := func(b []byte) map[protowire.Number][][]byte {
		out := map[protowire.Number][][]byte{}
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatalf("bad tag: %v", protowire.ParseError(n))
			}
			b = b[n:]
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				t.Fatalf("bad field %d: %v", num, protowire.ParseError(m))
			}
			if typ == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(b)
				out[num] = append(out[num], v)
			} else {
				out[num] = append(out[num], nil)
			}
			b = b[m:]
		}
		return out
	}
	req := fields(b)
	if len(req[1]) != 1 || len(req[2]) != 1 {
		t.Fatalf("request fields %v", req)
	}
	dict := fields(req[2][0])
	var strs []string
	for _, s := range dict[5] {
		strs = append(strs, string(s))
	}
	if strs[0] != "" || !slices.Contains(strs, "leaf") || !slices.Contains(strs, "comm") {
		t.Errorf("string table %q", strs)
	}
	main := 0
	for _, s := range strs {
		if s == "main" {
			main++
		}
	}
	// 3 functions + the zero one; 3 locations + the zero one; 2 stacks +
	// the zero one; comm=app + the zero attribute.
	if main != 1 || len(dict[3]) != 4 || len(dict[2]) != 4 || len(dict[7]) != 3 || len(dict[6]) != 2 {
		t.Errorf("dictionary: %d functions, %d locations, %d stacks, %d attributes, main %d times",
			len(dict[3]), len(dict[2]), len(dict[7]), len(dict[6]), main)
	}
	for _, tbl := range []protowire.Number{1, 2, 3, 6, 7} {
		if len(dict[tbl]) == 0 || len(dict[tbl][0]) != 0 {
			t.Errorf("table %d does not start with the zero value", tbl)
		}
	}
}
