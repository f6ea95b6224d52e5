package gobin

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// binDir holds the test programs, built once per test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gobin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A buildSpec is one way of building testProg.
type buildSpec struct {
	env   []string
	flags []string
}

// secondToolchain is the older Go release the tests also build with, when
// GOTOOLCHAIN can fetch it through the module proxy.
const secondToolchain = "go1.24.0"

var buildSpecs = map[string]buildSpec{
	"plain":      {},
	"stripped":   {flags: []string{"-ldflags=-s -w"}},
	"pie":        {flags: []string{"-buildmode=pie"}},
	"static":     {env: []string{"CGO_ENABLED=0"}},
	"nocompress": {env: []string{"CGO_ENABLED=0"}, flags: []string{"-ldflags=-compressdwarf=false"}},
	"arm64":      {env: []string{"GOARCH=arm64", "CGO_ENABLED=0"}},
	// cgo's external linker: .text starts with C code before runtime.text.
	"pie-external": {flags: []string{"-buildmode=pie", "-ldflags=-linkmode=external"}},
	"old":          {env: []string{"GOTOOLCHAIN=" + secondToolchain}},
	"old-stripped": {env: []string{"GOTOOLCHAIN=" + secondToolchain},
		flags: []string{"-ldflags=-s -w"}},
	"old-pie": {env: []string{"GOTOOLCHAIN=" + secondToolchain}, flags: []string{"-buildmode=pie"}},
}

type builtBinary struct {
	once    sync.Once
	path    string
	skipped bool
	err     string
}

var (
	builtMu sync.Mutex
	built   = map[string]*builtBinary{}
)

// testBinary returns the path of testProg built as variant, building it on
// first use.
func testBinary(t testing.TB, variant string) string {
	t.Helper()
	spec, ok := buildSpecs[variant]
	if !ok {
		t.Fatalf("no build variant %q", variant)
	}
	builtMu.Lock()
	b := built[variant]
	if b == nil {
		b = &builtBinary{}
		built[variant] = b
	}
	builtMu.Unlock()
	b.once.Do(func() {
		done := false
		defer func() {
			if !done {
				b.skipped = t.Skipped()
				b.err = "build failed or was skipped in an earlier test"
			}
		}()
		if variant == "pie-external" {
			testutil.RequireTool(t, "gcc")
		}
		if variant == "arm64" && testing.Short() {
			t.Skip("-short: cross-compiling the standard library for arm64 is slow the first time")
		}
		if slices.ContainsFunc(spec.env, func(e string) bool { return strings.HasPrefix(e, "GOTOOLCHAIN=") }) {
			requireToolchain(t, secondToolchain)
		}
		src := testutil.BuildGo(t, "prog", testProg, spec.env, spec.flags...)
		dst := filepath.Join(binDir, variant)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
		b.path = dst
		done = true
	})
	if b.path == "" {
		if b.skipped {
			t.Skipf("%s: %s", variant, b.err)
		}
		t.Fatalf("%s: %s", variant, b.err)
	}
	return b.path
}

var toolchainOnce sync.Once
var toolchainErr error

// requireToolchain skips the test unless GOTOOLCHAIN can run version v,
// which may download it through the module proxy.
func requireToolchain(t testing.TB, v string) {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	toolchainOnce.Do(func() {
		cmd := exec.Command(goTool, "version")
		cmd.Dir = binDir
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+v, "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), v) {
			toolchainErr = fmt.Errorf("GOTOOLCHAIN=%s go version: %v: %s", v, err, out)
		}
	})
	if toolchainErr != nil {
		t.Skipf("second toolchain unavailable: %v", toolchainErr)
	}
}

