package lang

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// TestGolden formats each testdata/*.bt and compares with its .golden file.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(file, string(src))
			if err != nil {
				t.Fatal(detail(err))
			}
			checkPositions(t, p)
			checkRoundTrip(t, p)
			golden(t, strings.TrimSuffix(file, ".bt")+".golden", Format(p))
		})
	}
}

// TestGoldenErrors parses each testdata/errors/*.bt, which must fail, and
// compares the error's Detail with its .err file.
func TestGoldenErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.bt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(file), string(src))
			if err == nil {
				t.Fatal("no error")
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			golden(t, strings.TrimSuffix(file, ".bt")+".err", e.Detail()+"\n")
		})
	}
}

// TestGoldenTraceSpecs translates each spec of testdata/trace/specs.txt and
// compares the programs and errors with specs.golden.
func TestGoldenTraceSpecs(t *testing.T) {
	f, err := os.Open("testdata/trace/specs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		spec := sc.Text()
		if spec == "" || strings.HasPrefix(spec, "#") {
			continue
		}
		b.WriteString("=== " + spec + "\n")
		probe, err := ParseTraceSpec(spec, TraceOptions{})
		if err != nil {
			b.WriteString(detail(err) + "\n\n")
			continue
		}
		prog := &Program{File: "trace", Source: spec, Probes: []*Probe{probe}}
		checkPositions(t, prog)
		b.WriteString(Format(prog))
		b.WriteString("label: " + probe.Trace.Label + "\n\n")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/trace/specs.golden", b.String())
}
