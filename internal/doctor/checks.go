package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/attach"
)

// Minimum kernels for the features the checks name.
var (
	minRingBuf   = Version{Major: 5, Minor: 8}
	minCookies   = Version{Major: 5, Minor: 15}
	minMulti     = Version{Major: 6, Minor: 6}
	minOptimized = Version{Major: 6, Minor: 18}
	minRefCtr    = Version{Major: 4, Minor: 20}
	minReadUser  = Version{Major: 5, Minor: 5} // bpf_probe_read_user
)

const setcapFix = `run uscope with sudo, or grant the capabilities: sudo setcap cap_bpf,cap_perfmon,cap_sys_admin+ep "$(command -v uscope)"`

func checkKernel(st *state) Check {
	c := Check{Name: "kernel"}
	rel := st.env.Release
	if st.kernelErr != nil {
		c.Status = Warn
		c.Message = fmt.Sprintf("cannot parse release %q; uscope needs Linux 5.8+ (6.6+ for uprobe_multi)", rel)
		return c
	}
	v := st.kernel
	switch {
	case !v.AtLeast(minRingBuf.Major, minRingBuf.Minor):
		c.Status = Fail
		c.Message = fmt.Sprintf("Linux %s is too old: uscope needs 5.8+ (BPF ring buffer), 6.6+ for uprobe_multi; upgrade the kernel", rel)
	case !v.AtLeast(minCookies.Major, minCookies.Minor):
		c.Status = Warn
		c.Message = fmt.Sprintf("Linux %s: attach cookies need 5.15+ (uscope trace uses them) and uprobe_multi 6.6+; upgrade the kernel", rel)
	case !v.AtLeast(minMulti.Major, minMulti.Minor):
		c.Status = Warn
		c.Message = fmt.Sprintf("Linux %s works, but uprobe_multi needs 6.6+: each probe attaches as its own perf event, slow for many probes; upgrade for fast attach", rel)
	case !v.AtLeast(minOptimized.Major, minOptimized.Minor):
		c.Status = OK
		c.Message = fmt.Sprintf("Linux %s: has the ring buffer (5.8+) and uprobe_multi (6.6+); 6.18+ adds optimized uprobes", rel)
	default:
		c.Status = OK
		c.Message = fmt.Sprintf("Linux %s: has every kernel feature uscope uses (ring buffer 5.8, uprobe_multi 6.6, optimized uprobes 6.18)", rel)
	}
	return c
}

func checkPrivileges(st *state) Check {
	e := st.env
	c := Check{Name: "privileges"}
	if e.CapErr != nil {
		c.Status = Fail
		c.Message = fmt.Sprintf("cannot read the capability set (%v): run uscope as root", e.CapErr)
		return c
	}
	who := fmt.Sprintf("uid %d", e.UID)
	if e.UID == 0 {
		who = "root (uid 0)"
	}
	switch {
	case e.hasCap(capBPF) && e.hasCap(capPerfmon) && e.hasCap(capSysAdmin):
		c.Status = OK
		c.Message = who + " with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN"
	case e.hasCap(capSysAdmin):
		c.Status = OK
		c.Message = who + " with CAP_SYS_ADMIN, which the kernel accepts for CAP_BPF and CAP_PERFMON"
	default:
		var missing []string
		for _, cp := range []struct {
			bit  uint
			name string
		}{{capBPF, "CAP_BPF"}, {capPerfmon, "CAP_PERFMON"}, {capSysAdmin, "CAP_SYS_ADMIN"}} {
			if !e.hasCap(cp.bit) {
				missing = append(missing, cp.name)
			}
		}
		c.Status = Fail
		fix := setcapFix
		if e.UID == 0 {
			fix = "root without them is a restricted container: run it with --cap-add=BPF --cap-add=PERFMON --cap-add=SYS_ADMIN (or --privileged)"
		}
		c.Message = fmt.Sprintf("%s lacks %s: %s", who, strings.Join(missing, ", "), fix)
	}
	return c
}

func checkBPFSyscall(st *state) Check {
	c := Check{Name: "bpf"}
	err := st.env.BPF()
	switch {
	case err == nil:
		c.Status = OK
		c.Message = "bpf() loads kprobe-type programs, the type uprobes run"
	case errors.Is(err, ebpf.ErrNotSupported):
		c.Status = Fail
		c.Message = "the kernel cannot load uprobe programs: it needs CONFIG_BPF_SYSCALL=y and CONFIG_BPF_EVENTS=y"
	case errors.Is(err, fs.ErrPermission):
		c.Status = Fail
		c.Message = fmt.Sprintf("bpf() is denied (%s): %s", errnoText(err), setcapFix)
	default:
		c.Status = Fail
		c.Message = fmt.Sprintf("bpf() fails: %v", err)
	}
	return c
}

