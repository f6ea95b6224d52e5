package attach

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// benchSource is a C program with n noinline functions fn0..fn(n-1), the
// same program bench/attach/run.sh generates for bpftrace.
func benchSource(n int) string {
	var b strings.Builder
	b.WriteString("volatile unsigned long sink;\n")
	for i := range n {
		fmt.Fprintf(&b, "__attribute__((noinline)) void fn%d(unsigned long x) { sink += x * %d + %d; }\n", i, i+3, i)
	}
	b.WriteString("int main(void) { return 0; }\n")
	return b.String()
}

// benchBinary returns a binary with n functions: $USCOPE_BENCH_ATTACH_DIR/fnN
// when run.sh built it, else one built here.
func benchBinary(b *testing.B, n int) string {
	if dir := os.Getenv("USCOPE_BENCH_ATTACH_DIR"); dir != "" {
		p := filepath.Join(dir, "fn"+strconv.Itoa(n))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return testutil.BuildC(b, "fn"+strconv.Itoa(n), benchSource(n), "-O1")
}

// functionSites returns one site per distinct function address of bin, from
// .symtab and .dynsym, cookies in order.
func functionSites(b *testing.B, bin string, prefix string) []Site {
	f, err := elf.Open(bin)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	seen := map[uint64]bool{}
	var offs []uint64
	for _, s := range append(syms, dyn...) {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 || s.Section == elf.SHN_UNDEF || !strings.HasPrefix(s.Name, prefix) {
			continue
		}
		off, ok := fileOffset(f, s.Value)
		if !ok || seen[off] {
			continue
		}
		seen[off] = true
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	sites := make([]Site, len(offs))
	for i, off := range offs {
		sites[i] = Site{Path: bin, Offset: off, Cookie: uint64(i)}
	}
	return sites
}

// BenchmarkAttachDetach measures attaching a counting program to N
// functions and detaching it again, through uprobe_multi and through one
// perf event per function; and all functions of /usr/bin/redis-server
// through uprobe_multi. Metrics: attach-ms and detach-ms per operation.
// Loading the program is not included. bench/attach/run.sh runs it with
// -benchtime 1x and reports min/median/max over -count runs.
func BenchmarkAttachDetach(b *testing.B) {
	testutil.RequireRoot(b)
	type target struct {
		name  string
		sites func(*testing.B) []Site
	}
	var targets []target
	for _, n := range []int{10, 100, 400, 3000} {
		targets = append(targets, target{fmt.Sprintf("N=%d", n), func(b *testing.B) []Site {
			sites := functionSites(b, benchBinary(b, n), "fn")
			if len(sites) != n {
				b.Fatalf("found %d functions, want %d", len(sites), n)
			}
			return sites
		}})
	}
	targets = append(targets, target{"redis-server", func(b *testing.B) []Site {
		testutil.RequireFile(b, "/usr/bin/redis-server")
		return functionSites(b, "/usr/bin/redis-server", "")
	}})

	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"multi", Options{}},
		{"perf", Options{ForcePerfEvent: true}},
	} {
		for _, tg := range targets {
			if mode.opts.ForcePerfEvent && tg.name == "redis-server" {
				continue // hours of detaching on 6.13+; see N=3000
			}
			b.Run(mode.name+"/"+tg.name, func(b *testing.B) {
				sites := tg.sites(b)
				c := newCounter(b, mode.opts, len(sites))
				var attach, detach time.Duration
				b.ResetTimer()
				for range b.N {
					s := NewSet()
					t0 := time.Now()
					err := s.Attach(c.prog, sites, mode.opts)
					t1 := time.Now()
					if cerr := s.Close(); cerr != nil {
						b.Fatal(cerr)
					}
					t2 := time.Now()
					if err != nil {
						b.Fatal(err)
					}
					attach += t1.Sub(t0)
					detach += t2.Sub(t1)
				}
				b.ReportMetric(float64(attach.Microseconds())/1000/float64(b.N), "attach-ms")
				b.ReportMetric(float64(detach.Microseconds())/1000/float64(b.N), "detach-ms")
				b.ReportMetric(float64(len(sites)), "probes")
			})
		}
	}
}
