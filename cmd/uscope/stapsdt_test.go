package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/stapsdt/stapsdttest"
)

// TestDynamicUSDTFromGo traces probes that a CGO_ENABLED=0 Go program
// declares at run time with package stapsdt: uscope finds them in the
// process's memfd mapping with -p, prints exactly the values fired, and the
// program sees Enabled() flip on while traced and off after uscope exits.
func TestDynamicUSDTFromGo(t *testing.T) {
	testutil.RequireRoot(t)
	f := stapsdttest.Start(t, stapsdttest.Build(t), "-interval", "5ms")
	pid := strconv.Itoa(f.PID)

	list := runUscope(t, "list", "-p", pid, "usdt:*myapp*")
	for _, probe := range []string{"myapp:request__start", "myapp:types", "myapp:wide"} {
		if !strings.Contains(list.stdout, probe) {
			t.Fatalf("uscope list -p lacks %s\n%s%s", probe, list.stdout, list.stderr)
		}
	}

	tr := startUscope(t, "run", "-p", pid, "-e", `
usdt::myapp:request__start { printf("req %s %d\n", str(arg0), arg1); }
usdt::myapp:types { printf("types %d %u %d %u %d %u\n", arg0, arg1, arg2, arg3, arg4, arg5); }`)
	f.WaitEnabled(t, "request__start", true)
	f.WaitEnabled(t, "types", true)
	tr.waitLine("types ")
	tr.waitFor(func(l string) bool { return strings.Count(l, "req ") > 0 && strings.HasSuffix(l, "0") }, "ten requests")
	out := tr.stop()
	f.WaitEnabled(t, "request__start", false)
	f.WaitEnabled(t, "types", false)

	reqs := 0
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "req "):
			var n int64
			var path string
			if _, err := fmt.Sscanf(l, "req %s %d", &path, &n); err != nil {
				t.Fatalf("bad line %q: %v", l, err)
			}
			if want := fmt.Sprintf("/api/items/%d", n); path != want {
				t.Fatalf("line %q: path %q, want %q for n=%d", l, path, want, n)
			}
			reqs++
		case strings.HasPrefix(l, "types "):
			if want := fmt.Sprintf("types %d %d %d %d %d %d", -8, 200, -1600, 60000, -320000, 4000000000); l != want {
				t.Fatalf("got %q, want %q", l, want)
			}
		}
	}
	if reqs == 0 {
		t.Fatalf("no request events\n%s", out)
	}
	f.Stop(t)
}
