package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/uscope/uscope/internal/cgroup"
	"github.com/uscope/uscope/internal/export"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

// Agent supervises the programs of a config.
type Agent struct {
	// Render turns a tool and its arguments into a program's text (the
	// CLI's `uscope TOOL --program ARGS...`).
	Render func(tool string, args []string) (string, error)
	Log    *slog.Logger
	Exp    *export.Exporter
	// MapSize is the keys per map of every program (0: the default).
	MapSize int
	// Events, when set before Apply, receives the printf events of every
	// program (the config's otlp key).
	Events func(session.Event)

	mu      sync.Mutex
	running map[string]*running
	applied bool // a configuration was applied: until then, not healthy
}

// running is one program and its supervising goroutine.
type running struct {
	src    string // the program text it runs: a change restarts it
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	attached bool
	lastErr  error
	restarts int
}

// New returns an agent with no programs.
func New(exp *export.Exporter, log *slog.Logger) *Agent {
	return &Agent{Exp: exp, Log: log, running: map[string]*running{}}
}

// source returns the program text of p.
func (a *Agent) source(p Program) (string, error) {
	switch {
	case p.Program != "":
		return p.Program, nil
	case p.File != "":
		b, err := os.ReadFile(p.File)
		if err != nil {
			return "", fmt.Errorf("program %s: %w", p.Name, err)
		}
		return string(b), nil
	}
	if a.Render == nil {
		return "", fmt.Errorf("program %s: tools are not available", p.Name)
	}
	src, err := a.Render(p.Tool, p.Args)
	if err != nil {
		return "", fmt.Errorf("program %s: %w", p.Name, err)
	}
	return src, nil
}

// Want is a program of a config ready to run: its text and its AST.
type Want struct {
	src    string
	prog   *lang.Program
	labels map[string]string
}

// Check reads (files), renders (tools) and parses every program of cfg.
func (a *Agent) Check(cfg *Config) (map[string]Want, error) {
	wants := map[string]Want{}
	for _, p := range cfg.Programs {
		src, err := a.source(p)
		if err != nil {
			return nil, err
		}
		prog, err := lang.Parse(p.Name, src)
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", p.Name, err)
		}
		// The pod and node of the agent (the DaemonSet's downward API).
		labels := export.PromLabels(export.Kubernetes(os.Getenv))
		if p.Cgroup != "" || p.Container != "" {
			var flt *cgroup.Filter
			if p.Cgroup != "" {
				flt, err = cgroup.ByPath(p.Cgroup)
			} else {
				flt, err = cgroup.ByContainer(p.Container)
			}
			if err != nil {
				return nil, fmt.Errorf("program %s: %w", p.Name, err)
			}
			flt.Apply(prog)
			if id := cgroup.ContainerID(flt.Path); id != "" {
				labels["container"] = id
			}
			// A change of the cgroup's ids restarts the program.
			src += fmt.Sprintf("\n// cgroup %s %v", flt.Path, flt.IDs)
		}
		wants[p.Name] = Want{src, prog, labels}
	}
	return wants, nil
}

// Apply makes the running programs those of cfg: programs whose text did
// not change keep running (and their counts), changed ones restart,
// removed ones stop, new ones start. A program that does not parse is an
// error, and then nothing changes.
func (a *Agent) Apply(cfg *Config) error {
	wants, err := a.Check(cfg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, r := range a.running {
		if w, ok := wants[name]; ok && w.src == r.src {
			continue
		}
		a.stop(name, r)
		a.Log.Info("program stopped", "program", name, "reason", "config changed")
	}
	for _, p := range cfg.Programs {
		if _, ok := a.running[p.Name]; ok {
			a.Log.Info("program unchanged", "program", p.Name)
			continue
		}
		a.start(p.Name, wants[p.Name])
	}
	a.applied = true
	return nil
}

func (a *Agent) stop(name string, r *running) {
	r.cancel()
	<-r.done
	a.Exp.Remove(name)
	delete(a.running, name)
}

// Stop stops every program.
func (a *Agent) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, r := range a.running {
		a.stop(name, r)
	}
}

// start runs a program in its own session, again after a delay whenever
// the session ends (an attach that failed because the target is not
// installed yet, say) until it is stopped.
func (a *Agent) start(name string, w Want) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: w.src, cancel: cancel, done: make(chan struct{})}
	a.running[name] = r
	a.Log.Info("program starting", "program", name)
	go func() {
		defer close(r.done)
		backoff := time.Second
		for {
			err := session.Run(ctx, a.sessionConfig(name, w, r))
			r.mu.Lock()
			r.attached, r.lastErr = false, err
			r.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			a.Log.Error("program ended; starting it again", "program", name, "error", errText(err), "retry_in", backoff.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			r.mu.Lock()
			r.restarts++
			r.mu.Unlock()
		}
	}()
}

func errText(err error) string {
	if err == nil {
		return "the program exited"
	}
	return err.Error()
}

func (a *Agent) sessionConfig(name string, w Want, r *running) session.Config {
	return session.Config{
		Program: w.prog,
		JSON:    true,
		MapSize: a.MapSize,
		Out:     &eventLog{log: a.Log, program: name},
		Attached: func(probes int) {
			r.mu.Lock()
			r.attached, r.lastErr = true, nil
			r.mu.Unlock()
			a.Log.Info("program attached", "program", name, "probes", probes)
		},
		// Maps go to /metrics, not to the log.
		Report:    func([]*output.Map, bool) {},
		Snapshots: func(rd session.Reader) { a.Exp.Add(name, w.prog, rd, w.labels) },
		Events:    a.Events,
	}
}

// Health is nil when every program is attached, else which are not and why.
func (a *Agent) Health() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.applied {
		return errors.New("not attached: no configuration applied yet")
	}
	var bad []string
	for name, r := range a.running {
		r.mu.Lock()
		if !r.attached {
			why := "starting"
			if r.lastErr != nil {
				why = r.lastErr.Error()
			}
			bad = append(bad, name+": "+why)
		}
		r.mu.Unlock()
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return errors.New("not attached: " + strings.Join(bad, "; "))
}

// Names returns the running programs' names, sorted.
func (a *Agent) Names() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var names []string
	for n := range a.running {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// eventLog turns a session's NDJSON output (printf records, warnings)
// into JSON log records of the program.
type eventLog struct {
	log     *slog.Logger
	program string
	partial []byte
}

func (w *eventLog) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := slices.Index(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		if len(line) > 0 {
			if json.Valid(line) {
				w.log.Info("event", "program", w.program, "event", json.RawMessage(slices.Clone(line)))
			} else {
				w.log.Info("event", "program", w.program, "text", string(line))
			}
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}
