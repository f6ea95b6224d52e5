package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/agent"
	"github.com/uscope/uscope/internal/export"
)

func init() { commands = append(commands, newAgentCommand) }

func newAgentCommand() *cobra.Command {
	var config, listen string
	var check bool
	c := &cobra.Command{
		Use:   "agent --config FILE",
		Short: "Run the programs of a config for days, serving their maps on /metrics",
		Long: `Agent runs every program of a YAML config at once, each in its own session,
and serves all their maps on one Prometheus endpoint (/metrics, with the
label program="NAME"; /healthz answers 200 when every program is
attached). Programs attached by path stay attached across restarts of their
targets and see new processes. A program whose session ends is started
again. SIGHUP reloads the config: programs whose text did not change keep
running and keep their counts; changed ones restart; removed ones stop.
Logs (and the programs' printf output) are JSON lines on standard error.

  listen: 127.0.0.1:9464
  max_series: 10000
  otlp: grpc://127.0.0.1:4317   # optional: OTLP metrics and log records too
  otlp_interval: 10s
  programs:
    - name: calls
      program: 'uprobe:/usr/bin/app:work { @calls[func] = count(); }'
    - name: mallocs
      tool: count
      args: ["c:malloc"]
    - name: slow
      file: /etc/uscope/slow.bt`,
		Example: `  uscope agent --config /etc/uscope/agent.yaml
  uscope agent --check --config agent.yaml
  kill -HUP $(pidof uscope)   # reload`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if config == "" {
				return usageError(fmt.Errorf("no config: give --config FILE; see 'uscope agent --help'"))
			}
			cfg, err := agent.Load(config)
			if err != nil {
				return usageError(err)
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if check {
				a := agent.New(nil, nil)
				a.Render = renderTool
				if _, err := a.Check(cfg); err != nil {
					return usageError(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d programs, listen %s: OK\n", config, len(cfg.Programs), cfg.Listen)
				return nil
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			exp := export.New(cfg.MaxSeries)
			srv, err := export.Listen(cfg.Listen, exp)
			if err != nil {
				return usageError(err)
			}
			defer srv.Close()
			a := agent.New(exp, log)
			a.MapSize = cfg.MapSize
			a.Render = renderTool
			if cfg.OTLP != "" {
				stop, err := agentOTLP(a, exp, cfg, log)
				if err != nil {
					return usageError(err)
				}
				defer stop()
			}
			srv.Health = a.Health
			// Signals first: a SIGHUP must never kill an agent that is
			// still attaching.
			sig := make(chan os.Signal, 4)
			signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
			defer signal.Stop(sig)
			if err := a.Apply(cfg); err != nil {
				return usageError(err)
			}
			defer a.Stop()
			log.Info("agent running", "listen", srv.Addr(), "programs", a.Names())
			for s := range sig {
				if s != syscall.SIGHUP {
					log.Info("agent stopping", "signal", s.String())
					return nil
				}
				next, err := agent.Load(config)
				if err == nil && (next.OTLP != cfg.OTLP || next.OTLPInterval != cfg.OTLPInterval) {
					log.Warn("the otlp keys changed; they apply when the agent is started again", "otlp", cfg.OTLP)
				}
				if err == nil {
					err = a.Apply(next)
				}
				if err != nil {
					log.Error("reload failed; the programs run on unchanged", "error", err.Error())
					continue
				}
				log.Info("config reloaded", "programs", a.Names())
			}
			return nil
		},
	}
	c.Flags().StringVar(&config, "config", "", "the agent's YAML `FILE`")
	c.Flags().BoolVar(&check, "check", false, "check the config (every program parses, every tool renders) and exit")
	c.Flags().StringVar(&listen, "listen", "", "serve /metrics and /healthz on `ADDR` (overrides the config's listen)")
	return c
}

// agentOTLP exports every program's maps (the Prometheus exporter's
// points, labelled with the program) as OTLP metrics and their printf
// events as OTLP log records, to the config's otlp URL; stop sends the
// last export.
func agentOTLP(a *agent.Agent, exp *export.Exporter, cfg *agent.Config, log *slog.Logger) (stop func(), err error) {
	t, err := export.StartOTLP(cfg.OTLP, exp, export.OTLPOptions{Interval: cfg.OTLPInterval, Attrs: export.Kubernetes(os.Getenv)})
	if err != nil {
		return nil, err
	}
	a.Events = t.Event
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			log.Error("otlp: last export failed", "otlp", cfg.OTLP, "error", err.Error())
		}
	}, nil
}

// renderTool returns the program a tool runs for args, as
// `uscope TOOL --program ARGS...` prints it.
func renderTool(tool string, args []string) (string, error) {
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{tool, "--program"}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		return "", fmt.Errorf("tool %s %q: %w", tool, args, err)
	}
	return out.String(), nil
}
