package session

import (
	"fmt"
	"strconv"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/unwind"
)

// stackValue is a decoded user stack value (layout: compile.StackIDOffset).
type stackValue struct {
	id     int64  // bpf_get_stackid's result; negative: the error
	pid    int    // the process the stack belongs to
	caller uint64 // return address at [sp] of a frameless site, or 0
}

// stackRef decodes the 16-byte user stack value the program stored.
func stackRef(b []byte) stackValue {
	return stackValue{
		id:     int64(int32(le.Uint32(b[compile.StackIDOffset:]))),
		pid:    int(le.Uint32(b[compile.StackPIDOffset:])),
		caller: le.Uint64(b[compile.StackCallerOffset:]),
	}
}

// frames reads a user stack from the stack map and symbolizes it; a
// negative id is the error bpf_get_stackid returned. At a frameless site
// the frame-pointer walk misses the immediate caller, whose return address
// the program read from [sp]: it becomes the second frame, unless the
// kernel put it there.
func (s *session) frames(ref stackValue) ([]output.Frame, int) {
	if ref.id < 0 {
		return nil, int(ref.id)
	}
	var raw []byte
	if ref.id == compile.CFIStackID {
		// The CFI walk's frames, under their hash; the walk found the
		// caller of a frameless site itself.
		m := s.coll.Map(compile.MapCFIStacks)
		if m == nil {
			return nil, 0
		}
		raw, _ = m.LookupBytes(ref.caller)
		ref.caller = 0
	} else if m := s.coll.Map(compile.MapStacks); m != nil {
		raw, _ = m.LookupBytes(uint32(ref.id))
	}
	if raw == nil {
		return nil, 0
	}
	pid := ref.pid
	if pid == 0 {
		pid = s.pid
	}
	var pcs []uint64
	for i := 0; i+8 <= len(raw); i += 8 {
		pc := le.Uint64(raw[i:])
		if pc == 0 {
			break
		}
		pcs = append(pcs, pc)
	}
	// Since Linux 6.12 the kernel itself adds [sp] at a uprobe on push
	// %rbp or endbr64 (is_uprobe_at_func_entry): then it is already the
	// second frame. (The frame-pointer walk's second frame equals [sp]
	// only then: the two are return addresses of different calls.)
	if ref.caller != 0 && len(pcs) > 0 && (len(pcs) == 1 || pcs[1] != ref.caller) {
		pcs = append(pcs[:1], append([]uint64{ref.caller}, pcs[1:]...)...)
	}
	frames := make([]output.Frame, 0, len(pcs))
	for i, pc := range pcs {
		if i > 0 && s.resolver.InData(pid, pc) {
			// Not code: the walk read a saved register for a frame
			// (crosscall2's register save area, say); the frames
			// after it are still the chain's.
			continue
		}
		f := s.symbolFrame(pid, pc, i > 0)
		if i == 0 {
			s.unmoveFrame(&f)
		}
		frames = append(frames, f)
	}
	return frames, 0
}

// symbolFrame names one frame. A return address (every frame but the
// first) is looked up one byte earlier, inside the call instruction, so a
// call that ends its function (a noreturn callee) names the caller; the
// printed offset stays the return address's.
func (s *session) symbolFrame(pid int, pc uint64, ret bool) output.Frame {
	f := output.Frame{Addr: pc}
	look := pc
	if ret {
		look--
	}
	if name, off, obj, ok := s.resolver.Symbolize(pid, look); ok {
		if ret {
			off++
		}
		f.Sym, f.Off, f.Module = name, off, obj
	}
	return f
}

// runToEntry runs a held -c command to its entry point before it is
// released, so that the libraries the dynamic linker maps are known even
// when the command exits before the first drain. A failure only costs the
// names of library frames: it is a warning.
func (s *session) runToEntry() {
	h, ok := s.held.(interface{ RunToEntry() error })
	if !ok || s.released {
		return
	}
	if err := h.RunToEntry(); err != nil {
		s.out.warn(fmt.Sprintf("stack frames in libraries of %s may stay unnamed: %v", s.cfg.Command[0], err))
	}
}

