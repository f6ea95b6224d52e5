package resolve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/proc"
)

const sdtHeader = "/usr/include/x86_64-linux-gnu/sys/sdt.h"

// probeProgram has two functions and two USDT probes with semaphores, one
// with two sites. It prints the runtime address of work and waits for its
// stdin to close.
const probeProgram = `
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <unistd.h>
__extension__ unsigned short prov_ready_semaphore __attribute__((unused)) __attribute__((section(".probes")));
__extension__ unsigned short prov_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));
int __attribute__((noinline)) work(int x) { STAP_PROBE1(prov, tick, x); return x * 2; }
int __attribute__((noinline)) work_other(int x) { STAP_PROBE1(prov, tick, x + 1); return x + 1; }
int main(void) {
	STAP_PROBE(prov, ready);
	printf("%p\n", (void *)work);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0) {}
	return work(3) + work_other(4) > 100;
}
`

var (
	buildOnce sync.Once
	buildPath string
)

// probeBinary builds probeProgram once for the package's tests.
func probeBinary(t *testing.T) string {
	t.Helper()
	testutil.RequireFile(t, sdtHeader)
	testutil.RequireTool(t, "gcc")
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "resolve-test")
		if err != nil {
			return
		}
		src := filepath.Join(dir, "probes.c")
		bin := filepath.Join(dir, "probes")
		if os.WriteFile(src, []byte(probeProgram), 0o644) != nil {
			return
		}
		if out, err := exec.Command("gcc", "-O1", "-o", bin, src).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "gcc: %v\n%s", err, out)
			return
		}
		buildPath = bin
	})
	if buildPath == "" {
		t.Fatal("cannot build the probe program")
	}
	return buildPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

func resolveOne(t *testing.T, r *Resolver, ap *lang.AttachPoint) ([]Site, error) {
	t.Helper()
	if ap.Raw == "" {
		ap.Raw = ap.Kind + ":" + ap.Target + ":" + ap.Func
	}
	return r.Resolve(ap)
}

func elfFunc(t *testing.T, path, name string) elfx.Symbol {
	t.Helper()
	f, err := elfx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, ok := f.Lookup(name)
	if !ok {
		t.Fatalf("%s not in %s", name, path)
	}
	return s
}

func TestResolveFunctions(t *testing.T) {
	bin := probeBinary(t)
	r := New(Options{ExactEntry: true}) // placement: internal/placement, TestPlacement*
	defer r.Close()
	work := elfFunc(t, bin, "work")
	other := elfFunc(t, bin, "work_other")

	sites, err := resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Func: "work"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 {
		t.Fatalf("work: %d sites", len(sites))
	}
	s := sites[0]
	want := Site{Kind: lang.KindUprobe, Probe: "uprobe:" + bin + ":work", Target: bin, AttachPath: bin, Func: "work",
		Display: "work", FuncAddr: work.Addr, Addr: work.Addr, Size: work.Size, Offset: work.Offset}
	if s != want {
		t.Errorf("site\n got %+v\nwant %+v", s, want)
	}

	sites, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUretprobe, Target: bin, Func: "work*"})
	if err != nil || len(sites) != 2 || sites[0].Func != "work" || sites[1].Func != "work_other" ||
		sites[1].Offset != other.Offset || sites[1].Probe != "uretprobe:"+bin+":work_other" {
		t.Errorf("work*: %+v, %v", sites, err)
	}

	sites, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Func: "work", Offset: 4, HasOffset: true})
	if err != nil || len(sites) != 1 || sites[0].Addr != work.Addr+4 || sites[0].Offset != work.Offset+4 ||
		sites[0].FuncAddr != work.Addr || sites[0].Probe != "uprobe:"+bin+":work+4" {
		t.Errorf("work+4: %+v, %v", sites, err)
	}

	_, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Func: "work", Offset: work.Size, HasOffset: true})
	if err == nil || !strings.Contains(err.Error(), "Offset outside the function bounds ('work' size is") {
		t.Errorf("offset past the end: %v", err)
	}

	sites, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Addr: work.Addr + 1, HasAddr: true})
	if err != nil || len(sites) != 1 || sites[0].Offset != work.Offset+1 || sites[0].FuncAddr != 0 ||
		sites[0].Display != "work+0x1" || sites[0].Probe != fmt.Sprintf("uprobe:%s:0x%x", bin, work.Addr+1) {
		t.Errorf("0xADDR: %+v, %v", sites, err)
	}

	sema := elfFunc(t, bin, "prov_ready_semaphore")
	_, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Addr: sema.Addr, HasAddr: true})
	if err == nil || !strings.Contains(err.Error(), "not in an executable segment") {
		t.Errorf("data address: %v", err)
	}

	_, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Func: "nosuch*"})
	wantErr := fmt.Sprintf(`no function matches "nosuch*" in %s; try: uscope list %s 'uprobe:*nosuch*'`, bin, bin)
	var re *Error
	if err == nil || err.Error() != wantErr || !errors.As(err, &re) {
		t.Errorf("no match:\n got %v\nwant %s", err, wantErr)
	}
}