// openBinary opens a Go binary for the length of the test.
func openBinary(t testing.TB, path string) *Binary {
	t.Helper()
	b, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// mainFuncs returns the functions of package main.
func mainFuncs(t testing.TB, b *Binary) []Func {
	t.Helper()
	fs, err := b.Functions()
	if err != nil {
		t.Fatal(err)
	}
	var out []Func
	for _, f := range fs {
		if strings.HasPrefix(f.Name, "main.") {
			out = append(out, f)
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d main functions: %v", len(out), out)
	}
	return out
}

// nmText returns the text symbols `go tool nm` lists, by name.
func nmText(t testing.TB, path string) map[string]uint64 {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	out, err := exec.Command(goTool, "tool", "nm", path).Output()
	if err != nil {
		t.Fatalf("go tool nm %s: %v", path, err)
	}
	syms := make(map[string]uint64)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (f[1] != "T" && f[1] != "t") {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		syms[strings.Join(f[2:], " ")] = addr
	}
	return syms
}

// objdumpInsn is one instruction as `go tool objdump` prints it.
type objdumpInsn struct {
	addr uint64
	hex  string
	asm  string
}

var (
	objdumpMu    sync.Mutex
	objdumpCache = map[string]map[string][]objdumpInsn{}
)

// goObjdump disassembles the functions of package main with `go tool
// objdump`, by function name.
func goObjdump(t testing.TB, path string) map[string][]objdumpInsn {
	t.Helper()
	objdumpMu.Lock()
	defer objdumpMu.Unlock()
	if m, ok := objdumpCache[path]; ok {
		return m
	}
	goTool := testutil.RequireTool(t, "go")
	out, err := exec.Command(goTool, "tool", "objdump", "-s", `^main\.`, path).Output()
	if err != nil {
		t.Fatalf("go tool objdump %s: %v", path, err)
	}
	m := make(map[string][]objdumpInsn)
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "TEXT "); ok {
			cur, _, _ = strings.Cut(rest, "(SB)")
			continue
		}
		var f []string
		for _, s := range strings.Split(line, "\t") {
			if s = strings.TrimSpace(s); s != "" {
				f = append(f, s)
			}
		}
		if cur == "" || len(f) < 4 {
			continue
		}
		addr, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
		if err != nil {
			continue
		}
		m[cur] = append(m[cur], objdumpInsn{addr, f[2], f[3]})
	}
	objdumpCache[path] = m
	return m
}

func TestOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		variant       string
		stripped, pie bool
		dwarf         bool
	}{
		{"plain", false, false, true},
		{"stripped", true, false, false},
		{"pie", false, true, true},
		{"static", false, false, true},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			b := openBinary(t, testBinary(t, tc.variant))
			if want := strings.Fields(goVersion(t))[2]; b.GoVersion != want {
				t.Errorf("GoVersion = %q, want %q", b.GoVersion, want)
			}
			if b.ModulePath != "prog" {
				t.Errorf("ModulePath = %q, want prog", b.ModulePath)
			}
			if b.Stripped != tc.stripped || b.PIE != tc.pie || b.HasDWARF() != tc.dwarf {
				t.Errorf("Stripped, PIE, HasDWARF = %v, %v, %v; want %v, %v, %v", b.Stripped, b.PIE, b.HasDWARF(), tc.stripped, tc.pie, tc.dwarf)
			}
			if b.PtrSize != 8 || b.Machine != elf.EM_X86_64 {
				t.Errorf("PtrSize, Machine = %d, %v", b.PtrSize, b.Machine)
			}
			if !b.GoVersionAtLeast(1, 17) || b.GoVersionAtLeast(2, 0) {
				t.Errorf("GoVersionAtLeast wrong for %s", b.GoVersion)
			}
		})
	}
}

// goVersion returns `go version` output.
func goVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "go"), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestOpenNotGo(t *testing.T) {
	t.Parallel()
	c := testutil.BuildC(t, "hello", "int main(void) { return 0; }\n")
	_, err := OpenFile(c)
	if !errors.Is(err, ErrNotGo) {
		t.Fatalf("OpenFile(C program) = %v, want ErrNotGo", err)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrNotGo) {
		t.Fatalf("OpenFile(missing) = %v", err)
	}
	if _, err := Open(nil); err == nil {
		t.Fatal("Open(nil) succeeded")
	}
}

