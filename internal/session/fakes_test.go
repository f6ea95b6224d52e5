package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
)

// The fakes below stand for the kernel and the -c child, so that the
// session's lifecycle runs without root. They share one event log, in which
// the tests check the order of what happened.

type eventLog struct {
	mu sync.Mutex
	ev []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	l.ev = append(l.ev, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *eventLog) events() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ev...)
}

// index returns the position of the first event starting with prefix, or -1.
func (l *eventLog) index(prefix string) int {
	for i, e := range l.events() {
		if strings.HasPrefix(e, prefix) {
			return i
		}
	}
	return -1
}

// lastIndex returns the position of the last event starting with prefix, or -1.
func (l *eventLog) lastIndex(prefix string) int {
	ev := l.events()
	for i := len(ev) - 1; i >= 0; i-- {
		if strings.HasPrefix(ev[i], prefix) {
			return i
		}
	}
	return -1
}

// fakeRing is a ring buffer with the semantics of *ringbuf.Reader.
type fakeRing struct {
	log      *eventLog
	mu       sync.Mutex
	queue    [][]byte
	flushes  int
	closed   bool
	deadline time.Time
	notify   chan struct{}
	readErr  error // returned by ReadInto once the queue is empty
}

func newFakeRing(log *eventLog) *fakeRing {
	return &fakeRing{log: log, notify: make(chan struct{}, 1)}
}

func (r *fakeRing) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *fakeRing) push(rec []byte) {
	r.mu.Lock()
	r.queue = append(r.queue, rec)
	r.mu.Unlock()
	r.wake()
}

func (r *fakeRing) ReadInto(rec *ringbuf.Record) error {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return os.ErrClosed
		}
		if len(r.queue) > 0 {
			rec.RawSample = append(rec.RawSample[:0], r.queue[0]...)
			r.queue = r.queue[1:]
			r.mu.Unlock()
			return nil
		}
		if r.readErr != nil {
			err := r.readErr
			r.mu.Unlock()
			return err
		}
		if r.flushes > 0 {
			r.flushes--
			r.mu.Unlock()
			return ringbuf.ErrFlushed
		}
		d := r.deadline
		r.mu.Unlock()
		var timeout <-chan time.Time
		if !d.IsZero() {
			wait := time.Until(d)
			if wait <= 0 {
				return os.ErrDeadlineExceeded
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-r.notify:
		case <-timeout:
			return os.ErrDeadlineExceeded
		}
	}
}

func (r *fakeRing) SetDeadline(t time.Time) {
	r.mu.Lock()
	r.deadline = t
	r.mu.Unlock()
}

func (r *fakeRing) Flush() error {
	r.mu.Lock()
	r.flushes = 1
	r.mu.Unlock()
	r.wake()
	return nil
}

func (r *fakeRing) AvailableBytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.queue {
		n += len(q)
	}
	return n
}

func (r *fakeRing) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.log.add("reader closed")
	r.wake()
	return nil
}

// fakeMap is an array or hash map of byte keys and values; per-CPU maps
// hold one value per CPU.
type fakeMap struct {
	mu     sync.Mutex
	keys   [][]byte
	values map[string][][]byte
	perCPU bool
	// lookupAndDeletes counts the keys read and deleted at once.
	lookupAndDeletes int
	// afterRead, when set, runs once after the session first reads a
	// key's value: a probe that fires just then.
	afterRead func(key []byte)
}

// readDone runs afterRead once.
func (m *fakeMap) readDone(key []byte) {
	m.mu.Lock()
	f := m.afterRead
	m.afterRead = nil
	m.mu.Unlock()
	if f != nil {
		f(key)
	}
}

func newFakeMap(perCPU bool) *fakeMap { return &fakeMap{values: map[string][][]byte{}, perCPU: perCPU} }

func keyBytes(k any) []byte {
	switch k := k.(type) {
	case []byte:
		return k
	case uint32:
		return binary.LittleEndian.AppendUint32(nil, k)
	}
	panic(fmt.Sprintf("fake map: key of type %T", k))
}

