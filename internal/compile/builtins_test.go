package compile

import (
	"strings"
	"testing"
)

// TestBuiltinsTable checks that every builtin has everything the passes
// and the docs read from its row: a checker, an emitter (or, for an
// aggregation, the map assignment that emits it), a result type, help, a
// usage for functions, and a place in the hints of the probes it is valid
// in. cmd/uscope's TestLanguageReference checks the man page and
// completion.
func TestBuiltinsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range builtins {
		key := b.name
		if b.call {
			key += "()"
		}
		if seen[key] {
			t.Errorf("%s: two rows", key)
		}
		seen[key] = true
		if b.agg == AggNone && b.check == nil {
			t.Errorf("%s: no checker", key)
		}
		if b.agg == AggNone && b.emit == nil && b.place == nil && !b.lowered {
			t.Errorf("%s: no emitter", key)
		}
		if b.agg != AggNone && (b.check != nil || b.emit != nil) {
			t.Errorf("%s: an aggregation is checked and emitted by its map assignment", key)
		}
		if b.help == "" || b.result == "" {
			t.Errorf("%s: no help or result type", key)
		}
		if b.call && b.usage == "" {
			t.Errorf("%s: no usage", key)
		}
		if b.where == 0 {
			t.Errorf("%s: valid nowhere", key)
		}
		for _, w := range []probeKind{inUprobe, inUretprobe, inUSDT, inSpecial} {
			hint := ", " + builtinHint(b.call, w) + ","
			if got, want := strings.Contains(hint, ", "+b.name+","), b.where&w != 0; got != want {
				t.Errorf("%s: in the hint of %v: %v, valid there: %v", key, w, got, want)
			}
		}
		if lookupBuiltin(b.name, b.call) != b && b.name != "argN" && b.name != "sargN" {
			t.Errorf("%s: lookup finds another row", key)
		}
	}
	if lookupBuiltin("arg3", false) == nil || lookupBuiltin("argN", false) != nil {
		t.Error("argN: arg3 must be found, the literal argN not")
	}
	if len(Builtins()) != len(builtins) {
		t.Error("Builtins() does not list every row")
	}
}

func TestNearest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"prinft", "printf"}, {"strlne", "strlen"}, {"hsit", "hist"}, {"zzzzzz", ""},
	} {
		if got := nearest(tc.in, builtinNames(true)); got != tc.want {
			t.Errorf("nearest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
