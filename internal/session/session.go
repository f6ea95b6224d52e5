// Package session runs a program from start to end: resolve its probes,
// compile them, load and attach the BPF programs, read the ring buffer and
// the maps, print, and detach everything on every path.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/lazy"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/resolve"
	"github.com/uscope/uscope/internal/unwind"
)

// Config describes one tracing session.
type Config struct {
	Program *lang.Program
	// Params are the program's positional parameters ($1, $2 ...).
	Params []string
	// Defines are the constants of --include's headers.
	Defines map[string]int64
	// Bench is --mode bench: the bench:NAME probes are timed (benchmode.go).
	Bench bool
	// Quiet leaves out the "Attached N probes" line (-q).
	Quiet bool
	// Unsafe allows system() and uprobes in files that are not ELF
	// (--unsafe; resolve.Options.Unsafe).
	Unsafe bool
	// NoWarnings drops warnf() lines and the warnings about the program
	// (--no-warnings).
	NoWarnings bool
	// BpftraceLabels labels messages as bpftrace does ("ERROR: ",
	// "WARNING: ", a located diagnostic with its text underlined and a
	// "HINT:" line), for run, the command that takes bpftrace's command
	// line; otherwise they start with "uscope: ".
	BpftraceLabels bool
	// HelperErrors is bpftrace's -k (compile.Options.HelperErrors).
	HelperErrors bool
	// DryRun stops right after the probes are attached, before BEGIN runs
	// or anything is printed but the attached line (bpftrace's --dry-run).
	DryRun bool
	// PID limits probes to one process; the session ends when it exits.
	PID int
	// NoFollow traces PID or Command alone, not their descendants.
	NoFollow bool
	// Command, when set, is started held before its first instruction,
	// traced, and released; the session ends when it exits.
	Command []string
	// Duration ends the session after this long (0: no limit).
	Duration time.Duration
	// JSON selects NDJSON output.
	JSON bool
	// Out receives the program's output (default os.Stdout).
	Out io.Writer
	// Debug prints the generated programs to Debug before loading.
	Debug io.Writer
	// StrSize is the string capacity of str() (default 64).
	StrSize int
	// MapSize is the number of keys per map (default 4096).
	MapSize int
	// RingBufSize is the size in bytes of the events ring buffer, a power
	// of two of at least a page (0: compile.DefaultRingBufSize). A config
	// key for it, when the language gets config, sets this too.
	RingBufSize int
	// Block slows the traced process instead of losing events: a probe
	// that finds the ring buffer more than 3/4 full stops its process
	// (SIGSTOP) until the reader has drained it and sends SIGCONT. It
	// needs PID or Command (the process to resume).
	Block bool
	// DetachOnExit is for a caller that exits once Run returns, as the
	// uscope command does: the probes are handed to a child process that
	// detaches them as it exits (attach.Set.CloseOnExit), so that the
	// kernel's grace periods (~10 ms a uprobe_multi link) do not delay the
	// caller's exit after the answer is printed. Ignored with Block, where a
	// probe left firing could stop the traced process.
	DetachOnExit bool
	// Trace configures bcc trace rows.
	Trace TraceOptions
	// ForcePerfEvent attaches perf-event uprobes instead of uprobe_multi.
	ForcePerfEvent bool
	// ExactEntry keeps entry probes on C and C++ functions at their first
	// instruction instead of the cheaper equivalent one placement picks.
	ExactEntry bool
	// KernelUretprobe keeps kernel uretprobes on C++ functions instead of
	// probes on their exits, which exceptions unwind through safely.
	KernelUretprobe bool
	// ProbeInline makes uprobes on Go functions attach to their inlined
	// copies too (resolve.Options.ProbeInline).
	ProbeInline bool
	// Ready, when set, is called once every probe is attached.
	Ready func()
	// Attached, when set, is called with the number of probes attached, in
	// place of the "Attached N probes" line on standard error.
	Attached func(probes int)
	// Report, when set, takes the maps in place of their printing in
	// bpftrace's formats: each print(@m) hands over that map (final false),
	// and the end of the session every map (final true). The built-in tools
	// print bcc's formats with it.
	Report func(maps []*output.Map, final bool)
	// Frame formats one frame of a ustack (default: "sym+off", "sym" at
	// offset 0, or the address in hex outside every known function).
	Frame func(output.Frame) string
	// Snapshots, when set, is called once every probe is attached with a
	// Reader of the maps that any goroutine may call until the session
	// ends (exporters: --prometheus, --otlp, the agent).
	Snapshots func(Reader)
	// Events, when set, is called with every printf and trace event as it
	// is decoded (events.go; --otlp).
	Events func(Event)
	// Final, when set, is called at the session's end, after END and the
	// last events, with the maps' last snapshot (--otlp's last export).
	Final func(Snapshot)
	// Printf, when set, takes each printf record's decoded arguments in
	// place of its printing (tools that lay rows out in Go: no text is
	// printed to be parsed again). format tells the printfs apart; strings
	// in args point into the record and must be copied to be kept.
	Printf func(format string, args []output.Value)
}

