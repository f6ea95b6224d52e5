package tools

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

// TestTraceFilter: trace's -n, --uid and -L (and argdist's -t) come
// before each traced probe's own predicate; interval probes keep none.
func TestTraceFilter(t *testing.T) {
	prog, err := lang.Parse("t", `uprobe:c:write /arg0 == 1/ { @n = count(); } interval:ms:100 { print(@n); }`)
	if err != nil {
		t.Fatal(err)
	}
	TraceFilter{TID: 7, Comm: "bcce", UID: 0}.Apply(prog)
	src := lang.Format(prog)
	if !strings.Contains(src, `uprobe:c:write /tid == 7 && (uid == 0 && (strcontains(comm, "bcce") && arg0 == 1))/`) &&
		!strings.Contains(src, `uprobe:c:write /tid == 7 && uid == 0 && strcontains(comm, "bcce") && arg0 == 1/`) {
		t.Errorf("filters not before the probe's predicate:\n%s", src)
	}
	if !strings.Contains(src, "interval:ms:100 {") {
		t.Errorf("the interval probe got a predicate:\n%s", src)
	}
	prog, _ = lang.Parse("t", `uprobe:c:write { @n = count(); }`)
	TraceFilter{UID: -1}.Apply(prog)
	if src := lang.Format(prog); strings.Contains(src, "/") {
		t.Errorf("no filter given, yet a predicate:\n%s", src)
	}
}
