package usdt

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// sdtProgram has one probe per argument form. It needs no libc, so that a
// cross compiler without a target libc can link it. With -DWITH_SEMA every
// probe gets a semaphore and "guarded" tests it.
const sdtProgram = `
#ifdef WITH_SEMA
#define _SDT_HAS_SEMAPHORES 1
#define SEMA(name) unsigned short test_##name##_semaphore __attribute__((unused, section(".probes")));
#define ENABLED(name) __builtin_expect(test_##name##_semaphore, 0)
#else
#define SEMA(name)
#define ENABLED(name) 1
#endif
#include <sys/sdt.h>

SEMA(consts) SEMA(regs) SEMA(mem) SEMA(sib) SEMA(sibstack) SEMA(rip) SEMA(floats) SEMA(guarded) SEMA(noargs)

int global_int = -7;
static long static_long = 123456789;
unsigned char g_uchar = 200;
short g_short = -300;
struct S { int a; long b; signed char c[8]; } gs = {1, 2, "abcdefg"};
int arr_global[16] = {1, 2, 3};
double g_double = 2.5;
volatile long sink;

__attribute__((noinline)) void consts(void) {
	DTRACE_PROBE4(test, consts, -5, 18446744073709551614ULL, (signed char)-1, (unsigned short)65535);
}

__attribute__((noinline)) void regs(signed char a, unsigned char b, short c, unsigned short d,
	int e, unsigned f, long g, unsigned long h) {
	DTRACE_PROBE8(test, regs, a, b, c, d, e, f, g, h);
}

__attribute__((noinline)) void mem(struct S *p) {
	DTRACE_PROBE3(test, mem, p->a, p->b, p->c[3]);
}

__attribute__((noinline)) void sib(int *arr, long i) {
	DTRACE_PROBE3(test, sib, arr[i], arr[i + 1], arr_global[i]);
}

__attribute__((noinline)) void sibstack(long i) {
	volatile signed char buf[64];
	for (int k = 0; k < 64; k++) buf[k] = k;
	DTRACE_PROBE1(test, sibstack, buf[i]);
}

__attribute__((noinline)) void rip(void) {
	DTRACE_PROBE5(test, rip, global_int, static_long, g_uchar, gs.b, g_short);
}

__attribute__((noinline)) void floats(double x) {
	DTRACE_PROBE3(test, floats, g_double, (float)x, x * 2);
}

__attribute__((noinline)) long expensive(void) { return sink + 42; }

__attribute__((noinline)) void guarded(void) {
	if (ENABLED(guarded))
		DTRACE_PROBE1(test, guarded, expensive());
}

__attribute__((noinline)) void noargs(void) { DTRACE_PROBE(test, noargs); }

int main(int argc, char **argv) {
	int local[8] = {10, 11, 12, 13, 14, 15, 16, 17};
	consts();
	regs(-1, 2, -3, 4, -5, 6, -7, 8);
	mem(&gs);
	sib(local, argc);
	sibstack(argc);
	rip();
	floats(argc + 0.5);
	guarded();
	noargs();
	return 0;
}
`

// wantArg is what the C types say about an argument.
type wantArg struct {
	size   int // 0: the size of long
	signed bool
	float  bool
	value  *int64 // the value, if the compiler makes it a constant
}

func val(v int64) *int64 { return &v }

var sdtWant = map[string][]wantArg{
	"consts":   {{4, true, false, val(-5)}, {8, false, false, val(-2)}, {1, true, false, val(-1)}, {2, false, false, val(65535)}},
	"regs":     {{1, true, false, nil}, {1, false, false, nil}, {2, true, false, nil}, {2, false, false, nil}, {4, true, false, nil}, {4, false, false, nil}, {0, true, false, nil}, {0, false, false, nil}},
	"mem":      {{4, true, false, val(1)}, {0, true, false, val(2)}, {1, true, false, val('d')}},
	"sib":      {{4, true, false, nil}, {4, true, false, nil}, {4, true, false, nil}},
	"sibstack": {{1, true, false, nil}},
	"rip":      {{4, true, false, val(-7)}, {0, true, false, val(123456789)}, {1, false, false, val(200)}, {0, true, false, val(2)}, {2, true, false, val(-300)}},
	"floats":   {{8, false, true, nil}, {4, false, true, nil}, {8, false, true, nil}},
	"guarded":  {{0, true, false, nil}},
	"noargs":   nil,
}