// TraceOptions are the output options of `uscope trace`.
type TraceOptions struct {
	Timestamp bool // -t: seconds since the first event
	Time      bool // -T: wall-clock time
	MaxEvents int  // -M: stop after this many events
	UserStack bool // -U: print the user stack below each row
	// bcc trace's -u (Unix seconds with -t), -a (frame addresses) and -f
	// (only rows whose message contains MsgFilter).
	UnixTimestamp, Address bool
	MsgFilter              string
	// CPU (bcc's -C) adds a CPU column; Aggregate (-A) counts identical
	// rows and prints each once at the end, most frequent first, with
	// "-->COUNT N".
	CPU, Aggregate bool
}

// permError is a load the kernel refused for want of privileges.
type permError struct{ err error }

func (e *permError) Error() string {
	return "not permitted to load BPF programs: run uscope as root (sudo), or grant it CAP_BPF and CAP_PERFMON"
}
func (e *permError) Unwrap() error { return e.err }

// Error is a failure of the kernel side (load or attach): exit code 2.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Run runs a session until the program exits, the duration passes, the
// traced process ends, or ctx is cancelled. Everything attached is detached
// before it returns, on every path.
func Run(ctx context.Context, cfg Config) (err error) {
	return runWith(ctx, cfg, kernelBackend)
}

// runWith is Run with the kernel and the child behind be.
func runWith(ctx context.Context, cfg Config, be backend) (err error) {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	s := &session{cfg: cfg, be: be, out: newPrinter(cfg.Out, cfg.JSON)}
	s.out.bpftrace = cfg.BpftraceLabels
	defer func() {
		if cerr := s.close(); err == nil {
			err = cerr
		}
		if err == nil && s.exitCode != 0 {
			err = ExitCode(s.exitCode)
		}
	}()
	return s.run(ctx)
}

// configEnv collects the BPFTRACE_* environment variables, which set
// config keys as in bpftrace (the compiler ignores those that are not).
func configEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BPFTRACE_") && k != "BPFTRACE_DUMMY_TS_MAP" {
			env[k] = v
		}
	}
	return env
}

// ExitCode is the code a program gave exit(code): uscope exits with it, as
// bpftrace does.
type ExitCode int

func (e ExitCode) Error() string { return fmt.Sprintf("the program called exit(%d)", int(e)) }

type session struct {
	// selfSignal receives SIGUSR1 for the self:signal:SIGUSR1 probes
	// onSignal, in program order.
	selfSignal chan os.Signal
	onSignal   []*compile.Special
	cfg        Config
	be         backend
	out        *printer
	plan       *compile.Plan
	dec        *decoder
	coll       kernel
	links      linker
	resolver   *resolve.Resolver
	unw        *unwind.Loader // the CFI walk's tables (stack.go); nil until loaded
	held       child
	reader     records
	pid        int
	events     int
	exited     bool
	// exitCalled is set when the program called exit(); exitCode is its code.
	exitCalled bool
	exitCode   int
	// discard drops the records read after exit() and before END.
	discard bool
	// goTypes names Go interfaces' dynamic types, per binary (gotype.go).
	goTypes map[string]*goTypes
	start   time.Time
	// released is set once the held child was let run; until then close
	// kills it, also when Release itself failed.
	released bool
	// tree is the traced process tree (-p/-c without --no-follow).
	tree *attach.Tree
	// final is set for the last drain, which reads past exit().
	final bool
	// restoreMem restores the memory limit of before the set-up.
	restoreMem func()
	// snapReq and snapEnd serve Config.Snapshots (snapshot.go).
	snapReq chan chan Snapshot
	snapEnd chan struct{}
	// targetGone is set once the traced process has exited.
	targetGone atomic.Bool
	// monoOffset is wall-clock minus CLOCK_MONOTONIC ns (events.go).
	monoOffset int64
	// rawSpecials: the specials run as raw tracepoints (specials.go).
	rawSpecials bool
	// late is set when the session waited for its probes' objects (late.go).
	late *lateWait
}

