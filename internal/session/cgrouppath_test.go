package session

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestCgroupPath: a cgroup's id (its directory's inode in cgroup2) names
// it as bpftrace's cgroup_path does, unified:/PATH, by the whole id or
// its low 32 bits.
func TestCgroupPath(t *testing.T) {
	testutil.RequireRoot(t)
	root := cgroup2Mount()
	if root == "" {
		t.Fatal("no cgroup2 file system in /proc/self/mountinfo")
	}
	dir := filepath.Join(root, "uscope-cgroup-path-test")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{st.Ino, st.Ino & 0xffffffff} {
		if got, want := cgroupPath(id), "unified:/uscope-cgroup-path-test"; got != want {
			t.Errorf("cgroupPath(%d) = %q, want %q", id, got, want)
		}
	}
	if got := cgroupPath(1); got != "unified:/" {
		t.Errorf("cgroupPath(1) = %q, want unified:/ (the root cgroup)", got)
	}
}
