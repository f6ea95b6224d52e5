package resolve

import (
	"os"
	"testing"

	"github.com/uscope/uscope/proc"
)

func TestLooseName(t *testing.T) {
	for _, c := range []struct {
		name, base string
		want       bool
	}{
		{"ruby", "libruby-3.1.so.3.1.2", true},
		{"ruby", "libruby.so.3.1", true},
		{"python", "libpython3.11.so.1.0", true},
		{"python", "python3.11", true},
		{"libpython", "libpython3.11.so.1.0", true},
		{"c", "libc-2.31.so", true},
		{"c", "libcrypto.so.3", false},
		{"ssl", "libssl3.so", true},
		{"ruby", "rubyist", false},
		{"ruby", "ruby", false}, // an exact name is matchesName's
		{"/usr/lib/x", "x1", false},
	} {
		if got := looseName(c.name, c.base); got != c.want {
			t.Errorf("looseName(%q, %q) = %v, want %v", c.name, c.base, got, c.want)
		}
	}
}

func TestLooseTargetsPrefersLibraries(t *testing.T) {
	objs := []proc.Object{
		{Path: "/usr/bin/python3.11", OpenPath: "/proc/1/exe", Exe: true},
		{Path: "/usr/lib/libpython3.11.so.1.0", OpenPath: "/proc/1/map_files/a"},
	}
	got := looseTargets("python", objs)
	if len(got) != 1 || got[0].Path != "/usr/lib/libpython3.11.so.1.0" {
		t.Errorf("python: %v, want libpython3.11.so.1.0", got)
	}
	got = looseTargets("python", objs[:1])
	if len(got) != 1 || got[0].Path != "/usr/bin/python3.11" {
		t.Errorf("python without the library: %v, want the executable", got)
	}
}

// TestPthreadStub resolves pthread: where libpthread.so.0 is glibc 2.34's
// empty stub, it is libc, which defines pthread_mutex_lock.
func TestPthreadStub(t *testing.T) {
	r := New(Options{})
	defer r.Close()
	ts, err := r.Targets("pthread")
	if err != nil {
		t.Skipf("no libpthread here: %v", err)
	}
	f, err := r.Object(ts[0].AttachPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Lookup("pthread_mutex_lock"); !ok {
		t.Errorf("pthread resolved to %s, which has no pthread_mutex_lock", ts[0].Path)
	}
	if st, err := os.Stat("/lib/x86_64-linux-gnu/libpthread.so.0"); err == nil && st.Size() < 64<<10 {
		if !matchesName("c", ts[0].Path[len(ts[0].Path)-len("libc.so.6"):]) {
			t.Errorf("libpthread is a stub here, but pthread resolved to %s, not libc", ts[0].Path)
		}
	}
}
