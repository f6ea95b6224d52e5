package attach

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/testutil"
)

const nTargetFuncs = 400

// TestAttachCounts attaches a counting program to all 400 functions of the
// target and checks the exact per-function counts, through uprobe_multi and
// through perf events, system-wide and with a pid filter, for entries and
// returns; and that nothing counts after Close.
func TestAttachCounts(t *testing.T) {
	testutil.RequireRoot(t)
	bi := buildTarget(t, nTargetFuncs)
	tests := []struct {
		name string
		opts Options
		// filter: the probes are limited to the first of two running copies.
		filter bool
	}{
		{name: "multi/system-wide", opts: Options{}},
		{name: "multi/pid", opts: Options{}, filter: true},
		{name: "multi/uretprobe/system-wide", opts: Options{Return: true}},
		{name: "multi/uretprobe/pid", opts: Options{Return: true}, filter: true},
		{name: "perf/system-wide", opts: Options{ForcePerfEvent: true}},
		{name: "perf/pid", opts: Options{ForcePerfEvent: true}, filter: true},
		{name: "perf/uretprobe/system-wide", opts: Options{ForcePerfEvent: true, Return: true}},
		{name: "perf/uretprobe/pid", opts: Options{ForcePerfEvent: true, Return: true}, filter: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.opts.ForcePerfEvent && !UsesUprobeMulti(tc.opts) {
				if testutil.InCI() {
					t.Fatal("kernel has no uprobe_multi")
				}
				t.Skip("kernel has no uprobe_multi")
			}
			c := newCounter(t, tc.opts, nTargetFuncs)
			traced := startTarget(t, bi.path)
			other := startTarget(t, bi.path)
			opts := tc.opts
			want := uint64(2) // both copies count
			if tc.filter {
				opts.PID = traced.Pid
				want = 1
			}
			// Perf-event uprobes take ~0.2 s each to detach on 6.13+
			// kernels (an RCU grace period under a global mutex), so that
			// path probes every 13th function only.
			sites := bi.sites(t, nTargetFuncs)
			attached := func(i int) bool { return true }
			if opts.ForcePerfEvent {
				attached = func(i int) bool { return i%13 == 0 }
				var some []Site
				for i, st := range sites {
					if attached(i) {
						some = append(some, st)
					}
				}
				sites = some
			}
			wantCount := func(i int) uint64 {
				if !attached(i) {
					return 0
				}
				return want * callsOf(i)
			}
			s := newSet(t)
			if err := s.Attach(c.prog, sites, opts); err != nil {
				t.Fatal(err)
			}
			if got := s.Probes(); got != len(sites) {
				t.Errorf("Probes() = %d, want %d", got, len(sites))
			}
			traced.round()
			other.round()
			checkCounts(t, c, wantCount)

			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := s.Probes(); got != 0 {
				t.Errorf("Probes() after Close = %d, want 0", got)
			}
			traced.round()
			other.round()
			checkCounts(t, c, wantCount)
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func checkCounts(t *testing.T, c *counter, want func(int) uint64) {
	t.Helper()
	bad := 0
	for i := range nTargetFuncs {
		if got := c.get(t, uint32(i)); got != want(i) {
			if bad++; bad <= 5 {
				t.Errorf("f%d counted %d times, want %d", i, got, want(i))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d functions counted wrong in all", bad)
	}
}

// TestSemaphore attaches to a USDT probe guarded by a semaphore and checks
// that the kernel enables the semaphore in a process that was running and in
// one started after attach, that the probe fires, and that Close disables it.
func TestSemaphore(t *testing.T) {
	testutil.RequireRoot(t)
	bi := buildTarget(t, 1)
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"multi", Options{}},
		{"perf", Options{ForcePerfEvent: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			c := newCounter(t, mode.opts, 2)
			before := startTarget(t, bi.path)
			if got := bi.semaphore(t, before.Pid); got != 0 {
				t.Fatalf("semaphore is %d before attach, want 0", got)
			}
			s := newSet(t)
			sites := []Site{{Path: bi.path, Offset: bi.usdt, RefCtrOffset: bi.semaOff, Cookie: 1}}
			if err := s.Attach(c.prog, sites, mode.opts); err != nil {
				t.Fatal(err)
			}
			after := startTarget(t, bi.path)
			for _, p := range []*target{before, after} {
				if got := bi.semaphore(t, p.Pid); got < 1 {
					t.Errorf("semaphore of pid %d is %d while attached, want ≥1", p.Pid, got)
				}
				if got := p.round(); got != usdtFires {
					t.Errorf("pid %d passed the guarded probe %d times, want %d", p.Pid, got, usdtFires)
				}
			}
			if got := c.get(t, 1); got != 2*usdtFires {
				t.Errorf("USDT probe counted %d, want %d", got, 2*usdtFires)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for _, p := range []*target{before, after} {
				if got := bi.semaphore(t, p.Pid); got != 0 {
					t.Errorf("semaphore of pid %d is %d after Close, want 0", p.Pid, got)
				}
				if got := p.round(); got != 0 {
					t.Errorf("pid %d passed the guarded probe %d times after Close, want 0", p.Pid, got)
				}
			}
		})
	}
}

// TestAttachKernelErrors provokes failures the kernel reports and checks
// that they come back as *Error naming the site, and that a failed Attach
// leaves nothing attached.
func TestAttachKernelErrors(t *testing.T) {
	testutil.RequireRoot(t)
	bi := buildTarget(t, 8)
	running := startTarget(t, bi.path) // maps the file, so int3 analysis runs
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := dead.Process.Pid

	usdt := Site{Path: bi.path, Offset: bi.usdt, RefCtrOffset: bi.semaOff, Cookie: 1}
	usdtNoSema := usdt
	usdtNoSema.RefCtrOffset = 0
	bad := Site{Path: bi.path, Offset: bi.funcs["badinsn"]}
	withSite := func(s Site) []Site {
		sites := bi.sites(t, 8)
		return append(append(sites[:3:3], s), sites[3:]...)
	}

	tests := []struct {
		name string
		// holder, when set, is attached first by another Set, as if by
		// another tracer.
		holder   []Site
		sites    []Site
		pid      int
		wrongAT  bool // load the program for the other attachment kind
		contains []string
		offset   uint64
	}{
		{
			name:     "ref_ctr mismatch, we have the semaphore",
			holder:   []Site{usdtNoSema},
			sites:    withSite(usdt),
			contains: []string{fmt.Sprintf("another tracer has a uprobe at %s+%#x with a different USDT semaphore offset (ref_ctr_offset mismatch); stop that tracer (bpftrace, bcc, perf probe...) and try again", bi.path, bi.usdt)},
			offset:   bi.usdt,
		},
		{
			name:     "ref_ctr mismatch, the other tracer has it",
			holder:   []Site{usdt},
			sites:    withSite(usdtNoSema),
			contains: []string{fmt.Sprintf("%s+%#x", bi.path, bi.usdt), "ref_ctr_offset mismatch"},
			offset:   bi.usdt,
		},
		{
			name:     "trap instruction",
			sites:    withSite(bad),
			pid:      running.Pid,
			contains: []string{fmt.Sprintf("%s+%#x", bi.path, bad.Offset), "not the start of an instruction the kernel can probe"},
			offset:   bad.Offset,
		},
		{
			name:     "process gone",
			sites:    bi.sites(t, 8),
			pid:      deadPid,
			contains: []string{fmt.Sprintf("process %d does not exist", deadPid)},
		},
		{
			name:     "program loaded for the other attach kind",
			sites:    bi.sites(t, 8),
			wrongAT:  true,
			contains: []string{"attach.ProgramAttachType"},
		},
	}
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"multi", Options{}},
		{"perf", Options{ForcePerfEvent: true}},
	} {
		for _, tc := range tests {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				opts := mode.opts
				opts.PID = tc.pid
				at := ProgramAttachType(opts)
				if tc.wrongAT {
					at = ProgramAttachType(Options{ForcePerfEvent: !opts.ForcePerfEvent})
				}
				c := newCounterAs(t, at, 16)
				if tc.holder != nil {
					hc := newCounter(t, Options{ForcePerfEvent: true}, 16)
					if err := newSet(t).Attach(hc.prog, tc.holder, Options{ForcePerfEvent: true}); err != nil {
						t.Fatal(err)
					}
				}
				s := newSet(t)
				// Something attached earlier by the same Set must survive.
				if err := s.Attach(newCounter(t, opts, 16).prog, bi.sites(t, 8)[7:], Options{PID: running.Pid, ForcePerfEvent: opts.ForcePerfEvent}); err != nil {
					t.Fatal(err)
				}
				err := s.Attach(c.prog, tc.sites, opts)
				t.Logf("error: %v", err)
				var ae *Error
				if !errors.As(err, &ae) {
					t.Fatalf("Attach error = %v (%T), want *Error", err, err)
				}
				for _, want := range tc.contains {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				if ae.Offset != tc.offset {
					t.Errorf("Error.Offset = %#x, want %#x", ae.Offset, tc.offset)
				}
				if got := s.Probes(); got != 1 {
					t.Errorf("Probes() = %d after a failed Attach, want the 1 from before", got)
				}
				// Nothing of the failed call may still count.
				running.round()
				for i := range 16 {
					if got := c.get(t, uint32(i)); got != 0 {
						t.Errorf("cookie %d counted %d after a failed Attach", i, got)
					}
				}
			})
		}
	}
}

// TestCheckSites covers the checks made before the kernel is asked, on the
// test binary itself (no root needed).
func TestCheckSites(t *testing.T) {
	exe := mustExecutable(t)
	obj, err := inspect(exe)
	if err != nil {
		t.Fatal(err)
	}
	code := obj.exec[0].off + 16
	data := obj.write[0].off
	tests := []struct {
		name     string
		site     Site
		multi    bool
		contains string // "" = valid
	}{
		{"valid", Site{Path: exe, Offset: code}, true, ""},
		{"valid with semaphore", Site{Path: exe, Offset: code, RefCtrOffset: data}, true, ""},
		{"no path", Site{Offset: code}, true, "no object path"},
		{"missing file", Site{Path: "/nonexistent/bin", Offset: code}, true, "no such file"},
		{"directory", Site{Path: "/", Offset: code}, true, "not a regular file"},
		{"offset zero", Site{Path: exe, Offset: 0}, true, "offset 0"},
		{"past the end", Site{Path: exe, Offset: 1 << 40}, true, "past the end of the file"},
		{"not code", Site{Path: exe, Offset: data}, true, "not in the file's executable code"},
		{"odd semaphore", Site{Path: exe, Offset: code, RefCtrOffset: data + 1}, true, "not 2-byte aligned"},
		{"semaphore in code", Site{Path: exe, Offset: code, RefCtrOffset: code &^ 1}, true, "not in a writable segment"},
		{"semaphore past the end", Site{Path: exe, Offset: code, RefCtrOffset: 1 << 40}, true, "past the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkSites([]Site{tc.site}, tc.multi)
			if tc.contains == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v (%T), want *Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not contain %q", err, tc.contains)
			}
		})
	}
}

