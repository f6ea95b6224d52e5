package agent

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	c, err := Parse("a.yaml", []byte("programs:\n  - name: x\n    program: 'uprobe:/bin/true:main { @c = count(); }'\n  - name: y\n    tool: count\n    args: [c:malloc]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP != "" || c.OTLPInterval != 10*time.Second {
		t.Errorf("otlp defaults: %q %v", c.OTLP, c.OTLPInterval)
	}
	c2, err := Parse("b.yaml", []byte("otlp: grpc://127.0.0.1:4317\notlp_interval: 2s\nprograms:\n  - name: x\n    program: p\n"))
	if err != nil || c2.OTLP != "grpc://127.0.0.1:4317" || c2.OTLPInterval != 2*time.Second {
		t.Errorf("otlp keys: %+v, %v", c2, err)
	}
	if c.Listen != "127.0.0.1:9464" || c.MaxSeries != 10000 || len(c.Programs) != 2 || c.Programs[1].Args[0] != "c:malloc" {
		t.Errorf("parsed %+v", c)
	}
	for src, want := range map[string]string{
		"programs:\n  - program: x\n":                                               "no name",
		"programs:\n  - name: a\n    program: x\n  - name: a\n    file: y\n":        `"a" is used twice`,
		"programs:\n  - name: a\n":                                                  "exactly one of program, file or tool",
		"programs:\n  - name: a\n    program: x\n    tool: count\n":                 "exactly one of program, file or tool",
		"programs:\n  - name: a\n    program: x\n    args: [b]\n":                   "args are for a tool",
		"programs:\n  - name: a\n    program: x\n    cgroup: a\n    container: b\n": "not both",
		"programs:\n  - name: a\n    programm: x\n":                                 "field programm not found",
		"listen: x\n": "no programs",
		"otlp: localhost:4317\nprograms:\n  - name: a\n    program: x\n":                 "give grpc://HOST:4317",
		"otlp: ftp://h:1\nprograms:\n  - name: a\n    program: x\n":                      "give grpc://HOST:4317",
		"otlp: grpc://h:1\notlp_interval: -1s\nprograms:\n  - name: a\n    program: x\n": "otlp_interval -1s: give a positive duration",
		"otlp_interval: soon\nprograms:\n  - name: a\n    program: x\n":                  "cannot unmarshal",
	} {
		_, err := Parse("a.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestEventLog(t *testing.T) {
	var sb strings.Builder
	w := &eventLog{log: newTestLogger(&sb), program: "p"}
	w.Write([]byte(`{"type": "printf", "data": "a"}` + "\n" + `{"type": "pr`))
	w.Write([]byte(`intf", "data": "b"}` + "\nplain text\n"))
	out := sb.String()
	for _, want := range []string{`"program":"p","event":{"type":"printf","data":"a"}`, `"event":{"type":"printf","data":"b"}`, `"text":"plain text"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func newTestLogger(w *strings.Builder) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// TestHealthBeforeApply: an agent is not healthy before its first
// configuration is applied, so that /healthz does not answer before any
// program is attached; an applied empty configuration is healthy.
func TestHealthBeforeApply(t *testing.T) {
	var log strings.Builder
	a := New(nil, newTestLogger(&log))
	if err := a.Health(); err == nil {
		t.Fatal("healthy before Apply")
	}
	if err := a.Apply(&Config{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Health(); err != nil {
		t.Errorf("an applied empty configuration: %v", err)
	}
}