// TestFunctions checks the main.* functions of every build against `go tool
// nm`, and that stripping changes nothing.
func TestFunctions(t *testing.T) {
	t.Parallel()
	var plain []Func
	for _, variant := range []string{"plain", "stripped", "pie", "static", "pie-external", "arm64"} {
		t.Run(variant, func(t *testing.T) {
			path := testBinary(t, variant)
			b := openBinary(t, path)
			got := mainFuncs(t, b)
			for _, want := range []string{"main.(*Server).handle", "main.Server.value", "main.main.func1",
				"main.Map[go.shape.int]", "main.(*Stack[go.shape.int]).Push", "main.Adder[go.shape.float64].func1"} {
				if _, ok := b.FuncByName(want); !ok {
					t.Errorf("no function %s", want)
				}
			}
			for i, f := range got {
				if f.End <= f.Entry || i > 0 && got[i-1].End > f.Entry {
					t.Errorf("bad bounds %s %#x-%#x", f.Name, f.Entry, f.End)
				}
				if at, ok := b.FuncAt(f.Entry + f.Size()/2); !ok || at.Entry != f.Entry {
					t.Errorf("FuncAt(%#x) = %v, %v; want %v", f.Entry+f.Size()/2, at, ok, f)
				}
			}
			if variant == "stripped" {
				if !slices.Equal(got, plain) {
					t.Errorf("stripped binary's functions differ:\n%v\nplain:\n%v", got, plain)
				}
				return
			}
			if variant == "plain" {
				plain = got
			}
			nm := nmText(t, path)
			if ts, ok := nm["runtime.text"]; !ok || ts != b.TextStart {
				t.Errorf("TextStart = %#x, nm says runtime.text = %#x", b.TextStart, ts)
			}
			n := 0
			for name, addr := range nm {
				if !strings.HasPrefix(name, "main.") {
					continue
				}
				n++
				f, ok := b.FuncByName(name)
				if !ok || f.Entry != addr {
					t.Errorf("nm: %s at %#x; pclntab: %v %v", name, addr, f, ok)
				}
			}
			if n != len(got) {
				t.Errorf("nm lists %d main functions, pclntab %d", n, len(got))
			}
		})
	}
}

// TestPIEFileOffsets checks that FileOffset leads to the bytes objdump shows
// at each function's entry, in a PIE and a plain binary.
func TestPIEFileOffsets(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"pie", "plain"} {
		t.Run(variant, func(t *testing.T) {
			path := testBinary(t, variant)
			b := openBinary(t, path)
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dis := goObjdump(t, path)
			checks := 0
			for _, f := range mainFuncs(t, b) {
				insns := dis[f.Name]
				if len(insns) == 0 || insns[0].addr != f.Entry {
					t.Errorf("%s: objdump starts at %v, want %#x", f.Name, insns, f.Entry)
					continue
				}
				off, err := b.FileOffset(f.Entry)
				if err != nil {
					t.Fatal(err)
				}
				want := insns[0].hex
				if off+uint64(len(want)/2) > uint64(len(file)) || fmt.Sprintf("%x", file[off:off+uint64(len(want)/2)]) != want {
					t.Errorf("%s: file bytes at %#x are not objdump's %s", f.Name, off, want)
				}
				if insns[0].asm == "CMPQ SP, 0x10(R14)" {
					checks++
					if want != "493b6610" {
						t.Errorf("%s: stack check encoded as %s", f.Name, want)
					}
				}
			}
			if checks < 5 {
				t.Errorf("only %d functions start with the stack check", checks)
			}
			if _, err := b.FileOffset(0); err == nil {
				t.Error("FileOffset(0) succeeded")
			}
		})
	}
}

