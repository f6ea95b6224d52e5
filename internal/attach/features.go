package attach

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
)

// Feature is whether the running kernel offers one capability uscope uses.
type Feature struct {
	// OK is true when the feature is available.
	OK bool
	// Reason says, when OK is false, why not and what uscope does instead.
	Reason string
}

// FeatureSet is the kernel capabilities reported by `uscope version` and
// `uscope doctor`.
type FeatureSet struct {
	// UprobeMulti: BPF uprobe_multi links (Linux 6.6), one link for many probes.
	UprobeMulti Feature
	// RefCtr: the kernel manages USDT semaphores (ref_ctr_offset, Linux 4.20).
	RefCtr Feature
	// RingBuf: BPF ring buffer maps (Linux 5.8).
	RingBuf Feature
	// Cookies: bpf_get_attach_cookie in uprobe programs (Linux 5.15).
	Cookies Feature
	// OptimizedUprobes: uprobes on 5-byte nops become calls through the
	// uprobe syscall instead of int3 traps (Linux 6.18, x86-64).
	OptimizedUprobes Feature
	// BTF: the kernel describes its types in /sys/kernel/btf/vmlinux.
	BTF Feature
}

// NamedFeature is one entry of [FeatureSet.List].
type NamedFeature struct {
	Name string
	Feature
}

// List returns the features in a fixed order with short names, for printing.
func (fs FeatureSet) List() []NamedFeature {
	return []NamedFeature{
		{"uprobe_multi", fs.UprobeMulti},
		{"ref_ctr_offset", fs.RefCtr},
		{"ringbuf", fs.RingBuf},
		{"attach_cookie", fs.Cookies},
		{"optimized_uprobes", fs.OptimizedUprobes},
		{"btf", fs.BTF},
	}
}

// Paths the checks read; variables so tests can point them elsewhere.
var (
	refCtrFormatPath = "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset"
	kallsymsPath     = "/proc/kallsyms"
	vmlinuxBTFPath   = "/sys/kernel/btf/vmlinux"
)

// Features probes the running kernel. Probes that load BPF programs need
// root (or CAP_BPF); without it those features report why they could not be
// checked.
func Features() FeatureSet {
	return FeatureSet{
		UprobeMulti: probeFeature(features.HaveBPFLinkUprobeMulti(),
			"no BPF uprobe_multi links (Linux 6.6+); each probe gets its own perf event, slow to attach and detach"),
		RefCtr: fileFeature(refCtrFormatPath,
			"kernel cannot manage USDT semaphores (Linux 4.20+); probes guarded by a semaphore never fire"),
		RingBuf: probeFeature(features.HaveMapType(ebpf.RingBuf),
			"no BPF ring buffer (Linux 5.8+); uscope cannot print events"),
		Cookies: probeFeature(features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetAttachCookie),
			"no bpf_get_attach_cookie for uprobes (Linux 5.15+); one program cannot serve many probes"),
		OptimizedUprobes: optimizedUprobes(),
		BTF: fileFeature(vmlinuxBTFPath,
			"kernel has no BTF (CONFIG_DEBUG_INFO_BTF); not needed for uprobes"),
	}
}

func probeFeature(err error, missing string) Feature {
	switch {
	case err == nil:
		return Feature{OK: true}
	case errors.Is(err, ebpf.ErrNotSupported):
		return Feature{Reason: missing}
	case errors.Is(err, os.ErrPermission):
		return Feature{Reason: "could not check: permission denied (run as root)"}
	default:
		return Feature{Reason: fmt.Sprintf("could not check: %v", err)}
	}
}

func fileFeature(path, missing string) Feature {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return Feature{OK: true}
	case errors.Is(err, os.ErrNotExist):
		return Feature{Reason: missing + " (" + path + " is missing)"}
	default:
		return Feature{Reason: fmt.Sprintf("could not check: %v", err)}
	}
}

func optimizedUprobes() Feature {
	if runtime.GOARCH != "amd64" {
		return Feature{Reason: "only on x86-64"}
	}
	found, err := kallsymsHas(kallsymsPath, "__x64_sys_uprobe")
	switch {
	case err != nil:
		return Feature{Reason: fmt.Sprintf("could not check: %v", err)}
	case !found:
		return Feature{Reason: "kernel has no uprobe syscall (Linux 6.18+); every uprobe is an int3 trap"}
	}
	return Feature{OK: true}
}

// kallsymsHas reports whether a kallsyms-format file lists symbol name.
func kallsymsHas(path, name string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	want := []byte(" " + name)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		// "ADDRESS TYPE NAME[\t[MODULE]]": compare the NAME field exactly.
		if i := bytes.IndexByte(line, '\t'); i >= 0 {
			line = line[:i]
		}
		if bytes.HasSuffix(line, want) {
			return true, nil
		}
	}
	return false, sc.Err()
}