func TestResolveUSDT(t *testing.T) {
	bin := probeBinary(t)
	r := New(Options{})
	defer r.Close()
	f, err := elfx.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	semaOffset := func(name string) uint64 {
		sema, ok := f.Lookup(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		off, err := f.DataAddrToOffset(sema.Addr)
		if err != nil || off == 0 {
			t.Fatalf("%s: offset %#x, %v", name, off, err)
		}
		return off
	}
	for _, provider := range []string{"prov", "", "p*"} {
		sites, err := resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUSDT, Target: bin, Provider: provider, Func: "tick"})
		if err != nil || len(sites) != 2 {
			t.Fatalf("usdt tick (provider %q): %+v, %v", provider, sites, err)
		}
		for _, s := range sites {
			if s.USDT == nil || s.Offset != s.USDT.FileOffset || s.Probe != "usdt:"+bin+":prov:tick" || s.Provider != "prov" ||
				s.RefCtrOffset != semaOffset("prov_tick_semaphore") || s.FuncAddr != 0 || len(s.USDT.Args) != 1 {
				t.Errorf("tick site %+v", s)
			}
		}
		if sites[0].Addr >= sites[1].Addr {
			t.Errorf("sites not in address order")
		}
	}
	sites, err := resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUSDT, Target: bin, Provider: "prov", Func: "ready"})
	if err != nil || len(sites) != 1 {
		t.Fatalf("usdt ready: %v", err)
	}
	if semOff := semaOffset("prov_ready_semaphore"); sites[0].RefCtrOffset != semOff {
		t.Errorf("semaphore offset %#x, want %#x", sites[0].RefCtrOffset, semOff)
	}
	_, err = resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUSDT, Target: bin, Provider: "prov", Func: "nope"})
	want := fmt.Sprintf(`no USDT probe matches "prov:nope" in %s; try: uscope list %s 'usdt:*nope*'`, bin, bin)
	if err == nil || err.Error() != want {
		t.Errorf("usdt no match:\n got %v\nwant %s", err, want)
	}
	if _, err := r.Resolve(&lang.AttachPoint{Kind: lang.KindBegin}); err == nil {
		t.Errorf("BEGIN resolved to sites")
	}
}

