package tools

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/runtimes"
)

// bcc's dbslower and dbstat: the query__start and query__done probes of a
// PostgreSQL or MySQL server, found as bcc finds them (the processes given,
// else a running server, else the newest installed one).

// DBServer is a database server's executable and its query probes.
type DBServer struct {
	// DB is "postgres" or "mysql"; Exe the server's executable.
	DB, Exe     string
	Start, Done runtimes.Probe
	// Filter is the predicate that limits the probes to the processes
	// given (" /pid == N || .../"), or "".
	Filter string
	// PIDs are the processes given, or those of the server running when
	// the tool started (bcc's pidof), for the header.
	PIDs []int
}

// header is dbslower's and dbstat's first line, bcc's: the server's
// processes and the threshold.
func (s *DBServer) header(minMS float64) string {
	var pids []string
	for _, p := range s.PIDs {
		pids = append(pids, strconv.Itoa(p))
	}
	return fmt.Sprintf("Tracing database queries for pids %s slower than %g ms...\n", strings.Join(pids, ", "), minMS)
}

// DBUsageError is a database name or server that is not there: the user's
// to fix (exit 1).
type DBUsageError struct{ Err error }

func (e *DBUsageError) Error() string { return e.Err.Error() }
func (e *DBUsageError) Unwrap() error { return e.Err }

