package resolve

import (
	"path/filepath"
	"testing"
)

// A relative wildcarded path matches the objects of a process by their
// absolute paths, from the user's directory.
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
	if absGlob("lib*") != "lib*" || absGlob("/a/b*") != "/a/b*" {
		t.Error("absGlob changed a name or an absolute pattern")
	}
}
