package session

import "github.com/uscope/uscope/internal/compile"

// siteCookies returns the attach cookie of each site of the plan: the index
// of the first site with the same probe and function names. The BPF
// programs read the cookie for `probe`, `func` and the FUNC column of trace
// rows, which print the site's names: sites that print the same (the call
// sites of one USDT probe, the RET instructions of one Go function) must
// give the same value, or a map keyed by probe would count each call site
// under a key of its own.
func siteCookies(plan *compile.Plan) []uint64 {
	// Sites of one probe name are compared by Site.SameName, which
	// demangles only when the fields do not already tell.
	first := make(map[string][]uint64, len(plan.Sites)) // probe → first site of each name
	out := make([]uint64, len(plan.Sites))
	for i := range plan.Sites {
		s := &plan.Sites[i]
		c, found := uint64(i), false
		for _, f := range first[s.Probe] {
			if plan.Sites[f].SameName(s) {
				c, found = f, true
				break
			}
		}
		if !found {
			first[s.Probe] = append(first[s.Probe], c)
		}
		out[i] = c
	}
	return out
}
