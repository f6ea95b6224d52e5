package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Notifier tells when a traced process has just mapped a new object, for
// probes whose object did not exist when tracing started (issue 19: a
// libstapsdt provider's temporary .so, a memfd of package stapsdt). It is
// a uprobe on the functions processes call right after mapping code — the
// dynamic linker's debugger hook _dl_debug_state (r_brk, the breakpoint
// gdb uses to see dlopen), the GDB JIT interface's
// __jit_debug_register_code, package stapsdt's notification function —
// whose program, in a traced process only (the tree map, or the link's pid
// filter), sends the process's tgid to a ring buffer and stops the process
// with SIGSTOP, so that nothing it does next is missed while the tracer
// looks at its mappings. The tracer resumes it with [Resume].
//
// With a tree, a raw tracepoint on sched_process_exec does the same for a
// process of the tree that execs (kind [NotifyExec]): the new program's
// objects get their hooks with [Notifier.Add] before it runs.
type Notifier struct {
	rb    *ebpf.Map
	prog  *ebpf.Program
	exec  *ebpf.Program
	execL link.Link
	set   *Set
	rd    *ringbuf.Reader
	opts  Options
	sites int
	once  sync.Once
}

// Kinds of notification.
const (
	NotifyHook = 0 // a hook function was called
	NotifyExec = 1 // the process execed another program
)

// NewNotifier attaches the notification program to sites (entries of the
// hook functions). tree, when not nil, is the traced process tree (a hash
// map of u32 tgids, as [Tree] keeps); else opts.PID filters. Close
// detaches it.
func NewNotifier(sites []Site, tree *ebpf.Map, opts Options) (*Notifier, error) {
	if len(sites) == 0 {
		return nil, errors.New("no notification function to hook (no dynamic linker, no stapsdt)")
	}
	rb, err := ebpf.NewMap(&ebpf.MapSpec{Name: "uscope_notify", Type: ebpf.RingBuf, MaxEntries: uint32(os.Getpagesize())})
	if err != nil {
		return nil, fmt.Errorf("create the notification ring buffer: %w", err)
	}
	n := &Notifier{rb: rb}
	n.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "uscope_notify", Type: ebpf.Kprobe, License: "GPL",
		AttachType:   ProgramAttachType(opts),
		Instructions: notifyProgram(rb, tree, NotifyHook),
	})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("load the notification program: %w", err)
	}
	if tree != nil {
		n.exec, err = ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "uscope_notify", Type: ebpf.RawTracepoint, License: "GPL",
			Instructions: notifyProgram(rb, tree, NotifyExec),
		})
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("load the exec notification program: %w", err)
		}
		n.execL, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exec", Program: n.exec})
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("attach to the sched_process_exec tracepoint: %w", err)
		}
	}
	n.rd, err = ringbuf.NewReader(rb)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("open the notification ring buffer: %w", err)
	}
	n.set = NewSet()
	n.opts = opts
	n.opts.Return = false
	n.opts.SkipRefused = true
	if err := n.Add(sites); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Add hooks more sites (the objects of a program a process of the tree
// has just execed).
func (n *Notifier) Add(sites []Site) error {
	if len(sites) == 0 {
		return nil
	}
	if err := n.set.Attach(n.prog, sites, n.opts); err != nil {
		return err
	}
	n.sites = n.set.Probes()
	return nil
}

// notifyProgram: if the current process is traced, stop it and tell the
// tracer its tgid and kind. The record is reserved first (no room: no
// stop, since nobody would resume the process) and submitted after the
// SIGSTOP is queued, so that the tracer's SIGCONT always comes after it.
func notifyProgram(rb, tree *ebpf.Map, kind int32) asm.Instructions {
	insns := asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.StoreMem(asm.RFP, -8, asm.R0, asm.Word),
	}
	if tree != nil {
		insns = append(insns,
			mapPtr(asm.R1, tree),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
		)
	}
	return append(insns,
		mapPtr(asm.R1, rb),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R6, asm.R0),
		asm.StoreMem(asm.R6, 0, asm.R7, asm.Word),
		asm.StoreImm(asm.R6, 4, int64(kind), asm.Word),
		asm.Mov.Imm(asm.R1, int32(unix.SIGSTOP)),
		asm.FnSendSignal.Call(),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// Drain returns the processes of the notifications not read yet, without
// waiting: a tracer that stops waiting resumes them.
func (n *Notifier) Drain() []int {
	var out []int
	for {
		n.rd.SetDeadline(time.Now())
		rec, err := n.rd.Read()
		if errors.Is(err, ringbuf.ErrFlushed) {
			continue // a Wake's mark: records may follow
		}
		if err != nil {
			return out
		}
		if len(rec.RawSample) >= 4 {
			out = append(out, int(binary.NativeEndian.Uint32(rec.RawSample)))
		}
	}
}

// Sites is the number of hook sites attached.
func (n *Notifier) Sites() int { return n.sites }

// Wait returns the tgid of the next process that called a hook or execed
// (it is stopped, or about to stop) and the kind, or 0 after d without
// one, or after [Notifier.Wake].
func (n *Notifier) Wait(d time.Duration) (pid, kind int, err error) {
	n.rd.SetDeadline(time.Now().Add(d))
	rec, err := n.rd.Read()
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrFlushed) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read the notification ring buffer: %w", err)
	}
	if len(rec.RawSample) < 8 {
		return 0, 0, nil
	}
	return int(binary.NativeEndian.Uint32(rec.RawSample)), int(binary.NativeEndian.Uint32(rec.RawSample[4:])), nil
}

// Wake makes a blocked Wait return; any goroutine may call it.
func (n *Notifier) Wake() {
	if n.rd != nil {
		_ = n.rd.Flush()
	}
}

// Resume lets a process stopped by the notification program run again. A
// SIGCONT to a process that is not stopped does nothing.
func Resume(pid int) {
	if pid > 0 {
		_ = unix.Kill(pid, unix.SIGCONT)
	}
}

// Close detaches the hooks and frees the program and ring buffer. Wake
// may still be called (it then does nothing).
func (n *Notifier) Close() error {
	var errs []error
	n.once.Do(func() {
		if n.execL != nil {
			errs = append(errs, n.execL.Close())
		}
		if n.exec != nil {
			errs = append(errs, n.exec.Close())
		}
		if n.set != nil {
			errs = append(errs, n.set.Close())
		}
		if n.rd != nil {
			errs = append(errs, n.rd.Close())
		}
		if n.prog != nil {
			errs = append(errs, n.prog.Close())
		}
		if n.rb != nil {
			errs = append(errs, n.rb.Close())
		}
	})
	return errors.Join(errs...)
}