// setupMemLimit is the Go heap's soft limit while the session resolves,
// compiles and attaches: a wildcard over tens of thousands of functions
// allocates hundreds of megabytes of short-lived names and symbol data, and
// with the default pacing the heap would grow to twice what stays live.
// With the limit the collector runs as often as needed to stay under it
// (up to its 50% CPU cap, when more than this stays live). GOMEMLIMIT in
// the environment takes precedence.
const setupMemLimit = 48 << 20

func (s *session) run(ctx context.Context) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(setupMemLimit)
		s.restoreMem = func() { debug.SetMemoryLimit(prev) }
		defer s.restoreMemLimit()
	}
	cfg := s.cfg
	s.pid = cfg.PID
	if cfg.PID != 0 && cfg.Command != nil {
		return fmt.Errorf("-p and -c cannot be used together")
	}
	if cfg.Block && cfg.PID == 0 && len(cfg.Command) == 0 {
		return fmt.Errorf("--block needs the process it may stop: add -p PID or -c CMD")
	}
	if cfg.PID != 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", cfg.PID)); err != nil {
			return fmt.Errorf("process %d does not exist", cfg.PID)
		}
	}
	if len(cfg.Command) > 0 {
		h, err := s.be.startHeld(cfg.Command, os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			return fmt.Errorf("start %q: %w", cfg.Command[0], err)
		}
		s.held = h
		s.pid = h.PID()
	}
	s.resolver = resolve.New(resolve.Options{PID: s.pid, AtExec: s.held != nil,
		ExactEntry: cfg.ExactEntry, ReadRegs: programRegs(cfg.Program),
		KernelUretprobe: cfg.KernelUretprobe, ReadsRetval: readsRetval(cfg.Program),
		ProbeInline: cfg.ProbeInline, Unsafe: cfg.Unsafe})
	// Only programs with uprobes ask the kernel about uprobe_multi.
	multi := needsUprobes(cfg.Program) && s.be.multi(attach.Options{ForcePerfEvent: cfg.ForcePerfEvent})
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	opts := compile.Options{
		Resolver:         s.resolver,
		StrSize:          cfg.StrSize,
		MapSize:          cfg.MapSize,
		RingBufSize:      ringBufSizeFor(cfg.Program, cfg.RingBufSize),
		Block:            cfg.Block,
		StartNanos:       uint64(ts.Nano()),
		Multi:            multi,
		TriggerArgOffset: triggerArgOffset,
		TraceUserStack:   cfg.Trace.UserStack,
		Params:           cfg.Params,
		Defines:          cfg.Defines,
		DummyTSMap:       dummyTSMap(),
		PidNS:            ownPidNS(),
		HelperErrors:     cfg.HelperErrors,
		ConfigEnv:        configEnv(),
		Unsafe:           cfg.Unsafe,
		FilterTree:       s.follows(),
		ProfilePID:       s.pid, // used without FilterTree only
		SpecialIDBase:    nextSpecialBase(),
		EventHeader:      cfg.Events != nil,
	}
	if s.held != nil {
		opts.CPID = s.held.PID()
	}
	plan, err := compile.Compile(cfg.Program, opts)
	if err != nil && s.waitsForObjects() {
		plan, err = s.waitForObjects(ctx, &opts, err)
	}
	if err != nil {
		return err
	}
	s.plan = plan
	if err := checkBenchMode(plan, cfg.Bench); err != nil {
		return err
	}
	s.dec = newDecoder(s)
	for _, w := range plan.Warnings {
		s.out.warn(w)
	}
	if !cfg.NoWarnings {
		for _, d := range plan.Diagnostics {
			s.out.diagnostic(d)
		}
	}
	if cfg.Debug != nil {
		fmt.Fprintf(cfg.Debug, "%s\n", lang.Format(cfg.Program))
		fmt.Fprint(cfg.Debug, plan.Listing())
	}
	aopts := attach.Options{PID: s.probePID(), ForcePerfEvent: cfg.ForcePerfEvent}
	raw, err := s.loadSpecials(aopts)
	if err != nil {
		return err
	}
	s.rawSpecials = raw
	rd, err := s.coll.Records()
	if err != nil {
		return &Error{fmt.Errorf("open ring buffer: %w", err)}
	}
	if s.plan.HasStacks && s.pid != 0 && s.held == nil {
		s.syncUnwind(s.pid) // -p: tables before the probes, so the first hit walks with CFI
	}
	s.reader = rd
	if err := s.startTree(); err != nil {
		return err
	}
	if err := s.lateHandOver(); err != nil {
		return err
	}
	s.links = s.be.newLinks()
	// Specials first, so that BEGIN prints before any event.
	var trig attach.Site
	for _, p := range plan.Programs {
		if p.Special == nil || s.rawSpecials {
			continue
		}
		if trig.Path == "" {
			if trig, err = triggerSite(); err != nil {
				return &Error{fmt.Errorf("find uscope's own trigger function: %w", err)}
			}
		}
		o := aopts
		o.PID = os.Getpid()
		if err := s.links.Attach(s.coll.Program(p.Name), []attach.Site{trig}, o); err != nil {
			return &Error{fmt.Errorf("attach %s: %w", p.Kind, err)}
		}
	}
	if !cfg.DryRun {
		s.fire(lang.KindBegin)
	}
	groups := s.siteGroups()
	// Profile probes in source order: of two at one rate, the timer
	// opened first fires first, as in bpftrace (probe.profile_order).
	for _, p := range plan.Programs {
		if p.Special == nil && p.Profile != nil {
			if err := s.attachProfile(p); err != nil {
				return err
			}
		}
	}
	// The kernel runs the programs on one address newest first: attach
	// them last to first, so that they run in source order, as bpftrace's do.
	for pi := len(plan.Programs) - 1; pi >= 0; pi-- {
		p := plan.Programs[pi]
		if p.Special != nil || p.Profile != nil {
			continue
		}
		sites := groups[pi]
		o := aopts
		o.Return = p.Return
		// A wildcard leaves out the functions the kernel cannot probe;
		// a single site is an error.
		o.SkipRefused = len(sites) > 1
		if err := s.links.Attach(s.coll.Program(p.Name), sites, o); err != nil {
			return &Error{err}
		}
	}
	s.warnRefused()
	s.start = time.Now()
	s.startSnapshots()
	if cfg.Ready != nil {
		cfg.Ready()
	}
	if cfg.Attached != nil {
		cfg.Attached(s.probes())
	} else if cfg.JSON && !cfg.Quiet {
		s.out.w.AttachedProbes(s.probes())
	} else if !plan.Trace && !cfg.Quiet {
		n := s.probes()
		fmt.Fprintf(os.Stderr, "Attached %d probe%s\n", n, plural(n))
	}
	s.notifySelfSignal()
	notifyAttached()
	if cfg.DryRun {
		return nil // close detaches, and ends a held -c command
	}
	s.lateResume()
	if plan.Trace {
		s.out.traceHeader(cfg.Trace)
	}
	s.primeGoTypes() // a PIE's load bias, while the process runs
	if s.plan.HasStacks && s.pid != 0 {
		// Know the traced process's objects before it can exit; the drain
		// loop refreshes this as it maps more. A held command first runs
		// to its entry point, where its libraries are mapped (stack.go).
		s.syncUnwind(s.pid) // the program and ld.so, mapped at exec
		s.runToEntry()
		s.resolver.RememberMaps(s.pid)
		s.syncUnwind(s.pid)
	}
	if s.held != nil && !s.released {
		if err := s.held.Release(); err != nil {
			return &Error{fmt.Errorf("release %q: %w", cfg.Command[0], err)}
		}
		s.released = true
	}
	s.restoreMemLimit()
	if err := s.runBenches(); err != nil {
		return err
	}
	if s.held == nil && s.pid == 0 && onlySpecials(plan) {
		// Only begin and end probes: nothing can fire any more, so the
		// program ends after begin, as bpftrace main's does.
		if err := s.drain(); err != nil {
			return err
		}
		return s.finish()
	}
	return s.loop(ctx)
}

