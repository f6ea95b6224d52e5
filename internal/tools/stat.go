package tools

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
)

// stat (bcc's ustat): the runtimes of every process of the languages,
// found in /proc and among the installed runtimes, and a program that
// counts their events per process.

// StatCounters are stat's counters: the column, the map that counts it per
// process, and the events that feed it (the first one the runtime has).
var StatCounters = []struct {
	Col, Map string
	Events   []runtimes.Event
}{
	{"METHOD/s", "method", []runtimes.Event{runtimes.MethodEntry, runtimes.MethodReturn}},
	{"GC/s", "gc", []runtimes.Event{runtimes.GCStart}},
	{"OBJNEW/s", "objnew", []runtimes.Event{runtimes.ObjNew}},
	{"CLOAD/s", "cload", []runtimes.Event{runtimes.ClassLoad}},
	{"EXC/s", "exc", []runtimes.Event{runtimes.Exception}},
	{"THR/s", "thr", []runtimes.Event{runtimes.ThreadStart}},
}

// statRuntimes are the runtime objects stat attaches to: those of the
// running processes of the languages, and the installed Python and JVM
// ones, so that processes started later are counted too. Objects without
// USDT probes are left out.
func statRuntimes(langs []string, cmdlines map[int64]string) []*runtimes.Process {
	seen := map[string]bool{}
	var out []*runtimes.Process
	add := func(p *runtimes.Process) {
		if p != nil && !strings.HasPrefix(p.Object, "/proc/") {
			// One attach per file: the same runtime through symlinks
			// would count every event twice.
			if real, err := filepath.EvalSymlinks(p.Object); err == nil {
				p.Object = real
			}
		}
		if p == nil || p.Object == "" || seen[p.Object] || p.Lang == "c" || (len(langs) > 0 && !slices.Contains(langs, p.Lang)) {
			return
		}
		seen[p.Object] = true
		if names, _ := runtimes.ProbeNames(p.Object); len(names) > 0 {
			out = append(out, &runtimes.Process{Lang: p.Lang, Version: p.Version, Object: p.Object})
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			p, err := runtimes.Detect(pid, "")
			if err == nil && p.Lang != "postgres" && p.Lang != "mysql" {
				add(p)
				if p.Lang != "c" && (len(langs) == 0 || slices.Contains(langs, p.Lang)) {
					cmdlines[int64(pid)] = Cmdline(int64(pid))
				}
			}
		}
	}
	pys, _ := filepath.Glob("/usr/bin/python3.[0-9]*")
	for _, py := range pys {
		if strings.Contains(filepath.Base(py), "-") {
			continue // python3.11-config
		}
		lang, v, obj := runtimes.Classify(py, nil)
		add(&runtimes.Process{Lang: lang, Version: v, Object: obj})
	}
	jvms, _ := filepath.Glob("/usr/lib/jvm/*/lib/server/libjvm.so")
	for _, j := range jvms {
		lang, v, obj := runtimes.Classify("", []string{j})
		add(&runtimes.Process{Lang: lang, Version: v, Object: obj})
	}
	return out
}

// StatProgram is stat's program with what prints its maps.
type StatProgram struct {
	Src  string
	Objs []*runtimes.Process
	Maps []string // the maps counted, in column order
	Cols []StatColumn
	// cmdlines are those of the processes running at the start.
	Cmdlines map[int64]string
}

// BuildStat makes stat's program: a count per process of each column's
// event in every runtime object of langs (all when empty), printed and
// cleared every interval seconds, count times (0: until the end).
func BuildStat(langs []string, interval float64, count int) (*StatProgram, error) {
	st := &StatProgram{Cmdlines: map[int64]string{}}
	st.Objs = statRuntimes(langs, st.Cmdlines)
	var b strings.Builder
	used := map[string]bool{}
	for _, p := range st.Objs {
		var evs []runtimes.Event
		for _, sc := range StatCounters {
			evs = append(evs, sc.Events...)
		}
		probes, _, _ := p.Probes(nil, evs)
		for _, sc := range StatCounters {
			for _, ev := range sc.Events {
				pr, ok := probes[ev]
				if !ok || (ev == runtimes.MethodEntry && pr.Note != "") {
					continue // CPython 3.11: count returns
				}
				fmt.Fprintf(&b, "%s {\n\t@%s[pid] = count();\n}\n\n", pr.Point(p.Object), sc.Map)
				used[sc.Map] = true
				break
			}
		}
	}
	if len(used) == 0 {
		what := "Java or Python"
		if len(langs) > 0 {
			what = strings.Join(langs, " or ")
		}
		return nil, (fmt.Errorf("no %s runtime with USDT probes runs or is installed", what))
	}
	for _, sc := range StatCounters {
		st.Cols = append(st.Cols, StatColumn{Col: sc.Col, Map: sc.Map})
		if used[sc.Map] {
			st.Maps = append(st.Maps, sc.Map)
		}
	}
	fmt.Fprintf(&b, "interval:ms:%d {\n", max(1, int64(interval*1000)))
	for _, m := range st.Maps {
		fmt.Fprintf(&b, "\tprint(@%s);\n", m)
	}
	for _, m := range st.Maps {
		fmt.Fprintf(&b, "\tclear(@%s);\n", m)
	}
	if count > 0 {
		fmt.Fprintf(&b, "\t@ticks++;\n\tif (@ticks >= %d) {\n\t\texit();\n\t}\n", count)
	}
	b.WriteString("}\n")
	st.Src = b.String()
	return st, nil
}

// Report is the session's Report hook: each interval's maps, gathered per
// process and handed to write once the last one is in.
func (st *StatProgram) Report(write func(map[string]map[int64]int64)) func([]*output.Map, bool) {
	counts := map[string]map[int64]int64{}
	return func(ms []*output.Map, final bool) {
		if final {
			return
		}
		for _, m := range ms {
			name := strings.TrimPrefix(m.Name, "@")
			counts[name] = map[int64]int64{}
			for _, e := range m.Entries {
				if len(e.Key) == 1 {
					counts[name][ValueInt(e.Key[0])] = ValueInt(e.Value)
				}
			}
			if name == st.Maps[len(st.Maps)-1] {
				write(counts)
				counts = map[string]map[int64]int64{}
			}
		}
	}
}
