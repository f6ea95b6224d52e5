package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
)

// Capability bits (include/uapi/linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// Host returns the environment of the running process: the real /proc and
// /sys, the effective uid and capabilities, the kernel release and the real
// feature probes.
func Host() Env {
	env := Env{
		UID:      os.Geteuid(),
		Features: attach.Features,
		BPF:      bpfUsable,
	}
	env.CapEff, env.CapErr = readCapEff("/proc/self/status")
	rel, err := KernelRelease()
	if err != nil {
		rel = "unknown (" + err.Error() + ")"
	}
	env.Release = rel
	return env
}

// KernelRelease returns the running kernel's release, as uname -r prints it.
func KernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// bpfUsable loads the smallest kprobe-type program, the program type uprobes
// run as: it fails when bpf() is missing, denied or locked down.
func bpfUsable() error {
	if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
		return fmt.Errorf("load kprobe program: %w", err)
	}
	return nil
}

// readCapEff reads the effective capability set from a /proc/PID/status file.
func readCapEff(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return parseCapEff(b)
}

// parseCapEff extracts the CapEff line of /proc/PID/status.
func parseCapEff(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("parse CapEff %q: %w", strings.TrimSpace(v), err)
		}
		return caps, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return 0, errors.New("read capabilities: no CapEff line in status")
}

// Version is a kernel version: major.minor.patch.
type Version struct {
	// Major, Minor and Patch are the first three numbers of the release.
	Major, Minor, Patch int
}

// String formats v as "major.minor".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// ParseRelease parses the leading "major.minor[.patch]" of a kernel release
// such as "6.18.44-fc-v669" or "5.4.0-150-generic".
func ParseRelease(release string) (Version, error) {
	end := strings.IndexFunc(release, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end < 0 {
		end = len(release)
	}
	parts := strings.Split(strings.TrimSuffix(release[:end], "."), ".")
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("kernel release %q: want major.minor", release)
	}
	var nums [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return Version{}, fmt.Errorf("kernel release %q: %w", release, err)
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// mount is one line of /proc/self/mounts.
type mount struct {
	source, target, fstype string
}

// readMounts parses a /proc/self/mounts file.
func readMounts(path string) ([]mount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	var ms []mount
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ms = append(ms, mount{source: f[0], target: unescapeMount(f[1]), fstype: f[2]})
	}
	return ms, nil
}

// unescapeMount undoes the octal escapes (\040 for space...) of mount paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountOf returns the first mount of file system type fstype.
func mountOf(ms []mount, fstype string) (mount, bool) {
	for _, m := range ms {
		if m.fstype == fstype {
			return m, true
		}
	}
	return mount{}, false
}

// readTrimmed returns a small file's content without surrounding space.
func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
