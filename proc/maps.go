package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoProcess is wrapped by errors about a PID that does not exist.
var ErrNoProcess = errors.New("no such process")

// NoProcessError says that a process does not exist.
type NoProcessError struct{ PID int }

func (e *NoProcessError) Error() string { return fmt.Sprintf("process %d does not exist", e.PID) }

// Unwrap makes errors.Is(err, ErrNoProcess) hold.
func (e *NoProcessError) Unwrap() error { return ErrNoProcess }

// procRoot is where procfs is mounted; tests do not change it.
const procRoot = "/proc"

// Dir returns /proc/PID.
func Dir(pid int) string { return procRoot + "/" + strconv.Itoa(pid) }

// Exists reports whether a process with this PID exists (in uscope's PID
// namespace).
func Exists(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(Dir(pid))
	return err == nil
}

// Exe returns the path of the process's executable as the process sees it
// (the target of /proc/PID/exe, without a " (deleted)" suffix) and whether
// the file was deleted.
func Exe(pid int) (path string, deleted bool, err error) {
	p, err := os.Readlink(Dir(pid) + "/exe")
	if err != nil {
		return "", false, wrapPID(pid, err)
	}
	if s, ok := strings.CutSuffix(p, " (deleted)"); ok {
		return s, true, nil
	}
	return p, false, nil
}

// Root returns the directory through which the process's files can be
// opened from uscope's mount namespace: /proc/PID/root.
func Root(pid int) string { return Dir(pid) + "/root" }

// wrapPID turns "no such file" on /proc/PID into a NoProcessError.
func wrapPID(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		if !Exists(pid) {
			return &NoProcessError{PID: pid}
		}
	}
	return fmt.Errorf("process %d: %w", pid, err)
}

// Perms are the permission bits of a mapping.
type Perms struct {
	Read, Write, Exec bool
	Shared            bool // 's' rather than 'p'
}

func (p Perms) String() string {
	b := []byte("---p")
	if p.Read {
		b[0] = 'r'
	}
	if p.Write {
		b[1] = 'w'
	}
	if p.Exec {
		b[2] = 'x'
	}
	if p.Shared {
		b[3] = 's'
	}
	return string(b)
}

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End   uint64 // [Start, End) in the process's address space
	Perms        Perms
	Offset       uint64 // file offset of Start
	Major, Minor uint32 // device of the file
	Inode        uint64 // 0 for anonymous mappings
	// Path is the file as the process sees it, without the " (deleted)"
	// suffix; or a pseudo-path such as "[heap]", "[vdso]"; or "" when
	// anonymous. A memfd shows as "/memfd:NAME".
	Path    string
	Deleted bool // the file was unlinked (memfds always are)
	Memfd   bool // a memfd_create(2) file
}

// IsFile reports whether the mapping is backed by a file (a path, not a
// pseudo-path and not anonymous memory).
func (m Mapping) IsFile() bool { return m.Inode != 0 && strings.HasPrefix(m.Path, "/") }

// MapFilesPath returns /proc/PID/map_files/START-END, which opens the mapped
// file even when it was deleted or lives in another mount namespace.
func (m Mapping) MapFilesPath(pid int) string {
	return fmt.Sprintf("%s/map_files/%x-%x", Dir(pid), m.Start, m.End)
}

// Maps reads and parses /proc/PID/maps.
func Maps(pid int) ([]Mapping, error) {
	b, err := os.ReadFile(Dir(pid) + "/maps")
	if err != nil {
		return nil, wrapPID(pid, err)
	}
	return ParseMaps(b)
}

// ParseMaps parses the contents of a /proc/PID/maps file.
func ParseMaps(b []byte) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := ParseMapsLine(line)
		if err != nil {
			return nil, fmt.Errorf("maps line %d: %w", n, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseMapsLine parses one line of /proc/PID/maps:
//
//	55d0c3a00000-55d0c3a27000 r-xp 00028000 fd:01 1835053   /usr/bin/cat
func ParseMapsLine(line string) (Mapping, error) {
	var m Mapping
	rest := line
	field := func() (string, bool) {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return "", false
		}
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			f := rest
			rest = ""
			return f, true
		}
		f := rest[:i]
		rest = rest[i:]
		return f, true
	}
	bad := func(what string) (Mapping, error) {
		return Mapping{}, fmt.Errorf("malformed maps line %q: bad %s", truncate(line, 120), what)
	}
	rng, ok := field()
	if !ok {
		return bad("address range")
	}
	lo, hi, ok := strings.Cut(rng, "-")
	if !ok {
		return bad("address range")
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return bad("start address")
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil || m.End < m.Start {
		return bad("end address")
	}
	perms, ok := field()
	if !ok || len(perms) != 4 {
		return bad("permissions")
	}
	m.Perms = Perms{Read: perms[0] == 'r', Write: perms[1] == 'w', Exec: perms[2] == 'x', Shared: perms[3] == 's'}
	off, ok := field()
	if !ok {
		return bad("offset")
	}
	if m.Offset, err = strconv.ParseUint(off, 16, 64); err != nil {
		return bad("offset")
	}
	dev, ok := field()
	if !ok {
		return bad("device")
	}
	maj, min, ok := strings.Cut(dev, ":")
	if !ok {
		return bad("device")
	}
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	if err1 != nil || err2 != nil {
		return bad("device")
	}
	m.Major, m.Minor = uint32(ma), uint32(mi)
	ino, ok := field()
	if !ok {
		return bad("inode")
	}
	if m.Inode, err = strconv.ParseUint(ino, 10, 64); err != nil {
		return bad("inode")
	}
	// The path is the rest of the line after the padding; it may contain
	// spaces.
	path := strings.TrimLeft(rest, " \t")
	if p, ok := strings.CutSuffix(path, " (deleted)"); ok && strings.HasPrefix(path, "/") {
		path = p
		m.Deleted = true
	}
	m.Path = path
	if strings.HasPrefix(path, "/memfd:") {
		m.Memfd = true
		m.Deleted = true
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
