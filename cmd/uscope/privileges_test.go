package main

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/testutil"
)

func TestFileCapsRefusal(t *testing.T) {
	caps := func(string) bool { return true }
	none := func(string) bool { return false }
	for _, tc := range []struct {
		cmd   string
		uid   int
		allow string
		has   func(string) bool
		fail  bool
	}{
		{"run", 1000, "", caps, true},
		{"count", 1000, "0", caps, true},
		{"run", 1000, "1", caps, false},
		{"run", 0, "", caps, false},
		{"run", 1000, "", none, false},
		{"version", 1000, "", caps, false},
	} {
		err := fileCapsRefusal(tc.cmd, tc.uid, tc.allow, tc.has)
		if (err != nil) != tc.fail {
			t.Errorf("%+v: %v", tc, err)
		}
		if err != nil && !strings.Contains(err.Error(), "USCOPE_ALLOW_CAPS=1") {
			t.Errorf("message lacks the way out: %v", err)
		}
	}
}

// TestFileCapsBinary: a copy of uscope with file capabilities
// (cap_bpf,cap_perfmon+ep, set as setcap does) refuses to trace for a user
// who is not root (nobody), and runs with USCOPE_ALLOW_CAPS=1.
func TestFileCapsBinary(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "uscope")
	b, err := os.ReadFile(uscopeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// struct vfs_cap_data, revision 2, effective: CAP_PERFMON (38) and
	// CAP_BPF (39) permitted.
	xattr := make([]byte, 20)
	binary.LittleEndian.PutUint32(xattr[0:], 0x02000000|1)
	binary.LittleEndian.PutUint32(xattr[12:], 1<<(38-32)|1<<(39-32))
	if err := unix.Setxattr(bin, "security.capability", xattr, 0); err != nil {
		if testutil.InCI() {
			t.Fatalf("set security.capability: %v", err)
		}
		t.Skipf("no security xattrs on %s: %v", dir, err)
	}
	run := func(env ...string) (string, int) {
		cmd := exec.Command(bin, "run", "-e", "BEGIN { printf(\"hi\\n\"); exit(); }")
		cmd.Env = append(os.Environ(), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run()
	if code != 1 || !strings.Contains(out, "has file capabilities") || !strings.Contains(out, "USCOPE_ALLOW_CAPS=1") {
		t.Errorf("as nobody: exit %d, output %q; want the refusal", code, out)
	}
	out, _ = run("USCOPE_ALLOW_CAPS=1")
	if strings.Contains(out, "has file capabilities") {
		t.Errorf("with USCOPE_ALLOW_CAPS=1: still refused: %q", out)
	}
	t.Logf("with USCOPE_ALLOW_CAPS=1 as nobody: %s", strings.TrimSpace(out))
}