func (m *fakeMap) set(key []byte, vals ...[]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.values[string(key)]; !ok {
		m.keys = append(m.keys, key)
	}
	m.values[string(key)] = vals
}

func (m *fakeMap) Lookup(key, valueOut any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[string(keyBytes(key))]
	if !ok {
		return ebpf.ErrKeyNotExist
	}
	switch out := valueOut.(type) {
	case *uint64:
		*out = binary.LittleEndian.Uint64(v[0])
	case *[]byte:
		*out = append([]byte(nil), v[0]...)
	default:
		return fmt.Errorf("fake map: value of type %T", valueOut)
	}
	return nil
}

func (m *fakeMap) LookupBytes(key any) ([]byte, error) {
	var b []byte
	if err := m.Lookup(key, &b); errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return b, nil
}

func (m *fakeMap) Put(key, value any) error {
	switch v := value.(type) {
	case []byte:
		m.set(append([]byte(nil), keyBytes(key)...), v)
	case [][]byte:
		m.set(append([]byte(nil), keyBytes(key)...), v...)
	default:
		return fmt.Errorf("fake map: put %T", value)
	}
	return nil
}

func (m *fakeMap) Delete(key any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := string(keyBytes(key))
	delete(m.values, k)
	for i, kk := range m.keys {
		if string(kk) == k {
			m.keys = append(m.keys[:i], m.keys[i+1:]...)
			break
		}
	}
	return nil
}

func (m *fakeMap) NextKey(key, nextKeyOut any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	if key != nil && !reflect.ValueOf(key).IsNil() {
		i = len(m.keys)
		for j, k := range m.keys {
			if bytes.Equal(k, keyBytes(key)) {
				i = j + 1
			}
		}
	}
	if i >= len(m.keys) {
		return ebpf.ErrKeyNotExist
	}
	copy(nextKeyOut.([]byte), m.keys[i])
	return nil
}

func (m *fakeMap) Iterate() mapIterator {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &fakeIter{m: m, keys: append([][]byte(nil), m.keys...)}
}

type fakeIter struct {
	m    *fakeMap
	keys [][]byte
}

func (it *fakeIter) Next(keyOut, valueOut any) bool {
	if len(it.keys) == 0 {
		return false
	}
	k := it.keys[0]
	it.keys = it.keys[1:]
	*keyOut.(*[]byte) = append([]byte(nil), k...)
	it.m.mu.Lock()
	v := it.m.values[string(k)]
	it.m.mu.Unlock()
	copyValue(v, valueOut)
	it.m.readDone(k)
	return true
}

// copyValue copies a fake map's value into a map or iterator's valueOut.
func copyValue(v [][]byte, valueOut any) {
	switch out := valueOut.(type) {
	case *[]byte:
		*out = append([]byte(nil), v[0]...)
	case *[][]byte:
		*out = v
	default:
		panic(fmt.Sprintf("fake map: value of type %T", valueOut))
	}
}

// LookupAndDelete reads and deletes a key, as hash maps do.
func (m *fakeMap) LookupAndDelete(key, valueOut any) error {
	m.mu.Lock()
	v, ok := m.values[string(keyBytes(key))]
	m.mu.Unlock()
	if !ok {
		return ebpf.ErrKeyNotExist
	}
	copyValue(v, valueOut)
	m.lookupAndDeletes++
	if err := m.Delete(key); err != nil {
		return err
	}
	m.readDone(keyBytes(key))
	return nil
}

// fakeKernel is a loaded collection: maps, a ring, and programs that run
// when the trigger calls them or when the test's script says so.
type fakeKernel struct {
	log     *eventLog
	plan    *compile.Plan
	ring    *fakeRing
	maps    map[string]*fakeMap
	ringErr error
}

func (k *fakeKernel) Program(name string) *ebpf.Program { return nil }