// TestAttachBadPID checks the pid range before anything else.
func TestAttachBadPID(t *testing.T) {
	for _, pid := range []int{-1, 1 << 40} {
		err := NewSet().Attach(nil, nil, Options{PID: pid})
		var ae *Error
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "invalid process id") {
			t.Errorf("PID %d: error %v, want *Error about the process id", pid, err)
		}
	}
}

// TestCheckSitesGroups checks that sites are grouped per path in order.
func TestCheckSitesGroups(t *testing.T) {
	exe := mustExecutable(t)
	obj, err := inspect(exe)
	if err != nil {
		t.Fatal(err)
	}
	code := obj.exec[0].off
	other := "/proc/self/exe"
	sites := []Site{
		{Path: exe, Offset: code + 1, Cookie: 1},
		{Path: other, Offset: code + 2, Cookie: 2},
		{Path: exe, Offset: code + 3, Cookie: 3},
	}
	groups, err := checkSites(sites, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].path != exe || groups[1].path != other ||
		len(groups[0].sites) != 2 || groups[0].sites[1].Cookie != 3 || groups[1].sites[0].Cookie != 2 {
		t.Errorf("groups = %+v", groups)
	}
}

// TestExplain checks the translation of kernel error numbers.
func TestExplain(t *testing.T) {
	site := &Site{Path: "/bin/x", Offset: 0x1139, RefCtrOffset: 0x4010}
	plain := &Site{Path: "/bin/x", Offset: 0x1139}
	tests := []struct {
		name     string
		err      error
		st       *Site
		opts     Options
		contains string
	}{
		{"eperm", fmt.Errorf("x: %w", errnoOf(1)), plain, Options{}, "CAP_BPF and CAP_PERFMON"},
		{"eacces", fmt.Errorf("x: %w", errnoOf(13)), nil, Options{}, "permission denied"},
		{"esrch", fmt.Errorf("x: %w", errnoOf(3)), nil, Options{PID: 1 << 30}, "process 1073741824 does not exist"},
		{"einval semaphore", fmt.Errorf("x: %w", errnoOf(22)), site, Options{}, "another tracer has a uprobe at /bin/x+0x1139 with a different USDT semaphore offset"},
		{"einval plain", fmt.Errorf("x: %w", errnoOf(22)), plain, Options{}, "ProgramAttachType"},
		{"enotsupp", fmt.Errorf("x: %w", errnoENOTSUPP), plain, Options{}, "cannot attach a uprobe at /bin/x+0x1139: the offset is not the start of an instruction"},
		{"enoexec uretprobe", fmt.Errorf("x: %w", errnoOf(8)), plain, Options{Return: true}, "cannot attach a uretprobe at"},
		{"emfile", fmt.Errorf("x: %w", errnoOf(24)), plain, Options{}, "ulimit -n"},
		{"not supported", fmt.Errorf("x: %w", ebpf.ErrNotSupported), nil, Options{}, "does not support"},
		{"other", errors.New("boom"), nil, Options{}, "cannot attach uprobes to /bin/x: the kernel refused it: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := explain(tc.err, "/bin/x", tc.st, tc.opts)
			if !strings.Contains(e.Error(), tc.contains) {
				t.Errorf("%q does not contain %q", e.Error(), tc.contains)
			}
			if !errors.Is(e, tc.err) {
				t.Errorf("the *Error does not wrap its cause")
			}
		})
	}
}