func checkPerfParanoid(st *state) Check {
	c := Check{Name: "perf_event_paranoid"}
	v, err := readTrimmed(st.env.path("/proc/sys/kernel/perf_event_paranoid"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Status = Fail
		c.Message = "missing: the kernel has no perf events (CONFIG_PERF_EVENTS), so uprobes cannot attach; use a kernel built with it"
	case err != nil:
		c.Status = Warn
		c.Message = fmt.Sprintf("cannot read it: %v", err)
	case st.env.privileged():
		c.Status = OK
		c.Message = v + ": does not limit uscope, which runs with CAP_PERFMON (or CAP_SYS_ADMIN)"
	default:
		c.Status = Warn
		c.Message = v + ": limits users without CAP_PERFMON, like this one; lowering it does not help (uprobes need CAP_PERFMON): run uscope as root"
	}
	return c
}

func checkUprobePMU(st *state) Check {
	c := Check{Name: "uprobe_pmu"}
	const dir = "/sys/bus/event_source/devices/uprobe"
	t, err := readTrimmed(st.env.path(dir + "/type"))
	switch {
	case err == nil:
		c.Status = OK
		c.Message = fmt.Sprintf("perf PMU type %s: perf-event uprobes work (--perf-event, and the fallback without uprobe_multi)", t)
	case errors.Is(err, fs.ErrNotExist) && st.feat.UprobeMulti.OK:
		c.Status = Warn
		c.Message = dir + " is missing: uprobe_multi links work, --perf-event does not; the kernel needs CONFIG_UPROBE_EVENTS=y"
	case errors.Is(err, fs.ErrNotExist):
		c.Status = Fail
		c.Message = dir + " is missing and there is no uprobe_multi: uprobes cannot attach; use a kernel with CONFIG_UPROBES=y and CONFIG_UPROBE_EVENTS=y"
	default:
		c.Status = Warn
		c.Message = fmt.Sprintf("cannot read %s/type: %v", dir, err)
	}
	return c
}

// featureSpec describes how one entry of [attach.FeatureSet] is reported.
type featureSpec struct {
	name    string
	since   Version
	missing Status // the status when the feature is absent
	ok      string // the message when it is present
	fix     string // appended to attach's reason when it is absent
}

// unverified reports whether attach could not probe the feature (no
// privileges, usually) rather than found it missing.
func unverified(f attach.Feature) bool { return strings.HasPrefix(f.Reason, "could not check") }

func featureCheck(st *state, f attach.Feature, spec featureSpec) Check {
	c := Check{Name: spec.name}
	switch {
	case f.OK:
		c.Status, c.Message = OK, spec.ok
	case unverified(f) && st.kernelErr == nil && st.kernel.AtLeast(spec.since.Major, spec.since.Minor):
		c.Status = Warn
		c.Message = fmt.Sprintf("%s; Linux %s should have it (%s+): run uscope doctor as root to be sure", f.Reason, st.kernel, spec.since)
	case unverified(f) && st.kernelErr == nil:
		c.Status = spec.missing
		c.Message = fmt.Sprintf("Linux %s is older than %s, so it is probably missing (%s); %s", st.kernel, spec.since, f.Reason, spec.fix)
	case unverified(f):
		c.Status = Warn
		c.Message = f.Reason
	default:
		c.Status = spec.missing
		c.Message = f.Reason + "; " + spec.fix
	}
	return c
}

func checkRefCtr(st *state) Check {
	return featureCheck(st, st.feat.RefCtr, featureSpec{
		name: "ref_ctr_offset", since: minRefCtr, missing: Warn,
		ok:  "the kernel sets USDT semaphores itself, so guarded USDT probes fire",
		fix: "upgrade to Linux 4.20+ for USDT probes behind semaphores",
	})
}

func checkUprobeMulti(st *state) Check {
	return featureCheck(st, st.feat.UprobeMulti, featureSpec{
		name: "uprobe_multi", since: minMulti, missing: Warn,
		ok:  "BPF uprobe_multi links: one link attaches many probes at once",
		fix: "upgrade to Linux 6.6+ to attach many probes fast",
	})
}

func checkRingBuf(st *state) Check {
	return featureCheck(st, st.feat.RingBuf, featureSpec{
		name: "ringbuf", since: minRingBuf, missing: Fail,
		ok:  "BPF ring buffer maps carry events to uscope",
		fix: "upgrade to Linux 5.8+",
	})
}

func checkCookies(st *state) Check {
	return featureCheck(st, st.feat.Cookies, featureSpec{
		name: "attach_cookie", since: minCookies, missing: Warn,
		ok:  "bpf_get_attach_cookie tells one program which probe fired",
		fix: "upgrade to Linux 5.15+ (uscope trace and the probe builtin need it)",
	})
}

func checkBTF(st *state) Check {
	return featureCheck(st, st.feat.BTF, featureSpec{
		name: "btf", since: Version{Major: 5, Minor: 2}, missing: Info,
		ok:  "/sys/kernel/btf/vmlinux describes the kernel's types",
		fix: "nothing to change for uprobes (CONFIG_DEBUG_INFO_BTF=y would add it)",
	})
}

func checkOptimizedUprobes(st *state) Check {
	f := st.feat.OptimizedUprobes
	if !f.OK && f.Reason == "only on x86-64" {
		return Check{Name: "optimized_uprobes", Status: Info, Message: "optimized uprobes exist only on x86-64; uprobes here use breakpoint traps"}
	}
	return featureCheck(st, f, featureSpec{
		name: "optimized_uprobes", since: minOptimized, missing: Info,
		ok:  "uprobes on 5-byte nops (such as newer USDT sites) run through the uprobe syscall, not int3 traps",
		fix: "nothing to change; Linux 6.18+ makes such probes cheaper",
	})
}

func checkTracefs(st *state) Check {
	c := Check{Name: "tracefs", Status: Info}
	if st.mountsErr != nil {
		c.Message = fmt.Sprintf("cannot tell whether it is mounted (%v); optional: uscope does not need tracefs", st.mountsErr)
		return c
	}
	if m, ok := mountOf(st.mounts, "tracefs"); ok {
		c.Status = OK
		c.Message = fmt.Sprintf("mounted at %s; optional: uscope does not need it", m.target)
		return c
	}
	c.Message = "not mounted; optional: uscope does not need it (it attaches through BPF links and the uprobe PMU)"
	return c
}

func checkLockdown(st *state) Check {
	c := Check{Name: "lockdown"}
	s, err := readTrimmed(st.env.path("/sys/kernel/security/lockdown"))
	switch {
	case err == nil:
		return lockdownMode(st, bracketed(s), "")
	case !errors.Is(err, fs.ErrNotExist):
		c.Status = Warn
		c.Message = fmt.Sprintf("cannot read /sys/kernel/security/lockdown: %v", err)
		return c
	}
	if _, ok := mountOf(st.mounts, "securityfs"); ok {
		c.Status = OK
		c.Message = "no lockdown LSM in this kernel: nothing blocks BPF"
		return c
	}
	if mode := cmdlineParam(st.env.path("/proc/cmdline"), "lockdown"); mode != "" {
		return lockdownMode(st, mode, " (set on the kernel command line)")
	}
	c.Status = Info
	c.Message = "unknown: securityfs is not mounted; to see the mode: mount -t securityfs securityfs /sys/kernel/security"
	return c
}

// lockdownMode reports a lockdown mode: none, integrity or confidentiality.
func lockdownMode(st *state, mode, source string) Check {
	c := Check{Name: "lockdown"}
	switch mode {
	case "none":
		c.Status = OK
		c.Message = "none" + source + ": nothing blocks BPF"
	case "integrity":
		c.Status = OK
		c.Message = "integrity" + source + ": BPF may read memory; only bpf_probe_write_user, which uscope never uses, is blocked"
	case "confidentiality":
		if st.kernelErr == nil && !st.kernel.AtLeast(minReadUser.Major, minReadUser.Minor) {
			c.Status = Fail
			c.Message = "confidentiality" + source + ": the kernel blocks bpf_probe_read, so uscope cannot read arguments or strings; boot with lockdown=integrity (or without Secure Boot lockdown)"
			return c
		}
		c.Status = Warn
		c.Message = "confidentiality" + source + ": BPF may not read kernel memory and some distribution kernels refuse BPF altogether; uscope reads only user memory (bpf_probe_read_user); if loads fail, boot with lockdown=integrity"
	default:
		c.Status = Warn
		c.Message = fmt.Sprintf("unknown mode %q%s", mode, source)
	}
	return c
}

// bracketed returns the selected word of a sysfs choice list such as
// "none [integrity] confidentiality", or s itself when nothing is bracketed.
func bracketed(s string) string {
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return s
	}
	return s[i+1 : j]
}