// TestCode compares Code with objdump's bytes.
func TestCode(t *testing.T) {
	t.Parallel()
	path := testBinary(t, "plain")
	b := openBinary(t, path)
	dis := goObjdump(t, path)
	for _, name := range []string{"main.leaf", "main.widths", "main.huge"} {
		f, ok := b.FuncByName(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		code, err := b.Code(f)
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for _, in := range dis[name] {
			want.WriteString(in.hex)
		}
		if got := fmt.Sprintf("%x", code); !strings.HasPrefix(got, want.String()) || len(code) != int(f.Size()) {
			t.Errorf("Code(%s) = %s\nobjdump: %s", name, got, want.String())
		}
	}
	if _, err := b.Code(Func{Name: "bad", Entry: 10, End: 5}); err == nil {
		t.Error("Code with End < Entry succeeded")
	}
	if _, err := b.Code(Func{Name: "bad", Entry: 1 << 60, End: 1<<60 + 4}); err == nil {
		t.Error("Code outside the file succeeded")
	}
}

// TestPrologueEnd checks PrologueEnd on every main function against the
// stack check objdump shows.
func TestPrologueEnd(t *testing.T) {
	t.Parallel()
	path := testBinary(t, "plain")
	b := openBinary(t, path)
	dis := goObjdump(t, path)
	kinds := map[string]string{} // function -> first instruction of its check
	for _, f := range mainFuncs(t, b) {
		code, err := b.Code(f)
		if err != nil {
			t.Fatal(err)
		}
		addr, insn, ok := PrologueEndAMD64(code, f.Entry)
		// The expectation from objdump: a JBE within the first five
		// instructions, right after a compare with 0x10(R14).
		insns := dis[f.Name]
		var want uint64
		for i := 1; i < len(insns) && i < 5; i++ {
			if strings.HasPrefix(insns[i].asm, "JBE ") && strings.HasSuffix(insns[i-1].asm, ", 0x10(R14)") {
				want = insns[i+1].addr
				kinds[f.Name] = insns[0].asm
				if insns[i+1].asm != "PUSHQ BP" || insn != "push %rbp" {
					t.Errorf("%s: after the prologue: objdump %q, PrologueEnd %q", f.Name, insns[i+1].asm, insn)
				}
				break
			}
		}
		if ok != (want != 0) || addr != want {
			t.Errorf("%s: PrologueEnd = %#x, %q, %v; objdump says %#x", f.Name, addr, insn, ok, want)
		}
	}
	for name, first := range map[string]string{
		"main.recurse": "CMPQ SP, 0x10(R14)",
		"main.large":   "LEAQ ",
		"main.huge":    "MOVQ SP, R12",
	} {
		if !strings.HasPrefix(kinds[name], first) {
			t.Errorf("%s: stack check starts with %q, want %q (test program changed?)", name, kinds[name], first)
		}
	}
	if _, ok := kinds["main.leaf"]; ok {
		t.Error("main.leaf has a stack check")
	}
}

func TestPrologueEndSynthetic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code []byte
		want uint64 // offset from entry; 0: none
	}{
		{"small", []byte{0x49, 0x3b, 0x66, 0x10, 0x76, 0x02, 0x55, 0xc3, 0xe8, 0, 0, 0, 0}, 6},
		{"small-jbe32", []byte{0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0x01, 0, 0, 0, 0x55, 0xcc}, 10},
		{"large", []byte{0x4c, 0x8d, 0x64, 0x24, 0xc0, 0x4d, 0x3b, 0x66, 0x10, 0x76, 0x01, 0x55, 0xcc}, 11},
		{"stackguard1", []byte{0x49, 0x3b, 0x66, 0x18, 0x76, 0x01, 0x55, 0xcc}, 6},
		// mov %fs:0xfffffffffffffff8,%r14 (g from TLS, ABI0 code)
		{"tls-g", []byte{0x64, 0x4c, 0x8b, 0x34, 0x25, 0xf8, 0xff, 0xff, 0xff, 0x49, 0x3b, 0x66, 0x10, 0x76, 0x01, 0x55, 0xcc}, 15},
		// mov 0x10(%rsp),%r14 is no load of g
		{"not-tls", []byte{0x4c, 0x8b, 0x74, 0x24, 0x10, 0x49, 0x3b, 0x66, 0x10, 0x76, 0x01, 0x55, 0xcc}, 0},
		{"no-check", []byte{0x48, 0x8d, 0x04, 0x00, 0xc3}, 0},
		{"backward-branch", []byte{0x49, 0x3b, 0x66, 0x10, 0x76, 0xfa, 0x55, 0xc3}, 0},
		{"branch-outside", []byte{0x49, 0x3b, 0x66, 0x10, 0x76, 0x7f, 0x55, 0xc3}, 0},
		{"cmp-other-reg", []byte{0x49, 0x3b, 0x67, 0x10, 0x76, 0x01, 0x55, 0xcc}, 0},
		{"empty", nil, 0},
		{"truncated", []byte{0x49, 0x3b, 0x66}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const entry = 0x1000
			addr, _, ok := PrologueEndAMD64(tc.code, entry)
			if ok != (tc.want != 0) || ok && addr != entry+tc.want {
				t.Errorf("PrologueEnd = %#x, %v; want %#x", addr, ok, entry+tc.want)
			}
		})
	}
}

