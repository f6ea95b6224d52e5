package attach

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
)

// Error is a failure to attach or detach probes, as the kernel reported it or
// as a check standing in for the kernel found it. Its message is one line
// naming what failed, where, and what to try. The CLI exits with code 2 for
// it (find it with errors.As).
type Error struct {
	// Path is the object file concerned, "" when the failure is not about one.
	Path string
	// Offset is the file offset of the probe site concerned, 0 when the
	// failure is not about one site.
	Offset uint64
	// Msg is the user-facing explanation.
	Msg string
	// Err is the underlying cause, often wrapping a syscall.Errno; may be nil.
	Err error

	// errno is the kernel's answer when Err lost it on the way up.
	errno syscall.Errno
}

// Error returns Msg followed by the kernel's error number text, or by the
// underlying error when there is no error number.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	errno := e.errno
	if errno != 0 || errors.As(e.Err, &errno) {
		return e.Msg + " (kernel: " + errnoText(errno) + ")"
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Error numbers Linux leaks from its internals, which package syscall does
// not name.
const (
	errnoENOTSUPP = syscall.Errno(524)
)

func errnoText(e syscall.Errno) string {
	if e == errnoENOTSUPP {
		return "operation not supported"
	}
	return e.Error()
}

// siteSpecific reports whether a failed uprobe_multi batch may have failed
// because of one of its sites, so that locating the site is worth it.
func siteSpecific(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EINVAL, syscall.ENOEXEC, syscall.EOPNOTSUPP, errnoENOTSUPP, syscall.EFAULT:
		return true
	}
	return false
}

// processExists reports whether pid names a live (not zombie) process.
func processExists(pid int) bool {
	st, err := procState(pid)
	return err == nil && st != 'Z' && st != 'X'
}

// explain turns an error from cilium/ebpf or the kernel into an *Error for a
// user. st is the site concerned, nil when the error is about the whole
// object or call.
func explain(err error, path string, st *Site, opts Options) *Error {
	e := &Error{Path: path, Err: err}
	kind := "uprobe"
	if opts.Return {
		kind = "uretprobe"
	}
	whole := fmt.Sprintf("cannot attach %ss to %s", kind, path)
	where, what := path, whole
	if st != nil {
		e.Offset = st.Offset
		where = fmt.Sprintf("%s+%#x", path, st.Offset)
		what = fmt.Sprintf("cannot attach a %s at %s", kind, where)
	}
	// notSite is for causes that do not depend on the site.
	notSite := func(msg string) *Error {
		e.Offset = 0
		e.Msg = whole + ": " + msg
		return e
	}
	var errno syscall.Errno
	errors.As(err, &errno)

	switch {
	case errno == syscall.EPERM || errno == syscall.EACCES:
		return notSite("permission denied; run uscope as root, or give it CAP_BPF and CAP_PERFMON (setcap cap_bpf,cap_perfmon+ep)")
	case opts.PID != 0 && (errno == syscall.ESRCH || (errors.Is(err, os.ErrNotExist) && !processExists(opts.PID))):
		e.errno = syscall.ESRCH // cilium/ebpf turns it into os.ErrNotExist
		return notSite(fmt.Sprintf("process %d does not exist (did it exit?); check the -p PID", opts.PID))
	case errors.Is(err, os.ErrNotExist):
		return notSite("the file no longer exists (was it deleted or replaced?)")
	case errno == syscall.EMFILE || errno == syscall.ENFILE:
		return notSite("out of file descriptors (one per perf-event uprobe); raise ulimit -n or narrow the pattern")
	case errno == 0 && strings.Contains(err.Error(), "bpf perf link"):
		// cilium/ebpf drops the error number of BPF_LINK_CREATE for perf
		// events; with a valid perf event, the program is what is refused.
		if strings.HasSuffix(err.Error(), syscall.EINVAL.Error()) {
			e.errno = syscall.EINVAL
		}
		return notSite("the kernel refused to attach the BPF program to the perf event; it must be a Kprobe program loaded with attach.ProgramAttachType")
	case errno == syscall.EINVAL && st != nil && st.RefCtrOffset != 0:
		e.Msg = fmt.Sprintf("another tracer has a uprobe at %s with a different USDT semaphore offset (ref_ctr_offset mismatch); stop that tracer (bpftrace, bcc, perf probe...) and try again", where)
	case errno == syscall.EINVAL && st != nil:
		e.Msg = what + ": the kernel refused it; another tracer may have a uprobe there with a USDT semaphore (ref_ctr_offset mismatch: stop that tracer), or the BPF program was not loaded with attach.ProgramAttachType"
	case errno == syscall.EINVAL:
		e.Msg = what + ": the kernel refused them; another tracer may have a uprobe on one of these sites with a different USDT semaphore (ref_ctr_offset mismatch: stop that tracer), or the BPF program was not loaded with attach.ProgramAttachType"
	case errno == syscall.ENOEXEC || errno == syscall.EOPNOTSUPP || errno == errnoENOTSUPP:
		if st != nil {
			e.Msg = what + ": the offset is not the start of an instruction the kernel can probe; use a function's entry or an instruction address from a disassembler"
		} else {
			e.Msg = what + ": one of the offsets is not the start of an instruction the kernel can probe; use function entries or instruction addresses from a disassembler"
		}
	case errno == syscall.E2BIG:
		return notSite("too many probes for one uprobe_multi link; narrow the pattern")
	case errno == syscall.ENOMEM:
		return notSite("the kernel is out of memory for probes; narrow the pattern")
	case errors.Is(err, ebpf.ErrNotSupported):
		e.Msg = what + ": the kernel does not support it; see uscope doctor"
	default:
		e.Msg = what + ": the kernel refused it"
	}
	return e
}

// procState returns the state letter of /proc/PID/stat (R, S, Z, ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may itself contain ')'.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			if i+2 < len(b) {
				return b[i+2], nil
			}
			break
		}
	}
	return 0, fmt.Errorf("unexpected format of /proc/%d/stat", pid)
}
