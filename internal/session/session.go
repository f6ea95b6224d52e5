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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/resolve"
)

// Config describes one tracing session.
type Config struct {
	Program *lang.Program
	// PID limits probes to one process; the session ends when it exits.
	PID int
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
	// Trace configures bcc trace rows.
	Trace TraceOptions
	// ForcePerfEvent attaches perf-event uprobes instead of uprobe_multi.
	ForcePerfEvent bool
	// ExactEntry keeps entry probes on C and C++ functions at their first
	// instruction instead of the cheaper equivalent one placement picks.
	ExactEntry bool
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
}

// TraceOptions are the output options of `uscope trace`.
type TraceOptions struct {
	Timestamp bool // -t: seconds since the first event
	Time      bool // -T: wall-clock time
	MaxEvents int  // -M: stop after this many events
	UserStack bool // -U: print the user stack below each row
}

// Error is a failure of the kernel side (load or attach): exit code 2.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Run runs a session until the program exits, the duration passes, the
// traced process ends, or ctx is cancelled. Everything attached is detached
// before it returns, on every path.
func Run(ctx context.Context, cfg Config) (err error) {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	s := &session{cfg: cfg, out: newPrinter(cfg.Out, cfg.JSON)}
	defer func() {
		if cerr := s.close(); err == nil {
			err = cerr
		}
	}()
	return s.run(ctx)
}

type session struct {
	cfg       Config
	out       *printer
	plan      *compile.Plan
	coll      *ebpf.Collection
	links     *attach.Set
	resolver  *resolve.Resolver
	held      *attach.Held
	reader    *ringbuf.Reader
	pid       int
	events    int
	exited    bool
	done      chan struct{}
	once      sync.Once
	start     time.Time
	childExit int
}

func (s *session) run(ctx context.Context) error {
	cfg := s.cfg
	s.pid = cfg.PID
	if cfg.PID != 0 && cfg.Command != nil {
		return fmt.Errorf("-p and -c cannot be used together")
	}
	if cfg.PID != 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", cfg.PID)); err != nil {
			return fmt.Errorf("process %d does not exist", cfg.PID)
		}
	}
	if len(cfg.Command) > 0 {
		h, err := attach.StartHeld(cfg.Command, os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			return fmt.Errorf("start %q: %w", cfg.Command[0], err)
		}
		s.held = h
		s.pid = h.Pid
	}
	s.resolver = resolve.New(resolve.Options{PID: s.pid, AtExec: s.held != nil,
		ExactEntry: cfg.ExactEntry, ReadRegs: programRegs(cfg.Program), ProbeInline: cfg.ProbeInline})
	multi := attach.UsesUprobeMulti(attach.Options{ForcePerfEvent: cfg.ForcePerfEvent})
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	trig, err := triggerSite()
	if err != nil {
		return &Error{fmt.Errorf("find uscope's own trigger function: %w", err)}
	}
	opts := compile.Options{
		Resolver:         resolverAdapter{s.resolver},
		StrSize:          cfg.StrSize,
		MapSize:          cfg.MapSize,
		StartNanos:       uint64(ts.Nano()),
		Multi:            multi,
		TriggerArgOffset: triggerArgOffset,
		TraceUserStack:   cfg.Trace.UserStack,
	}
	if s.held != nil {
		opts.CPID = s.held.Pid
	}
	plan, err := compile.Compile(cfg.Program, opts)
	if err != nil {
		return err
	}
	s.plan = plan
	if cfg.Debug != nil {
		fmt.Fprintf(cfg.Debug, "%s\n", lang.Format(cfg.Program))
		fmt.Fprint(cfg.Debug, plan.Listing())
	}
	if err := s.load(); err != nil {
		return err
	}
	rd, err := ringbuf.NewReader(s.coll.Maps[compile.MapEvents])
	if err != nil {
		return &Error{fmt.Errorf("open ring buffer: %w", err)}
	}
	s.reader = rd
	s.links = attach.NewSet()
	aopts := attach.Options{PID: s.pid, ForcePerfEvent: cfg.ForcePerfEvent}
	// Specials first, so that BEGIN prints before any event.
	for _, p := range plan.Programs {
		if p.Special == nil {
			continue
		}
		o := aopts
		o.PID = os.Getpid()
		if err := s.links.Attach(s.coll.Programs[p.Name], []attach.Site{trig}, o); err != nil {
			return &Error{fmt.Errorf("attach %s: %w", p.Kind, err)}
		}
	}
	s.fire(lang.KindBegin)
	cookies := siteCookies(plan)
	for _, p := range plan.Programs {
		if p.Special != nil {
			continue
		}
		sites := make([]attach.Site, len(p.Sites))
		for i, si := range p.Sites {
			st := plan.Sites[si]
			sites[i] = attach.Site{Path: st.AttachPath, Offset: st.Offset, RefCtrOffset: st.RefCtrOffset, Cookie: cookies[si]}
		}
		o := aopts
		o.Return = p.Return
		// A wildcard leaves out the functions the kernel cannot probe;
		// a single site is an error.
		o.SkipRefused = len(sites) > 1
		if err := s.links.Attach(s.coll.Programs[p.Name], sites, o); err != nil {
			return &Error{err}
		}
	}
	s.warnRefused()
	s.start = time.Now()
	if cfg.Ready != nil {
		cfg.Ready()
	}
	if cfg.Attached != nil {
		cfg.Attached(s.links.Probes())
	} else if cfg.JSON {
		s.out.w.AttachedProbes(s.links.Probes())
	} else if !plan.Trace && hasProbes(plan) {
		fmt.Fprintf(os.Stderr, "Attached %d probe%s\n", s.links.Probes(), plural(s.links.Probes()))
	}
	if plan.Trace {
		s.out.traceHeader(cfg.Trace)
	}
	if s.plan.HasStacks && s.pid != 0 {
		// Know the traced process's objects before it can exit; the drain
		// loop refreshes this as it maps more.
		s.resolver.RememberMaps(s.pid)
	}
	if s.held != nil {
		if err := s.held.Release(); err != nil {
			return &Error{fmt.Errorf("release %q: %w", cfg.Command[0], err)}
		}
	}
	return s.loop(ctx)
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
	coll, err := ebpf.NewCollectionWithOptions(s.plan.Spec, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{LogSizeStart: 1 << 20},
	})
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
			return &Error{fmt.Errorf("load BPF programs: %w (run as root, or grant CAP_BPF and CAP_PERFMON)", err)}
		}
		return &Error{fmt.Errorf("load BPF programs: %w", err)}
	}
	s.coll = coll
	return nil
}

