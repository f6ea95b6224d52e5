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
	type names struct{ probe, fn string }
	first := make(map[names]uint64, len(plan.Sites))
	out := make([]uint64, len(plan.Sites))
	for i, s := range plan.Sites {
		k := names{s.Probe, s.Name()}
		c, ok := first[k]
		if !ok {
			c = uint64(i)
			first[k] = c
		}
		out[i] = c
	}
	return out
}
