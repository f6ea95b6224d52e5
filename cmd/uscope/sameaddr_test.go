package main

import (
	"os"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestSameAddressProbes: a uprobe, a uretprobe and a semaphore-guarded
// USDT probe on one instruction (the probe is hit()'s first instruction)
// all attach and count every one of the 1000 calls; the semaphore is set
// for every call. The wildcard form of the issue (uprobe:BIN:* plus the
// USDT probe) attaches too.
func TestSameAddressProbes(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, "/usr/include/x86_64-linux-gnu/sys/sdt.h")
	src, err := os.ReadFile("testdata/sameaddr.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "sameaddr", string(src), "-O2")
	r := runUscope(t, "run", "-c", bin, "-e",
		`uprobe:`+bin+`:hit { @u = count(); } usdt:`+bin+`:test:sema { @s = count(); } uretprobe:`+bin+`:hit { @r = count(); }`)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "enabled 1000", "@r: 1000", "@s: 1000", "@u: 1000")

	r = runUscope(t, "run", "-c", bin, "-e",
		`uprobe:`+bin+`:* { @u[func] = count(); } usdt:`+bin+`:test:sema { @s = count(); }`)
	if r.code != 0 {
		t.Fatalf("wildcard: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "enabled 1000", "@s: 1000")
	wantLines(t, r.stdout, "@u[hit]: 1000")
}
