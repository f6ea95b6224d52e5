package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenInRoot opens path, as process pid sees it, confined to the process's
// root directory: openat2 with RESOLVE_IN_ROOT against /proc/PID/root, so
// that every symbolic link, an absolute one included, and every ".."
// resolves inside that root, as the process itself would resolve them, and
// never leads to a file of uscope's own root (RESOLVE_NO_MAGICLINKS keeps
// /proc/self/... links out too). Needs Linux 5.6; on older kernels the
// error wraps unix.ENOSYS.
func OpenInRoot(pid int, path string) (*os.File, error) {
	root, err := unix.Open(Root(pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the root of process %d: %w", pid, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, path, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), Root(pid)+path), nil
}

// ErrOutsideRoot is the cause of RootPath's error for a path whose links
// lead out of the process's root when followed from uscope's.
var ErrOutsideRoot = errors.New("a link in the path leads out of the process's root")

// RootPath returns /proc/PID/root/PATH when that path names the file the
// process itself sees at path: the file OpenInRoot opens, compared by
// device and inode with what the plain walk through /proc/PID/root reaches
// (which follows an absolute link from uscope's root, out of a
// container). A path whose walks disagree is an error wrapping
// ErrOutsideRoot; one that does not exist in the process's root wraps
// os.ErrNotExist. Without openat2 (before Linux 5.6) the plain walk is
// taken as it is.
func RootPath(pid int, path string) (string, error) {
	p := Root(pid) + path
	host, err := os.Stat(p)
	f, ierr := OpenInRoot(pid, path)
	if errors.Is(ierr, unix.ENOSYS) {
		return p, err
	}
	if ierr != nil {
		return "", ierr
	}
	defer f.Close()
	in, ferr := f.Stat()
	if ferr != nil {
		return "", ferr
	}
	if err != nil || !sameFile(host, in) {
		return "", fmt.Errorf("%s in process %d: %w", path, pid, ErrOutsideRoot)
	}
	return p, nil
}

func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