func TestTargets(t *testing.T) {
	bin := probeBinary(t)
	r := New(Options{})
	defer r.Close()
	cache, err := proc.ReadLDCache(proc.DefaultLDCachePath)
	if err != nil {
		t.Skip(err)
	}
	libc, _ := cache.Lookup("c")
	sh := testutil.RequireTool(t, "sh")

	dir := t.TempDir()
	notELF := filepath.Join(dir, "notes.txt")
	os.WriteFile(notELF, []byte("hello"), 0o644)
	copyBin := filepath.Join(dir, "copy")
	b, _ := os.ReadFile(bin)
	os.WriteFile(copyBin, b, 0o755)

	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, bin)
	tests := []struct {
		target string
		want   []string
		err    string
	}{
		{target: bin, want: []string{bin}},
		{target: rel, want: []string{bin}},
		{target: "c", want: []string{libc.Path}},
		{target: "libc", want: []string{libc.Path}},
		{target: "libc.so.6", want: []string{libc.Path}},
		{target: "sh", want: []string{sh}},
		{target: filepath.Join(dir, "*"), want: []string{copyBin}}, // notes.txt is not ELF
		{target: "", err: "no target; give a path, a program on PATH or a library, or -p PID"},
		{target: "sssl", err: `unknown library "sssl": not in /etc/ld.so.cache (nor a program on PATH); give a path`},
		{target: "libsssl", err: `unknown library "libsssl": not in /etc/ld.so.cache; give a path`},
		{target: "/no/such/file", err: "/no/such/file does not exist"},
		{target: filepath.Join(dir, "*.none"), err: "no ELF file matches"},
	}
	for _, tt := range tests {
		got, err := r.Targets(tt.target)
		if tt.err != "" {
			var re *Error
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &re) {
				t.Errorf("Targets(%q) = %v, %v; want error %q", tt.target, got, err, tt.err)
			}
			continue
		}
		var paths []string
		for _, g := range got {
			paths = append(paths, g.Path)
			if g.AttachPath != g.Path {
				t.Errorf("Targets(%q): AttachPath %q differs from Path %q without a PID", tt.target, g.AttachPath, g.Path)
			}
		}
		if err != nil || strings.Join(paths, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Targets(%q) = %v, %v; want %v", tt.target, paths, err, tt.want)
		}
	}
	_, err = r.Object(notELF)
	if err == nil || err.Error() != notELF+" is not an ELF file; give an executable or a shared library" {
		t.Errorf("Object(non-ELF) = %v", err)
	}
	trunc := filepath.Join(dir, "trunc")
	os.WriteFile(trunc, b[:100], 0o644)
	if _, err := r.Object(trunc); err == nil || !strings.Contains(err.Error(), "truncated or damaged ELF") {
		t.Errorf("Object(truncated) = %v", err)
	}
}

