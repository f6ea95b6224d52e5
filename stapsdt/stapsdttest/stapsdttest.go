// Package stapsdttest builds and drives firer, a CGO_ENABLED=0 Go program
// that declares USDT probes with package stapsdt and fires them with known
// values, so that tests of tracers (bpftrace, uscope) can check that they
// read exactly what was fired and that the probes' semaphores follow their
// attachments.
//
// A typical test:
//
//	bin := stapsdttest.Build(t)
//	f := stapsdttest.Start(t, bin)
//	// attach a tracer to usdt:<f.Path>:myapp:request__start, with -p f.PID
//	f.WaitEnabled(t, "request__start", true)
//	// ... check the tracer printed "/api/items/N N" ...
//	// stop the tracer
//	f.WaitEnabled(t, "request__start", false)
//
// Start registers a cleanup that stops the program; a test need not.
package stapsdttest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// ImportPath is the firer program's package, for go build.
const ImportPath = "github.com/uscope/uscope/stapsdt/internal/firer"

// Provider is the provider name of the firer's probes.
const Provider = "myapp"

// Probes of provider myapp, with their declared arguments and the values
// fired:
//
//	request__start(String, Int64): (RequestPathPrefix + N, N), N = 1, 2, 3 ...
//	types(Int8, Uint8, Int16, Uint16, Int32, Uint32): TypesArgs
//	wide(Int64, Uint64, Pointer, String, Int32, Uint8):
//	    (WideInt64, WideUint64, WidePointer, WideString, WideInt32, 1)
const (
	ProbeRequestStart = "request__start"
	ProbeTypes        = "types"
	ProbeWide         = "wide"
)

// RequestPathPrefix starts request__start's string argument; the number
// after it equals the probe's integer argument.
const RequestPathPrefix = "/api/items/"

// TypesArgs are the values the types probe carries, in declaration order:
// Int8, Uint8, Int16, Uint16, Int32, Uint32 (the extremes of sign handling).
var TypesArgs = [6]int64{-8, 200, -1600, 60000, -320000, 4000000000}

// Values of the wide probe. WideString is longer than Fire's stack buffer,
// so it goes through the heap path. The last argument, Uint8, is fired as
// the bool true and arrives as 1.
const (
	WideInt64   int64   = -1 << 40
	WideUint64  uint64  = 1<<63 | 5
	WidePointer uintptr = 0xdeadbeef
	WideInt32   int64   = -7
	WideUint8   int64   = 1
)

// WideString is the wide probe's string argument: 300 bytes of "w".
var WideString = strings.Repeat("w", 300)

// Build compiles the firer with CGO_ENABLED=0 into a temporary directory and
// returns the binary's path. The test must run inside the uscope module.
func Build(t testing.TB) string {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	out := filepath.Join(t.TempDir(), "firer")
	cmd := exec.Command(goTool, "build", "-o", out, ImportPath)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", ImportPath, err, b)
	}
	return out
}

// Firer is a running firer program.
type Firer struct {
	// PID is the program's process id.
	PID int
	// Path is where other processes open its provider ELF: /proc/PID/fd/N.
	Path string

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string
	enabled map[string]bool
	stopped bool
}

// hangGuard bounds how long a helper waits for the program before failing
// the test, so a broken tracer cannot hang the test run. It is not a timing
// assertion: healthy runs take milliseconds.
const hangGuard = 2 * time.Minute

// Start runs the firer binary with extra flags (for example -interval 10ms),
// waits for its "ready" line and returns it. A cleanup stops the program.
func Start(t testing.TB, bin string, args ...string) *Firer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	f := &Firer{cmd: cmd, stdin: stdin, lines: make(chan string, 1024), enabled: make(map[string]bool)}
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if !f.stopped {
			stdin.Close()
			cmd.Process.Kill()
			for range f.lines {
			}
			cmd.Wait()
		}
	})
	line := f.next(t)
	if _, err := fmt.Sscanf(line, "ready pid=%d path=%s", &f.PID, &f.Path); err != nil {
		t.Fatalf("firer: want a ready line, got %q: %v", line, err)
	}
	return f
}

// next returns the program's next output line, failing the test at EOF.
func (f *Firer) next(t testing.TB) string {
	t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			t.Fatalf("firer exited early")
		}
		return l
	case <-time.After(hangGuard):
		t.Fatalf("firer printed nothing for %v", hangGuard)
	}
	return ""
}

// WaitEnabled reads the program's output until probe's Enabled() is want
// (immediately if it already is), failing the test if the program exits
// first. Probes start disabled.
func (f *Firer) WaitEnabled(t testing.TB, probe string, want bool) {
	t.Helper()
	for f.enabled[probe] != want {
		line := f.next(t)
		var name string
		var on bool
		if _, err := fmt.Sscanf(line, "enabled %s %t", &name, &on); err != nil {
			t.Fatalf("firer: unexpected line %q", line)
		}
		f.enabled[name] = on
	}
}

// Stop closes the program's stdin, which makes it unload its provider and
// exit, and checks that it did so cleanly. The enabled transitions printed
// meanwhile are recorded.
func (f *Firer) Stop(t testing.TB) {
	t.Helper()
	f.stdin.Close()
	unloaded := false
	for line := range f.lines {
		var name string
		var on bool
		switch {
		case line == "unloaded":
			unloaded = true
		case strings.HasPrefix(line, "enabled "):
			if _, err := fmt.Sscanf(line, "enabled %s %t", &name, &on); err == nil {
				f.enabled[name] = on
			}
		default:
			t.Errorf("firer: unexpected line %q", line)
		}
	}
	err := f.cmd.Wait()
	f.stopped = true
	if err != nil {
		t.Errorf("firer exited: %v", err)
	}
	if !unloaded {
		t.Errorf("firer exited without unloading its provider")
	}
}
