package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// TestSelfSignalProbe: self:signal:SIGUSR1 probes run, in program order,
// each time uscope gets SIGUSR1 (bpftrace main's docs/language.md "self",
// runtime tests probe.signal_order and signals.custom signal handling
// probe).
func TestSelfSignalProbe(t *testing.T) {
	testutil.RequireRoot(t)
	tr := startUscope(t, "run", "-e", `self:signal:SIGUSR1 { printf("first"); } self:signal:SIGUSR1 { printf(" second\n"); @n = count(); if (@n == 2) { exit(); } }`)
	for i := 0; i < 2; i++ {
		if err := tr.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); tracerLines(tr, "first second") <= i; {
			if time.Now().After(deadline) {
				t.Fatalf("no line %d 'first second' within 30s\n%s", i+1, tr.output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	<-tr.done
	if n := tracerLines(tr, "first second"); n != 2 {
		t.Fatalf("%d lines 'first second', want 2\n%s", n, tr.output())
	}
	tr.waitLine("@n: 2")
}

func tracerLines(tr *tracer, line string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, l := range tr.lines {
		if l == line {
			n++
		}
	}
	return n
}
