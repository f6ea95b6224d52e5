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
)

func init() { commands = append(commands, newDBSlowerCommand) }

// dbServer finds the executable of a database server (postgres, mysql):
// that of the processes given, else of a running server, else the newest
// installed one. It checks that it has the query probes.
// dbQueryProbes finds the server of database arg (postgres or mysql) and
// its query__start and query__done probes, and builds the predicate that
// limits them to pids (empty without pids). db is the database's name as
// the runtime catalog knows it.
func dbQueryProbes(cmd *cobra.Command, arg string, pids []int) (db, exe string, start, done runtimes.Probe, filter string, err error) {
	db = arg
	if db == "postgresql" {
		db = "postgres"
	}
	if !slices.Contains([]string{"postgres", "mysql"}, db) {
		return "", "", start, done, "", toolError(cmd, fmt.Errorf("unknown database %q; give postgres or mysql", arg))
	}
	exe, probes, err := dbServer(db, pids)
	if err != nil {
		return "", "", start, done, "", usageError(err)
	}
	if len(pids) > 0 {
		var conds []string
		for _, p := range pids {
			conds = append(conds, fmt.Sprintf("pid == %d", p))
		}
		filter = " /" + strings.Join(conds, " || ") + "/"
	}
	return db, exe, probes[runtimes.QueryStart], probes[runtimes.QueryDone], filter, nil
}

func dbServer(db string, pids []int) (string, map[runtimes.Event]runtimes.Probe, error) {
	var exe string
	for _, pid := range pids {
		p, err := runtimes.Detect(pid, db)
		if err != nil {
			return "", nil, err
		}
		exe = p.Object
	}
	if exe == "" {
		exe = runningServer(db)
	}
	if exe == "" {
		names := map[string]string{"postgres": "/usr/lib/postgresql/*/bin/postgres", "mysql": "/usr/sbin/mysqld"}
		found, _ := filepath.Glob(names[db])
		if len(found) == 0 {
			return "", nil, fmt.Errorf("no %s server runs and none is installed; give its processes with -p", db)
		}
		exe = found[len(found)-1]
	}
	lang, v, _ := runtimes.Classify(exe, nil)
	if lang == "" {
		lang = db
	}
	p := &runtimes.Process{Lang: lang, Version: v, Object: exe}
	probes, _, err := p.Probes([]runtimes.Event{runtimes.QueryStart, runtimes.QueryDone}, nil)
	return exe, probes, err
}

// runningServer returns the executable of a running server of db.
func runningServer(db string) string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err != nil {
			continue
		}
		if lang, _, _ := runtimes.Classify(exe, nil); lang == db {
			return exe
		}
	}
	return ""
}

