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
	// demangles only when the fields do not already tell. first holds the
	// first site of each probe name, more the first sites of its other
	// function names (rare: a probe name nearly always has one).
	first := make(map[string]uint64, len(plan.Sites))
	var more map[string][]uint64
	out := make([]uint64, len(plan.Sites))
	for i := range plan.Sites {
		s := &plan.Sites[i]
		f, ok := first[s.Probe]
		switch {
		case !ok:
			first[s.Probe] = uint64(i)
			f = uint64(i)
		case !plan.Sites[f].SameName(s):
			found := false
			for _, g := range more[s.Probe] {
				if plan.Sites[g].SameName(s) {
					f, found = g, true
					break
				}
			}
			if !found {
				if more == nil {
					more = map[string][]uint64{}
				}
				more[s.Probe] = append(more[s.Probe], uint64(i))
				f = uint64(i)
			}
		}
		out[i] = f
	}
	return out
}
