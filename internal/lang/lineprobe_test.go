package lang

import (
	"strings"
	"testing"
)

// TestLineAttachPoints: the issue-17 forms KIND:TARGET:FILE:LINE and
// KIND:TARGET:FUNC:LINE, next to the forms they must not disturb.
func TestLineAttachPoints(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want AttachPoint
	}{
		{"uprobe:/bin/x:params.c:42", AttachPoint{Kind: KindUprobe, Target: "/bin/x", File: "params.c", Line: 42, HasLine: true}},
		{"uprobe:/bin/x:src/lib/params.c:7", AttachPoint{Kind: KindUprobe, Target: "/bin/x", File: "src/lib/params.c", Line: 7, HasLine: true}},
		{"u:./a.out:/abs/dir/m.cpp:3", AttachPoint{Kind: KindUprobe, Target: "./a.out", File: "/abs/dir/m.cpp", Line: 3, HasLine: true}},
		{"uprobe:/bin/x:main:3", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "main", Line: 3, HasLine: true}},
		{"uprobe:/bin/x:main:0", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "main", Line: 0, HasLine: true}},
		{`uprobe:/bin/x:"ns::f":2`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "ns::f", Line: 2, HasLine: true}},
		{"uprobe:*:x.h:*", AttachPoint{Kind: KindUprobe, Target: "*", File: "x.h", Line: -1, HasLine: true}},
		{"uprobe::params.c:9", AttachPoint{Kind: KindUprobe, File: "params.c", Line: 9, HasLine: true}},
		// Unchanged: bpftrace's BIN@FILE:LINE, cpp:FUNC, addresses.
		{"uprobe:/bin/x@params.c:42", AttachPoint{Kind: KindUprobe, Target: "/bin/x@params.c", Addr: 42, HasAddr: true}},
		{`uprobe:/bin/x:cpp:"ns::f"`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Lang: "cpp", Func: "ns::f"}},
		{"uprobe:/bin/x:cpp:16", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Lang: "cpp", Addr: 16, HasAddr: true}},
	} {
		t.Run(tt.src, func(t *testing.T) {
			p := mustParse(t, tt.src+" { }")
			g := *p.Probes[0].Points[0]
			if g.Raw != tt.src {
				t.Errorf("Raw = %q", g.Raw)
			}
			g.Pos, g.Raw = Pos{}, ""
			if g != tt.want {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
			checkRoundTrip(t, p)
		})
	}
	// A '/' after a function still starts a predicate.
	for _, src := range []string{"uprobe:a:b/pid == 1/{}", "uprobe:a:b/x/ {}", "uprobe:a:f/arg0>2/ { }"} {
		p := mustParse(t, src)
		if ap := p.Probes[0].Points[0]; ap.HasLine || p.Probes[0].Pred == nil {
			t.Errorf("%s: %+v", src, ap)
		}
	}
	for _, tt := range []struct{ src, want string }{
		{"uretprobe:/bin/x:a.c:3 { }", "a source line has no return"},
		{"uprobe:/bin/x:a.c:0 { }", "line 0 of a.c"},
		{"uprobe:/bin/x::3 { }", "missing source file or function before the line"},
	} {
		_, err := Parse("t", tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.src, err, tt.want)
		}
	}
}