// TestAttachOverlapping checks sites that share an instruction (within one
// call, and entry plus return probes from two calls) and one call spanning
// two object files.
func TestAttachOverlapping(t *testing.T) {
	testutil.RequireRoot(t)
	bi := buildTarget(t, 4)
	copyPath := filepath.Join(t.TempDir(), "target-copy")
	data, err := os.ReadFile(bi.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"multi", Options{}},
		{"perf", Options{ForcePerfEvent: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			entry := mode.opts
			ret := mode.opts
			ret.Return = true
			c := newCounter(t, entry, 8)
			orig := startTarget(t, bi.path)
			cp := startTarget(t, copyPath)
			s := newSet(t)
			f1, f2, f3 := bi.funcs["f1"], bi.funcs["f2"], bi.funcs["f3"]
			if err := s.Attach(c.prog, []Site{
				{Path: bi.path, Offset: f1, Cookie: 1},
				{Path: copyPath, Offset: f3, Cookie: 3}, // same file content, another inode
				{Path: bi.path, Offset: f1, Cookie: 5},  // f1 again
				{Path: bi.path, Offset: f2, Cookie: 2},
			}, entry); err != nil {
				t.Fatal(err)
			}
			if err := s.Attach(c.prog, []Site{{Path: bi.path, Offset: f2, Cookie: 6}}, ret); err != nil {
				t.Fatal(err)
			}
			if got := s.Probes(); got != 5 {
				t.Errorf("Probes() = %d, want 5", got)
			}
			orig.round()
			cp.round()
			for cookie, want := range map[uint32]uint64{1: callsOf(1), 5: callsOf(1), 2: callsOf(2), 6: callsOf(2), 3: callsOf(3), 0: 0, 4: 0} {
				if got := c.get(t, cookie); got != want {
					t.Errorf("cookie %d counted %d, want %d", cookie, got, want)
				}
			}
		})
	}
}

