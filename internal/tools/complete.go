package tools

import (
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/resolve"
)

// Shell completion of the tools' arguments: probe patterns from the target
// binary, PIDs with their command names.

// maxCompletions caps what a completion offers: a shell shows no more.
const maxCompletions = 500

// CompletePattern completes a pattern of funccount, funclatency,
// stackcount ("[p:]LIB:FUNC", "u:LIB:PROBE"): once LIB: is typed, the
// function (or USDT probe) names of LIB that start with what follows, in
// process pid if not 0. Before the ':' it offers nothing (the shell
// completes file names).
func CompletePattern(toComplete string, pid int) []string {
	prefix, rest := "", toComplete
	usdt := false
	for _, kind := range []string{"p:", "u:"} {
		if r, ok := strings.CutPrefix(rest, kind); ok && strings.Contains(r, ":") {
			prefix, rest, usdt = kind, r, kind == "u:"
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return nil
	}
	target, fn := rest[:i], rest[i+1:]
	r := resolve.New(resolve.Options{PID: pid})
	defer r.Close()
	targets, err := r.Targets(target)
	if err != nil || len(targets) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if strings.HasPrefix(name, fn) && !seen[name] && len(out) < maxCompletions {
			seen[name] = true
			out = append(out, prefix+target+":"+name)
		}
	}
	for _, t := range targets {
		if usdt {
			_ = r.List([]resolve.Target{t}, resolve.ListOptions{Pattern: "usdt:*"}, func(l *resolve.Listing) error {
				add(l.Func)
				return nil
			})
			continue
		}
		f, err := r.Object(t.AttachPath)
		if err != nil {
			continue
		}
		funcs, err := f.Functions()
		if err != nil {
			continue
		}
		for _, s := range funcs {
			if !s.HiddenVersion {
				add(s.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// CompletePIDs returns "PID\tCOMM" for every process whose PID starts
// with toComplete.
func CompletePIDs(toComplete string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil || !strings.HasPrefix(e.Name(), toComplete) {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		out = append(out, e.Name()+"\t"+strings.TrimSpace(string(comm)))
		if len(out) >= maxCompletions {
			break
		}
	}
	return out
}
