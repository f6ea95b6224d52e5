package elfx

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// Paths of installed objects the tests compare with readelf.
const (
	redisServer = "/usr/bin/redis-server"
	libc        = "/lib/x86_64-linux-gnu/libc.so.6"
	libjvm      = "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"
)

type funcKey struct {
	name       string
	addr, size uint64
}

// readelfFuncs returns the defined FUNC and IFUNC symbols `readelf -sW`
// prints, with version suffixes ("memcpy@@GLIBC_2.14 (3)") removed.
func readelfFuncs(t *testing.T, path string) map[funcKey]bool {
	t.Helper()
	readelf := testutil.RequireTool(t, "readelf")
	out, err := exec.Command(readelf, "-sW", path).Output()
	if err != nil {
		t.Fatalf("readelf -sW %s: %v", path, err)
	}
	set := map[funcKey]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// "   Num:    Value          Size Type    Bind   Vis      Ndx Name"
		f := strings.Fields(sc.Text())
		if len(f) < 8 || !strings.HasSuffix(f[0], ":") || (f[3] != "FUNC" && f[3] != "IFUNC") || f[6] == "UND" {
			continue
		}
		addr, err1 := strconv.ParseUint(f[1], 16, 64)
		size, err2 := strconv.ParseUint(f[2], 0, 64) // decimal, or 0x... when large
		if err1 != nil || err2 != nil {
			t.Fatalf("cannot parse readelf line %q", sc.Text())
		}
		set[funcKey{baseName(f[7]), addr, size}] = true
	}
	return set
}

func compareWithReadelf(t *testing.T, path string) {
	testutil.RequireFile(t, path)
	want := readelfFuncs(t, path)
	f, err := Open(path, WithoutDebugFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fns, err := f.Functions()
	if err != nil {
		t.Fatal(err)
	}
	got := map[funcKey]bool{}
	for _, fn := range fns {
		got[funcKey{baseName(fn.Name), fn.Addr, fn.Size}] = true
		if fn.Offset == 0 {
			t.Errorf("%s: %s at %#x has no file offset", path, fn.Name, fn.Addr)
		}
	}
	missing, extra := 0, 0
	for k := range want {
		if !got[k] {
			if missing++; missing <= 10 {
				t.Errorf("%s: readelf has %+v, elfx does not", path, k)
			}
		}
	}
	for k := range got {
		if !want[k] {
			if extra++; extra <= 10 {
				t.Errorf("%s: elfx has %+v, readelf does not", path, k)
			}
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s: readelf lists no functions", path)
	}
	t.Logf("%s: %d functions (%d distinct in readelf), %d missing, %d extra", path, len(fns), len(want), missing, extra)
}

func TestFunctionsMatchReadelf(t *testing.T) {
	for _, p := range []string{redisServer, libc, libjvm} {
		t.Run(filepath.Base(p), func(t *testing.T) { compareWithReadelf(t, p) })
	}
}

// readelfLoads parses the PT_LOAD lines of `readelf -lW`.
func readelfLoads(t *testing.T, path string) []Segment {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "readelf"), "-lW", path).Output()
	if err != nil {
		t.Fatalf("readelf -lW: %v", err)
	}
	var segs []Segment
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// LOAD 0x001000 0x0000000000401000 0x0000000000401000 0x000151 0x000151 R E 0x1000
		if len(f) < 8 || f[0] != "LOAD" {
			continue
		}
		num := func(s string) uint64 {
			v, err := strconv.ParseUint(s, 0, 64)
			if err != nil {
				t.Fatalf("readelf -lW line %q: %v", line, err)
			}
			return v
		}
		s := Segment{Offset: num(f[1]), Vaddr: num(f[2]), Filesz: num(f[4]), Memsz: num(f[5])}
		if strings.Contains(strings.Join(f[6:len(f)-1], ""), "E") {
			s.Flags |= elf.PF_X
		}
		segs = append(segs, s)
	}
	return segs
}

const offsetsProgram = `
#include <stdio.h>
static int helper(int x) { return x * 3 + 1; }
int exported_one(int x) { return helper(x) + 2; }
int exported_two(int x) { return exported_one(x) * 5; }
int main(int argc, char **argv) { printf("%d\n", exported_two(argc)); return 0; }
`

const offsetsLibrary = `
int lib_add(int a, int b) { return a + b; }
int lib_mul(int a, int b) { return a * b + lib_add(a, b); }
`