func newDBSlowerCommand() *cobra.Command {
	var (
		f     runtimeFlags
		minMS float64
		pids  []int
	)
	c := &cobra.Command{
		Use:   "dbslower [-m MS] (postgres|mysql) [-p PID...]",
		Short: "Print the queries of PostgreSQL or MySQL slower than a threshold (bcc's dbslower)",
		Long: `Dbslower prints each query that took at least -m milliseconds (default 1),
with its duration and text, from the server's query__start and query__done
probes. Without -p it traces every process of the server's executable,
including backends started later.`,
		Example: `  uscope dbslower postgres            # queries of 1 ms or more
  uscope dbslower -m 0 postgres       # every query
  uscope dbslower mysql -p $(pgrep mysqld)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, exe, start, done, filter, err := dbQueryProbes(cmd, args[0], pids)
			if err != nil {
				return err
			}
			query := done.Args["query"]
			save := ""
			if query == "" { // mysql's query__done has no text
				save, query = "\t@query[tid] = "+start.Args["query"]+";\n", "@query[tid]"
			}
			src := fmt.Sprintf(`%s%s {
	@qstart[tid] = nsecs;
%s}

%s%s {
	$start = @qstart[tid];
	if ($start > 0 && nsecs - $start >= %d) {
		$ns = nsecs - $start;
		$t = elapsed / 1000000;
		printf("%%4d.%%03d %%-8d %%8d.%%03d %%s\n", $t / 1000, $t %% 1000, pid, $ns / 1000000, ($ns %% 1000000) / 1000, %s);
	}
	delete(@qstart[tid]);
}
`, start.Point(exe), filter, save, done.Point(exe), filter, int64(minMS*1e6), query)
			out := cmd.OutOrStdout()
			p := &runtimes.Process{Lang: db, Object: exe}
			return runRuntimeTool(cmd, &f, "dbslower", p, src, session.Config{
				Report: func([]*output.Map, bool) {},
				Attached: func(int) {
					fmt.Fprintf(out, "Tracing database queries slower than %g ms (%s)... Ctrl-C to quit.\n", minMS, exe)
					fmt.Fprintf(out, "%-8s %-8s %12s %s\n", "TIME(s)", "PID", "MS", "QUERY")
				},
			})
		},
	}
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().Float64VarP(&minMS, "threshold", "m", 1, "print only queries that took at least `MS` milliseconds")
	c.Flags().IntSliceVarP(&pids, "pid", "p", nil, "trace only these server processes (`PID`,...)")
	return c
}

func init() { commands = append(commands, newDBStatCommand) }

func newDBStatCommand() *cobra.Command {
	var (
		f        runtimeFlags
		minMS    float64
		pids     []int
		interval float64
	)
	c := &cobra.Command{
		Use:   "dbstat [-m MS] [-i SEC] (postgres|mysql) [-p PID...]",
		Short: "Histogram of the query latencies of PostgreSQL or MySQL (bcc's dbstat)",
		Long: `Dbstat times every query from the server's query__start to its
query__done probe and prints a log2 histogram of the latencies in
milliseconds, at Ctrl-C or every -i seconds. -m leaves out queries faster
than MS milliseconds.`,
		Example: `  uscope dbstat postgres
  uscope dbstat -i 5 mysql`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, exe, start, done, filter, err := dbQueryProbes(cmd, args[0], pids)
			if err != nil {
				return err
			}
			src := fmt.Sprintf(`%s%s {
	@qstart[tid] = nsecs;
}

%s%s {
	$start = @qstart[tid];
	if ($start > 0 && nsecs - $start >= %d) {
		@latency = hist((nsecs - $start) / 1000000);
	}
	delete(@qstart[tid]);
}
`, start.Point(exe), filter, done.Point(exe), filter, int64(minMS*1e6))
			if interval > 0 {
				src += fmt.Sprintf("\ninterval:ms:%d {\n\tprint(@latency);\n\tclear(@latency);\n}\n", max(1, int64(interval*1000)))
			}
			out := cmd.OutOrStdout()
			p := &runtimes.Process{Lang: db, Object: exe}
			write := func(m *output.Map) {
				var buckets []uint64
				for _, e := range m.Entries {
					if buckets == nil {
						buckets = make([]uint64, len(e.Buckets))
					}
					for i, c := range e.Buckets {
						buckets[i] += c
					}
				}
				fmt.Fprintf(out, "\n%s", output.BCCLog2Hist(buckets, "msecs"))
			}
			return runRuntimeTool(cmd, &f, "dbstat", p, src, session.Config{
				Attached: func(int) {
					fmt.Fprintf(out, "Tracing database queries (%s)... Ctrl-C to quit.\n", exe)
				},
				Report: func(maps []*output.Map, final bool) {
					if m := findMap(maps, "@latency"); m != nil && (!final || interval == 0) {
						write(m)
					}
				},
			})
		},
	}
	c.Flags().BoolVar(&f.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().Float64VarP(&minMS, "threshold", "m", 0, "count only queries that took at least `MS` milliseconds")
	c.Flags().Float64VarP(&interval, "interval", "i", 0, "print every `SEC` seconds and start again")
	c.Flags().IntSliceVarP(&pids, "pid", "p", nil, "trace only these server processes (`PID`,...)")
	return c
}