// TestCloseOnExit hands the links of a Set to a child and checks that
// the probes count until the kernel has detached them in that child's
// exit, and never after: each round of the target adds its calls while
// attached, then nothing, within a few seconds.
func TestCloseOnExit(t *testing.T) {
	requireUprobeMulti(t)
	const n = 40
	bi := buildTarget(t, n)
	c := newCounter(t, Options{}, n)
	traced := startTarget(t, bi.path)
	s := newSet(t)
	if err := s.Attach(c.prog, bi.sites(t, n), Options{PID: traced.Pid}); err != nil {
		t.Fatal(err)
	}
	total := func() uint64 {
		var sum uint64
		for i := range n {
			sum += c.get(t, uint32(i))
		}
		return sum
	}
	var perRound uint64
	for i := range n {
		perRound += callsOf(i)
	}
	traced.round()
	if got := total(); got != perRound {
		t.Fatalf("attached: a round counted %d calls, want %d", got, perRound)
	}
	if err := s.CloseOnExit(); err != nil {
		t.Fatal(err)
	}
	if got := s.Probes(); got != 0 {
		t.Errorf("Probes() after CloseOnExit = %d, want 0", got)
	}
	// Rounds until one adds nothing: the child has exited and the kernel
	// has detached the probes.
	prev := total()
	detached := false
	for range 200 {
		traced.round()
		cur := total()
		if cur == prev {
			detached = true
			break
		}
		prev = cur
		time.Sleep(25 * time.Millisecond)
	}
	if !detached {
		t.Fatal("the probes still fire 5 s after CloseOnExit")
	}
	for range 3 {
		traced.round()
	}
	if got := total(); got != prev {
		t.Errorf("counted %d more calls after the probes were detached", got-prev)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after CloseOnExit: %v", err)
	}
}

// TestHandOff checks that the child CloseOnExit hands the links to starts
// and exits cleanly, holding one descriptor per uprobe_multi link.
func TestHandOff(t *testing.T) {
	requireUprobeMulti(t)
	bi := buildTarget(t, 4)
	c := newCounter(t, Options{}, 4)
	s := newSet(t)
	if err := s.Attach(c.prog, bi.sites(t, 4), Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pid, ok := handOff(s.links)
	if !ok {
		t.Fatalf("%s did not start", handOffProgram)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("%s ended with %v", handOffProgram, ws)
	}
}

// requireUprobeMulti skips (fails in CI) without root or uprobe_multi.
func requireUprobeMulti(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	if !UsesUprobeMulti(Options{}) {
		if testutil.InCI() {
			t.Fatal("kernel has no uprobe_multi")
		}
		t.Skip("kernel has no uprobe_multi")
	}
}
