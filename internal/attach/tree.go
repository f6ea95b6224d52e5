package attach

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Tree keeps a BPF hash map (u32 tgid → u32) equal to a process and its
// descendants, for -p and -c sessions that follow children. Two raw
// tracepoint programs maintain it in the kernel:
//
//   - task_newtask (in the parent, before the child can run): a new process
//     (not a thread: no CLONE_THREAD) whose parent's tgid is in the map is
//     added. fork, vfork and clone all pass here; exec keeps the pid, so
//     descendants that exec other programs stay in.
//   - sched_process_exit with group_dead: the exiting process is removed.
//
// Probe programs then check the current tgid against the map (the
// compiler's FilterTree prologue). Because the child is in the map before
// it runs, no fork is missed. Raw tracepoints need no tracefs; the offset
// of task_struct.pid comes from the kernel's BTF.
type Tree struct {
	m     *ebpf.Map
	progs []*ebpf.Program
	links []link.Link
	once  sync.Once
}

// cloneThread is CLONE_THREAD: a new thread, not a new process.
const cloneThread = 0x10000

// NewTree attaches the fork and exit tracers that maintain m, a hash map
// of u32 keys and u32 values. Close detaches them.
func NewTree(m *ebpf.Map) (*Tree, error) {
	if m == nil {
		return nil, errors.New("follow children: no process map (internal error)")
	}
	pidOff, err := taskPidOffset()
	if err != nil {
		return nil, fmt.Errorf("follow children: %w; use --no-follow to trace the one process", err)
	}
	t := &Tree{m: m}
	for _, p := range []struct {
		name  string
		insns asm.Instructions
	}{
		{"task_newtask", treeForkProgram(m, pidOff)},
		{"sched_process_exit", treeExitProgram(m)},
	} {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "uscope_tree", Type: ebpf.RawTracepoint, License: "GPL", Instructions: p.insns,
		})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("follow children: load the %s tracer: %w; use --no-follow to trace the one process", p.name, err)
		}
		t.progs = append(t.progs, prog)
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: p.name, Program: prog})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("follow children: attach to the %s tracepoint: %w; use --no-follow to trace the one process", p.name, err)
		}
		t.links = append(t.links, l)
	}
	return t, nil
}

// taskPidOffset is the offset of pid in the kernel's task_struct.
func taskPidOffset() (int32, error) {
	if off, err := kernelMemberOffset("task_struct", "pid"); err == nil {
		return int32(off), nil
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return 0, fmt.Errorf("the kernel has no BTF (%v)", err)
	}
	var st *btf.Struct
	if err := spec.TypeByName("task_struct", &st); err != nil {
		return 0, fmt.Errorf("no task_struct in the kernel's BTF: %v", err)
	}
	for _, m := range st.Members {
		if m.Name == "pid" {
			return int32(m.Offset.Bytes()), nil
		}
	}
	return 0, errors.New("no task_struct.pid in the kernel's BTF")
}

// treeForkProgram: ctx is (struct task_struct *child, u64 clone_flags).
func treeForkProgram(m *ebpf.Map, pidOff int32) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, 8, asm.DWord),
		asm.And.Imm(asm.R2, cloneThread),
		asm.JNE.Imm(asm.R2, 0, "out"),
	}
	insns = append(insns, currentTgidKey(m)...)
	return append(insns,
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		// The child's pid: probe_read_kernel(fp-8, 4, child + pidOff).
		asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
		asm.Add.Imm(asm.R3, pidOff),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, -8),
		asm.Mov.Imm(asm.R2, 4),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, "out"),
		asm.StoreImm(asm.RFP, -12, 1, asm.Word),
		mapPtr(asm.R1, m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -12),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// treeExitProgram: ctx is (struct task_struct *task, bool group_dead); the
// task is current.
func treeExitProgram(m *ebpf.Map) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 8, asm.DWord),
		asm.And.Imm(asm.R2, 0xff),
		asm.JEq.Imm(asm.R2, 0, "out"),
	}
	insns = append(insns, currentTgidKey(m)...)
	return append(insns,
		asm.FnMapDeleteElem.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// currentTgidKey stores the current tgid at fp-4 and leaves R1 = m, R2 =
// fp-4, ready for a map helper.
func currentTgidKey(m *ebpf.Map) asm.Instructions {
	return asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word),
		mapPtr(asm.R1, m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
	}
}

// Add puts pid in the tree.
func (t *Tree) Add(pid int) error {
	if err := t.m.Update(uint32(pid), uint32(1), ebpf.UpdateAny); err != nil {
		if errors.Is(err, unix.E2BIG) {
			return fmt.Errorf("follow children: more than %d processes in the tree; use --no-follow", t.m.MaxEntries())
		}
		return fmt.Errorf("follow children: add process %d: %w", pid, err)
	}
	return nil
}

// AddDescendants adds the processes already descended from pid (for -p).
// Call it after NewTree and Add(pid): a child forked after Add is added by
// the fork tracer, one forked before is listed in /proc.
func (t *Tree) AddDescendants(pid int) error {
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children(p) {
			if seen[c] {
				continue
			}
			seen[c] = true
			if err := t.Add(c); err != nil {
				return err
			}
			queue = append(queue, c)
		}
	}
	return nil
}

// children lists the child processes of pid from /proc/PID/task/*/children.
func children(pid int) []int {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(dir + "/" + task.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// Pids returns the processes in the tree now.
func (t *Tree) Pids() []int {
	var out []int
	var k, v uint32
	it := t.m.Iterate()
	for it.Next(&k, &v) {
		out = append(out, int(k))
	}
	return out
}

// Signal sends sig to every process of the tree except skip.
func (t *Tree) Signal(sig unix.Signal, skip int) {
	for _, p := range t.Pids() {
		if p != skip && p > 0 {
			_ = unix.Kill(p, sig)
		}
	}
}

// Close detaches the tracers. The map belongs to the caller.
func (t *Tree) Close() error {
	var errs []error
	t.once.Do(func() {
		for _, l := range t.links {
			errs = append(errs, l.Close())
		}
		for _, p := range t.progs {
			errs = append(errs, p.Close())
		}
	})
	return errors.Join(errs...)
}

// mapPtr loads a pointer to m into dst.
func mapPtr(dst asm.Register, m *ebpf.Map) asm.Instruction {
	ins := asm.LoadMapPtr(dst, 0)
	_ = ins.AssociateMap(m) // fails only for a nil map, which NewTree refuses
	return ins
}

// others returns the processes of the tree other than skip.
func (t *Tree) others(skip int) []int {
	var out []int
	for _, p := range t.Pids() {
		if p != skip {
			out = append(out, p)
		}
	}
	return out
}
