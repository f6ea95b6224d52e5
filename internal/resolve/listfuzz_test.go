package resolve

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

// FuzzListELF is the hostile-ELF fuzz of `uscope list` (issue 19): mutants
// of real binaries (small ones built here, C with USDT notes and symbols
// and C++ with exceptions, and Debian's /usr/bin/true and /usr/bin/ls) go
// through everything list and an attach point read: targets, symbols,
// demangling, USDT notes and argument specs, Go detection, entry placement
// and C++ exits. A fuzz input picks a binary and overwrites bytes of it at
// an offset (twice), so that inputs stay small and the fuzzer fast while
// every mutant is a whole real ELF. Nothing may panic or hang; errors are
// fine.
func FuzzListELF(f *testing.F) {
	bins := fuzzSeeds(f)
	if len(bins) == 0 {
		f.Skip("no binary to mutate")
	}
	for i, b := range bins {
		f.Add(uint8(i), uint32(0), []byte{}, uint32(0), []byte{})
		f.Add(uint8(i), uint32(len(b)/2), []byte{0xff, 0xff, 0xff, 0xff}, uint32(0x28), []byte{0, 0, 0, 0x7f})
		f.Add(uint8(i), uint32(0x20), []byte{0x40}, uint32(len(b)-16), []byte{0xde, 0xad, 0xbe, 0xef})
	}
	f.Fuzz(func(t *testing.T, which uint8, off1 uint32, patch1 []byte, off2 uint32, patch2 []byte) {
		b := append([]byte(nil), bins[int(which)%len(bins)]...)
		for _, p := range []struct {
			off   uint32
			bytes []byte
		}{{off1, patch1}, {off2, patch2}} {
			if len(b) > 0 {
				copy(b[int(p.off)%len(b):], p.bytes)
			}
		}
		listMutant(t, b)
	})
}

// listMutant lists b as an ELF file and resolves its first probes.
func listMutant(t *testing.T, b []byte) {
	path := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	r := New(Options{})
	defer r.Close()
	ts, err := r.Targets(path)
	if err != nil {
		return
	}
	n := 0
	_ = r.List(ts, ListOptions{Details: true}, func(l *Listing) error {
		n++
		if n > 5 {
			return nil
		}
		_ = l.Probe()
		kind := l.Kind
		if kind == lang.KindUprobe {
			// The uretprobe of the same function: C++ exits.
			kind = lang.KindUretprobe
		}
		_, _ = r.Resolve(&lang.AttachPoint{Kind: kind, Target: path, Func: l.Func, Provider: l.Provider})
		return nil
	})
}

// fuzzSeeds returns the bytes of small real binaries; the ones that cannot
// be built or found here are left out (the fuzzer still runs on the rest).
func fuzzSeeds(f *testing.F) [][]byte {
	dir := f.TempDir()
	var seeds [][]byte
	build := func(compiler, name, src string, flags ...string) {
		if _, err := exec.LookPath(compiler); err != nil {
			return
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			return
		}
		out := filepath.Join(dir, name+".bin")
		if err := exec.Command(compiler, append([]string{"-o", out, file}, flags...)...).Run(); err != nil {
			return
		}
		if b, err := os.ReadFile(out); err == nil {
			seeds = append(seeds, b)
		}
	}
	build("gcc", "usdt.c", `#include <sys/sdt.h>
int counter;
__attribute__((noinline)) int work(int x) { DTRACE_PROBE2(app, tick, x, &counter); return x * 2; }
int main(int argc, char **argv) { return work(argc); }
`, "-O2")
	build("g++", "throw.cc", `#include <stdexcept>
struct G { ~G(); }; G::~G() {}
__attribute__((noinline)) int f(int x) { G g; if (x > 5) throw std::runtime_error("x"); return x; }
int main(int argc, char **) { try { return f(argc); } catch (...) { return 1; } }
`, "-O2")
	for _, p := range []string{"/usr/bin/true", "/usr/bin/ls"} {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}
