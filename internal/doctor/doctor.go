// Package doctor checks what the running machine lets uscope do: kernel
// version, privileges, the bpf() syscall, perf events, the uprobe PMU, the
// kernel features uscope uses, tracefs, lockdown and BPF sysctls. Each check
// yields one line saying what works or what to change.
//
// Every check reads its inputs through an [Env], so tests can simulate other
// machines (an old kernel, an unprivileged user, missing files) without
// touching the host.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/uscope/uscope/internal/attach"
)

// Status is the verdict of one check.
type Status int

// The verdicts, from best to worst. Only [Fail] makes a [Report] not OK.
const (
	// OK: the item works as uscope wants it.
	OK Status = iota
	// Info: nothing to change; the line explains an optional item.
	Info
	// Warn: uscope works, but slower or with a feature missing.
	Warn
	// Fail: uscope cannot trace until this is fixed.
	Fail
)

var statusNames = [...]string{OK: "ok", Info: "info", Warn: "warn", Fail: "FAIL"}

// String returns the status as printed: "ok", "info", "warn" or "FAIL".
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusNames[s]
}

// MarshalText encodes the status in lower case for JSON.
func (s Status) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("doctor: invalid status %d", int(s))
	}
	return []byte(strings.ToLower(statusNames[s])), nil
}

// UnmarshalText decodes a status written by [Status.MarshalText].
func (s *Status) UnmarshalText(b []byte) error {
	for i, name := range statusNames {
		if strings.EqualFold(string(b), name) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("doctor: unknown status %q", b)
}

// Check is the result of one check: what was checked, the verdict, and one
// line saying what works or what to change.
type Check struct {
	// Name is a short identifier of the item, e.g. "kernel" or "ringbuf".
	Name string `json:"name"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Message is one line: the observed state and, when not OK, the fix.
	Message string `json:"message"`
}

// Report is the result of [Run]: every check, in a fixed order.
type Report struct {
	// Checks holds one entry per check.
	Checks []Check `json:"checks"`
}

// OK reports whether nothing uscope needs is missing (no check failed).
func (r Report) OK() bool { return r.Failed() == 0 }

// Failed returns the number of checks whose status is [Fail].
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == Fail {
			n++
		}
	}
	return n
}

// Find returns the check called name, and whether there is one.
func (r Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// WriteText prints one aligned line per check.
func (r Report) WriteText(w io.Writer) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	for _, c := range r.Checks {
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s\n", c.Status, width, c.Name, c.Message); err != nil {
			return fmt.Errorf("write doctor report: %w", err)
		}
	}
	return nil
}

// WriteJSON prints the report as one JSON object: {"ok": bool, "checks": [...]}.
func (r Report) WriteJSON(w io.Writer) error {
	v := struct {
		OK     bool    `json:"ok"`
		Checks []Check `json:"checks"`
	}{r.OK(), r.Checks}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write doctor report: %w", err)
	}
	return nil
}

// Env is everything the checks read. [Host] fills it for the running
// machine; tests build one by hand.
type Env struct {
	// Root prefixes the /proc and /sys paths the checks read; "" or "/" is
	// the host.
	Root string
	// UID is the effective user id.
	UID int
	// CapEff is the effective capability set (CapEff in /proc/self/status).
	CapEff uint64
	// CapErr, when not nil, says why CapEff could not be read.
	CapErr error
	// Release is the kernel release as uname -r prints it.
	Release string
	// Features probes the kernel features uscope uses; nil means
	// [attach.Features].
	Features func() attach.FeatureSet
	// BPF loads a minimal kprobe-type program (the type uprobes use) and
	// returns why it failed; nil means the real probe.
	BPF func() error
}

// path returns the file at the absolute host path p under e.Root.
func (e Env) path(p string) string {
	if e.Root == "" {
		return p
	}
	return filepath.Join(e.Root, p)
}

// hasCap reports whether capability bit c is in the effective set.
func (e Env) hasCap(c uint) bool { return e.CapEff&(1<<c) != 0 }

// privileged reports whether the process can load tracing programs and
// attach uprobes: CAP_SYS_ADMIN, which the kernel accepts in place of
// CAP_BPF and CAP_PERFMON.
func (e Env) privileged() bool { return e.CapErr == nil && e.hasCap(capSysAdmin) }

// Run performs every check against env and returns the report.
func Run(env Env) Report {
	if env.Features == nil {
		env.Features = attach.Features
	}
	if env.BPF == nil {
		env.BPF = bpfUsable
	}
	st := &state{env: env, feat: env.Features()}
	st.kernel, st.kernelErr = ParseRelease(env.Release)
	st.mounts, st.mountsErr = readMounts(env.path("/proc/self/mounts"))

	checks := []func(*state) Check{
		checkKernel,
		checkPrivileges,
		checkBPFSyscall,
		checkPerfParanoid,
		checkUprobePMU,
		checkRefCtr,
		checkUprobeMulti,
		checkRingBuf,
		checkCookies,
		checkBTF,
		checkOptimizedUprobes,
		checkPlacement,
		checkTracefs,
		checkLockdown,
		checkUnprivilegedBPF,
	}
	var r Report
	for _, c := range checks {
		r.Checks = append(r.Checks, c(st))
	}
	return r
}

// state is what the checks share: the environment and the inputs more than
// one check reads.
type state struct {
	env       Env
	feat      attach.FeatureSet
	kernel    Version
	kernelErr error
	mounts    []mount
	mountsErr error
}