// TestRetSites checks RetSites on every main function against go tool
// objdump, and on every function of the binary against GNU objdump when it
// is installed.
func TestRetSites(t *testing.T) {
	t.Parallel()
	path := testBinary(t, "plain")
	b := openBinary(t, path)
	dis := goObjdump(t, path)
	for _, f := range mainFuncs(t, b) {
		code, err := b.Code(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := RetSitesAMD64(code, f.Entry)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
		var want []uint64
		for _, in := range dis[f.Name] {
			if in.asm == "RET" {
				want = append(want, in.addr)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: RetSites = %#x, objdump %#x", f.Name, got, want)
		}
		if f.Name == "main.early" && len(got) < 3 {
			t.Errorf("main.early has %d RETs, want 3", len(got))
		}
		if out, err := JumpsOutAMD64(code, f.Entry); err != nil || len(out) != 0 {
			t.Errorf("%s: JumpsOut = %#x, %v", f.Name, out, err)
		}
	}

	t.Run("all", func(t *testing.T) {
		objdump := testutil.RequireTool(t, "objdump")
		out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint64]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			addr, rest, ok := strings.Cut(line, ":\t")
			if f := strings.Fields(rest); ok && len(f) > 0 && f[0] == "ret" {
				if a, err := strconv.ParseUint(strings.TrimSpace(addr), 16, 64); err == nil {
					want[a] = true
				}
			}
		}
		fs, err := b.Functions()
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]bool{}
		for _, f := range fs {
			code, err := b.Code(f)
			if err != nil {
				t.Fatal(err)
			}
			sites, err := RetSitesAMD64(code, f.Entry)
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
			}
			for _, s := range sites {
				got[s] = true
			}
		}
		for a := range want {
			if !got[a] {
				t.Errorf("objdump has a RET at %#x, RetSites not", a)
			}
		}
		for a := range got {
			if !want[a] {
				t.Errorf("RetSites has a RET at %#x, objdump not", a)
			}
		}
		if len(want) < 1000 {
			t.Errorf("only %d RETs", len(want))
		}
	})
}

func TestRetSitesSynthetic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		code    []byte
		want    []uint64
		wantErr bool
	}{
		{"ret", []byte{0xc3}, []uint64{0}, false},
		{"ret-imm", []byte{0x90, 0xc2, 0x08, 0x00}, []uint64{1}, false},
		{"rep-ret", []byte{0xf3, 0xc3, 0xcc}, []uint64{0}, false},
		{"vzeroupper-then-ret", []byte{0xc5, 0xf8, 0x77, 0xc3}, []uint64{3}, false},
		{"c3-inside-imm", []byte{0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3}, []uint64{5}, false},
		{"avx512-then-ret", []byte{0x62, 0xf1, 0x7d, 0x48, 0x6f, 0x07, 0xc3}, []uint64{6}, false},
		{"undecodable", []byte{0xc3, 0x06, 0xc3}, []uint64{0}, true},
		{"truncated", []byte{0xc3, 0x48, 0x8b}, []uint64{0}, true},
		{"empty", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RetSitesAMD64(tc.code, 0)
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Errorf("RetSites = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestJumpsOut(t *testing.T) {
	t.Parallel()
	// jmp +0 (inside), jmp far outside, jmp *%rax
	code := []byte{0xeb, 0x00, 0xe9, 0x00, 0x10, 0x00, 0x00, 0xff, 0xe0}
	got, err := JumpsOutAMD64(code, 0x100)
	if err != nil || !slices.Equal(got, []uint64{0x102, 0x107}) {
		t.Errorf("JumpsOut = %#x, %v", got, err)
	}
}

func TestVexLen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code []byte
		want int
	}{
		{"vzeroupper", []byte{0xc5, 0xf8, 0x77}, 3},
		{"vmovdqu-load", []byte{0xc5, 0xfe, 0x6f, 0x17}, 4},
		{"vptest", []byte{0xc4, 0xe2, 0x7d, 0x17, 0xdb}, 5},
		{"vpshufd-imm", []byte{0xc5, 0xfd, 0x70, 0xc1, 0x1b}, 5},
		{"vpalignr-0f3a", []byte{0xc4, 0xe3, 0x7d, 0x0f, 0xc1, 0x08}, 6},
		{"vmovdqu-disp32", []byte{0xc5, 0xfe, 0x6f, 0x87, 0x00, 0x01, 0x00, 0x00}, 8},
		{"vmovdqu-rip", []byte{0xc5, 0xfe, 0x6f, 0x05, 0x01, 0x02, 0x03, 0x04}, 8},
		{"vmovdqu-sib-disp8", []byte{0xc5, 0xfe, 0x6f, 0x44, 0x24, 0x20}, 6},
		{"evex-vmovdqu32", []byte{0x62, 0xf1, 0x7d, 0x48, 0x6f, 0x07}, 6},
		{"evex-disp8", []byte{0x62, 0xf1, 0x7d, 0x48, 0x6f, 0x47, 0x01}, 7},
		{"evex-vpternlog", []byte{0x62, 0xf3, 0x75, 0x48, 0x25, 0xc2, 0x96}, 7},
		{"addr-prefix", []byte{0x67, 0xc5, 0xfe, 0x6f, 0x17}, 5},
		{"not-vex", []byte{0x48, 0x89, 0xe5}, 0},
		{"truncated", []byte{0xc4, 0xe2}, 0},
		{"truncated-modrm", []byte{0xc5, 0xfe, 0x6f, 0x87, 0x00}, 0},
		{"empty", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := vexLen(tc.code); got != tc.want {
				t.Errorf("vexLen(% x) = %d, want %d", tc.code, got, tc.want)
			}
		})
	}
}