func (s *session) restoreMemLimit() {
	if s.restoreMem != nil {
		s.restoreMem()
		s.restoreMem = nil
	}
}

// onlySpecials reports whether a plan has no probe but begin and end.
func onlySpecials(p *compile.Plan) bool {
	for _, pr := range p.Programs {
		if pr.Special == nil || pr.Special.Kind == lang.KindInterval || pr.Special.Kind == lang.KindSelf {
			return false
		}
	}
	return true
}

// NotifyAttachedEnv is the environment variable of bpftrace's runtime test
// runner: when it is set, the line of the same name is printed on standard
// output once every probe is attached (as bpftrace's src/bpftrace.cpp does),
// and the runner starts its AFTER command from there.
const NotifyAttachedEnv = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"

func notifyAttached() {
	if v, ok := os.LookupEnv(NotifyAttachedEnv); ok {
		fmt.Fprintln(notifyStream(v), NotifyAttachedEnv) // notify_v017.go
	}
}

// notifySelfSignal catches SIGUSR1 for the plan's self:signal:SIGUSR1
// probes, before anyone is told the probes are attached; close stops it.
func (s *session) notifySelfSignal() {
	for _, sp := range s.plan.Specials {
		if sp.Kind == lang.KindSelf {
			s.onSignal = append(s.onSignal, sp)
		}
	}
	if len(s.onSignal) > 0 {
		s.selfSignal = make(chan os.Signal, 4)
		signal.Notify(s.selfSignal, unix.SIGUSR1)
	}
}

