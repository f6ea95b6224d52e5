package placement

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Kernel says which instruction classes the kernel's x86-64 uprobe code
// emulates (handles in the breakpoint trap) instead of single-stepping
// out of line. Classes: "nop" (0x90, with 0x66 prefixes), "nop5"
// (0f 1f 44 00 00), "nopl" (other 0f 1f nops), "push" (push reg), "jmp",
// "jcc", "call" (relative), "endbr64".
type Kernel struct {
	// Release is the kernel release the table was chosen for.
	Release string
	// Emulated holds the emulated classes.
	Emulated map[string]bool
	// Source says where the table came from.
	Source string
}

// Emulates reports whether the kernel emulates instructions of class cls.
func (k Kernel) Emulates(cls string) bool { return k.Emulated[cls] }

// Classes lists the emulated classes, sorted.
func (k Kernel) Classes() []string {
	var out []string
	for c, ok := range k.Emulated {
		if ok {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// String renders the table for `uscope doctor`.
func (k Kernel) String() string {
	return fmt.Sprintf("emulated at uprobe sites: %s (%s)", strings.Join(k.Classes(), " "), k.Source)
}

// ForRelease returns the table for an x86-64 kernel release ("6.18.44-...").
//
// Every x86-64 kernel with uprobes emulates relative call, jmp and jcc, the
// 1-byte nop (with 0x66 prefixes) and push reg. Kernels 6.14 and later also
// emulate multi-byte nops (0f 1f, among them the 5-byte nop that 6.18
// optimizes into a call). endbr64 is single-stepped. The table for 6.18 was
// verified on this project's CI machine by cmd/uscope's
// TestPlacementKernelTable, which watches for the out-of-line
// single-step area ([uprobes] in /proc/PID/maps) a probe on each class
// creates or not.
func ForRelease(release string) Kernel {
	k := Kernel{Release: release, Emulated: map[string]bool{
		"nop": true, "push": true, "jmp": true, "jcc": true, "call": true,
	}}
	major, minor := parseRelease(release)
	if major > 6 || major == 6 && minor >= 14 {
		k.Emulated["nop5"] = true
		k.Emulated["nopl"] = true
	}
	k.Source = "table for Linux " + shortRelease(release)
	return k
}

// Running returns the table for the running kernel.
func Running() Kernel {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ForRelease("")
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return ForRelease(string(b))
}

func parseRelease(r string) (major, minor int) {
	parts := strings.SplitN(r, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, _ = strconv.Atoi(parts[0])
	m := parts[1]
	for i, c := range m {
		if c < '0' || c > '9' {
			m = m[:i]
			break
		}
	}
	minor, _ = strconv.Atoi(m)
	return major, minor
}

func shortRelease(r string) string {
	major, minor := parseRelease(r)
	if major == 0 {
		return "(unknown release)"
	}
	return fmt.Sprintf("%d.%d", major, minor)
}
