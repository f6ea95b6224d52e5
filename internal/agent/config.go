// Package agent runs several named programs at once for days: it keeps
// each one attached (system-wide attach by path follows restarts of the
// target and new processes), restarts a program whose session ends,
// publishes every program's maps on one /metrics, answers /healthz, logs
// in JSON, and applies a new config on SIGHUP without touching the
// programs that did not change (their counts go on).
package agent

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the agent's YAML file:
//
//	listen: 127.0.0.1:9464   # /metrics and /healthz
//	max_series: 10000        # bound on exported series, all programs together
//	map_size: 4096           # keys per map
//	otlp: grpc://collector:4317  # also export OTLP metrics and log records (as --otlp)
//	otlp_interval: 10s       # the OTLP metrics' export period
//	programs:
//	  - name: calls          # the program label of its metrics
//	    program: |           # a program in uscope's language, or
//	      uprobe:/usr/bin/app:work { @calls[func] = count(); }
//	  - name: mallocs
//	    tool: count          # a tool and its arguments, as on the command line
//	    args: ["c:malloc"]
//	  - name: slow
//	    file: /etc/uscope/slow.bt
//	    container: 3f2a9c1b7e4d  # only this container's processes (or cgroup: PATH)
type Config struct {
	Listen    string    `yaml:"listen"`
	MaxSeries int       `yaml:"max_series"`
	MapSize   int       `yaml:"map_size"`
	Programs  []Program `yaml:"programs"`
	// OTLP, when set, is the URL every program's maps (as OTLP metrics)
	// and printf events (as OTLP log records) go to, as with --otlp;
	// OTLPInterval is the metrics' period (default 10 s).
	OTLP         string        `yaml:"otlp"`
	OTLPInterval time.Duration `yaml:"otlp_interval"`
}

// Program is one named program of the config.
type Program struct {
	Name    string   `yaml:"name"`
	Program string   `yaml:"program"`
	File    string   `yaml:"file"`
	Tool    string   `yaml:"tool"`
	Args    []string `yaml:"args"`
	// Cgroup or Container limit the program to a cgroup's processes
	// (like --cgroup and --container).
	Cgroup    string `yaml:"cgroup"`
	Container string `yaml:"container"`
}

// Load reads and checks a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes a config; unknown fields are errors.
func Parse(path string, b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9464"
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = 10000
	}
	if c.OTLPInterval < 0 {
		return nil, fmt.Errorf("%s: otlp_interval %v: give a positive duration, e.g. 10s", path, c.OTLPInterval)
	}
	if c.OTLPInterval == 0 {
		c.OTLPInterval = 10 * time.Second
	}
	if c.OTLP != "" {
		u, err := url.Parse(c.OTLP)
		if err != nil || u.Host == "" || (u.Scheme != "grpc" && u.Scheme != "grpcs" && u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%s: otlp %q: give grpc://HOST:4317 (gRPC) or http://HOST:4318 (HTTP/protobuf)", path, c.OTLP)
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Programs {
		where := fmt.Sprintf("%s: programs[%d]", path, i)
		if p.Name == "" {
			return nil, fmt.Errorf("%s: no name; every program needs one (it labels its metrics)", where)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: the name %q is used twice", where, p.Name)
		}
		seen[p.Name] = true
		n := 0
		for _, s := range []string{p.Program, p.File, p.Tool} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("%s (%s): give exactly one of program, file or tool", where, p.Name)
		}
		if p.Cgroup != "" && p.Container != "" {
			return nil, fmt.Errorf("%s (%s): give cgroup or container, not both", where, p.Name)
		}
		if len(p.Args) > 0 && p.Tool == "" {
			return nil, fmt.Errorf("%s (%s): args are for a tool; add tool: NAME", where, p.Name)
		}
	}
	if len(c.Programs) == 0 {
		return nil, fmt.Errorf("%s: no programs", path)
	}
	return &c, nil
}