// cmdlineParam returns the value of name=VALUE on a /proc/cmdline file, or
// "" when it is absent or unreadable.
func cmdlineParam(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(b)) {
		if f == "--" {
			break // the rest belongs to init
		}
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

func checkUnprivilegedBPF(st *state) Check {
	c := Check{Name: "unprivileged_bpf_disabled"}
	v, err := readTrimmed(st.env.path("/proc/sys/kernel/unprivileged_bpf_disabled"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Status = Info
		c.Message = "not present; the bpf line above says whether bpf() works"
		return c
	case err != nil:
		c.Status = Info
		c.Message = fmt.Sprintf("cannot read it: %v", err)
		return c
	}
	meaning := map[string]string{
		"0": "unprivileged users may load some BPF programs",
		"1": "bpf() needs CAP_BPF until reboot",
		"2": "bpf() needs CAP_BPF",
	}[v]
	if meaning == "" {
		meaning = "unknown value"
	}
	if st.env.privileged() {
		c.Status = OK
		c.Message = fmt.Sprintf("%s (%s): no effect on uscope, which runs with CAP_BPF (or CAP_SYS_ADMIN)", v, meaning)
		return c
	}
	c.Status = Info
	c.Message = fmt.Sprintf("%s (%s): uprobes need CAP_BPF and CAP_PERFMON whatever its value; run uscope as root", v, meaning)
	return c
}

// errnoText returns the errno inside err ("operation not permitted"), or
// all of err when it carries none.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
