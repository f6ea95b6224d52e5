//go:build linux && (amd64 || arm64)

package stapsdt

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/testutil"
)

const (
	noexecChildEnv = "STAPSDT_TEST_NOEXEC_CHILD"
	noexecDirEnv   = "STAPSDT_TEST_NOEXEC_DIR"
	noexecSysctl   = "/proc/sys/vm/memfd_noexec"
)

// TestMemfdNoexecFallback runs a copy of the test binary in a new PID
// namespace whose vm.memfd_noexec is 2 (executable memfds forbidden; the
// setting is per PID namespace, so the host is unaffected) and checks that
// Load falls back to a file in the WithTempDir directory that works.
func TestMemfdNoexecFallback(t *testing.T) {
	if os.Getenv(noexecChildEnv) == "1" {
		noexecChild(t)
		return
	}
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	before, err := os.ReadFile(noexecSysctl)
	if err != nil {
		t.Skipf("kernel without vm.memfd_noexec (6.3+): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(unshare, "--pid", "--fork", "sh", "-c",
		`echo 2 > `+noexecSysctl+` && exec "$0" -test.run '^TestMemfdNoexecFallback$' -test.v -test.count=1`, os.Args[0])
	cmd.Env = append(os.Environ(), noexecChildEnv+"=1", noexecDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if after, _ := os.ReadFile(noexecSysctl); !bytes.Equal(after, before) {
		// Only possible if the kernel did not scope the sysctl to the
		// namespace: put the host's value back.
		os.WriteFile(noexecSysctl, before, 0o644)
		t.Errorf("host vm.memfd_noexec changed from %q to %q", before, after)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMemfdNoexecFallback") {
		t.Fatalf("child in a memfd_noexec=2 namespace: %v\n%s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("files left after Unload: %v", left)
	}
}

// noexecChild is the namespace side of TestMemfdNoexecFallback.
func noexecChild(t *testing.T) {
	fd, err := unix.MemfdCreate("probe", unix.MFD_CLOEXEC|unix.MFD_EXEC)
	if err == nil {
		unix.Close(fd)
		t.Fatalf("executable memfd allowed: vm.memfd_noexec=2 not in effect")
	}
	if !errors.Is(err, unix.EACCES) {
		t.Fatalf("memfd_create(MFD_EXEC): %v, want EACCES", err)
	}
	dir := os.Getenv(noexecDirEnv)
	p, err := NewProvider("noexec", WithTempDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := p.AddProbe("hit", String, Int64)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Load(); err != nil {
		t.Fatalf("Load with executable memfds forbidden: %v", err)
	}
	path := p.Path()
	if filepath.Dir(path) != dir {
		t.Errorf("Path() = %q, want a file in %s", path, dir)
	}
	setSemaphore(pr, 1)
	pr.Fire("through the file mapping", 1)
	setSemaphore(pr, 0)
	if err := p.Unload(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after Unload: %v", path, err)
	}
}
