package tools

import (
	"fmt"
	"slices"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// ArgdistOptions configure `uscope argdist`.
type ArgdistOptions struct {
	Options
	// Counts are the -C specs (a count per distinct value), Hists the -H
	// specs (a log2 histogram), in bcc's spec syntax (lang.ParseArgdistSpec).
	Counts, Hists []string
	// Top prints only the Top most frequent values of each -C spec (-T).
	Top int
	// StrSize is the size of the strings read for char* values (-z).
	StrSize int
}

// argdistProbe is one spec, ready for the template and for printing.
type argdistProbe struct {
	spec *lang.ArgdistSpec
	hist bool
	name string // map name, without '@'

	// For programs/argdist.bt:
	Entry, Point, Filter, First, Collect string
	Saves                                []struct{ Map, X string }
}

// Argdist builds bcc's argdist: for each spec, the values of its
// expressions counted per distinct value (-C) or as a log2 histogram (-H)
// in a map of its own, printed every interval with a [HH:MM:SS] line as
// argdist prints them, and at the end when values came in since.
func Argdist(o ArgdistOptions) (*Tool, error) {
	if len(o.Counts)+len(o.Hists) == 0 {
		return nil, fmt.Errorf("give at least one -C or -H spec; e.g. -C 'p:c:malloc(size_t size):size_t:size'")
	}
	var probes []*argdistProbe
	var maps []string
	add := func(raw string, hist bool) error {
		i := len(probes)
		spec, err := lang.ParseArgdistSpec(raw, i, o.StrSize)
		if err != nil {
			return err
		}
		if hist && len(spec.Exprs) > 1 {
			return fmt.Errorf("argdist spec %q: a histogram takes one expression", raw)
		}
		if hist && spec.Default && spec.Type != "r" {
			return fmt.Errorf("argdist spec %q: a histogram needs an expression, like p:c:malloc(size_t size):size_t:size", raw)
		}
		pr := &argdistProbe{spec: spec, hist: hist, name: fmt.Sprintf("spec%d", i), Point: spec.Point.String()}
		if spec.Entry != nil {
			pr.Entry = spec.Entry.String()
			pr.First = spec.Saves[0].Map
			for _, s := range spec.Saves {
				pr.Saves = append(pr.Saves, struct{ Map, X string }{s.Map, lang.FormatExpr(s.X)})
			}
		}
		if spec.Filter != nil {
			pr.Filter = lang.FormatExpr(spec.Filter)
		}
		if hist {
			pr.Collect = fmt.Sprintf("@%s = hist(%s);", pr.name, lang.FormatExpr(spec.Exprs[0].X))
		} else {
			keys := make([]string, len(spec.Exprs))
			for j, e := range spec.Exprs {
				keys[j] = lang.FormatExpr(e.X)
			}
			pr.Collect = fmt.Sprintf("@%s[%s] = count();", pr.name, strings.Join(keys, ", "))
		}
		probes = append(probes, pr)
		maps = append(maps, pr.name)
		return nil
	}
	for _, s := range o.Counts {
		if err := add(s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range o.Hists {
		if err := add(s, true); err != nil {
			return nil, err
		}
	}
	prog, err := render("argdist", struct {
		Specs []*argdistProbe
		intervalData
	}{probes, o.data(maps...)})
	if err != nil {
		return nil, err
	}
	intervals := 0 // printed so far
	return o.jsonTool(&Tool{
		Program: prog,
		Report: func(got []*output.Map, final bool) {
			if final && o.Ticks > 0 && intervals >= o.Ticks {
				return // -n's last interval was the end, as in bcc
			}
			var block []*output.Map
			for _, pr := range probes {
				block = append(block, find(got, "@"+pr.name))
			}
			if !final {
				// An interval prints the maps one print() at a time, in
				// spec order: the first one starts the block.
				m := got[0]
				for i, pr := range probes {
					if m.Name == "@"+pr.name {
						if i == 0 {
							intervals++
							o.printf("[%s]\n", o.now().Format("15:04:05"))
						}
						o.printf("%s", o.argdistText(pr, m))
					}
				}
				return
			}
			nonEmpty := false
			for _, m := range block {
				if m != nil && len(m.Entries) > 0 {
					nonEmpty = true
				}
			}
			if !nonEmpty {
				return
			}
			o.printf("[%s]\n", o.now().Format("15:04:05"))
			for i, pr := range probes {
				if block[i] != nil {
					o.printf("%s", o.argdistText(pr, block[i]))
				}
			}
		},
	}, mapNames(maps)...), nil
}

// mapNames returns "@name" for each name.
func mapNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "@" + n
	}
	return out
}

// argdistText prints one spec's map as argdist's display() does.
func (o *ArgdistOptions) argdistText(pr *argdistProbe, m *output.Map) string {
	spec := pr.spec
	if pr.hist {
		label := spec.Label
		if label == "" {
			label = spec.Exprs[0].Text
		}
		buckets := sumBuckets(m)
		return output.BCCLog2Hist(buckets, label)
	}
	rows := make([]output.Count, 0, len(m.Entries))
	for _, e := range m.Entries {
		var name string
		if spec.Default && spec.Type != "r" {
			name = "total calls"
		} else {
			parts := make([]string, len(e.Key))
			for i, k := range e.Key {
				text := ""
				if i < len(spec.Exprs) {
					text = spec.Exprs[i].Text
				}
				parts[i] = text + " = " + keyText(k)
			}
			name = strings.Join(parts, ", ")
		}
		rows = append(rows, output.Count{Name: name, Count: intOf(e.Value)})
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
	if o.Top > 0 && len(rows) > o.Top {
		rows = rows[len(rows)-o.Top:]
	}
	label := spec.Label
	if label == "" {
		label = spec.Raw
	}
	return output.BCCArgdistCounts(label, rows)
}