// globals are the C program's variables that RIP-relative arguments name.
var sdtGlobals = []string{"global_int", "static_long", "g_uchar", "g_short", "gs", "arr_global", "g_double"}

// classify tells an operand's kind by its shape, independently of the parser.
var classify = map[elf.Machine][]struct {
	re   *regexp.Regexp
	kind ArgKind
}{
	elf.EM_X86_64: {
		{regexp.MustCompile(`^\$-?[0-9]+$`), ArgConst},
		{regexp.MustCompile(`^%xmm[0-9]+$`), ArgUnsupported},
		{regexp.MustCompile(`^%[a-z0-9]+$`), ArgReg},
		{regexp.MustCompile(`^[-+0-9A-Za-z_.]+\(%rip\)$`), ArgRIP},
		{regexp.MustCompile(`^-?[0-9]*\(%r[a-z0-9]+\)$`), ArgMem},
		{regexp.MustCompile(`^-?[0-9]*\(%r[a-z0-9]+,%r[a-z0-9]+(,[1248])?\)$`), ArgMemIndex},
		{regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*(\+[0-9]+)?\(,%r[a-z0-9]+(,[1248])?\)$`), ArgMemIndex}, // non-PIE global array
	},
	elf.EM_AARCH64: {
		{regexp.MustCompile(`^-?[0-9]+$`), ArgConst},
		{regexp.MustCompile(`^([xw][0-9]+|sp)$`), ArgReg},
		{regexp.MustCompile(`^\[(x[0-9]+|sp)(, -?[0-9]+)?\]$`), ArgMem},
		{regexp.MustCompile(`^\[(x[0-9]+|sp), x[0-9]+\]$`), ArgMemIndex},
	},
}

type sdtVariant struct {
	name     string
	cc       string // compiler; "" is the host gcc
	flags    []string
	machine  elf.Machine
	longSize int
	sema     bool
}

var sdtVariants = []sdtVariant{
	{name: "O0", flags: []string{"-O0"}},
	{name: "O1", flags: []string{"-O1"}},
	{name: "O2", flags: []string{"-O2"}},
	{name: "O2-pie", flags: []string{"-O2", "-fPIE", "-pie"}},
	{name: "O2-nopie", flags: []string{"-O2", "-fno-pie", "-no-pie"}},
	{name: "O3-nopie-sema", flags: []string{"-O3", "-fno-pie", "-no-pie", "-DWITH_SEMA"}, sema: true},
	{name: "O0-sema", flags: []string{"-O0", "-DWITH_SEMA"}, sema: true},
	{name: "O2-pie-sema", flags: []string{"-O2", "-fPIE", "-pie", "-DWITH_SEMA"}, sema: true},
	{name: "arm64-O0", cc: "aarch64-linux-gnu-gcc", flags: []string{"-O0", "-static"}, machine: elf.EM_AARCH64},
	{name: "arm64-O2", cc: "aarch64-linux-gnu-gcc", flags: []string{"-O2", "-static"}, machine: elf.EM_AARCH64},
	{name: "arm64-O2-sema", cc: "aarch64-linux-gnu-gcc", flags: []string{"-O2", "-static", "-DWITH_SEMA"}, machine: elf.EM_AARCH64, sema: true},
	{name: "arm64-O2-pie-sema", cc: "aarch64-linux-gnu-gcc", flags: []string{"-O2", "-fPIE", "-static-pie", "-DWITH_SEMA"}, machine: elf.EM_AARCH64, sema: true},
}

// buildSDT compiles sdtProgram for a variant. Cross builds link without
// libc (the variant says -static or -static-pie).
func buildSDT(t *testing.T, v sdtVariant) string {
	t.Helper()
	if v.cc == "" {
		testutil.RequireFile(t, "/usr/include/x86_64-linux-gnu/sys/sdt.h")
		return testutil.BuildC(t, "sdt", sdtProgram, v.flags...)
	}
	cc := testutil.RequireTool(t, v.cc)
	dir := t.TempDir()
	// sys/sdt.h is architecture-neutral but installed under the host
	// triplet: offer just it (and its config) to the cross compiler.
	inc := filepath.Join(dir, "include", "sys")
	if err := os.MkdirAll(inc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"sdt.h", "sdt-config.h"} {
		src := filepath.Join("/usr/include/x86_64-linux-gnu/sys", h)
		testutil.RequireFile(t, src)
		if err := os.Symlink(src, filepath.Join(inc, h)); err != nil {
			t.Fatal(err)
		}
	}
	cfile, out := filepath.Join(dir, "sdt.c"), filepath.Join(dir, "sdt")
	if err := os.WriteFile(cfile, []byte(sdtProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-isystem", filepath.Join(dir, "include"), "-nostdlib", "-Wl,-e,main", "-o", out, cfile}, v.flags...)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, b)
	}
	return out
}

// readelfSymbols returns the values readelf -s shows for each name.
func readelfSymbols(t *testing.T, readelf, path string) map[string][]uint64 {
	t.Helper()
	cmd := exec.Command(readelf, "-sW", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("readelf -s %s: %v", path, err)
	}
	syms := make(map[string][]uint64)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasSuffix(f[0], ":") || f[6] == "UND" {
			continue
		}
		v, err := strconv.ParseUint(f[1], 16, 64)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(f[7], "@")
		if !slices.Contains(syms[name], v) {
			syms[name] = append(syms[name], v)
		}
	}
	return syms
}

// checkSymbols compares every resolved argument address with readelf's
// symbol table.
func checkSymbols(t *testing.T, readelf, path string, sites []Site) {
	t.Helper()
	var syms map[string][]uint64
	for _, s := range sites {
		for _, a := range s.Args {
			if a.Symbol == "" || !a.Resolved {
				continue
			}
			if syms == nil {
				syms = readelfSymbols(t, readelf, path)
			}
			vals := syms[a.Symbol]
			if len(vals) != 1 || vals[0]+uint64(a.Offset) != a.SymbolAddr {
				t.Errorf("%s %s:%s: %v, but readelf has %s at %#x", path, s.Provider, s.Name, a, a.Symbol, vals)
			}
		}
	}
}

func TestSDTProgram(t *testing.T) {
	readelf := testutil.RequireTool(t, "readelf")
	seen := map[elf.Machine]map[string]bool{}
	for _, v := range sdtVariants {
		if v.machine == 0 {
			v.machine = elf.EM_X86_64
		}
		v.longSize = 8
		t.Run(v.name, func(t *testing.T) {
			path := buildSDT(t, v)
			sites := compareWithReadelf(t, readelf, path)
			checkFileBytes(t, path, sites)
			checkSymbols(t, readelf, path, sites)
			if seen[v.machine] == nil {
				seen[v.machine] = map[string]bool{}
			}
			checkSDTSites(t, v, path, sites, readelfSymbols(t, readelf, path), seen[v.machine])
		})
	}
	// The variants together must have produced every form.
	for m, forms := range map[elf.Machine][]string{
		elf.EM_X86_64:  {"const", "reg", "mem", "mem-index", "rip", "reg1", "reg2", "reg4", "reg8", "float", "sema", "rip+off", "symbol-index"},
		elf.EM_AARCH64: {"const", "reg", "mem", "mem-index", "float", "sema"},
	} {
		if seen[m] == nil {
			continue // skipped
		}
		for _, f := range forms {
			if !seen[m][f] {
				t.Errorf("%v: no variant produced the %s form; seen %v", m, f, seen[m])
			}
		}
	}
}

// checkSDTSites checks the decoded sites of one build of sdtProgram.
func checkSDTSites(t *testing.T, v sdtVariant, path string, sites []Site, syms map[string][]uint64, seen map[string]bool) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != v.machine {
		t.Fatalf("built for %v, want %v", f.Machine, v.machine)
	}
	var names []string
	for _, p := range Probes(sites) {
		names = append(names, p.Provider+":"+p.Name)
		if len(p.Sites) != 1 {
			t.Errorf("%s: %d sites, want 1", p.Name, len(p.Sites))
		}
	}
	var want []string
	for n := range sdtWant {
		want = append(want, "test:"+n)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("probes %q, want %q", names, want)
	}
	offsetDiffers := false
	for _, s := range sites {
		if s.Err != nil {
			t.Errorf("%s: %v", s.Name, s.Err)
			continue
		}
		offsetDiffers = offsetDiffers || s.FileOffset != s.Addr
		if v.sema {
			seen["sema"] = true
			sem := syms["test_"+s.Name+"_semaphore"]
			if len(sem) != 1 || s.Semaphore != sem[0] || s.SemaphoreOffset == 0 {
				t.Errorf("%s: semaphore %#x (offset %#x), symbol table says %#x", s.Name, s.Semaphore, s.SemaphoreOffset, sem)
			}
		} else if s.Semaphore != 0 || s.SemaphoreOffset != 0 {
			t.Errorf("%s: unexpected semaphore %#x", s.Name, s.Semaphore)
		}
		w := sdtWant[s.Name]
		if len(s.Args) != len(w) {
			t.Errorf("%s: %d args from %q, want %d", s.Name, len(s.Args), s.ArgsRaw, len(w))
			continue
		}
		for i, a := range s.Args {
			checkSDTArg(t, v, s.Name, i, a, w[i], seen)
		}
	}
	if f.Type == elf.ET_EXEC && !offsetDiffers {
		t.Errorf("ET_EXEC with every file offset equal to its address: offsets not translated?")
	}
}

func checkSDTArg(t *testing.T, v sdtVariant, probe string, i int, a Arg, w wantArg, seen map[string]bool) {
	t.Helper()
	size := w.size
	if size == 0 {
		size = v.longSize
	}
	if a.Err != nil {
		t.Errorf("%s arg %d %q: %v", probe, i, a.Raw, a.Err)
	}
	if a.Size != size || a.Float != w.float || (!w.float && a.Signed != w.signed) {
		t.Errorf("%s arg %d %q: %v, want size %d signed %v float %v", probe, i, a.Raw, a, size, w.signed, w.float)
	}
	op := operandOf(a.Raw)
	kind := ArgKind(-1)
	for _, c := range classify[v.machine] {
		if c.re.MatchString(op) {
			kind = c.kind
			break
		}
	}
	if a.Kind != kind {
		t.Errorf("%s arg %d %q: kind %v, its shape says %v", probe, i, a.Raw, a.Kind, kind)
	}
	seen[a.Kind.String()] = true
	if a.Float {
		seen["float"] = true
	}
	switch a.Kind {
	case ArgConst:
		if w.value != nil && a.Offset != *w.value {
			t.Errorf("%s arg %d %q: constant %d, want %d", probe, i, a.Raw, a.Offset, *w.value)
		}
	case ArgReg:
		seen["reg"+strconv.Itoa(a.Size)] = true
		if v.machine == elf.EM_AARCH64 {
			n, _ := strconv.Atoi(op[1:])
			if a.Reg.Name != "x"+op[1:] || a.Reg.PtRegsOffset != 8*n {
				t.Errorf("%s arg %d %q: register %+v", probe, i, a.Raw, a.Reg)
			}
		}
	case ArgMemIndex:
		if a.Symbol != "" {
			seen["symbol-index"] = true
			if !slices.Contains(sdtGlobals, a.Symbol) || !a.Resolved || a.Reg != (Reg{}) {
				t.Errorf("%s arg %d %q: symbol %q resolved %v base %v", probe, i, a.Raw, a.Symbol, a.Resolved, a.Reg)
			}
		}
	case ArgRIP:
		if !slices.Contains(sdtGlobals, a.Symbol) || !a.Resolved {
			t.Errorf("%s arg %d %q: symbol %q resolved %v", probe, i, a.Raw, a.Symbol, a.Resolved)
		}
		if a.Offset != 0 {
			seen["rip+off"] = true
		}
	}
}
