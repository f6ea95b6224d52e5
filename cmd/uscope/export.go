package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/export"
	"github.com/uscope/uscope/internal/session"
)

// exportFlags are --prometheus and --max-series, which every tracing
// command takes: the program's maps are served as metrics while it runs.
type exportFlags struct {
	prometheus string
	maxSeries  int
}

func (f *exportFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.prometheus, "prometheus", "", "serve the maps as metrics on http://`ADDR`/metrics while tracing (e.g. 127.0.0.1:9464)")
	c.Flags().IntVar(&f.maxSeries, "max-series", 10000, "with --prometheus, export at most `N` series (the rest are counted in uscope_series_dropped)")
}

// start binds the metrics address now, so that a busy port is a usage
// error before anything is attached, and publishes the session's maps
// once it runs. The server lives as long as the process.
func (f *exportFlags) start(cfg *session.Config) error {
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
		exp.Add("", prog, r)
		if prev != nil {
			prev(r)
		}
	}
	return nil
}
