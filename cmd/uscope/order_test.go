package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestProbesOnOneAddressRunInSourceOrder: bpftrace runs the blocks of one
// attach point in the order they are written; the kernel runs the newest
// program first, so the session attaches them last to first.
func TestProbesOnOneAddressRunInSourceOrder(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildC(t, "order", `
#include <stdio.h>
__attribute__((noinline)) int f(int x) { return x + 1; }
int main(void) { int s = 0; for (int i = 0; i < 3; i++) s += f(i); printf("%d\n", s); return 0; }
`, "-O0")
	prog := fmt.Sprintf(`uprobe:%[1]s:f { printf("a %%d\n", arg0); }
uprobe:%[1]s:f { printf("b %%d\n", arg0); }
uprobe:%[1]s:f { printf("c %%d\n", arg0); }`, bin)
	r := runUscope(t, "run", "-c", bin, "-e", prog)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if len(l) == 3 && l[1] == ' ' {
			got = append(got, l)
		}
	}
	want := "a 0,b 0,c 0,a 1,b 1,c 1,a 2,b 2,c 2"
	if strings.Join(got, ",") != want {
		t.Fatalf("order %q, want %q\n%s", strings.Join(got, ","), want, r.stdout)
	}
}
