package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestGoInlined probes main.small, a Go function that exists only inlined
// (into a loop and into main), with --probe-inline, built by go1.26 (the
// toolchain running the test) and the newest release, plain and stripped:
// the count equals the calls the program made, func names main.small, and
// list -v shows the two copies. Without --probe-inline the probe is
// refused in one line that says so.
func TestGoInlined(t *testing.T) {
	testutil.RequireRoot(t)
	src, err := os.ReadFile("testdata/goinline.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"", newestToolchain} {
		for _, b := range matrixBuilds[:2] {
			name := v
			if name == "" {
				name = "host"
			}
			t.Run(name+"-"+b.name, func(t *testing.T) {
				var env []string
				if v != "" {
					requireMatrixToolchain(t, v)
					env = []string{"GOTOOLCHAIN=" + v}
				}
				bin := testutil.BuildGo(t, "goinline", string(src), env, b.flags...)
				const n = 5000
				r := runUscope(t, "run", "--probe-inline", "-c", fmt.Sprintf("%s %d", bin, n), "-e",
					fmt.Sprintf(`uprobe:%s:main.small { @[func] = count(); }`, bin))
				if r.code != 0 {
					t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
				}
				var calls int
				for _, l := range strings.Split(r.stdout, "\n") {
					if strings.HasPrefix(l, "calls ") {
						fmt.Sscanf(l, "calls %d", &calls)
					}
				}
				if calls != n+1 {
					t.Fatalf("the program made %d calls, want %d\n%s", calls, n+1, r.stdout)
				}
				wantLines(t, r.stdout, fmt.Sprintf("@[main.small]: %d", calls))

				l := runUscope(t, "list", "-v", bin, "main.small")
				if l.code != 0 || !strings.Contains(l.stdout, "    inlined 2 times, only there") {
					t.Errorf("list -v: exit %d\n%s%s", l.code, l.stdout, l.stderr)
				}
				plain := runUscope(t, "run", "-c", fmt.Sprintf("%s 1", bin), "-e", fmt.Sprintf(`uprobe:%s:main.small { @ = count(); }`, bin))
				if plain.code != 1 || !strings.Contains(plain.stderr, "exists only inlined, 2 times") || !strings.Contains(plain.stderr, "--probe-inline") {
					t.Errorf("without --probe-inline: exit %d\n%s", plain.code, plain.stderr)
				}
			})
		}
	}
}
