package resolve

import (
	"sort"
	"strings"
)

// Suggest returns up to three of names nearest to want (a name or a glob:
// its '*' are dropped), for "did you mean" hints: names that contain it,
// whatever the case, then names within a small edit distance. Empty when
// nothing is near.
func Suggest(want string, names []string) []string {
	core := strings.ToLower(strings.ReplaceAll(want, "*", ""))
	if core == "" {
		return nil
	}
	limit := len(core) / 3
	if limit < 2 {
		limit = 2
	}
	type cand struct {
		name string
		d    int
	}
	seen := map[string]bool{}
	var cs []cand
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		ln := strings.ToLower(n)
		switch {
		case strings.Contains(ln, core):
			cs = append(cs, cand{n, len(ln) - len(core) - 1000})
		case abs(len(ln)-len(core)) <= limit:
			if d := editDistance(core, ln, limit); d <= limit {
				cs = append(cs, cand{n, d})
			}
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// didYouMean renders Suggest's names as a hint ("" when there are none).
func didYouMean(want string, names []string) string {
	s := Suggest(want, names)
	if len(s) == 0 {
		return ""
	}
	return "did you mean " + strings.Join(s, ", ") + "?"
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance is the Levenshtein distance of a and b, or limit+1 once it
// is sure to exceed limit.
func editDistance(a, b string, limit int) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
			best = min(best, c)
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