// RunToEntry: see attach.Held.RunToEntry.
func (c heldChild) RunToEntry() error { return c.h.RunToEntry() }

// rememberTreeMaps keeps the objects of the traced process and of its
// descendants known (resolve.RememberMaps reads a process's maps only
// when they changed).
func (s *session) rememberTreeMaps() {
	s.resolver.RememberMaps(s.pid)
	s.syncUnwind(s.pid)
	if s.tree == nil {
		return
	}
	for _, pid := range s.tree.Pids() {
		if pid != s.pid {
			s.resolver.RememberMaps(pid)
			s.syncUnwind(pid)
		}
	}
}

// syncUnwind loads the unwind tables of the objects pid maps (when the
// plan walks stacks with CFI), so that its stacks are walked without
// frame pointers from then on. Objects mapped later (dlopen) are loaded
// at the next drain; until then their frames use frame pointers.
func (s *session) syncUnwind(pid int) {
	if s.unw == nil {
		rows, ok1 := s.coll.Map(compile.MapUnwindRows).(ebpfMap)
		procs, ok2 := s.coll.Map(compile.MapUnwindProcs).(ebpfMap)
		if !ok1 || !ok2 {
			return
		}
		s.unw = unwind.NewLoader(rows.Map, procs.Map, s.out.warn)
	}
	_ = s.unw.Sync(pid) // a process that exited keeps the tables it had
}

// stackMode is the stack mode of a ustack value: ustack(MODE), else the
// stack_mode config key; "" (bpftrace's) when neither is given.
func (s *session) stackMode(t *compile.Type) string {
	if t.Format != "" {
		return t.Format
	}
	if m := s.plan.Config.StackMode; m != "bpftrace" {
		return m
	}
	return ""
}

// formatFrame formats a frame as Config.Frame says (the tools), else in
// bpftrace's stack mode: bpftrace "sym+off", perf "addr sym+off
// (module)", raw the bare hex address, build_id "BUILDID 0xOFFSET" (the
// hex address when the object has no build ID).
func (s *session) formatFrame(f output.Frame, pid int, mode string) string {
	switch mode {
	case "perf":
		return f.Perf()
	case "raw":
		return strconv.FormatUint(f.Addr, 16)
	case "build_id":
		if pid == 0 {
			pid = s.pid
		}
		if id, off, ok := s.resolver.BuildIDOffset(pid, f.Addr); ok {
			return id + " 0x" + fmt.Sprintf("%02x", off)
		}
		return strconv.FormatUint(f.Addr, 16)
	}
	if s.cfg.Frame != nil {
		return s.cfg.Frame(f)
	}
	return f.Bpftrace()
}

// inlinedPerf is, in perf's stack mode with show_debug_info, a line
// "addr name (inlined)" for each function inlined at the frame's address,
// innermost first, as bpftrace prints them before the frame (perf's mode
// has no file:line).
func (s *session) inlinedPerf(f output.Frame, pid int, ret bool) []string {
	if pid == 0 {
		pid = s.pid
	}
	var out []string
	for _, sf := range s.resolver.Source(pid, f.Addr, ret) {
		if sf.Inlined {
			out = append(out, fmt.Sprintf("%x %s (inlined)", f.Addr, sf.Func))
		}
	}
	return out
}

// sourceFrames formats a frame as bpftrace does with show_debug_info: each
// function inlined at the address as "[inlined] name@file:line", innermost
// first, then "sym+off@file:line"; the plain frame without DWARF.
func (s *session) sourceFrames(f output.Frame, pid int, ret bool) []string {
	if pid == 0 {
		pid = s.pid
	}
	plain := f.Bpftrace()
	src := s.resolver.Source(pid, f.Addr, ret)
	if len(src) == 0 || f.Sym == "" {
		return []string{plain}
	}
	var out []string
	for _, sf := range src {
		if sf.Inlined {
			out = append(out, fmt.Sprintf("[inlined] %s@%s:%d", sf.Func, sf.File, sf.Line))
			continue
		}
		out = append(out, fmt.Sprintf("%s@%s:%d", plain, sf.File, sf.Line))
	}
	return out
}
