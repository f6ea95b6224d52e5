package session

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/compile"
)

// libc is an object the resolver reads without root; the fake kernel
// attaches nothing to it.
func libc(t testing.TB) string {
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no libc.so.6 to resolve probes in")
	return ""
}

// before fails unless event a is logged before event b.
func before(t *testing.T, h *harness, a, b string) {
	t.Helper()
	ia, ib := h.log.lastIndex(a), h.log.index(b)
	if ia < 0 || ib < 0 || ia > ib {
		t.Errorf("want %q before %q; events: %q", a, b, h.log.events())
	}
}

func TestSessionBeginExit(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) { h.printf("hi\n"); h.exit() }
	if err := h.run(context.Background(), `BEGIN { printf("hi\n"); exit(); }`, Config{}); err != nil {
		t.Fatal(err)
	}
	if got := h.out.String(); got != "hi\n\n\n" {
		t.Errorf("output %q, want %q", got, "hi\n\n\n")
	}
	before(t, h, "output", "detach")
	h.cleanedUp()
}

func TestSessionEndAndMapsBeforeDetach(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) {
		// @n = 3 in the map, then exit().
		md := h.kern.plan.Maps[0]
		val := make([]byte, md.ValueSize)
		binary.LittleEndian.PutUint64(val, 3)
		h.kern.maps[md.Spec].set(make([]byte, md.KeySize), val)
		h.exit()
	}
	h.onTrigger["END"] = func(h *harness) { h.printf("end\n") }
	if err := h.run(context.Background(), `BEGIN { @n = 3; exit(); } END { printf("end\n"); }`, Config{}); err != nil {
		t.Fatal(err)
	}
	want := "end\n\n\n@n: 3\n"
	if got := h.out.String(); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	before(t, h, "trigger END", "detach")
	before(t, h, "output", "detach")
	h.cleanedUp()
}

// TestSessionPrintThenClear: print(@m); clear(@m) reads and deletes each
// key at once, so that an update made after the read (a probe firing
// then) is printed by the next print, not deleted unseen; a print that no
// clear follows leaves the map as it is.
func TestSessionPrintThenClear(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) {
		md := h.kern.plan.Maps[0]
		m := h.kern.maps[md.Spec]
		key := binary.LittleEndian.AppendUint64(nil, 1)
		m.set(key, binary.LittleEndian.AppendUint64(nil, 3))
		m.afterRead = func(k []byte) { // @n[1]++ once the first read is done
			var v uint64
			if err := m.Lookup(k, &v); err != nil {
				v = 0
			}
			m.set(append([]byte(nil), k...), binary.LittleEndian.AppendUint64(nil, v+1))
		}
		for _, rec := range [][]byte{printRecord(0), clearRecord(0), printRecord(0)} {
			h.kern.ring.push(rec)
		}
		h.printf("end\n")
		h.exit()
	}
	src := `BEGIN { @n[1] = 3; print(@n); clear(@n); print(@n); printf("end\n"); exit(); }`
	if err := h.run(context.Background(), src, Config{}); err != nil {
		t.Fatal(err)
	}
	// 3, then the 1 added after the read; the second print, followed by
	// printf, clears nothing, so the map is printed once more at exit.
	want := "@n[1]: 3\n@n[1]: 1\nend\n\n\n@n[1]: 1\n"
	if got := h.out.String(); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if n := h.kern.maps[h.kern.plan.Maps[0].Spec].lookupAndDeletes; n != 1 {
		t.Errorf("%d keys read and deleted at once, want 1", n)
	}
	h.cleanedUp()
}

