package attach

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// AttachProfile runs a perf_event program on every online CPU, sampled
// by the CPU clock (a software event: no PMU needed, works in VMs) at hz
// samples a second or every periodNanos of CPU time, as bpftrace's
// profile probe does. The events follow no process: the program filters
// (compile's tree or pid filter). They and their links are closed with
// the Set.
func (s *Set) AttachProfile(prog *ebpf.Program, hz, periodNanos uint64) error {
	if prog == nil {
		return errors.New("attach profile: no BPF program given (internal error)")
	}
	cpus, err := OnlineCPUs()
	if err != nil {
		return &Error{Msg: "cannot list the online CPUs for profile", Err: err}
	}
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: periodNanos,
	}
	if hz != 0 {
		attr.Sample, attr.Bits = hz, unix.PerfBitFreq
	}
	for _, cpu := range cpus {
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			return &Error{Msg: fmt.Sprintf("cannot open a CPU-clock perf event on CPU %d for profile (root or CAP_PERFMON needed; kernel.perf_event_paranoid)", cpu), Err: err}
		}
		l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
		if err != nil {
			unix.Close(fd)
			return &Error{Msg: fmt.Sprintf("cannot attach the profile program to CPU %d's perf event (Linux 5.15+ links perf events)", cpu), Err: err}
		}
		s.mu.Lock()
		s.links = append(s.links, &perfEventLink{Link: l, fd: fd})
		s.probes++
		s.mu.Unlock()
	}
	return nil
}

// perfEventLink is a BPF link to a perf event and the event itself.
type perfEventLink struct {
	link.Link
	fd int
}

func (l *perfEventLink) Close() error {
	err := l.Link.Close()
	if cerr := unix.Close(l.fd); err == nil {
		err = cerr
	}
	return err
}

// OnlineCPUs lists the online CPUs (/sys/devices/system/cpu/online, a
// list such as "0-3,5").
func OnlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, err
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
