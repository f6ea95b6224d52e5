package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/internal/tools"
)

func init() { commands = append(commands, newStatCommand) }

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
			for i, sc := range tools.StatCounters {
				if strings.EqualFold(sc.Col, sortCol) || strings.EqualFold(strings.TrimSuffix(sc.Col, "/s"), sortCol) {
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
			st, err := tools.BuildStat(langs, interval, count)
			if err != nil {
				return usageError(err)
			}
			out, json, live, err := f.out(cmd)
			if err != nil {
				return err
			}
			if f.top > 0 {
				rows = f.top
			}
			w := tools.Stat{W: out, Columns: st.Cols, Interval: interval, SortIdx: sortIdx, Rows: rows, Cmdlines: st.Cmdlines, Clear: live}
			p := &runtimes.Process{Lang: f.lang}
			hooks := session.Config{
				Attached: func(int) {
					var names []string
					for _, o := range st.Objs {
						names = append(names, o.Object)
					}
					fmt.Fprintf(out, "Tracing %s... Ctrl-C to quit.\n", strings.Join(names, ", "))
				},
				Report: st.Report(w.Write),
			}
			if json {
				var maps []string
				for _, m := range st.Maps {
					maps = append(maps, "@"+m)
				}
				hooks.Attached, hooks.Report = tools.JSONHooks(out, true, maps...)
			}
			return runRuntimeTool(cmd, &f, "stat", p, st.Src, hooks)
		},
	}
	c.Flags().StringVarP(&f.lang, "language", "l", "", "only processes of these languages (java,python)")
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().BoolVarP(&noClear, "noclear", "C", false, "do not clear the screen (uscope never does)")
	c.Flags().StringVarP(&sortCol, "sort", "S", "", "sort by `COLUMN` (METHOD, GC, OBJNEW, CLOAD, EXC, THR), descending")
	c.Flags().IntVarP(&rows, "rows", "r", 20, "print at most `ROWS` processes")
	f.registerOutput(c, true)
	return c
}
