package main

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/cgroup"
	"github.com/uscope/uscope/internal/export"
	"github.com/uscope/uscope/internal/session"
)

// fleetFlags are the flags every tracing command takes for fleets:
// --prometheus and --max-series serve the program's maps as metrics while
// it runs; --cgroup and --container limit it to a cgroup's processes.
type fleetFlags struct {
	prometheus string
	maxSeries  int
	cgroup     string
	container  string
}

func (f *fleetFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.prometheus, "prometheus", "", "serve the maps as metrics on http://`ADDR`/metrics while tracing (e.g. 127.0.0.1:9464)")
	c.Flags().IntVar(&f.maxSeries, "max-series", 10000, "with --prometheus, export at most `N` series (the rest are counted in uscope_series_dropped)")
	c.Flags().StringVar(&f.cgroup, "cgroup", "", "trace only processes in the cgroup v2 `PATH` (or below it), e.g. system.slice/nginx.service")
	c.Flags().StringVar(&f.container, "container", "", "trace only processes of the container `ID` (its cgroup is found by the id); metrics get container=\"ID\"")
}

// start applies the cgroup filter to the program, binds the metrics
// address now (so that a busy port is a usage error before anything is
// attached) and publishes the session's maps once it runs. The server
// lives as long as the process.
func (f *fleetFlags) start(cfg *session.Config) error {
	labels := map[string]string{}
	if f.cgroup != "" || f.container != "" {
		var flt *cgroup.Filter
		var err error
		switch {
		case f.cgroup != "" && f.container != "":
			return usageError(errors.New("give --cgroup or --container, not both"))
		case f.cgroup != "":
			flt, err = cgroup.ByPath(f.cgroup)
		default:
			flt, err = cgroup.ByContainer(f.container)
		}
		if err != nil {
			return usageError(err)
		}
		if id := cgroup.ContainerID(flt.Path); id != "" {
			labels["container"] = id
		}
		flt.Apply(cfg.Program)
	}
	if f.prometheus == "" {
		return nil
	}
	exp := export.New(f.maxSeries)
	reg := prometheus.NewRegistry()
	reg.MustRegister(exp)
	if _, err := export.Listen(f.prometheus, reg); err != nil {
		return usageError(err)
	}
	prog, prev := cfg.Program, cfg.Snapshots
	cfg.Snapshots = func(r session.Reader) {
		exp.Add("", prog, r, labels)
		if prev != nil {
			prev(r)
		}
	}
	return nil
}
