package resolve

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/testutil"
)

const cxxExitsSrc = `#include <stdexcept>
struct G { long v; ~G(); };
G::~G() { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) long leaf(long x) { return x * 3; }
__attribute__((noinline)) long callee(long x) { if (x > 100) throw std::runtime_error("x"); return x + 1; }
__attribute__((noinline)) long tail(long x) { return callee(x + 7); }
__attribute__((noinline)) long guarded(long x) { G g{x}; return callee(x) + 1; }
int main(int argc, char **) {
	try { return (int)(leaf(argc) + tail(argc) + guarded(argc)); } catch (...) { return 1; }
}
`

// TestCxxExits: in a C++ binary, a uretprobe becomes probes on the exits of
// a function that calls anything: RET and the landing pad for callee, the tail call (jmp) for
// tail, RET and the landing pad's _Unwind_Resume for guarded; leaf keeps
// the kernel uretprobe; --kernel-uretprobe keeps it everywhere; a program
// reading retval refuses the tail call and leaves the unwinding exit out.
func TestCxxExits(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := filepath.Join(dir, "exits.cc")
	if err := os.WriteFile(src, []byte(cxxExitsSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "exits")
	if out, err := exec.Command(gxx, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	exits := func(opts Options, fn string) ([]string, bool, error) {
		r := New(opts)
		defer r.Close()
		sites, err := r.Resolve(&lang.AttachPoint{Kind: lang.KindUretprobe, Target: bin, Func: fn})
		var hows []string
		atReturn := false
		for _, s := range sites {
			hows = append(hows, strings.TrimPrefix(s.Placement, "at "))
			atReturn = atReturn || s.AtReturn
		}
		sort.Strings(hows)
		return hows, atReturn, err
	}
	for _, tc := range []struct {
		fn   string
		want string // the exits, sorted; "" for the kernel uretprobe
	}{
		{"_Z4leafl", ""},
		// The landing pad frees the exception if its constructor throws.
		{"_Z6calleel", "ret unwind"},
		{"_Z4taill", "tail call"},
		{"_Z7guardedl", "ret unwind"},
	} {
		hows, atReturn, err := exits(Options{}, tc.fn)
		if err != nil {
			t.Errorf("%s: %v", tc.fn, err)
			continue
		}
		got := ""
		if atReturn {
			got = strings.Join(hows, " ")
		}
		if got != tc.want {
			t.Errorf("%s: exits %q, want %q", tc.fn, got, tc.want)
		}
		if _, atReturn, _ := exits(Options{KernelUretprobe: true}, tc.fn); atReturn {
			t.Errorf("%s with KernelUretprobe: probes on exits", tc.fn)
		}
	}
	if _, _, err := exits(Options{ReadsRetval: true}, "_Z4taill"); err == nil || !strings.Contains(err.Error(), "tail call") {
		t.Errorf("retval on a tail call: %v, want a refusal naming the tail call", err)
	}
	if hows, _, err := exits(Options{ReadsRetval: true}, "_Z7guardedl"); err != nil || strings.Contains(strings.Join(hows, " "), "unwind") {
		t.Errorf("retval on guarded: %q, %v; want its RET only", hows, err)
	}
}