// FindDBServer finds the server of database name (postgres, postgresql or
// mysql) among pids (none: any) and checks it has the query probes.
func FindDBServer(name string, pids []int) (*DBServer, error) {
	db := name
	if db == "postgresql" {
		db = "postgres"
	}
	if !slices.Contains([]string{"postgres", "mysql"}, db) {
		return nil, &DBUsageError{fmt.Errorf("unknown database %q; give postgres or mysql", name)}
	}
	exe, probes, err := dbServer(db, pids)
	if err != nil {
		return nil, &DBUsageError{err}
	}
	s := &DBServer{DB: db, Exe: exe, Start: probes[runtimes.QueryStart], Done: probes[runtimes.QueryDone], PIDs: pids}
	if len(pids) == 0 {
		s.PIDs = serverPIDs(exe)
	}
	if len(pids) > 0 {
		var conds []string
		for _, p := range pids {
			conds = append(conds, fmt.Sprintf("pid == %d", p))
		}
		s.Filter = " /" + strings.Join(conds, " || ") + "/"
	}
	return s, nil
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

// serverPIDs returns the processes running exe, in /proc's order.
func serverPIDs(exe string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if path, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && path == exe {
			pids = append(pids, pid)
		}
	}
	return pids
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

// DBSlowerOptions configure dbslower.
type DBSlowerOptions struct {
	Options
	Server *DBServer
	// MinMS is -m: the threshold in milliseconds.
	MinMS float64
}

// DBSlower prints every query that took at least MinMS, as bcc's dbslower:
// TIME(s) (since tracing began) PID MS QUERY. The program's printf
// carries the numbers; the rows are laid out here (-f json: run -f
// json's printf lines of them).
func DBSlower(o DBSlowerOptions) (*Tool, error) {
	s := o.Server
	src := s.program(o.MinMS, func(query string) string {
		return `printf("%llu %d %llu %s\n", elapsed, pid, $ns, ` + query + `);`
	})
	prog, err := parseTool("dbslower", src)
	if err != nil {
		return nil, err
	}
	return o.eventTool(&Tool{
		Program: prog,
		Report:  func([]*output.Map, bool) {},
		Attached: func(int) {
			o.printf("%s", s.header(o.MinMS))
			o.printf("%-14s %-7s %8s %s\n", "TIME(s)", "PID", "MS", "QUERY")
		},
		Printf: func(_ string, args []output.Value) {
			if len(args) != 4 {
				return
			}
			o.row("%-14.6f %-7d %8.3f %s\n", float64(intOf(args[0]))/1e9, ValueInt(args[1]), float64(intOf(args[2]))/1e6, args[3].Str)
		},
	}), nil
}

// query returns the statement that keeps a query's text at its start
// (or "") and the expression of the text at its end: mysql's query__done
// has no text, so it is kept by thread from query__start.
func (s *DBServer) query() (save, query string) {
	if q := s.Done.Args["query"]; q != "" {
		return "", q
	}
	return "\t@query[tid] = " + s.Start.Args["query"] + ";\n", "@query[tid]"
}

// program is the program of dbslower and dbstat: each query timed from
// query__start to query__done by thread, and, for those of at least
// minMS, the statement done(QUERY) makes, with $ns the query's time and
// QUERY the expression of its text.
func (s *DBServer) program(minMS float64, done func(query string) string) string {
	save, query := s.query()
	return fmt.Sprintf(`%s%s {
	@qstart[tid] = nsecs;
%s}

%s%s {
	$start = @qstart[tid];
	if ($start > 0 && nsecs - $start >= %d) {
		$ns = nsecs - $start;
		%s
	}
	delete(@qstart[tid]);
}
`, s.Start.Point(s.Exe), s.Filter, save, s.Done.Point(s.Exe), s.Filter, int64(minMS*1e6), done(query))
}

// DBStatOptions configure dbstat.
type DBStatOptions struct {
	Options
	Server *DBServer
	// MinMS is -m; Micro (-u) makes the histogram microseconds.
	MinMS float64
	Micro bool
}

// DBStat builds bcc's dbstat: a log2 histogram of the query latencies,
// "query latency (ms)" (or us), at the end or every interval.
func DBStat(o DBStatOptions) (*Tool, error) {
	s := o.Server
	div, unit := 1000000, "ms"
	if o.Micro {
		div, unit = 1000, "us"
	}
	if o.Top > 0 {
		return dbTop(o, unit, div)
	}
	src := s.program(o.MinMS, func(string) string { return fmt.Sprintf("@latency = hist($ns / %d);", div) })
	var b strings.Builder
	if err := programs().ExecuteTemplate(&b, "interval", o.data("latency")); err != nil {
		return nil, err
	}
	prog, err := parseTool("dbstat", src+b.String())
	if err != nil {
		return nil, err
	}
	return o.jsonTool(&Tool{
		Program:  prog,
		Attached: func(int) { o.printf("%s", s.header(o.MinMS)) },
		Report: func(maps []*output.Map, final bool) {
			m := find(maps, "@latency")
			if m == nil || (final && o.Interval > 0 && empty([]*output.Map{m})) {
				return
			}
			// bcc's dbstat: the time, the histogram, an empty line.
			buckets := sumBuckets(m)
			o.printf("[%s]\n%s\n", o.now().Format("15:04:05"), output.BCCLog2Hist(buckets, "query latency ("+unit+")"))
		},
	}, "@latency"), nil
}

// dbTop is dbstat --top: per query text, how many ran and their total
// and average latency (a stats() map kept in the kernel), the Top with
// the most time first, each interval: redrawn in place on a terminal.
func dbTop(o DBStatOptions, unit string, div int) (*Tool, error) {
	s := o.Server
	src := s.program(o.MinMS, func(query string) string { return "@queries[" + query + "] = stats($ns);" })
	var b strings.Builder
	if err := programs().ExecuteTemplate(&b, "interval", o.data("queries")); err != nil {
		return nil, err
	}
	prog, err := parseTool("dbstat", src+b.String())
	if err != nil {
		return nil, err
	}
	per := float64(div)
	return o.jsonTool(&Tool{
		Program:  prog,
		Attached: func(int) { o.printf("%s", s.header(o.MinMS)) },
		Report: o.topReport("@queries", func(rows []statsRow) string {
			var sb strings.Builder
			fmt.Fprintf(&sb, "%8s %14s %12s  %s\n", "COUNT", "TOTAL("+unit+")", "AVG("+unit+")", "QUERY")
			for _, r := range rows {
				avg := 0.0
				if r.count > 0 {
					avg = float64(r.sum) / float64(r.count) / per
				}
				fmt.Fprintf(&sb, "%8d %14.3f %12.3f  %s\n", r.count, float64(r.sum)/per, avg, strings.Join(r.key, ", "))
			}
			return sb.String()
		}, nil),
	}, "@queries"), nil
}

// parseTool parses a program a tool made.
func parseTool(tool, src string) (*lang.Program, error) {
	prog, err := lang.Parse(ProgramFile(tool), src)
	if err != nil {
		return nil, fmt.Errorf("internal error: uscope %s made a program that does not parse: %w\n%s", tool, err, src)
	}
	return prog, nil
}
