package tools

import (
	"slices"
	"strings"

	"github.com/uscope/uscope/internal/output"
)

// CountOptions configure `uscope count`.
type CountOptions struct {
	Options
	// Pattern is funccount's pattern (see Pattern).
	Pattern string
}

// Count builds bcc's funccount: a count per function (or USDT probe) that
// Pattern matches, kept in the kernel in @counts[func] and printed as the
// FUNC COUNT table, sorted by count, at every interval and at the end.
// All the functions of a pattern attach as one uprobe_multi link; `func`
// names each call's function through the link's cookie.
func Count(o CountOptions) (*Tool, error) {
	ap, err := Pattern(o.Pattern)
	if err != nil {
		return nil, err
	}
	points, err := o.points(ap)
	if err != nil {
		return nil, err
	}
	prog, err := render("count", struct {
		Probe string
		intervalData
	}{o.probeHeader(points), o.data("counts")})
	if err != nil {
		return nil, err
	}
	return o.jsonTool(&Tool{
		Program: prog,
		Attached: func(probes int) {
			o.printf("%s", output.BCCTracing(probes, o.Pattern))
		},
		Report: func(maps []*output.Map, final bool) {
			m := find(maps, "@counts")
			if m == nil {
				return
			}
			// At the end of an interval run, the last interval has been
			// printed already unless counts came in since.
			if o.Live && !final {
				o.printf("%s", o.topView(countRows(m)))
				return
			}
			if !final || o.Interval == 0 || !empty([]*output.Map{m}) {
				o.printf("\n")
				if o.Timestamp {
					o.printf("%s", output.BCCTimestamp(o.now().Format("15:04:05")))
				}
				rows := countRows(m)
				if o.Top > 0 && len(rows) > o.Top {
					rows = rows[len(rows)-o.Top:]
				}
				o.printf("%s", output.BCCFuncCount(rows))
			}
			if final {
				o.printf("Detaching...\n")
			}
		},
	}, "@counts"), nil
}

// countRows turns a map of counts keyed by one value into rows sorted by
// count, then name. Keys that print the same (one function name in two
// libraries) are added together.
func countRows(m *output.Map) []output.Count {
	sums := map[string]uint64{}
	for _, e := range m.Entries {
		parts := make([]string, len(e.Key))
		for i, k := range e.Key {
			parts[i] = keyText(k)
		}
		sums[strings.Join(parts, ", ")] += intOf(e.Value)
	}
	rows := make([]output.Count, 0, len(sums))
	for k, v := range sums {
		rows = append(rows, output.Count{Name: k, Count: v})
	}
	slices.SortFunc(rows, func(a, b output.Count) int {
		if a.Count != b.Count {
			if a.Count < b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return rows
}
