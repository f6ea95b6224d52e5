package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestNotRootOneLine runs a tool as user nobody: the error is one line
// that says what to do, without cilium/ebpf's hints about its own API
// (MEMLOCK, rlimit.RemoveMemlock), and the exit status is 2.
func TestNotRootOneLine(t *testing.T) {
	testutil.RequireRoot(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	dir := t.TempDir()
	bin := filepath.Join(dir, "uscope")
	data, err := os.ReadFile(uscopeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for _, args := range [][]string{
		{"funccount", "-d", "1", "c:malloc"},
		{"run", "-e", "uprobe:c:malloc { @ = count(); }"},
	} {
		cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		msg := strings.TrimSpace(stderr.String())
		if !ok || ee.ExitCode() != 2 || strings.Contains(msg, "\n") || strings.Contains(msg, "MEMLOCK") ||
			!strings.Contains(msg, "run uscope as root") {
			t.Errorf("%q as nobody: %v, stderr %q; want exit 2 and one line saying to run as root", args, err, msg)
		}
	}
}
