package session

import (
	"fmt"
	"testing"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/resolve"
)

// TestSiteCookies: sites that print the same probe and function names
// share the cookie of the first of them; any other name gets its own.
func TestSiteCookies(t *testing.T) {
	plan := &compile.Plan{Sites: []resolve.Site{
		{Probe: "usdt:/bin/x:p:q", Func: "q"},                      // 0
		{Probe: "usdt:/bin/x:p:q", Func: "q"},                      // 1: another call site of 0
		{Probe: "uprobe:/bin/x:0x10", Func: "f", Display: "f+0x1"}, // 2
		{Probe: "uprobe:/bin/x:0x10", Func: "f", Display: "f+0x2"}, // 3: same probe, another name
		{Probe: "uprobe:/bin/x:0x10", Func: "f", Display: "f+0x2"}, // 4: as 3
		{Probe: "uprobe:/bin/x:g", Func: "g"},                      // 5
		{Probe: "uprobe:/bin/x:g", Func: "g", Display: "g"},        // 6: prints as 5
		{Probe: "usdt:/bin/x:p:q", Func: "q"},                      // 7: as 0
	}}
	want := []uint64{0, 0, 2, 3, 3, 5, 5, 0}
	if got := siteCookies(plan); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cookies %v, want %v", got, want)
	}
}