// startProbeProgram runs the probe program and returns its PID and the
// runtime address of work; the process ends at cleanup.
func startProbeProgram(t *testing.T) (int, uint64, string) {
	t.Helper()
	bin := probeBinary(t)
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(line), "0x"), 16, 64)
	if err != nil {
		t.Fatalf("address %q: %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return cmd.Process.Pid, addr, bin
}

func TestProcessTargets(t *testing.T) {
	pid, workAddr, bin := startProbeProgram(t)
	r := New(Options{PID: pid})
	defer r.Close()
	root := proc.Root(pid)

	got, err := r.Targets("")
	if err != nil || len(got) != 1 || got[0].Path != bin || got[0].AttachPath != root+bin {
		t.Fatalf(`Targets("") = %+v, %v`, got, err)
	}
	got, err = r.Targets(bin)
	if err != nil || len(got) != 1 || got[0].AttachPath != root+bin {
		t.Errorf("Targets(path) = %+v, %v", got, err)
	}
	libs, err := r.Targets("c")
	if err != nil || len(libs) != 1 || !strings.HasPrefix(filepath.Base(libs[0].Path), "libc.so") ||
		!strings.HasPrefix(libs[0].AttachPath, root) {
		t.Errorf(`Targets("c") = %+v, %v`, libs, err)
	}
	// A library the process has not mapped: the one ld.so.cache names, in
	// the process's root, which it may dlopen later.
	if ssl, err := r.Targets("ssl"); err != nil || len(ssl) != 1 || !strings.HasPrefix(ssl[0].AttachPath, root) || !strings.Contains(ssl[0].Path, "libssl") {
		t.Errorf(`Targets("ssl") = %+v, %v`, ssl, err)
	}
	if _, err := r.Targets("nosuchlibrary"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`"nosuchlibrary" is not mapped in process %d`, pid)) {
		t.Errorf(`Targets("nosuchlibrary") = %v`, err)
	}
	all, err := r.Targets("*")
	if err != nil || len(all) < 2 {
		t.Errorf(`Targets("*") = %+v, %v`, all, err)
	}

	sites, err := resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Func: "work"})
	if err != nil || len(sites) != 1 || sites[0].Target != bin || sites[0].AttachPath != root+bin {
		t.Errorf("uprobe::work in the process = %+v, %v", sites, err)
	}

	work := elfFunc(t, bin, "work")
	for _, d := range []uint64{0, 1, work.Size - 1} {
		name, off, obj, ok := r.Symbolize(pid, workAddr+d)
		if !ok || name != "work" || off != d || obj != bin {
			t.Errorf("Symbolize(work+%d) = %q+%d in %q, %v", d, name, off, obj, ok)
		}
	}
	if _, _, _, ok := r.Symbolize(pid, 8); ok {
		t.Errorf("Symbolize(8) succeeded")
	}

	gone := New(Options{PID: 1 << 23})
	if _, err := gone.Targets(""); err == nil || err.Error() != "process 8388608 does not exist" {
		t.Errorf("missing process: %v", err)
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"*b*", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "abbc", true},
		{"a*c", "abcd", false},
		{"ab*ba", "aba", false},
		{"*:SSL_*", "uprobe:/lib/libssl.so.3:SSL_read", true},
		{"usdt:*", "uprobe:/x:usdt", false},
		{"a**b", "ab", true},
		{"*x*y*z*", "axbyczd", true},
		{"*x*y*z*", "azbycxd", false},
	}
	for _, tt := range tests {
		if got := CompileGlob(tt.pattern).Match(tt.s); got != tt.want {
			t.Errorf("Glob(%q).Match(%q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestNameMatcher(t *testing.T) {
	const mangled = "_ZN6shapes6Circle4areaEd"
	const mangledConst = "_ZNK6shapes6Circle4areaEd"
	tests := []struct {
		pattern string
		name    string
		want    bool
	}{
		{"_ZN6shapes*", mangled, true},
		{"shapes::Circle::area(double)", mangled, true},
		{"shapes::Circle::area", mangled, true}, // without parameters
		{"shapes::Circle::area(int)", mangled, false},
		{"shapes::Circle::area(double) const", mangledConst, true},
		{"*Circle::*", mangled, true},
		{"*Square*", mangled, false},
		{"shapes::*(double)", mangled, true},
		{"*(double)", mangled, true},
		{"main", "main", true},
		{"mai", "main", false},
		{"std::vector<int, std::allocator<int> >::push_back(int const&)", "_ZNSt6vectorIiSaIiEE9push_backERKi", true},
	}
	for _, tt := range tests {
		m := newNameMatcher(CompileGlob(tt.pattern), "")
		if got, _ := m.match(tt.name); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v (required %q)", tt.pattern, tt.name, got, tt.want, m.required)
		}
	}
	// The prefilter: a name lacking an identifier of the pattern is never
	// demangled.
	m := newNameMatcher(CompileGlob("*Circle::area*"), "uprobe:/x:")
	if m.mayMatchDemangled("_ZN6shapes6Square4areaEd") || !m.mayMatchDemangled(mangled) {
		t.Errorf("prefilter wrong (required %q)", m.required)
	}
}

func TestProbeName(t *testing.T) {
	tests := []struct {
		kind, path string
		parts      []string
		want       string
	}{
		{"uprobe", "/usr/bin/x", []string{"main"}, "uprobe:/usr/bin/x:main"},
		{"usdt", "/usr/bin/python3.11", []string{"python", "function__entry"}, "usdt:/usr/bin/python3.11:python:function__entry"},
		{"uprobe", "/x", []string{"github.com/a/b.F"}, `uprobe:/x:"github.com/a/b.F"`},
		{"uprobe", "/memfd:jit", []string{"f"}, `uprobe:"/memfd:jit":f`},
		{"uprobe", "/x", []string{`odd"name`}, `uprobe:/x:"odd\"name"`},
		{"uprobe", "/x", []string{"main.(*T).M"}, "uprobe:/x:main.(*T).M"},
	}
	for _, tt := range tests {
		if got := ProbeName(tt.kind, tt.path, tt.parts...); got != tt.want {
			t.Errorf("ProbeName = %s, want %s", got, tt.want)
		}
	}
}

func TestSortByName(t *testing.T) {
	keys := []string{"b", "a", "_ZN3foo", "_ZN3bar", "a", "", "_ZN3foo1", "_ZN3fo", "b", "c", "_ZN3foo", "zz", "z", "a",
		"_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo", "_ZN3foo"}
	idx := make([]int32, len(keys))
	for i := range idx {
		idx[i] = int32(len(idx) - 1 - i)
	}
	sortByName(idx, keys)
	for i := 1; i < len(idx); i++ {
		a, b := keys[idx[i-1]], keys[idx[i]]
		if a > b || (a == b && idx[i-1] > idx[i]) {
			t.Fatalf("not sorted at %d: %q(%d) before %q(%d)", i, a, idx[i-1], b, idx[i])
		}
	}
}

func apFor(kind, target, fn string) *lang.AttachPoint {
	return &lang.AttachPoint{Kind: kind, Target: target, Func: fn, Raw: kind + ":" + target + ":" + fn}
}

// TestSymbolizeExitedProcess: a process whose mappings were never read
// (it exited first) still gets names for addresses in a probed executable
// linked at a fixed address, which are the same in every process; in a
// PIE they stay unnamed.
func TestSymbolizeExitedProcess(t *testing.T) {
	src := "__attribute__((noinline)) int work(int x) { return x * 3; }\nint main(void) { return work(1) - 3; }\n"
	for _, pie := range []bool{false, true} {
		flags := []string{"-O1", "-no-pie", "-fno-pie"}
		if pie {
			flags = []string{"-O1", "-fPIE", "-pie"}
		}
		bin := testutil.BuildC(t, "fixed", src, flags...)
		r := New(Options{})
		if _, err := resolveOne(t, r, &lang.AttachPoint{Kind: lang.KindUprobe, Target: bin, Func: "work"}); err != nil {
			t.Fatal(err)
		}
		work := elfFunc(t, bin, "work")
		const gone = 1 << 30 // no such process
		name, off, obj, ok := r.Symbolize(gone, work.Addr+1)
		if pie {
			if ok {
				t.Errorf("PIE: named %s+%d", name, off)
			}
		} else if !ok || name != "work" || off != 1 || obj != bin {
			t.Errorf("Symbolize(work+1) = %q+%d in %q, %v", name, off, obj, ok)
		}
		r.Close()
	}
}

// TestWildcardPlacementInAddressOrder checks that a wildcard, which places
// its entry probes in address order and gives the text's pages back as it
// goes (placeEntries), places every site where resolving its function
// alone places it: on JVM_* of libjvm.so, a few hundred C++ functions.
func TestWildcardPlacementInAddressOrder(t *testing.T) {
	testutil.RequireFile(t, libjvmPath)
	r := New(Options{})
	defer r.Close()
	all, err := r.Resolve(apFor("uprobe", libjvmPath, "JVM_*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 100 {
		t.Fatalf("JVM_*: %d sites, want hundreds", len(all))
	}
	moved := 0
	for _, s := range all {
		one := New(Options{})
		sites, err := one.Resolve(apFor("uprobe", libjvmPath, s.Func))
		one.Close()
		if err != nil || len(sites) != 1 {
			t.Fatalf("%s alone: %d sites, %v", s.Func, len(sites), err)
		}
		if got := sites[0]; got.Addr != s.Addr || got.Placement != s.Placement {
			t.Errorf("%s: wildcard placed it at 0x%x %q, alone at 0x%x %q", s.Func, s.Addr, s.Placement, got.Addr, got.Placement)
		}
		if s.Moved != 0 {
			moved++
		}
	}
	if moved == 0 {
		t.Errorf("no JVM_* entry probe moved: placement did not run")
	}
}
