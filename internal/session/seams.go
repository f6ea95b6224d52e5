package session

import (
	"io"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
)

// The session reaches the kernel and the -c child only through the small
// interfaces below, so that its lifecycle (start, the held child released,
// events, END, every exit path, errors halfway) is unit-tested without root
// with fakes (session_test.go), as cilium/ebpf tests its readers. A real
// session uses kernelBackend.

// kernel is the loaded BPF collection.
type kernel interface {
	// Program returns a loaded program, nil when absent.
	Program(name string) *ebpf.Program
	// Map returns a map, nil when absent.
	Map(name string) bpfMap
	// Records opens the reader of the events ring buffer.
	Records() (records, error)
	Close()
}

// bpfMap is the part of *ebpf.Map the session uses.
type bpfMap interface {
	Lookup(key, valueOut any) error
	LookupBytes(key any) ([]byte, error)
	Put(key, value any) error
	Delete(key any) error
	// LookupAndDelete reads a key and deletes it at once (hash maps).
	LookupAndDelete(key, valueOut any) error
	NextKey(key, nextKeyOut any) error
	Iterate() mapIterator
}

// mapIterator is *ebpf.MapIterator.
type mapIterator interface {
	Next(keyOut, valueOut any) bool
}

// records reads the events ring buffer: *ringbuf.Reader. ReadInto returns
// os.ErrDeadlineExceeded at the deadline and ringbuf.ErrFlushed once the
// records present when Flush was called are read; Flush may be called from
// any goroutine and wakes a blocked ReadInto.
type records interface {
	ReadInto(rec *ringbuf.Record) error
	SetDeadline(t time.Time)
	Flush() error
	// AvailableBytes is how much the buffer holds not yet read.
	AvailableBytes() int
	Close() error
}

// linker attaches programs to sites: *attach.Set.
type linker interface {
	Attach(prog *ebpf.Program, sites []attach.Site, opts attach.Options) error
	Probes() int
	Refused() []attach.Refused
	Close() error
	// CloseOnExit detaches in a child process (Config.DetachOnExit).
	CloseOnExit() error
}

// child is the -c command, held before its first instruction: *attach.Held.
type child interface {
	PID() int
	Release() error
	Kill() error
	// Wait waits for the exit and returns the exit code as a shell shows it.
	Wait() (int, error)
	// Done is closed once the command exited and was reaped.
	Done() <-chan struct{}
	// Stop ends a command still running (and its tree), or kills a held
	// one, and reaps it.
	Stop(grace time.Duration, tree *attach.Tree)
	// End is how the reaped command ended: nil for status 0, else an
	// *attach.CommandEnd.
	End() error
}

// backend creates the kernel objects and the child of a session.
type backend struct {
	startHeld func(argv []string, stdin io.Reader, stdout, stderr io.Writer) (child, error)
	load      func(plan *compile.Plan) (kernel, error)
	newLinks  func() linker
	multi     func(attach.Options) bool
	// trigger runs the BEGIN, END and interval probes of id.
	trigger func(id uint64)
	// runSpecial test-runs a special loaded as a raw tracepoint program
	// (specials.go); nil: specials always attach to the trigger.
	runSpecial func(prog *ebpf.Program, ctx []byte) error
	// attachType is the attach type programs for Set.Attach load with.
	attachType func(attach.Options) ebpf.AttachType
	// waitExit is closed when process pid exits (-p).
	waitExit func(pid int) <-chan struct{}
	// resume sends SIGCONT to pid, which --block's programs stop.
	resume func(pid int)
}

// kernelBackend is the real kernel.
var kernelBackend = backend{
	startHeld: func(argv []string, stdin io.Reader, stdout, stderr io.Writer) (child, error) {
		h, err := attach.StartHeld(argv, stdin, stdout, stderr)
		if err != nil {
			return nil, err
		}
		return heldChild{h}, nil
	},
	load: func(plan *compile.Plan) (kernel, error) {
		coll, err := ebpf.NewCollectionWithOptions(plan.Spec, ebpf.CollectionOptions{
			Programs: ebpf.ProgramOptions{LogSizeStart: 1 << 20},
		})
		if err != nil {
			return nil, err
		}
		return collKernel{coll}, nil
	},
	newLinks: func() linker { return attach.NewSet() },
	multi:    attach.UsesUprobeMulti,
	trigger:  trigger,
	// Specials run as raw tracepoints (specials.go).
	runSpecial: testRun,
	attachType: attach.ProgramAttachType,
	waitExit:   attach.WaitExit,
	resume:     func(pid int) { _ = unix.Kill(pid, unix.SIGCONT) },
}

type heldChild struct{ h *attach.Held }

func (c heldChild) PID() int              { return c.h.Pid }
func (c heldChild) Release() error        { return c.h.Release() }
func (c heldChild) Kill() error           { return c.h.Kill() }
func (c heldChild) Wait() (int, error)    { return c.h.Wait() }
func (c heldChild) Done() <-chan struct{} { return c.h.Done() }
func (c heldChild) End() error            { return c.h.End() }
func (c heldChild) Stop(grace time.Duration, tree *attach.Tree) {
	c.h.Stop(grace, tree)
}

type collKernel struct{ c *ebpf.Collection }

func (k collKernel) Program(name string) *ebpf.Program { return k.c.Programs[name] }

func (k collKernel) Map(name string) bpfMap {
	if m := k.c.Maps[name]; m != nil {
		return ebpfMap{m}
	}
	return nil
}

func (k collKernel) Records() (records, error) {
	m := k.c.Maps[compile.MapEvents]
	if m == nil {
		return nil, os.ErrNotExist
	}
	return ringbuf.NewReader(m)
}

func (k collKernel) Close() { k.c.Close() }

// treeMap is the tree map of a real collection; fakes have none.
func treeMap(k kernel) *ebpf.Map {
	if c, ok := k.(collKernel); ok {
		return c.c.Maps[compile.MapTree]
	}
	return nil
}

type ebpfMap struct{ *ebpf.Map }

func (m ebpfMap) Lookup(key, valueOut any) error      { return m.Map.Lookup(key, valueOut) }
func (m ebpfMap) LookupBytes(key any) ([]byte, error) { return m.Map.LookupBytes(key) }
func (m ebpfMap) Put(key, value any) error            { return m.Map.Put(key, value) }
func (m ebpfMap) Delete(key any) error                { return m.Map.Delete(key) }
func (m ebpfMap) NextKey(key, nextKeyOut any) error   { return m.Map.NextKey(key, nextKeyOut) }
func (m ebpfMap) LookupAndDelete(key, valueOut any) error {
	return m.Map.LookupAndDelete(key, valueOut)
}
func (m ebpfMap) Iterate() mapIterator { return m.Map.Iterate() }
