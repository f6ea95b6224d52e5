package session

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
)

// BEGIN, END and interval probes run without a uprobe where the kernel
// allows it: their programs are loaded as raw tracepoint programs, which
// BPF_PROG_TEST_RUN runs in uscope's own thread, synchronously, with a
// context whose bytes at the trigger's argument offset hold the special's
// id (the generated code reads it there, as from the trigger's registers;
// a raw tracepoint's context is 12 u64 arguments, and that offset is
// inside them). Nothing is attached, so nothing waits for the RCU grace
// period a uprobe's detach costs (~20 ms), and uscope's own executable is
// never read to find the trigger function. When the kernel refuses a
// program of that type (a helper only kprobes have, a context read past
// the arguments), the session loads them as before and attaches them to
// the trigger.

// rawCtxSize is the size of a raw tracepoint's context (MAX_BPF_FUNC_ARGS
// u64 arguments).
const rawCtxSize = 12 * 8

// rawSpecialsPossible reports whether the specials of plan may run as raw
// tracepoint programs.
func rawSpecialsPossible(plan *compile.Plan) bool {
	if triggerArgOffset < 0 || int(triggerArgOffset)+8 > rawCtxSize {
		return false
	}
	n := 0
	for _, p := range plan.Programs {
		if p.Special != nil {
			if p.Special.Kind == lang.KindProfile || plan.Spec.Programs[p.Name] == nil {
				return false
			}
			n++
		}
	}
	return n > 0
}

// setSpecialType sets the program type of the specials of plan: raw
// tracepoints to be test-run, or kprobes with attachType for the trigger.
func setSpecialType(plan *compile.Plan, raw bool, attachType ebpf.AttachType) {
	for _, p := range plan.Programs {
		if p.Special == nil {
			continue
		}
		spec := plan.Spec.Programs[p.Name]
		if raw {
			spec.Type, spec.AttachType = ebpf.RawTracepoint, ebpf.AttachNone
		} else {
			spec.Type, spec.AttachType = ebpf.Kprobe, attachType
		}
	}
}

// loadSpecials loads the plan with its specials as raw tracepoint programs
// when possible (s.be.runSpecial set), else, or when the kernel refuses
// that, as kprobes for the trigger. It reports which.
func (s *session) loadSpecials(aopts attach.Options) (raw bool, err error) {
	if s.be.runSpecial == nil || !rawSpecialsPossible(s.plan) {
		return false, s.load()
	}
	setSpecialType(s.plan, true, 0)
	if err := s.load(); err == nil {
		return true, nil
	}
	setSpecialType(s.plan, false, s.be.attachType(aopts))
	return false, s.load()
}

// trigger runs the BEGIN, END or interval probes of id: through the raw
// test run when they were loaded so, else by calling the trigger function
// their uprobes sit on.
func (s *session) trigger(id uint64) {
	if !s.rawSpecials {
		s.be.trigger(id)
		return
	}
	var ctx [rawCtxSize]byte
	binary.NativeEndian.PutUint64(ctx[triggerArgOffset:], id)
	for _, p := range s.plan.Programs {
		if p.Special == nil || p.Special.ID != id {
			continue
		}
		if err := s.be.runSpecial(s.coll.Program(p.Name), ctx[:]); err != nil {
			s.out.warn(fmt.Sprintf("%s: %v", p.Special.Name, err))
		}
	}
}

// testRun runs prog once with context ctx (BPF_PROG_TEST_RUN). The
// syscall is made here rather than by ebpf.Program.Run, which first
// probes the kernel with a program of its own.
func testRun(prog *ebpf.Program, ctx []byte) error {
	if prog == nil {
		return fmt.Errorf("the program is not loaded")
	}
	attr := struct {
		progFD, retval           uint32
		dataSizeIn, dataSizeOut  uint32
		dataIn, dataOut          uint64
		repeat, duration         uint32
		ctxSizeIn, ctxSizeOut    uint32
		ctxIn, ctxOut            uint64
		flags, cpu, batchSize, _ uint32
	}{
		progFD:    uint32(prog.FD()),
		ctxSizeIn: uint32(len(ctx)),
		ctxIn:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(ctx)))),
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_TEST_RUN, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(ctx)
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("run the program: %w", errno)
	}
	return nil
}

// needsUprobes reports whether prog has a probe attached with uprobes
// (everything but BEGIN, END, interval and profile).
func needsUprobes(prog *lang.Program) bool {
	if prog == nil {
		return true
	}
	for _, pr := range prog.Probes {
		for _, ap := range pr.Points {
			switch ap.Kind {
			case lang.KindBegin, lang.KindEnd, lang.KindInterval, lang.KindProfile, lang.KindSelf:
			default:
				return true
			}
		}
	}
	return false
}

// probes is the number of probes attached, the specials that run as raw
// tracepoints included (each counts as one, as when it sits on the
// trigger).
func (s *session) probes() int {
	// A probe is counted once however many sites it has, as bpftrace
	// counts them: a USDT probe's locations, the return instructions of a
	// function uretprobed there, are one probe.
	n := s.links.Probes()
	for _, p := range s.plan.Programs {
		names := make(map[string]bool, len(p.Sites))
		for _, si := range p.Sites {
			names[s.plan.Sites[si].Probe] = true
		}
		n -= len(p.Sites) - len(names)
	}
	if s.rawSpecials {
		for _, p := range s.plan.Programs {
			if p.Special != nil {
				n++
			}
		}
	}
	return n
}
