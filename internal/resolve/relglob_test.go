package resolve

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/uscope/uscope/proc"
)

// A relative wildcarded path matches the objects of a process by their
// absolute paths, from the user's directory, and names the files it
// matches that the process has not mapped (bpftrace's
// usdt:./testprogs/usdt_test*::* with -c expects both usdt_test files).
// The implementation is main's (commit 40671ed); this branch's own copy
// was dropped for the merge, so this test passes once merged.
func TestProcessTargetsRelativeGlob(t *testing.T) {
	pid, _, bin := startProbeProgram(t)
	r := New(Options{PID: pid})
	defer r.Close()
	t.Chdir(filepath.Dir(filepath.Dir(bin)))
	pat := "./" + filepath.Join(filepath.Base(filepath.Dir(bin)), filepath.Base(bin)[:2]+"*")
	got, err := r.Targets(pat)
	if err != nil || len(got) != 1 || got[0].Path != bin {
		t.Fatalf("Targets(%q) = %+v, %v (want %s)", pat, got, err, bin)
	}
	// A file the pattern matches that the process has not mapped is named
	// too, through the process's root (bpftrace attaches to every match).
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(bin + "-copy"); os.Remove(bin + "-text") }) // bin's directory is shared
	if err := os.WriteFile(bin+"-copy", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin+"-text", []byte("not ELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err = r.Targets(pat)
	if err != nil || len(got) != 2 || got[0].Path != bin || got[1].Path != bin+"-copy" || got[1].AttachPath != proc.Root(pid)+bin+"-copy" {
		t.Errorf("Targets(%q) with an unmapped copy = %+v, %v", pat, got, err)
	}
}