// initPidNSIno is the inode of the initial PID namespace
// (PROC_PID_INIT_INO).
const initPidNSIno = 0xEFFFFFFC

// ownPidNS is uscope's PID namespace when it is not the initial one, so
// that pid and tid number threads as uscope's /proc does.
func ownPidNS() *compile.PidNamespace {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil || st.Ino == initPidNSIno {
		return nil
	}
	return &compile.PidNamespace{Dev: st.Dev, Ino: st.Ino}
}

func hasProbes(p *compile.Plan) bool {
	for _, pr := range p.Programs {
		if pr.Special == nil {
			return true
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// load creates the maps and programs, translating verifier rejections.
func (s *session) load() error {
	coll, err := s.be.load(s.plan)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			hint := "run with -d for the verifier log"
			if s.cfg.Debug != nil {
				fmt.Fprintf(s.cfg.Debug, "%+v\n", ve)
				hint = "the verifier log is above"
			}
			msg := fmt.Sprintf("the kernel's verifier rejected the code generated for this: %v", lastLine(ve))
			if pos, ok := s.verifierSource(err, ve); ok {
				return &Error{&lang.Error{File: s.cfg.Program.File, Source: s.cfg.Program.Source, Pos: pos, Len: 1, Msg: msg, Hint: hint}}
			}
			return &Error{fmt.Errorf("%s (%s)", msg, hint)}
		}
		if errors.Is(err, unix.EPERM) {
			// One line, without cilium/ebpf's hints (MEMLOCK, rlimit) that
			// are about its API, not what the user can do.
			return &Error{&permError{err}}
		}
		return &Error{fmt.Errorf("load BPF programs: %w", err)}
	}
	s.coll = coll
	return nil
}

var (
	progNameRE = lazy.Regexp(`program (\w+)`)
	insnLineRE = lazy.Regexp(`^(\d+): \(`)
)

// verifierSource finds the source position of the instruction the verifier
// stopped at: the last numbered instruction in its log.
func (s *session) verifierSource(err error, ve *ebpf.VerifierError) (lang.Pos, bool) {
	m := progNameRE().FindStringSubmatch(err.Error())
	if m == nil {
		return lang.Pos{}, false
	}
	for i := len(ve.Log) - 1; i >= 0; i-- {
		if im := insnLineRE().FindStringSubmatch(ve.Log[i]); im != nil {
			off, _ := strconv.Atoi(im[1])
			return s.plan.SourceOf(m[1], off)
		}
	}
	return lang.Pos{}, false
}

func lastLine(ve *ebpf.VerifierError) string {
	for i := len(ve.Log) - 1; i >= 0; i-- {
		if l := ve.Log[i]; l != "" && !isStatLine(l) {
			return l
		}
	}
	return ve.Error()
}

func isStatLine(l string) bool {
	return len(l) > 9 && (l[:9] == "processed" || l[:9] == "verificat")
}

// loop reads records until the session ends. It waits in one place, the
// ring buffer's epoll: records written with a wakeup (exit(), and every
// record once the buffer fills past its watermark) end the wait at once,
// and so do the session's other events, each waited for by a goroutine
// that flushes the reader: the end of the traced process (a pidfd, or the
// held child's wait), ctx (signals), the duration and interval timers.
// Below the watermark records are written without a wakeup, and the wait
// ends after drainPeriod, which bounds their latency.
func (s *session) loop(ctx context.Context) error {
	stop := make(chan struct{})
	defer close(stop)
	var ending atomic.Bool
	end := func() {
		ending.Store(true)
		_ = s.reader.Flush()
	}
	var timeout <-chan time.Time
	if s.cfg.Duration > 0 {
		t := time.NewTimer(s.cfg.Duration)
		defer t.Stop()
		timeout = t.C
	}
	var procExit <-chan struct{}
	if s.held != nil {
		done := s.held.Done()
		ch := make(chan struct{})
		go func() {
			select {
			case <-done:
				s.targetGone.Store(true)
				close(ch)
			case <-stop:
			}
		}()
		procExit = ch
	} else if s.pid != 0 {
		ch := make(chan struct{})
		exit := s.be.waitExit(s.pid)
		go func() {
			select {
			case <-exit:
				s.targetGone.Store(true)
				close(ch)
			case <-stop:
			}
		}()
		procExit = ch
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-timeout:
		case <-procExit:
		case <-stop:
			return
		}
		end()
	}()
	// One ticker per period: the interval probes of one period run in
	// the order the program gives them, as bpftrace's.
	tick := make(chan []*compile.Special, 16)
	byPeriod := map[uint64][]*compile.Special{}
	var periods []uint64
	for _, sp := range s.plan.Specials {
		if sp.Kind != lang.KindInterval {
			continue
		}
		if byPeriod[sp.IntervalNanos] == nil {
			periods = append(periods, sp.IntervalNanos)
		}
		byPeriod[sp.IntervalNanos] = append(byPeriod[sp.IntervalNanos], sp)
	}
	// self:signal:SIGUSR1 probes run when uscope gets the signal (caught
	// from before the attached line: notifySelfSignal).
	selfSignal, onSignal := s.selfSignal, s.onSignal
	for _, p := range periods {
		t := time.NewTicker(time.Duration(p))
		defer t.Stop()
		go func(sps []*compile.Special, t *time.Ticker) {
			for {
				select {
				case <-t.C:
					select {
					case tick <- sps:
						_ = s.reader.Flush()
					case <-stop:
						return
					}
				case <-stop:
					return
				}
			}
		}(byPeriod[p], t)
	}
	for {
		if err := s.drainFor(drainPeriod); err != nil {
			return err
		}
		if s.exited || ending.Load() {
			break
		}
		if s.plan.HasStacks && s.pid != 0 {
			// Stacks are named when the maps are printed, maybe after
			// the process has exited: keep its objects known.
			s.rememberTreeMaps()
		}
	ticks:
		for {
			select {
			case <-selfSignal:
				for _, sp := range onSignal {
					s.trigger(sp.ID)
					if err := s.drainFor(0); err != nil {
						return err
					}
					if s.exited {
						return s.finish()
					}
				}
			case sps := <-tick:
				for _, sp := range sps {
					s.trigger(sp.ID)
					// Read what it sent before another probe runs: after
					// its exit(), no probe runs again.
					if err := s.drainFor(0); err != nil {
						return err
					}
					if s.exited {
						return s.finish()
					}
				}
			case reply := <-s.snapReq:
				reply <- s.snapshot()
			default:
				break ticks
			}
		}
	}
	return s.finish()
}

