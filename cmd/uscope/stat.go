package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
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
func statRuntimes(langs []string) []*runtimes.Process {
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
			objs := statRuntimes(langs)
			var b strings.Builder
			used := map[string]bool{}
			for _, p := range objs {
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
				if f.lang != "" {
					what = f.lang
				}
				return usageError(fmt.Errorf("no %s runtime with USDT probes runs or is installed", what))
			}
			var maps []string
			for _, sc := range statColumns {
				if used[sc.m] {
					maps = append(maps, sc.m)
				}
			}
			fmt.Fprintf(&b, "interval:ms:%d {\n", max(1, int64(interval*1000)))
			for _, m := range maps {
				fmt.Fprintf(&b, "\tprint(@%s);\n", m)
			}
			for _, m := range maps {
				fmt.Fprintf(&b, "\tclear(@%s);\n", m)
			}
			if count > 0 {
				fmt.Fprintf(&b, "\t@ticks++;\n\tif (@ticks >= %d) {\n\t\texit();\n\t}\n", count)
			}
			b.WriteString("}\n")
			out := cmd.OutOrStdout()
			counts := map[string]map[int64]int64{}
			p := &runtimes.Process{Lang: f.lang}
			return runRuntimeTool(cmd, &f, "stat", p, b.String(), session.Config{
				Attached: func(int) {
					var names []string
					for _, o := range objs {
						names = append(names, o.Object)
					}
					fmt.Fprintf(out, "Tracing %s... Ctrl-C to quit.\n", strings.Join(names, ", "))
				},
				Report: func(ms []*output.Map, final bool) {
					if final {
						return
					}
					for _, m := range ms {
						name := strings.TrimPrefix(m.Name, "@")
						counts[name] = map[int64]int64{}
						for _, e := range m.Entries {
							if len(e.Key) == 1 {
								counts[name][valueInt(e.Key[0])] = valueInt(e.Value)
							}
						}
						if name == maps[len(maps)-1] {
							writeStat(out, counts, interval, sortIdx, rows)
							counts = map[string]map[int64]int64{}
						}
					}
				},
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

// writeStat prints one interval of stat's table.
func writeStat(w io.Writer, counts map[string]map[int64]int64, interval float64, sortIdx, rows int) {
	pids := map[int64]bool{}
	for _, m := range counts {
		for pid := range m {
			pids[pid] = true
		}
	}
	type row struct {
		pid  int64
		cmd  string
		rate []float64
	}
	var list []row
	for pid := range pids {
		r := row{pid: pid, cmd: cmdline(pid)}
		for _, sc := range statColumns {
			r.rate = append(r.rate, float64(counts[sc.m][pid])/interval)
		}
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b row) int {
		i := max(sortIdx, 0)
		if a.rate[i] != b.rate[i] {
			if a.rate[i] > b.rate[i] {
				return -1
			}
			return 1
		}
		return int(a.pid - b.pid)
	})
	if rows > 0 && len(list) > rows {
		list = list[:rows]
	}
	fmt.Fprintf(w, "\n%-8s %-30s", "PID", "CMDLINE")
	for _, sc := range statColumns {
		fmt.Fprintf(w, " %9s", sc.col)
	}
	fmt.Fprintln(w)
	for _, r := range list {
		fmt.Fprintf(w, "%-8d %-30.30s", r.pid, r.cmd)
		for _, v := range r.rate {
			fmt.Fprintf(w, " %9.1f", v)
		}
		fmt.Fprintln(w)
	}
}

// cmdline is a process's command line, or "(exited)".
func cmdline(pid int64) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "(exited)"
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