// TestOffsetsMatchSegments builds a PIE, a non-PIE executable and a shared
// object and checks every function's file offset against readelf's segment
// table, and that the bytes there are the function's code.
func TestOffsetsMatchSegments(t *testing.T) {
	builds := []struct {
		name, src string
		flags     []string
		typ       elf.Type
		want      []string
	}{
		{"pie", offsetsProgram, []string{"-O1", "-fPIE", "-pie"}, elf.ET_DYN, []string{"main", "exported_one", "exported_two"}},
		{"nopie", offsetsProgram, []string{"-O1", "-fno-pie", "-no-pie"}, elf.ET_EXEC, []string{"main", "exported_one", "exported_two"}},
		// A gap between the segments' addresses and offsets, so that
		// addr == offset cannot pass by accident.
		{"shared.so", offsetsLibrary, []string{"-O1", "-fPIC", "-shared", "-Wl,-z,max-page-size=0x200000", "-Wl,-z,separate-code"}, elf.ET_DYN, []string{"lib_add", "lib_mul"}},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			path := testutil.BuildC(t, strings.TrimSuffix(b.name, ".so"), b.src, b.flags...)
			segs := readelfLoads(t, path)
			f, err := Open(path, WithoutDebugFile())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Type() != b.typ {
				t.Errorf("Type = %v, want %v", f.Type(), b.typ)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fns, err := f.Functions()
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]bool{}
			differs := false
			for _, fn := range fns {
				var want uint64
				ok := false
				for _, s := range segs {
					if s.Flags&elf.PF_X != 0 && fn.Addr >= s.Vaddr && fn.Addr < s.Vaddr+s.Filesz {
						want, ok = fn.Addr-s.Vaddr+s.Offset, true
					}
				}
				if !ok {
					continue
				}
				found[fn.Name] = true
				if fn.Offset != want {
					t.Errorf("%s: offset %#x, readelf segments say %#x", fn.Name, fn.Offset, want)
				}
				if fn.Offset != fn.Addr {
					differs = true
				}
				if fn.Size >= 4 {
					code := make([]byte, 4)
					if _, err := f.ReadAtAddr(code, fn.Addr); err != nil || !bytes.Equal(code, raw[want:want+4]) {
						t.Errorf("%s: ReadAtAddr = % x, %v; file at %#x has % x", fn.Name, code, err, want, raw[want:want+4])
					}
				}
			}
			for _, w := range b.want {
				if !found[w] {
					t.Errorf("function %s not found", w)
				}
			}
			if b.typ == elf.ET_EXEC && !differs {
				t.Errorf("non-PIE: every address equals its offset; the test proves nothing")
			}
		})
	}
}

const debugProgram = `
#include <stdio.h>
static int __attribute__((noinline)) secret_static_helper(int x) { return x * 7; }
int visible_function(int x) { return secret_static_helper(x) + 1; }
int main(int argc, char **argv) { printf("%d\n", visible_function(argc)); return 0; }
`

// stripped builds debugProgram, splits its debug information into a
// separate file and strips the binary, returning both paths.
func stripped(t *testing.T, link bool) (bin, debugFile string) {
	t.Helper()
	bin = testutil.BuildC(t, "dbg", debugProgram, "-g", "-O1", "-Wl,--build-id")
	objcopy := testutil.RequireTool(t, "objcopy")
	strip := testutil.RequireTool(t, "strip")
	debugFile = bin + ".debug"
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(objcopy, "--only-keep-debug", bin, debugFile)
	run(strip, "--strip-debug", "--strip-unneeded", bin)
	if link {
		run(objcopy, "--add-gnu-debuglink="+debugFile, bin)
	}
	return bin, debugFile
}

func hasFunc(t *testing.T, f *File, name string) (Symbol, bool) {
	t.Helper()
	fns, err := f.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		if fn.Name == name {
			return fn, true
		}
	}
	return Symbol{}, false
}