// drainPeriod bounds the latency of records written without a wakeup,
// while the ring buffer is below its watermark.
const drainPeriod = 20 * time.Millisecond

// drain reads every record in the ring buffer now, also after exit():
// END's records come after it.
func (s *session) drain() error {
	s.final = true
	return s.drainFor(0)
}

// drainFor reads records for up to d, until exit() ends the session, or
// until the reader is flushed.
func (s *session) drainFor(d time.Duration) error {
	defer s.out.flush()
	defer s.flushPrint()
	s.reader.SetDeadline(time.Now().Add(d))
	rec := &s.dec.rec
	for n := 1; !s.exited || s.final; n++ {
		err := s.reader.ReadInto(rec)
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrFlushed) {
			s.resumeBlocked(true)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ring buffer: %w", err)
		}
		if err := s.handle(rec.RawSample); err != nil {
			return err
		}
		if n%256 == 0 {
			s.resumeBlocked(false)
		}
	}
	return nil
}

// resumeBlocked lets the process run again that --block's programs may
// have stopped, once the ring buffer is below its watermark; idle (the
// reader waited for records) it does so anyway, in case a stop arrived
// after the last SIGCONT. A SIGCONT to a running process does nothing.
func (s *session) resumeBlocked(idle bool) {
	if !s.cfg.Block || s.pid == 0 || s.reader == nil || s.targetGone.Load() {
		return // (once gone, its pid may be another process's)
	}
	if idle || s.reader.AvailableBytes() < s.ringBufSize()/8 {
		s.be.resume(s.pid)
	}
}