func TestGoidOffset(t *testing.T) {
	t.Parallel()
	plain := openBinary(t, testBinary(t, "plain"))
	off, fromDWARF, err := plain.GoidOffset()
	if err != nil || !fromDWARF {
		t.Fatalf("GoidOffset = %d, %v, %v", off, fromDWARF, err)
	}
	table, err := goidOffsetFor(plain.GoVersion, 8)
	if err != nil || table != off {
		t.Errorf("%s: table says %d (%v), DWARF %d", plain.GoVersion, table, err, off)
	}
	stripped := openBinary(t, testBinary(t, "stripped"))
	soff, sdw, err := stripped.GoidOffset()
	if err != nil || sdw || soff != off {
		t.Errorf("stripped: GoidOffset = %d, %v, %v; want %d from the table", soff, sdw, err, off)
	}
}

func TestGoidOffsetFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		ptr     int
		want    int // 0: error
	}{
		{"go1.13", 8, 152}, {"go1.22.12", 8, 152}, {"go1.23.0", 8, 160}, {"go1.24rc1", 8, 160},
		{"go1.25.3", 8, 152}, {"go1.26.8", 8, 152}, {"go1.12", 8, 0}, {"go1.99", 8, 0},
		{"go1.26.8", 4, 0}, {"devel +abc", 8, 0}, {"", 8, 0}, {"go2.0", 8, 0},
	} {
		got, err := goidOffsetFor(tc.version, tc.ptr)
		if (err != nil) != (tc.want == 0) || got != tc.want {
			t.Errorf("goidOffsetFor(%q, %d) = %d, %v; want %d", tc.version, tc.ptr, got, err, tc.want)
		}
	}
}

func TestParseGoVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"go1.26.8", 1, 26, true}, {"go1.21rc2", 1, 21, true}, {"go1.22.0-X:foo", 1, 22, true},
		{"go1", 0, 0, false}, {"go1.", 0, 0, false}, {"1.22", 0, 0, false}, {"devel go1.27-abc", 0, 0, false},
		{"go99999999999999999999.1", 0, 0, false},
	} {
		ma, mi, ok := parseGoVersion(tc.in)
		if ma != tc.major || mi != tc.minor || ok != tc.ok {
			t.Errorf("parseGoVersion(%q) = %d, %d, %v", tc.in, ma, mi, ok)
		}
	}
}

// TestModuledata finds the moduledata every way there is and checks that
// all agree on the text start.
func TestModuledata(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"plain", "stripped", "pie", "pie-external"} {
		t.Run(variant, func(t *testing.T) {
			b := openBinary(t, testBinary(t, variant))
			scanned, err := b.scanModuledata()
			if err != nil {
				t.Fatal(err)
			}
			found, err := b.findModuledata()
			if err != nil || found != scanned {
				t.Errorf("findModuledata = %#x, %v; scan found %#x", found, err, scanned)
			}
			if s := b.f.Section(".go.module"); s != nil && s.Addr != scanned {
				t.Errorf(".go.module at %#x, scan found %#x", s.Addr, scanned)
			}
			text, err := b.textFromModuledata(scanned)
			if err != nil || text != b.TextStart {
				t.Errorf("text from moduledata = %#x, %v; TextStart %#x", text, err, b.TextStart)
			}
			if b.GoVersionAtLeast(1, 26) && b.pcln.hdrTextStart != 0 {
				t.Errorf("Go 1.26 header has a text start %#x", b.pcln.hdrTextStart)
			}
		})
	}
}