func TestSeparateDebugFile(t *testing.T) {
	t.Run("stripped alone", func(t *testing.T) {
		t.Parallel()
		bin, _ := stripped(t, false)
		f, err := Open(bin, WithDebugRoot(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.ELF().SectionByType(elf.SHT_SYMTAB) != nil {
			t.Fatal("strip left a .symtab")
		}
		if _, ok := hasFunc(t, f, "secret_static_helper"); ok {
			t.Error("a static function is listed without its debug file")
		}
	})
	t.Run("debuglink next to the binary", func(t *testing.T) {
		t.Parallel()
		bin, dbg := stripped(t, true)
		f, err := Open(bin, WithDebugRoot(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fn, ok := hasFunc(t, f, "secret_static_helper")
		if !ok || fn.Source&FromDebug == 0 || fn.Offset == 0 {
			t.Errorf("secret_static_helper = %+v, %v; want it from the debug file with an offset", fn, ok)
		}
		if f.DebugFilePath() != dbg {
			t.Errorf("DebugFilePath = %q, want %q", f.DebugFilePath(), dbg)
		}
		if s, ok := f.Lookup("secret_static_helper"); !ok || s.Addr != fn.Addr {
			t.Errorf("Lookup through the debug file = %+v, %v", s, ok)
		}
	})
	t.Run("debuglink in .debug", func(t *testing.T) {
		t.Parallel()
		bin, dbg := stripped(t, true)
		moved := filepath.Join(filepath.Dir(bin), ".debug", filepath.Base(dbg))
		debugFileFoundAt(t, bin, dbg, moved, t.TempDir(), "debug file in .debug/")
	})
	t.Run("debuglink under the debug root", func(t *testing.T) {
		t.Parallel()
		bin, dbg := stripped(t, true)
		root := t.TempDir()
		moved := filepath.Join(root, filepath.Dir(bin), filepath.Base(dbg))
		debugFileFoundAt(t, bin, dbg, moved, root, "debug file under the root")
	})
	t.Run("build-id", func(t *testing.T) {
		t.Parallel()
		bin, dbg := stripped(t, false)
		f0, err := Open(bin, WithoutDebugFile())
		if err != nil {
			t.Fatal(err)
		}
		id := f0.BuildID()
		f0.Close()
		if len(id) < 4 {
			t.Fatalf("no build-id in %s", bin)
		}
		root := t.TempDir()
		p := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
		debugFileFoundAt(t, bin, dbg, p, root, "build-id debug file")
	})
	t.Run("debuglink with a wrong CRC", func(t *testing.T) {
		t.Parallel()
		bin, dbg := stripped(t, true)
		// Replace the debug file with another one of the same name.
		other, _ := stripped(t, false)
		b, err := os.ReadFile(other)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dbg, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(bin, WithDebugRoot(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.DebugFile() != nil {
			t.Errorf("a debug file with a wrong CRC was used: %s", f.DebugFilePath())
		}
	})
}

// debugFileFoundAt moves bin's debug file dbg to moved and checks that
// Open, with debug root root, finds it there (what names the place).
func debugFileFoundAt(t *testing.T, bin, dbg, moved, root, what string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dbg, moved); err != nil {
		t.Fatal(err)
	}
	f, err := Open(bin, WithDebugRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := hasFunc(t, f, "secret_static_helper"); !ok || f.DebugFilePath() != moved {
		t.Errorf("%s not used (found %q)", what, f.DebugFilePath())
	}
}

const cxxProgram = `
#include <cstdio>
namespace shapes {
template <typename T> struct Box {
	T v;
	__attribute__((noinline)) T grow(T by) { v += by; return v; }
};
class Circle {
public:
	__attribute__((noinline)) double area(double scale) const;
	double r = 2;
};
double Circle::area(double scale) const { return 3.14 * r * r * scale; }
}
int main() {
	shapes::Box<int> b{1};
	shapes::Circle c;
	std::printf("%d %f\n", b.grow(2), c.area(1.5));
	return 0;
}
`

func TestCXXNames(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := filepath.Join(dir, "shapes.cc")
	bin := filepath.Join(dir, "shapes")
	if err := os.WriteFile(src, []byte(cxxProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("g++", "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	f, err := Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fns, err := f.Functions()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"shapes::Circle::area(double) const": false,
		"shapes::Box<int>::grow(int)":        false,
	}
	for _, fn := range fns {
		d := fn.Demangled()
		if _, ok := want[d]; ok {
			want[d] = true
			if !strings.HasPrefix(fn.Name, "_ZN") {
				t.Errorf("%s: mangled name %q", d, fn.Name)
			}
		}
	}
	for d, ok := range want {
		if !ok {
			t.Errorf("no function demangles to %q", d)
		}
	}
}

func TestBuildIDMatchesReadelf(t *testing.T) {
	for _, p := range []string{"/usr/bin/true", libc} {
		testutil.RequireFile(t, p)
		out, err := exec.Command(testutil.RequireTool(t, "readelf"), "-n", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		var want string
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Build ID: "); ok {
				want = v
			}
		}
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.BuildID(); got != want || want == "" {
			t.Errorf("%s: BuildID = %q, readelf says %q", p, got, want)
		}
		f.Close()
	}
}

func TestLibcVersionsAndData(t *testing.T) {
	testutil.RequireFile(t, libc)
	f, err := Open(libc, WithoutDebugFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	def, ok1 := f.Lookup("memcpy@@GLIBC_2.14")
	old, ok2 := f.Lookup("memcpy@GLIBC_2.2.5")
	plain, ok3 := f.Lookup("memcpy")
	if !ok1 || !ok2 || !ok3 || def.Addr == old.Addr || plain.Addr != def.Addr || !old.HiddenVersion {
		t.Errorf("memcpy versions: default %+v %v, old %+v %v, plain %+v %v", def, ok1, old, ok2, plain, ok3)
	}
	// A data object (USDT arguments name them).
	env, ok := f.Lookup("environ")
	if !ok || env.Type != elf.STT_OBJECT {
		t.Fatalf("Lookup(environ) = %+v, %v", env, ok)
	}
	if _, err := f.DataAddrToOffset(env.Addr); err == nil {
		// environ lives in .bss: no file offset.
		t.Logf("environ has a file offset (layout differs)")
	}
	if f.InExecSegment(env.Addr) {
		t.Errorf("environ is in an executable segment")
	}
	sym, off, ok := f.FuncAt(def.Addr + 3)
	if !ok || off != 3 || sym.Addr != def.Addr {
		t.Errorf("FuncAt(memcpy+3) = %s+%d %v", sym.Name, off, ok)
	}
}

func BenchmarkFunctionsLibjvm(b *testing.B) {
	if _, err := os.Stat(libjvm); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		f, err := Open(libjvm, WithoutDebugFile())
		if err != nil {
			b.Fatal(err)
		}
		fns, err := f.Functions()
		if err != nil || len(fns) == 0 {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkLookupLibjvm(b *testing.B) {
	if _, err := os.Stat(libjvm); err != nil {
		b.Skip(err)
	}
	f, err := Open(libjvm, WithoutDebugFile())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	i := 0
	for b.Loop() {
		if _, ok := f.Lookup(fmt.Sprintf("JVM_%d", i%3)); ok {
			b.Fatal("unexpected symbol")
		}
		i++
	}
}

// TestFrameRowsCompressedDebugFrame: a .debug_frame compressed with -gz
// (as Debian's debug files keep it) gives the rows the uncompressed one
// gives, through FrameRows and FrameRowAt.
func TestFrameRowsCompressedDebugFrame(t *testing.T) {
	t.Parallel()
	const src = "int f(int x) { return x * 3; }\nint main(int c, char **v) { return f(c) + (v != 0); }\n"
	flags := []string{"-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"}
	rows := func(bin string, compressed bool) (*File, []FrameRow) {
		f, err := Open(bin, WithoutDebugFile())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		s := f.Section(".debug_frame")
		if s == nil || (s.Flags&elf.SHF_COMPRESSED != 0) != compressed {
			t.Fatalf("%s: .debug_frame %v, want one compressed %v", bin, s, compressed)
		}
		var rs []FrameRow
		if err := f.FrameRows(func(r FrameRow) bool { rs = append(rs, r); return true }); err != nil {
			t.Fatal(err)
		}
		return f, rs
	}
	_, plain := rows(testutil.BuildC(t, "plain", src, flags...), false)
	f, gz := rows(testutil.BuildC(t, "gz", src, append(flags, "-gz")...), true)
	if len(gz) == 0 || len(gz) != len(plain) {
		t.Fatalf("%d rows compressed, %d not", len(gz), len(plain))
	}
	for i, r := range gz {
		p := plain[i]
		if r.End-r.Start != p.End-p.Start || !reflect.DeepEqual(r.CFA, p.CFA) || !reflect.DeepEqual(r.RA, p.RA) {
			t.Errorf("row %d: %+v compressed, %+v not", i, r, p)
		}
		if got, ok, err := f.FrameRowAt(r.Start); !ok || err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("FrameRowAt(%#x) = %+v, %v, %v; want %+v", r.Start, got, ok, err, r)
		}
	}
}