// finish runs END and prints the last records, the maps and the losses,
// then detaches: the answer comes before the cleanup.
func (s *session) finish() error {
	if s.exitCalled {
		// What probes sent after exit() is dropped, as bpftrace stops
		// reading at exit(): the session ends where the program said.
		s.discard = true
		err := s.drain()
		s.discard = false
		if err != nil {
			return err
		}
	}
	s.fire(lang.KindEnd)
	if err := s.drain(); err != nil {
		return err
	}
	s.out.aggregated()
	s.printAllMaps()
	s.reportLosses()
	s.out.flush()
	if s.cfg.Final != nil {
		s.cfg.Final(s.snapshot())
	}
	return s.detach()
}

// detach removes every probe: in a child process with
// Config.DetachOnExit (not with Block), else here.
func (s *session) detach() error {
	switch {
	case s.links == nil:
		return nil
	case s.cfg.DetachOnExit && !s.cfg.Block:
		return s.links.CloseOnExit()
	}
	return s.links.Close()
}

// fire runs every special of a kind (BEGIN or END).
func (s *session) fire(kind string) {
	for _, sp := range s.plan.Specials {
		if sp.Kind == kind {
			s.trigger(sp.ID)
		}
	}
}

// close releases everything on every path: links first, so that no probe
// outlives the session, then the reader, the maps and the child if it was
// never let run (also when releasing it failed: it must not stay stopped).
func (s *session) close() error {
	s.endSnapshots()
	if s.selfSignal != nil {
		signal.Stop(s.selfSignal)
	}
	errs := []error{s.endCommand()}
	errs = append(errs, s.detach())
	s.lateClose()
	// Detached, no probe can stop the process any more: resume it.
	s.resumeBlocked(true)
	if s.reader != nil {
		s.reader.Close()
	}
	if s.coll != nil {
		s.coll.Close()
	}
	if s.resolver != nil {
		s.resolver.Close()
	}
	for _, gt := range s.goTypes {
		if gt.bin != nil {
			gt.bin.Close()
		}
	}
	return errors.Join(errs...)
}

// warnRefused reports the sites of wildcards that the kernel refused and
// that were left out.
func (s *session) warnRefused() {
	refused := s.links.Refused()
	if len(refused) == 0 {
		return
	}
	var names []string
	for i, r := range refused {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(refused)-3))
			break
		}
		name := fmt.Sprintf("offset 0x%x", r.Site.Offset)
		if c := r.Site.Cookie; c < uint64(len(s.plan.Sites)) {
			name = s.plan.Sites[c].Probe
		}
		names = append(names, name)
	}
	s.out.warn(fmt.Sprintf("%d probe%s left out, the kernel cannot probe %s: %s (%v)",
		len(refused), plural(len(refused)), pick(len(refused) == 1, "it", "them"), strings.Join(names, ", "), refused[0].Err.Err))
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}