// stripSectionHeaders returns a copy of an ELF file with its section header
// table removed from the ELF header, as sstrip does.
func stripSectionHeaders(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// ELF64: e_shoff at 0x28 (8 bytes), e_shnum at 0x3c, e_shstrndx at 0x3e.
	clear(data[0x28:0x30])
	clear(data[0x3c:0x40])
	out := filepath.Join(t.TempDir(), filepath.Base(path)+"-noshdr")
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoSectionHeaders opens binaries whose section headers are gone: the
// pclntab and the moduledata must be found in the segments.
func TestNoSectionHeaders(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"stripped", "pie", "pie-external"} {
		t.Run(variant, func(t *testing.T) {
			orig := openBinary(t, testBinary(t, variant))
			b := openBinary(t, stripSectionHeaders(t, testBinary(t, variant)))
			if len(b.f.Sections) > 1 {
				t.Fatalf("%d sections left", len(b.f.Sections))
			}
			if b.TextStart != orig.TextStart || b.PclntabAddr != orig.PclntabAddr || b.GoVersion != orig.GoVersion {
				t.Errorf("text %#x pclntab %#x %s; want %#x %#x %s", b.TextStart, b.PclntabAddr, b.GoVersion, orig.TextStart, orig.PclntabAddr, orig.GoVersion)
			}
			if got, want := mainFuncs(t, b), mainFuncs(t, orig); !slices.Equal(got, want) {
				t.Errorf("functions differ:\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestSecondToolchain repeats the function-table checks on binaries built by
// an older Go, whose pclntab header still holds the text start.
func TestSecondToolchain(t *testing.T) {
	t.Parallel()
	path := testBinary(t, "old")
	b := openBinary(t, path)
	if b.GoVersion != secondToolchain {
		t.Fatalf("GoVersion = %s, want %s", b.GoVersion, secondToolchain)
	}
	got := mainFuncs(t, b)
	nm := nmText(t, path)
	if b.TextStart != nm["runtime.text"] || b.pcln.hdrTextStart != b.TextStart {
		t.Errorf("TextStart = %#x, header %#x, nm runtime.text %#x", b.TextStart, b.pcln.hdrTextStart, nm["runtime.text"])
	}
	n := 0
	for name, addr := range nm {
		if strings.HasPrefix(name, "main.") {
			n++
			if f, ok := b.FuncByName(name); !ok || f.Entry != addr {
				t.Errorf("nm: %s at %#x; pclntab %v %v", name, addr, f, ok)
			}
		}
	}
	if n != len(got) {
		t.Errorf("nm lists %d main functions, pclntab %d", n, len(got))
	}
	// Moduledata: no .go.module before 1.26, so the scan finds it.
	md, err := b.scanModuledata()
	if err != nil {
		t.Fatal(err)
	}
	if text, err := b.textFromModuledata(md); err != nil || text != b.TextStart {
		t.Errorf("moduledata text = %#x, %v", text, err)
	}
	off, fromDWARF, err := b.GoidOffset()
	table, terr := goidOffsetFor(b.GoVersion, 8)
	if err != nil || !fromDWARF || terr != nil || off != table {
		t.Errorf("goid: DWARF %d (%v, %v), table %d (%v)", off, fromDWARF, err, table, terr)
	}
	checkFuncDetails(t, b, nm)
	for _, variant := range []string{"old-stripped", "old-pie"} {
		v := openBinary(t, testBinary(t, variant))
		fs := mainFuncs(t, v)
		if variant == "old-stripped" && !slices.Equal(fs, got) {
			t.Errorf("%s: functions differ from the unstripped build", variant)
		}
		if variant == "old-pie" {
			vnm := nmText(t, testBinary(t, variant))
			for _, f := range fs {
				if vnm[f.Name] != f.Entry {
					t.Errorf("%s: %s at %#x, nm %#x", variant, f.Name, f.Entry, vnm[f.Name])
				}
			}
		}
	}
}

// TestExtraToolchains checks the goid table and the function table against
// DWARF and nm for each Go release listed in USCOPE_GO_TOOLCHAINS
// (space-separated, e.g. "go1.22.0 go1.23.0 go1.25.0").
func TestExtraToolchains(t *testing.T) {
	t.Parallel()
	list := strings.Fields(os.Getenv("USCOPE_GO_TOOLCHAINS"))
	if len(list) == 0 {
		t.Skip("USCOPE_GO_TOOLCHAINS not set")
	}
	for _, v := range list {
		t.Run(v, func(t *testing.T) {
			path := testutil.BuildGo(t, "prog", testProg, []string{"GOTOOLCHAIN=" + v})
			b := openBinary(t, path)
			off, fromDWARF, err := b.GoidOffset()
			table, terr := goidOffsetFor(b.GoVersion, 8)
			if err != nil || !fromDWARF || terr != nil || off != table {
				t.Errorf("%s goid: DWARF %d (%v, %v), table %d (%v)", b.GoVersion, off, fromDWARF, err, table, terr)
			}
			nm := nmText(t, path)
			for _, f := range mainFuncs(t, b) {
				if nm[f.Name] != f.Entry {
					t.Errorf("%s at %#x, nm %#x", f.Name, f.Entry, nm[f.Name])
				}
			}
			if nm["runtime.text"] != b.TextStart {
				t.Errorf("TextStart %#x, nm %#x", b.TextStart, nm["runtime.text"])
			}
			checkFuncDetails(t, b, nm)
		})
	}
}

// readerAtOnly hides everything but ReadAt.
type readerAtOnly struct{ r io.ReaderAt }

func (r readerAtOnly) ReadAt(p []byte, off int64) (int, error) { return r.r.ReadAt(p, off) }

// TestOpenFromReader opens a binary held in memory.
func TestOpenFromReader(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(testBinary(t, "stripped"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(readerAtOnly{bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.FuncByName("main.main"); !ok {
		t.Error("no main.main")
	}
}

// checkFuncDetails checks the Wrapper and Asm flags and FuncByName's choice
// among functions sharing a name, against `go tool nm`, which tells ABI
// wrappers apart by a ".abi0" suffix on the assembly side.
func checkFuncDetails(t *testing.T, b *Binary, nm map[string]uint64) {
	t.Helper()
	fs, err := b.Functions()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]Func{}
	for _, f := range fs {
		byName[f.Name] = append(byName[f.Name], f)
	}
	dups := 0
	for name, same := range byName {
		if len(same) == 1 {
			continue
		}
		dups++
		wrappers := 0
		for _, f := range same {
			if f.Wrapper {
				wrappers++
			}
		}
		got, _ := b.FuncByName(name)
		// reflect.callMethod is itself marked a wrapper, so all copies
		// may be.
		if wrappers < len(same)-1 || got.Wrapper && wrappers != len(same) {
			t.Errorf("%s: %d copies, %d wrappers, FuncByName chose %+v", name, len(same), wrappers, got)
		}
		// The body is the ABIInternal symbol unless it is assembly.
		want := nm[name]
		if got.Asm {
			want = nm[name+".abi0"]
		}
		if got.Entry != want {
			t.Errorf("%s: FuncByName at %#x, nm says the body is at %#x", name, got.Entry, want)
		}
	}
	if dups < 3 {
		t.Errorf("only %d names with ABI wrappers", dups)
	}
	for name, asm := range map[string]bool{"runtime.memmove": true, "runtime.reflectcall": true, "main.leaf": false, "runtime.goexit1": false} {
		if f, ok := b.FuncByName(name); !ok || f.Asm != asm {
			t.Errorf("%s: %+v, want Asm %v", name, f, asm)
		}
	}
}

func TestFuncDetails(t *testing.T) {
	t.Parallel()
	path := testBinary(t, "plain")
	b := openBinary(t, path)
	checkFuncDetails(t, b, nmText(t, path))
	f, ok := b.FuncByName("main.withDefer")
	if !ok || f.DeferReturn == 0 {
		t.Fatalf("main.withDefer: %+v", f)
	}
	for _, in := range goObjdump(t, path)["main.withDefer"] {
		if in.addr == f.DeferReturn {
			if in.asm != "CALL runtime.deferreturn(SB)" {
				t.Errorf("at DeferReturn %#x: %s", in.addr, in.asm)
			}
			return
		}
	}
	t.Errorf("DeferReturn %#x is not an instruction of main.withDefer", f.DeferReturn)
}

func TestReturnProbeSites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code []byte
		want []uint64
	}{
		// add $0x20,%rsp; pop %rbp; nopl (%rax); ret
		{"nop before ret", []byte{0x48, 0x83, 0xc4, 0x20, 0x5d, 0x0f, 0x1f, 0x00, 0xc3}, []uint64{0x1005}},
		// pop %rbp; ret
		{"no nop", []byte{0x5d, 0xc3}, []uint64{0x1001}},
		// je ret; nop; ret: the RET is a branch target
		{"ret is a target", []byte{0x74, 0x01, 0x90, 0xc3}, []uint64{0x1003}},
		// jmp *%rax; nop; ret: an indirect jump may reach the RET
		{"indirect jump", []byte{0xff, 0xe0, 0x90, 0xc3}, []uint64{0x1003}},
		// je over the first return; nop; ret; nop; ret
		{"two returns", []byte{0x74, 0x02, 0x90, 0xc3, 0x90, 0xc3}, []uint64{0x1002, 0x1004}},
	} {
		got, err := ReturnProbeSites(tc.code, 0x1000)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: ReturnProbeSites = %#x, %v; want %#x", tc.name, got, err, tc.want)
		}
	}
}