func TestSessionHeldChildLifecycle(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	h.child.onRelease = func() {
		// The program runs: it hits the probe twice and exits.
		h.printf("hit %d\n", 1)
		h.printf("hit %d\n", 2)
		h.child.exitNow()
	}
	h.onTrigger["END"] = func(h *harness) { h.printf("end\n") }
	src := `uprobe:` + lib + `:getpid { printf("hit %d\n", arg0); } END { printf("end\n"); }`
	if err := h.run(context.Background(), src, Config{Command: []string{"./prog"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := h.out.String(), "hit 1\nhit 2\nend\n\n\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	before(t, h, "attach", "release")
	before(t, h, "attached", "release")
	before(t, h, "child exited", "trigger END")
	before(t, h, "output", "detach")
	if h.child.killed {
		t.Error("a child that ran and exited was killed")
	}
	h.cleanedUp()
}

func TestSessionReleaseFailureKillsChild(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	h.child.releaseErr = errors.New("ptrace detach: no such process")
	src := `uprobe:` + lib + `:getpid { printf("hit\n"); }`
	err := h.run(context.Background(), src, Config{Command: []string{"./prog"}})
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "release") {
		t.Fatalf("got %v, want a session.Error about the release", err)
	}
	if !h.child.killed {
		t.Errorf("the child was not killed after its release failed; events: %q", h.log.events())
	}
	if h.child.waits == 0 {
		t.Error("the killed child was not reaped")
	}
	before(t, h, "release", "kill")
	h.cleanedUp()
}

func TestSessionAttachFailureHalfway(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	h.links.failAt = 2 // BEGIN attaches, the uprobe does not
	src := `BEGIN { printf("begin\n"); } uprobe:` + lib + `:getpid { printf("hit\n"); }`
	err := h.run(context.Background(), src, Config{Command: []string{"./prog"}})
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a session.Error", err)
	}
	if h.log.index("release") >= 0 {
		t.Errorf("the child was released although attaching failed; events: %q", h.log.events())
	}
	if !h.child.killed || h.child.waits == 0 {
		t.Errorf("the held child was not killed and reaped; events: %q", h.log.events())
	}
	h.cleanedUp()
}

func TestSessionLoadFailureKillsChild(t *testing.T) {
	h := newHarness(t)
	h.loadErr = errors.New("fake load failure")
	err := h.run(context.Background(), `BEGIN { printf("x\n"); }`, Config{Command: []string{"./prog"}})
	if err == nil || !strings.Contains(err.Error(), "fake load failure") {
		t.Fatalf("got %v, want the load failure", err)
	}
	if !h.child.killed {
		t.Error("the held child was not killed after the load failed")
	}
}

func TestSessionStartFailure(t *testing.T) {
	h := newHarness(t)
	h.startErr = errors.New("cannot run \"./nope\"")
	err := h.run(context.Background(), `BEGIN { printf("x\n"); }`, Config{Command: []string{"./nope"}})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v, want the start failure", err)
	}
	if h.log.index("load") >= 0 {
		t.Error("BPF objects were loaded for a command that did not start")
	}
}

func TestSessionContextCancel(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.onTrigger["BEGIN"] = func(h *harness) { h.printf("begin\n"); cancel() }
	h.onTrigger["END"] = func(h *harness) { h.printf("end\n") }
	if err := h.run(ctx, `BEGIN { printf("begin\n"); } END { printf("end\n"); }`, Config{}); err != nil {
		t.Fatal(err)
	}
	if got, want := h.out.String(), "begin\nend\n\n\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	h.cleanedUp()
}

