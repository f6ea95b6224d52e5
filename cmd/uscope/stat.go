package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newStatCommand) }

// statColumns are stat's counters: the column, the map that counts it per
// process, and the events that feed it (the first one the runtime has).
var statColumns = []struct {
	col, m string
	evs    []runtimes.Event
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
					cmdlines[int64(pid)] = tools.Cmdline(int64(pid))
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

func newStatCommand() *cobra.Command {
	var (
		f       runtimeFlags
		noClear bool
		sortCol string
		rows    int
	)
	c := &cobra.Command{
		Use:   "stat [-l LANG] [-C] [-S COLUMN] [-r ROWS] [interval [count]]",
		Short: "Top-like activity of every Java and Python process: calls, GCs, allocations (bcc's ustat)",
		Long: `Stat counts, per process, the method calls, garbage collections, object
allocations, class loads, exceptions and thread starts of every process of
the languages (-l, default all), found by what they run (python3.11 is
Python, a process mapping libjvm.so is Java), and prints rates per second
every interval (default 1) seconds, count times (default: until Ctrl-C).
The probes are attached to the runtimes' files, so processes started while
stat runs are counted too.`,
		Example: `  uscope stat
  uscope stat -l java -S GC/s 5 3`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			interval, count := 1.0, 0
			if len(args) > 0 {
				v, err := strconv.ParseFloat(args[0], 64)
				if err != nil || v <= 0 {
					return toolError(cmd, fmt.Errorf("interval %q must be a positive number of seconds", args[0]))
				}
				interval = v
			}
			if len(args) > 1 {
				n, err := strconv.Atoi(args[1])
				if err != nil || n <= 0 {
					return toolError(cmd, fmt.Errorf("count %q must be a positive number", args[1]))
				}
				count = n
			}
			sortIdx := -1
			for i, sc := range statColumns {
				if strings.EqualFold(sc.col, sortCol) || strings.EqualFold(strings.TrimSuffix(sc.col, "/s"), sortCol) {
					sortIdx = i
				}
			}
			if sortCol != "" && sortIdx < 0 {
				return toolError(cmd, fmt.Errorf("unknown column %q for -S", sortCol))
			}
			var langs []string
			if f.lang != "" {
				langs = strings.Split(f.lang, ",")
			}
			st, err := buildStat(langs, interval, count)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			w := tools.Stat{W: out, Columns: st.cols, Interval: interval, SortIdx: sortIdx, Rows: rows, Cmdlines: st.cmdlines}
			p := &runtimes.Process{Lang: f.lang}
			return runRuntimeTool(cmd, &f, "stat", p, st.src, session.Config{
				Attached: func(int) {
					var names []string
					for _, o := range st.objs {
						names = append(names, o.Object)
					}
					fmt.Fprintf(out, "Tracing %s... Ctrl-C to quit.\n", strings.Join(names, ", "))
				},
				Report: st.report(w.Write),
			})
		},
	}
	c.Flags().StringVarP(&f.lang, "language", "l", "", "only processes of these languages (java,python)")
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().BoolVarP(&noClear, "noclear", "C", false, "do not clear the screen (uscope never does)")
	c.Flags().StringVarP(&sortCol, "sort", "S", "", "sort by `COLUMN` (METHOD, GC, OBJNEW, CLOAD, EXC, THR), descending")
	c.Flags().IntVarP(&rows, "rows", "r", 20, "print at most `ROWS` processes")
	return c
}

// statProgram is stat's program with what prints its maps.
type statProgram struct {
	src  string
	objs []*runtimes.Process
	maps []string // the maps counted, in column order
	cols []tools.StatColumn
	// cmdlines are those of the processes running at the start.
	cmdlines map[int64]string
}

// buildStat makes stat's program: a count per process of each column's
// event in every runtime object of langs (all when empty), printed and
// cleared every interval seconds, count times (0: until the end).
func buildStat(langs []string, interval float64, count int) (*statProgram, error) {
	st := &statProgram{cmdlines: map[int64]string{}}
	st.objs = statRuntimes(langs, st.cmdlines)
	var b strings.Builder
	used := map[string]bool{}
	for _, p := range st.objs {
		var evs []runtimes.Event
		for _, sc := range statColumns {
			evs = append(evs, sc.evs...)
		}
		probes, _, _ := p.Probes(nil, evs)
		for _, sc := range statColumns {
			for _, ev := range sc.evs {
				pr, ok := probes[ev]
				if !ok || (ev == runtimes.MethodEntry && pr.Note != "") {
					continue // CPython 3.11: count returns
				}
				fmt.Fprintf(&b, "%s {\n\t@%s[pid] = count();\n}\n\n", pr.Point(p.Object), sc.m)
				used[sc.m] = true
				break
			}
		}
	}
	if len(used) == 0 {
		what := "Java or Python"
		if len(langs) > 0 {
			what = strings.Join(langs, " or ")
		}
		return nil, usageError(fmt.Errorf("no %s runtime with USDT probes runs or is installed", what))
	}
	for _, sc := range statColumns {
		st.cols = append(st.cols, tools.StatColumn{Col: sc.col, Map: sc.m})
		if used[sc.m] {
			st.maps = append(st.maps, sc.m)
		}
	}
	fmt.Fprintf(&b, "interval:ms:%d {\n", max(1, int64(interval*1000)))
	for _, m := range st.maps {
		fmt.Fprintf(&b, "\tprint(@%s);\n", m)
	}
	for _, m := range st.maps {
		fmt.Fprintf(&b, "\tclear(@%s);\n", m)
	}
	if count > 0 {
		fmt.Fprintf(&b, "\t@ticks++;\n\tif (@ticks >= %d) {\n\t\texit();\n\t}\n", count)
	}
	b.WriteString("}\n")
	st.src = b.String()
	return st, nil
}

// report is the session's Report hook: each interval's maps, gathered per
// process and handed to write once the last one is in.
func (st *statProgram) report(write func(map[string]map[int64]int64)) func([]*output.Map, bool) {
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
					counts[name][tools.ValueInt(e.Key[0])] = tools.ValueInt(e.Value)
				}
			}
			if name == st.maps[len(st.maps)-1] {
				write(counts)
				counts = map[string]map[int64]int64{}
			}
		}
	}
}
