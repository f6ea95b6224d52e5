package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
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
type Notifier struct {
	rb    *ebpf.Map
	prog  *ebpf.Program
	set   *Set
	rd    *ringbuf.Reader
	sites int
}

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
		Instructions: notifyProgram(rb, tree),
	})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("load the notification program: %w", err)
	}
	n.rd, err = ringbuf.NewReader(rb)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("open the notification ring buffer: %w", err)
	}
	n.set = NewSet()
	o := opts
	o.Return = false
	o.SkipRefused = true
	if err := n.set.Attach(n.prog, sites, o); err != nil {
		n.Close()
		return nil, err
	}
	n.sites = n.set.Probes()
	return n, nil
}

// notifyProgram: if the current process is traced, output its tgid and
// stop it.
func notifyProgram(rb, tree *ebpf.Map) asm.Instructions {
	insns := asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word),
	}
	if tree != nil {
		insns = append(insns,
			mapPtr(asm.R1, tree),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
		)
	}
	return append(insns,
		mapPtr(asm.R1, rb),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.Mov.Imm(asm.R3, 4),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		// Stop only when the tracer was told: a full ring buffer must not
		// leave the process stopped with nobody to resume it.
		asm.JNE.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, int32(unix.SIGSTOP)),
		asm.FnSendSignal.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// Sites is the number of hook sites attached.
func (n *Notifier) Sites() int { return n.sites }

// Wait returns the tgid of the next process that called a hook (it is
// stopped, or about to stop), or 0 after d without one, or after [Notifier.Wake].
func (n *Notifier) Wait(d time.Duration) (int, error) {
	n.rd.SetDeadline(time.Now().Add(d))
	rec, err := n.rd.Read()
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrFlushed) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the notification ring buffer: %w", err)
	}
	if len(rec.RawSample) < 4 {
		return 0, nil
	}
	return int(binary.NativeEndian.Uint32(rec.RawSample)), nil
}

// Wake makes a blocked Wait return; any goroutine may call it.
func (n *Notifier) Wake() { _ = n.rd.Flush() }

// Resume lets a process stopped by the notification program run again. A
// SIGCONT to a process that is not stopped does nothing.
func Resume(pid int) {
	if pid > 0 {
		_ = unix.Kill(pid, unix.SIGCONT)
	}
}

// Close detaches the hooks and frees the program and ring buffer.
func (n *Notifier) Close() error {
	var errs []error
	if n.set != nil {
		errs = append(errs, n.set.Close())
		n.set = nil
	}
	if n.rd != nil {
		errs = append(errs, n.rd.Close())
		n.rd = nil
	}
	if n.prog != nil {
		errs = append(errs, n.prog.Close())
		n.prog = nil
	}
	if n.rb != nil {
		errs = append(errs, n.rb.Close())
		n.rb = nil
	}
	return errors.Join(errs...)
}
