package lang

import (
	"strings"
	"testing"
)

func TestProfileAttachPoint(t *testing.T) {
	for _, c := range []struct {
		src       string
		hz, nanos uint64
		canon     string
	}{
		{"profile:hz:99", 99, 0, "profile:hz:99"},
		{"profile:us:500", 0, 500e3, "profile:us:500"},
		{"profile:ms:10", 0, 10e6, "profile:ms:10"},
		{"profile:s:1", 0, 1e9, "profile:s:1"},
		{"profile:us:2000", 0, 2e6, "profile:ms:2"},
	} {
		p, err := Parse("t", c.src+" { @[ustack] = count(); }")
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		ap := p.Probes[0].Points[0]
		if ap.Kind != KindProfile || ap.ProfileHz != c.hz || ap.IntervalNanos != c.nanos {
			t.Errorf("%s: kind %s hz %d nanos %d", c.src, ap.Kind, ap.ProfileHz, ap.IntervalNanos)
		}
		if s := ap.String(); s != c.canon {
			t.Errorf("%s: String() = %q, want %q", c.src, s, c.canon)
		}
	}
	for _, c := range []struct{ src, want string }{
		{"profile:hz:0", "profile rate of zero"},
		{"profile:ns:100", `unknown profile unit "ns"`},
		{"profile:hz", "malformed profile probe"},
		{"profile:hz:x", `invalid profile rate "x"`},
	} {
		_, err := Parse("t", c.src+" { }")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.src, err, c.want)
		}
	}
}