func TestSessionDuration(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["END"] = func(h *harness) { h.printf("end\n") }
	if err := h.run(context.Background(), `END { printf("end\n"); }`, Config{Duration: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if got := h.out.String(); got != "end\n\n\n" {
		t.Errorf("output %q, want %q", got, "end\n\n\n")
	}
	h.cleanedUp()
}

func TestSessionTracedProcessExits(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) {
		h.printf("last\n")
		close(h.exitCh) // -p's process ends with a record still unread
	}
	src := `BEGIN { printf("last\n"); } uprobe:` + lib + `:getpid { printf("hit\n"); }`
	if err := h.run(context.Background(), src, Config{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if got := h.out.String(); got != "last\n\n\n" {
		t.Errorf("output %q, want the record written before the exit", got)
	}
	h.cleanedUp()
}

func TestSessionIntervalTicks(t *testing.T) {
	h := newHarness(t)
	n := 0
	h.onTrigger["interval"] = func(h *harness) {
		n++
		h.printf("tick\n")
		if n == 3 {
			h.exit()
		}
	}
	if err := h.run(context.Background(), `interval:ms:1 { printf("tick\n"); }`, Config{}); err != nil {
		t.Fatal(err)
	}
	if got := h.out.String(); got != "tick\ntick\ntick\n\n\n" {
		t.Errorf("output %q, want three ticks", got)
	}
	h.cleanedUp()
}

func TestSessionReadErrorHalfway(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	h.child.onRelease = func() {
		h.printf("hit\n")
		h.kern.ring.mu.Lock()
		h.kern.ring.readErr = errors.New("fake ring failure")
		h.kern.ring.mu.Unlock()
		h.kern.ring.wake()
	}
	src := `uprobe:` + lib + `:getpid { printf("hit\n"); }`
	err := h.run(context.Background(), src, Config{Command: []string{"./prog"}})
	if err == nil || !strings.Contains(err.Error(), "fake ring failure") {
		t.Fatalf("got %v, want the read failure", err)
	}
	if got := h.out.String(); got != "hit\n" {
		t.Errorf("output %q, want the record read before the failure", got)
	}
	h.child.exitNow()
	h.cleanedUp()
}

func TestSessionLostEventsLine(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) {
		h.kern.maps[compile.MapLost].set(make([]byte, 4), binary.LittleEndian.AppendUint64(nil, 7))
		h.exit()
	}
	if err := h.run(context.Background(), `BEGIN { exit(); }`, Config{}); err != nil {
		t.Fatal(err)
	}
	// The two empty lines end every text run, as bpftrace's main loop does.
	if got, want := h.out.String(), "\n\nLost 7 events\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestSessionOpenRingFailure(t *testing.T) {
	h := newHarness(t)
	be := h.backend()
	load := be.load
	be.load = func(p *compile.Plan) (kernel, error) {
		k, err := load(p)
		if err == nil {
			k.(*fakeKernel).ringErr = errors.New("fake mmap failure")
		}
		return k, err
	}
	prog := mustParse(t, `BEGIN { printf("x\n"); }`)
	err := runWith(context.Background(), Config{Program: prog, Out: h.out, Command: []string{"./prog"}}, be)
	if err == nil || !strings.Contains(err.Error(), "ring buffer") {
		t.Fatalf("got %v, want the ring buffer failure", err)
	}
	if !h.child.killed {
		t.Error("the held child was not killed")
	}
	h.cleanedUp()
}

func TestRingBufSizeFor(t *testing.T) {
	for src, want := range map[string]int{
		`uprobe:/bin/true:main { @c = count(); }`:                       quietRingBufSize,
		`uprobe:/bin/true:main { printf("x\n"); }`:                      0,
		`BEGIN { exit(); } END { print(@c); }`:                          quietRingBufSize,
		`BEGIN { printf("hi\n"); exit(); }`:                             quietRingBufSize,
		`BEGIN { printf("hi\n"); } uprobe:/bin/true:main { print(1); }`: 0,
		`uprobe:/bin/true:main { if (1) { time(); } }`:                  0,
	} {
		if got := ringBufSizeFor(mustParse(t, src), 0); got != want {
			t.Errorf("%s: %d, want %d", src, got, want)
		}
	}
	if got := ringBufSizeFor(mustParse(t, `BEGIN { exit(); }`), 1<<24); got != 1<<24 {
		t.Errorf("the user's size was not kept: %d", got)
	}
}

func TestSessionBlockResumesTarget(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	pushed := make(chan struct{})
	h.child.onRelease = func() {
		for i := range 600 {
			h.printf("hit %d\n", uint64(i))
		}
		h.kern.ring.push(nil) // (an empty record is skipped)
		close(pushed)
	}
	src := `uprobe:` + lib + `:getpid { printf("hit %d\n", arg0); }`
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// End once every record is written and read, and the reader went
		// idle once (the reader can catch up with the writer before the
		// last record, so an empty ring alone does not say it is done).
		<-pushed
		for h.log.index("resume") < 0 || h.kern.ring.AvailableBytes() > 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := h.run(ctx, src, Config{Command: []string{"./prog"}, Block: true}); err != nil {
		t.Fatal(err)
	}
	// 600 events, then the two empty lines every run ends with.
	if got := strings.Count(h.out.String(), "\n"); got != 602 {
		t.Errorf("%d lines, want 600 and the 2 empty ones", got)
	}
	if h.log.lastIndex("resume") < h.log.index("detach") {
		t.Error("the target was not resumed after the probes were detached")
	}
	if h.log.index("resume") < h.log.index("release") { // never before the child runs
		t.Errorf("resumed before the release; events: %q", h.log.events())
	}
	h.child.exitNow()
}

// TestSessionDetachOnExit: with Config.DetachOnExit the probes are handed
// to a child to detach (attach.Set.CloseOnExit), after the answer is
// printed; with Block as well they are detached here, since a probe left
// firing could stop the traced process.
func TestSessionDetachOnExit(t *testing.T) {
	lib := libc(t)
	for _, block := range []bool{false, true} {
		h := newHarness(t)
		h.child.onRelease = func() {
			h.printf("hit %d\n", 1)
			h.child.exitNow()
		}
		src := `uprobe:` + lib + `:getpid { printf("hit %d\n", arg0); }`
		if err := h.run(context.Background(), src, Config{Command: []string{"./prog"}, DetachOnExit: true, Block: block}); err != nil {
			t.Fatal(err)
		}
		handed := h.log.index("hand off") >= 0
		if handed == block {
			t.Errorf("block=%v: handed off %v; events: %q", block, handed, h.log.events())
		}
		before(t, h, "output", "detach")
		if !block {
			before(t, h, "output", "hand off")
		}
		h.cleanedUp()
	}
}

func TestSessionBlockAfterExitDoesNotSignal(t *testing.T) {
	lib := libc(t)
	h := newHarness(t)
	h.child.onRelease = func() { h.child.exitNow() }
	src := `uprobe:` + lib + `:getpid { printf("hit\n"); }`
	if err := h.run(context.Background(), src, Config{Command: []string{"./prog"}, Block: true}); err != nil {
		t.Fatal(err)
	}
	if i, j := h.log.index("child exited"), h.log.lastIndex("resume"); j > i {
		t.Errorf("SIGCONT sent to the pid of an exited child; events: %q", h.log.events())
	}
}

func TestSessionBlockNeedsProcess(t *testing.T) {
	h := newHarness(t)
	err := h.run(context.Background(), `BEGIN { exit(); }`, Config{Block: true})
	if err == nil || !strings.Contains(err.Error(), "--block") {
		t.Fatalf("got %v, want an error about --block", err)
	}
}