func (k *fakeKernel) Map(name string) bpfMap {
	if m, ok := k.maps[name]; ok {
		return m
	}
	return nil
}

func (k *fakeKernel) Records() (records, error) {
	if k.ringErr != nil {
		return nil, k.ringErr
	}
	return k.ring, nil
}

func (k *fakeKernel) Close() { k.log.add("kernel closed") }

// fakeLinks records attachments; failAt makes the n-th Attach fail (1-based).
type fakeLinks struct {
	log      *eventLog
	mu       sync.Mutex
	attached int
	probes   int
	calls    int
	failAt   int
	closed   int
}

func (l *fakeLinks) Attach(prog *ebpf.Program, sites []attach.Site, opts attach.Options) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls == l.failAt {
		l.log.add("attach failed")
		return &attach.Error{Msg: "fake attach failure"}
	}
	l.attached++
	l.probes += len(sites)
	l.log.add("attach %d sites", len(sites))
	return nil
}

func (l *fakeLinks) Probes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.probes
}

func (l *fakeLinks) Refused() []attach.Refused { return nil }

// CloseOnExit logs a hand-off, then detaches as Close does (the log
// line that says detach follows, so that the order checks of Close hold).
func (l *fakeLinks) CloseOnExit() error {
	l.mu.Lock()
	if l.attached > 0 {
		l.log.add("hand off %d links", l.attached)
	}
	l.mu.Unlock()
	return l.Close()
}

func (l *fakeLinks) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.attached > 0 {
		l.log.add("detach %d links", l.attached)
	}
	l.attached, l.probes = 0, 0
	l.closed++
	return nil
}

// fakeChild is the held -c command.
type fakeChild struct {
	log        *eventLog
	releaseErr error
	onRelease  func() // the program's run, once released
	exit       chan struct{}
	once       sync.Once
	mu         sync.Mutex
	killed     bool
	released   bool
	waits      int
}

func newFakeChild(log *eventLog) *fakeChild { return &fakeChild{log: log, exit: make(chan struct{})} }

func (c *fakeChild) PID() int { return os.Getpid() }

func (c *fakeChild) Release() error {
	c.log.add("release")
	if c.releaseErr != nil {
		return c.releaseErr
	}
	c.mu.Lock()
	c.released = true
	c.mu.Unlock()
	if c.onRelease != nil {
		go c.onRelease()
	}
	return nil
}

func (c *fakeChild) exitNow() { c.once.Do(func() { c.log.add("child exited"); close(c.exit) }) }

func (c *fakeChild) Kill() error {
	c.log.add("kill")
	c.mu.Lock()
	c.killed = true
	c.mu.Unlock()
	c.exitNow()
	return nil
}

func (c *fakeChild) Done() <-chan struct{} { return c.exit }

func (c *fakeChild) End() error { return nil }

// Stop kills a child that was never released; one that runs ends, as
// SIGTERM ends the real one.
func (c *fakeChild) Stop(time.Duration, *attach.Tree) {
	c.mu.Lock()
	released := c.released
	c.mu.Unlock()
	if !released {
		_ = c.Kill()
		_, _ = c.Wait() // reaped, as Held.Stop reaps it
		return
	}
	c.exitNow()
}

func (c *fakeChild) Wait() (int, error) {
	c.mu.Lock()
	c.waits++
	c.mu.Unlock()
	<-c.exit
	return 0, nil
}

// harness is one fake session: its backend, fakes and output.
type harness struct {
	t      *testing.T
	log    *eventLog
	kern   *fakeKernel
	links  *fakeLinks
	child  *fakeChild
	out    *loggedWriter
	exitCh chan struct{} // closed to end a -p process
	// onTrigger runs a special probe: the BPF program of BEGIN, END or an
	// interval, writing records to the ring.
	onTrigger map[string]func(h *harness)
	loadErr   error
	startErr  error
}

// loggedWriter collects the output and logs each write.
type loggedWriter struct {
	log *eventLog
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *loggedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log.add("output %q", p)
	return w.buf.Write(p)
}

