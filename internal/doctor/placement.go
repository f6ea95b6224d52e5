package doctor

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/uscope/uscope/internal/placement"
)

// checkPlacement reports which instructions the kernel emulates at a uprobe
// (internal/placement's table for the release), the ones entry probes on C
// functions move to.
func checkPlacement(st *state) Check {
	c := Check{Name: "entry_placement", Status: OK}
	if runtime.GOARCH != "amd64" {
		c.Status, c.Message = Info, "only on x86-64: entry probes stay at the first instruction"
		return c
	}
	k := placement.ForRelease(st.env.Release)
	c.Message = fmt.Sprintf("the kernel emulates %s at a uprobe (%s); entry probes on C functions move past leading cmp/test/mov/lea to the first of these when equivalent (--exact-entry keeps the first instruction); other instructions are single-stepped, several times slower",
		strings.Join(k.Classes(), ", "), k.Source)
	return c
}
