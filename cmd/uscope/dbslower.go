package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/runtimes"
	"github.com/uscope/uscope/internal/session"
	"github.com/uscope/uscope/internal/tools"
)

// dbslower and dbstat, bcc's tools under their names: the cobra wiring of
// internal/tools/db.go.

func init() { commands = append(commands, newDBSlowerCommand, newDBStatCommand) }

// dbFlags are what dbslower and dbstat share: -p PID..., -f, -o.
type dbFlags struct {
	rf             runtimeFlags
	pids           []int
	format, output string
	top            int // dbstat --top N
}

func (d *dbFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&d.rf.showProgram, "program", false, "print the program in uscope's language that the tool runs, and exit")
	c.Flags().IntSliceVarP(&d.pids, "pid", "p", nil, "trace only these server processes (`PID`,...)")
	c.Flags().StringVarP(&d.format, "format", "f", "text", "output `FORMAT`: text, or json (bpftrace's NDJSON, as 'run -f json')")
	c.Flags().StringVarP(&d.output, "output", "o", "", "write the output to `FILE` instead of standard output")
}

// start finds the server and the options; the caller closes the file.
func (d *dbFlags) start(cmd *cobra.Command, db string, interval seconds) (*tools.DBServer, tools.Options, *os.File, error) {
	f := toolFlags{format: d.format, output: d.output, showProgram: d.rf.showProgram, interval: interval, top: d.top}
	o, err := f.options(cmd)
	if err != nil {
		return nil, o, nil, err
	}
	s, err := tools.FindDBServer(db, d.pids)
	if err != nil {
		if f.file != nil {
			f.file.Close()
		}
		var ue *tools.DBUsageError
		if errors.As(err, &ue) {
			return nil, o, nil, toolError(cmd, err)
		}
		return nil, o, nil, err
	}
	return s, o, f.file, nil
}

// run runs a db tool's program in a session.
func (d *dbFlags) run(cmd *cobra.Command, name string, s *tools.DBServer, o tools.Options, file *os.File, tool *tools.Tool) error {
	if file != nil {
		defer file.Close()
	}
	cfg := session.Config{Out: o.Out, JSON: o.JSON, Attached: tool.Attached, Report: tool.Report, Printf: tool.Printf}
	p := &runtimes.Process{Lang: s.DB, Object: s.Exe}
	return runRuntimeProgram(cmd, &d.rf, name, p, tool.Program, cfg)
}

func newDBSlowerCommand() *cobra.Command {
	var (
		d     dbFlags
		minMS float64
	)
	c := &cobra.Command{
		Use:   "dbslower [-m MS] (postgres|mysql) [-p PID...]",
		Short: "Print the queries of PostgreSQL or MySQL slower than a threshold (bcc's dbslower)",
		Long: `Dbslower prints each query that took at least -m milliseconds (default 1),
as bcc's TIME(s) (since tracing began) PID MS QUERY, from the server's
query__start and query__done probes. Without -p it traces every process of the server's executable,
including backends started later.`,
		Example: `  uscope dbslower postgres            # queries of 1 ms or more
  uscope dbslower -m 0 postgres       # every query
  uscope dbslower mysql -p $(pgrep mysqld)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, o, file, err := d.start(cmd, args[0], seconds{})
			if err != nil {
				return err
			}
			tool, err := tools.DBSlower(tools.DBSlowerOptions{Options: o, Server: s, MinMS: minMS})
			if err != nil {
				return err
			}
			return d.run(cmd, "dbslower", s, o, file, tool)
		},
	}
	d.register(c)
	c.Flags().Float64VarP(&minMS, "threshold", "m", 1, "print only queries that took at least `MS` milliseconds")
	return c
}

func newDBStatCommand() *cobra.Command {
	var (
		d                dbFlags
		minMS            float64
		interval         seconds
		micro, timestamp bool
	)
	c := &cobra.Command{
		Use:   "dbstat [-m MS] [-u] [-i SEC] [-T] [--top N] (postgres|mysql) [-p PID...]",
		Short: "Histogram of the query latencies of PostgreSQL or MySQL (bcc's dbstat)",
		Long: `Dbstat times every query from the server's query__start to its
query__done probe and prints the time ([HH:MM:SS]) and bcc's log2
histogram "query latency (ms)" (-u microseconds), at Ctrl-C or every -i
seconds (then starting again).
-m leaves out queries faster than MS milliseconds. --top N shows instead,
every interval (-i, default 1s), the N queries that took the most time,
with their count, total and average latency, redrawn in place on a
terminal (plain intervals when piped).`,
		Example: `  uscope dbstat postgres
  uscope dbstat -i 5 -u mysql
  uscope dbstat --top 10 postgres`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, o, file, err := d.start(cmd, args[0], interval)
			if err != nil {
				return err
			}
			o.Timestamp = timestamp
			tool, err := tools.DBStat(tools.DBStatOptions{Options: o, Server: s, MinMS: minMS, Micro: micro})
			if err != nil {
				return err
			}
			return d.run(cmd, "dbstat", s, o, file, tool)
		},
	}
	d.register(c)
	c.Flags().Float64VarP(&minMS, "threshold", "m", 0, "count only queries that took at least `MS` milliseconds")
	c.Flags().VarP(&interval, "interval", "i", "print every `SEC` seconds and start again")
	c.Flags().BoolVarP(&micro, "microseconds", "u", false, "the histogram in microseconds")
	c.Flags().BoolVarP(&timestamp, "timestamp", "T", false, "print the time before each output (histograms have it always, as in bcc)")
	c.Flags().IntVar(&d.top, "top", 0, "show the `N` queries with the most time each interval (-i, default 1s), redrawn in place on a terminal")
	return c
}