var (
	progNameRE = regexp.MustCompile(`program (\w+)`)
	insnLineRE = regexp.MustCompile(`^(\d+): \(`)
)

// verifierSource finds the source position of the instruction the verifier
// stopped at: the last numbered instruction in its log.
func (s *session) verifierSource(err error, ve *ebpf.VerifierError) (lang.Pos, bool) {
	m := progNameRE.FindStringSubmatch(err.Error())
	if m == nil {
		return lang.Pos{}, false
	}
	for i := len(ve.Log) - 1; i >= 0; i-- {
		if im := insnLineRE.FindStringSubmatch(ve.Log[i]); im != nil {
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

// loop drains the ring buffer on a short timer until the session ends.
func (s *session) loop(ctx context.Context) error {
	s.done = make(chan struct{})
	var timeout <-chan time.Time
	if s.cfg.Duration > 0 {
		t := time.NewTimer(s.cfg.Duration)
		defer t.Stop()
		timeout = t.C
	}
	var procExit <-chan struct{}
	if s.held != nil {
		ch := make(chan struct{})
		go func() {
			code, _ := s.held.Wait()
			s.childExit = code
			close(ch)
		}()
		procExit = ch
	} else if s.pid != 0 {
		procExit = attach.WaitExit(s.pid)
	}
	var intervals []*time.Ticker
	var tick = make(chan *compile.Special, 16)
	for _, sp := range s.plan.Specials {
		if sp.Kind != lang.KindInterval {
			continue
		}
		t := time.NewTicker(time.Duration(sp.IntervalNanos))
		intervals = append(intervals, t)
		go func(sp *compile.Special, t *time.Ticker) {
			for {
				select {
				case <-t.C:
					select {
					case tick <- sp:
					case <-s.done:
						return
					}
				case <-s.done:
					return
				}
			}
		}(sp, t)
	}
	defer func() {
		for _, t := range intervals {
			t.Stop()
		}
		s.once.Do(func() { close(s.done) })
	}()
	for {
		// Wait up to one period: records are written without waking the
		// reader, except exit()'s, which ends the wait at once.
		if err := s.drainFor(drainPeriod); err != nil {
			return err
		}
		if s.exited {
			break
		}
		if s.plan.HasStacks && s.pid != 0 {
			// Stacks are named when the maps are printed, maybe after
			// the process has exited: keep its objects known.
			s.resolver.RememberMaps(s.pid)
		}
		select {
		case <-ctx.Done():
			return s.finish()
		case <-timeout:
			return s.finish()
		case <-procExit:
			return s.finish()
		case sp := <-tick:
			trigger(sp.ID)
		default:
		}
	}
	return s.finish()
}

// drainPeriod is how often the ring buffer is read: records are written
// without waking the reader, so this bounds the output latency.
const drainPeriod = 50 * time.Millisecond

// drain reads every record in the ring buffer now.
func (s *session) drain() error { return s.drainFor(0) }

// drainFor reads records for up to d, or until exit() ends the session.
func (s *session) drainFor(d time.Duration) error {
	defer s.out.flush()
	s.reader.SetDeadline(time.Now().Add(d))
	var rec ringbuf.Record
	for !s.exited {
		err := s.reader.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ring buffer: %w", err)
		}
		if err := s.handle(rec.RawSample); err != nil {
			return err
		}
	}
	return nil
}

// finish runs END, prints what is left, and reports losses.
func (s *session) finish() error {
	s.fire(lang.KindEnd)
	if err := s.drain(); err != nil {
		return err
	}
	// Detach before printing maps, so that they no longer change.
	if s.links != nil {
		s.links.Close()
	}
	s.printAllMaps()
	s.reportLosses()
	return nil
}

// fire runs every special of a kind (BEGIN or END).
func (s *session) fire(kind string) {
	for _, sp := range s.plan.Specials {
		if sp.Kind == kind {
			trigger(sp.ID)
		}
	}
}

func (s *session) close() error {
	var errs []error
	if s.links != nil {
		errs = append(errs, s.links.Close())
	}
	if s.reader != nil {
		s.reader.Close()
	}
	if s.coll != nil {
		s.coll.Close()
	}
	if s.resolver != nil {
		s.resolver.Close()
	}
	if s.held != nil {
		// A command that was never released must not linger.
		if !s.released() {
			s.held.Kill()
		}
	}
	return errors.Join(errs...)
}

func (s *session) released() bool { return s.links != nil && s.start != (time.Time{}) }

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
