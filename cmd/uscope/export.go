package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/cgroup"
	"github.com/uscope/uscope/internal/export"
	"github.com/uscope/uscope/internal/lang"
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
	// otlp is --otlp's URL, otlpInterval its export period.
	otlp         string
	otlpInterval time.Duration
}

func (f *fleetFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.prometheus, "prometheus", "", "serve the maps as metrics on http://`ADDR`/metrics while tracing (e.g. 127.0.0.1:9464)")
	c.Flags().IntVar(&f.maxSeries, "max-series", 10000, "with --prometheus, export at most `N` series (the rest are counted in uscope_series_dropped)")
	c.Flags().StringVar(&f.cgroup, "cgroup", "", "trace only processes in the cgroup v2 `PATH` (or below it), e.g. system.slice/nginx.service")
	c.Flags().StringVar(&f.otlp, "otlp", "", "export the maps as OTLP metrics, printf events as OTLP logs and maps keyed by ustack (stack, profile) as OTLP profiles at the end to `URL`: grpc://HOST:4317 or http://HOST:4318 (HTTP/protobuf)")
	c.Flags().DurationVar(&f.otlpInterval, "otlp-interval", 10*time.Second, "with --otlp, export the metrics every `DURATION` (and once at the end)")
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
	k8s := export.Kubernetes(os.Getenv)
	for k, v := range export.PromLabels(k8s) {
		labels[k] = v
	}
	if f.otlp != "" {
		if err := f.startOTLP(cfg, labels, k8s); err != nil {
			return err
		}
	}
	if f.prometheus == "" {
		return nil
	}
	exp := export.New(f.maxSeries)
	if _, err := export.Listen(f.prometheus, exp); err != nil {
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

// sendProfiles sends the maps keyed by a user stack (stack's and
// profile's @stacks, any @m[ustack] = count()) as OTLP profiles, once, at
// the session's end (export/profiles.go).
func (f *fleetFlags) sendProfiles(ctx context.Context, prog *lang.Program, sn session.Snapshot, attrs map[string]string, start time.Time) {
	profs := export.Profiles(sn, export.KeyNames(prog))
	if len(profs) == 0 {
		return
	}
	period := profilePeriod(prog)
	for i := range profs {
		profs[i].Start, profs[i].End, profs[i].PeriodNanos = start, time.Now(), period
	}
	if err := export.SendProfiles(ctx, f.otlp, export.EncodeProfiles(profs, attrs)); err != nil {
		fmt.Fprintf(os.Stderr, "uscope: warning: --otlp %s: %v (OTLP profiles are experimental: the Collector needs --feature-gates=service.profilesSupport and a profiles pipeline)\n", f.otlp, err)
	}
}

// profilePeriod is the sampling period of the program's profile probe in
// nanoseconds (0 without one).
func profilePeriod(prog *lang.Program) int64 {
	for _, pr := range prog.Probes {
		for _, ap := range pr.Points {
			if ap.Kind != lang.KindProfile {
				continue
			}
			if ap.ProfileHz > 0 {
				return int64(1e9 / ap.ProfileHz)
			}
			return int64(ap.IntervalNanos)
		}
	}
	return 0
}

// startOTLP exports the session's maps as OTLP metrics and its printf and
// trace events as OTLP log records; the last metrics and the queued
// records are sent when the session ends (Config.Final).
func (f *fleetFlags) startOTLP(cfg *session.Config, labels, k8s map[string]string) error {
	if f.otlpInterval <= 0 {
		return usageError(fmt.Errorf("--otlp-interval %v: give a positive duration, e.g. 10s", f.otlpInterval))
	}
	attrs := map[string]string{}
	for k, v := range k8s {
		attrs[k] = v
	}
	if id := labels["container"]; id != "" {
		attrs["container.id"] = id
	}
	exp := export.New(f.maxSeries)
	t, err := export.StartOTLP(f.otlp, exp, export.OTLPOptions{Interval: f.otlpInterval, Attrs: attrs})
	if err != nil {
		return usageError(err)
	}
	prog, prevSnap, prevEvents, prevFinal := cfg.Program, cfg.Snapshots, cfg.Events, cfg.Final
	// Metrics carry the Prometheus labels but the resource's: the
	// container and the pod are resource attributes in OTLP.
	cfg.Snapshots = func(r session.Reader) {
		exp.Add("", prog, r, nil)
		if prevSnap != nil {
			prevSnap(r)
		}
	}
	cfg.Events = func(ev session.Event) {
		t.Event(ev)
		if prevEvents != nil {
			prevEvents(ev)
		}
	}
	start := time.Now()
	cfg.Final = func(sn session.Snapshot) {
		exp.Freeze("", sn)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.sendProfiles(ctx, prog, sn, attrs, start)
		if err := t.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "uscope: warning: --otlp %s: %v\n", f.otlp, err)
		}
		if prevFinal != nil {
			prevFinal(sn)
		}
	}
	return nil
}
