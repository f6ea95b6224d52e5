package proc_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/proc"
)

// chrooted starts a static program that sleeps in a root directory of its
// own (chroot), holding lib/escape, an absolute link to /etc/passwd, a file
// that exists in uscope's root but not in the program's, and lib/inside, an
// absolute link to the program itself, which exists only inside.
func chrooted(t *testing.T) (pid int, root string) {
	t.Helper()
	testutil.RequireRoot(t) // chroot
	bin := testutil.BuildC(t, "sleeper", "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n", "-static", "-O1")
	root = t.TempDir()
	for _, d := range []string{"bin", "lib"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/sleeper"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "lib/escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/sleeper", filepath.Join(root, "lib/inside")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sleeper")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Wait until the exec into the new root happened.
	for i := 0; i < 500; i++ {
		if l, _ := os.Readlink(proc.Root(cmd.Process.Pid)); l == root {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid, root
}

// TestRootLinkNotFollowedOut: a link in a process's root that points
// outside it (an absolute link, which the plain walk of /proc/PID/root
// resolves from uscope's root) is not followed: OpenInRoot resolves it in
// the process's root, where the file does not exist, and RootPath refuses
// it; a link that stays inside resolves to the process's own file.
func TestRootLinkNotFollowedOut(t *testing.T) {
	testutil.RequireFile(t, "/etc/passwd")
	pid, root := chrooted(t)
	// The plain walk escapes: this is what must not be used.
	if _, err := os.Stat(proc.Root(pid) + "/lib/escape"); err != nil {
		t.Fatalf("the plain walk did not reach uscope's /etc/passwd (%v): the test proves nothing", err)
	}
	if f, err := proc.OpenInRoot(pid, "/lib/escape"); err == nil {
		f.Close()
		t.Fatalf("OpenInRoot followed /lib/escape out of the root")
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenInRoot(/lib/escape) = %v, want not exist", err)
	}
	if p, err := proc.RootPath(pid, "/lib/escape"); err == nil {
		t.Fatalf("RootPath(/lib/escape) = %q, want an error", p)
	}
	f, err := proc.OpenInRoot(pid, "/lib/inside")
	if err != nil {
		t.Fatalf("OpenInRoot(/lib/inside): %v", err)
	}
	defer f.Close()
	got, _ := f.Stat()
	want, err := os.Stat(filepath.Join(root, "bin/sleeper"))
	if err != nil || !os.SameFile(got, want) {
		t.Fatalf("OpenInRoot(/lib/inside) opened another file than %s/bin/sleeper", root)
	}
	// The inside link through the plain walk names uscope's /bin/sleeper
	// (absent): RootPath refuses it rather than attach to another file.
	if p, err := proc.RootPath(pid, "/lib/inside"); err == nil {
		if st, serr := os.Stat(p); serr != nil || !os.SameFile(st, want) {
			t.Fatalf("RootPath(/lib/inside) = %q, which is not the process's file", p)
		}
	}
	if p, err := proc.RootPath(pid, "/bin/sleeper"); err != nil || p != proc.Root(pid)+"/bin/sleeper" {
		t.Fatalf("RootPath(/bin/sleeper) = %q, %v", p, err)
	}
}
