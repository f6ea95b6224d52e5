package tools

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/resolve"
)

// What every tool's Options carry besides Out and Timing: how the results
// print (text in the tool's format, or bpftrace's NDJSON), and the
// filters bcc's tools share.

// predicate is the filter every tool's probes get from Options: the CPU
// (bcc's -c CPU of funccount and stackcount), or "".
func (o *Options) predicate() string {
	if o.CPU == nil || *o.CPU < 0 {
		return ""
	}
	return fmt.Sprintf("cpu == %d", *o.CPU)
}

// points returns the attach points of ap as program text: ap itself, or,
// with Options.Regexp, every function (or USDT probe) of ap's target whose
// name the regular expression ap.Func matches from its start, as bcc's -r
// matches with Python's re.match.
func (o *Options) points(ap *lang.AttachPoint) (string, error) {
	if !o.Regexp {
		return ap.String(), nil
	}
	re, err := regexp.Compile("^(?:" + ap.Func + ")")
	if err != nil {
		return "", fmt.Errorf("-r: %q is not a regular expression: %v", ap.Func, err)
	}
	r := resolve.New(resolve.Options{PID: o.PID})
	defer r.Close()
	var names []string
	looked := 0
	if ap.Kind == lang.KindUSDT {
		all := *ap
		all.Func = "*"
		sites, err := r.Resolve(&all)
		if err != nil {
			return "", err
		}
		looked = len(sites)
		seen := map[string]bool{}
		for _, s := range sites {
			one := *ap
			one.Target, one.Func, one.Provider = s.Target, s.Func, s.Provider
			if name := one.String(); re.MatchString(s.Func) && !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	} else {
		// Every name of every function (aliases too: libc's write is also
		// __write), one probe per address, as bcc attaches.
		targets, err := r.Targets(ap.Target)
		if err != nil {
			return "", err
		}
		for _, t := range targets {
			f, err := r.Object(t.AttachPath)
			if err != nil {
				return "", err
			}
			funcs, err := f.Functions()
			if err != nil {
				return "", err
			}
			looked += len(funcs)
			byAddr := map[uint64]string{}
			for _, s := range funcs {
				if s.HiddenVersion || !re.MatchString(s.Name) {
					continue
				}
				if old, ok := byAddr[s.Addr]; !ok || s.Name < old {
					byAddr[s.Addr] = s.Name
				}
			}
			for _, name := range byAddr {
				one := *ap
				one.Target, one.Func = t.Path, name
				names = append(names, one.String())
			}
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("-r %q: no function of %s matches (it looked at %d); drop -r to use '*' wildcards", ap.Func, targetName(ap), looked)
	}
	slices.Sort(names)
	return strings.Join(names, ",\n"), nil
}

func targetName(ap *lang.AttachPoint) string {
	if ap.Target == "" {
		return "the process"
	}
	return ap.Target
}

// probeHeader is a probe's attach points and its predicate, as program
// text.
func (o *Options) probeHeader(points string) string {
	if p := o.predicate(); p != "" {
		return points + " /" + p + "/"
	}
	return points
}

// jsonTool makes t print bpftrace's NDJSON, the shapes of `uscope run -f
// json`: an attached_probes line, then each of the named maps (the tool's
// results; the program's bookkeeping maps stay out) as a map, hist or
// stats line, every interval and at the end.
func (o *Options) jsonTool(t *Tool, maps ...string) *Tool {
	if !o.JSON {
		return t
	}
	w := output.NewWriter(o.Out, output.JSON)
	t.Attached = func(n int) { w.AttachedProbes(n) }
	t.Report = func(got []*output.Map, final bool) {
		if final && o.Interval > 0 && o.Cumulative {
			return // the last interval printed everything
		}
		for _, name := range maps {
			if m := find(got, name); m != nil {
				output.PrintMapJSON(o.Out, m, output.PrintOptions{})
			}
		}
	}
	return t
}