func (w *loggedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func newHarness(t *testing.T) *harness {
	log := &eventLog{}
	h := &harness{t: t, log: log, links: &fakeLinks{log: log}, child: newFakeChild(log),
		out: &loggedWriter{log: log}, exitCh: make(chan struct{}), onTrigger: map[string]func(*harness){}}
	return h
}

func (h *harness) backend() backend {
	return backend{
		startHeld: func(argv []string, stdin io.Reader, stdout, stderr io.Writer) (child, error) {
			if h.startErr != nil {
				return nil, h.startErr
			}
			h.log.add("start %s", argv[0])
			return h.child, nil
		},
		load: func(plan *compile.Plan) (kernel, error) {
			if h.loadErr != nil {
				return nil, h.loadErr
			}
			h.log.add("load")
			k := &fakeKernel{log: h.log, plan: plan, ring: newFakeRing(h.log), maps: map[string]*fakeMap{}}
			for name, ms := range plan.Spec.Maps {
				k.maps[name] = newFakeMap(ms.Type == ebpf.PerCPUArray || ms.Type == ebpf.PerCPUHash)
			}
			h.kern = k
			return k, nil
		},
		newLinks: func() linker { return h.links },
		multi:    func(attach.Options) bool { return true },
		trigger: func(id uint64) {
			for _, sp := range h.kern.plan.Specials {
				if sp.ID == id {
					h.log.add("trigger %s", sp.Kind)
					if f := h.onTrigger[sp.Kind]; f != nil {
						f(h)
					}
				}
			}
		},
		waitExit: func(pid int) <-chan struct{} { return h.exitCh },
		resume:   func(pid int) { h.log.add("resume %d", pid) },
	}
}

// printf writes the record of the printf whose format is format, with
// integer arguments.
func (h *harness) printf(format string, args ...uint64) {
	h.t.Helper()
	for i, pd := range h.kern.plan.Printfs {
		if pd.Format != format {
			continue
		}
		rec := make([]byte, pd.Size)
		binary.LittleEndian.PutUint64(rec, compile.RecPrintf<<32|uint64(i))
		for j, a := range pd.Args {
			binary.LittleEndian.PutUint64(rec[a.Offset:], args[j])
		}
		h.kern.ring.push(rec)
		return
	}
	h.t.Errorf("no printf with format %q in the plan", format)
}

// printRecord is print(@m) of the plan's map i; clearRecord is clear(@m).
func printRecord(i int) []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, compile.RecPrint<<32|uint64(i)), 0)
}

func clearRecord(i int) []byte {
	return binary.LittleEndian.AppendUint64(nil, compile.RecClear<<32|uint64(i))
}

// exit writes the record of exit().
func (h *harness) exit() {
	rec := make([]byte, 8)
	binary.LittleEndian.PutUint64(rec, compile.RecExit<<32)
	h.kern.ring.push(rec)
}

// run runs program src with cfg in the fake session.
func (h *harness) run(ctx context.Context, src string, cfg Config) error {
	h.t.Helper()
	prog, err := lang.Parse("test.bt", src)
	if err != nil {
		h.t.Fatalf("parse %q: %v", src, err)
	}
	cfg.Program = prog
	cfg.Out = h.out
	if cfg.Attached == nil {
		cfg.Attached = func(n int) { h.log.add("attached %d", n) }
	}
	return runWith(ctx, cfg, h.backend())
}

// cleanedUp checks that everything the session opened was closed.
func (h *harness) cleanedUp() {
	h.t.Helper()
	if h.links.attached != 0 {
		h.t.Errorf("%d links still attached", h.links.attached)
	}
	if h.kern != nil && h.log.index("kernel closed") < 0 {
		h.t.Errorf("the BPF objects were not closed; events: %q", h.log.events())
	}
}

func mustParse(t testing.TB, src string) *lang.Program {
	t.Helper()
	prog, err := lang.Parse("test.bt", src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return prog
}
