package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// A buildStep makes one artefact of the test programs.
type buildStep struct {
	out  string   // path relative to the build directory
	cmd  []string // argv; run in the build directory
	then [][]string
}

// buildPlan lists the commands that make tests/testprogs and
// tests/testlibs the way the checkout's CMake files do: for main,
// tests/testprogs/CMakeLists.txt and tests/testlibs/CMakeLists.txt (PIE and
// non-PIE twins, frame pointers, uprobe_nofp without them, usdt_lib linked
// with libusdt_tp, the Go and Rust programs, false.bin, archive.zip, the
// stripped and split-DWARF copies); for v0.17.0, tests/CMakeLists.txt
// (-g -O0 -no-pie, -DHAVE_SYSTEMTAP_SYS_SDT_H). Libraries lose their
// executable bit, as there.
func buildPlan(src, dir string, f Format) (libs, progs, extra []buildStep, err error) {
	tests := filepath.Join(src, "tests")
	inc := filepath.Join(tests, "include")
	libdir := filepath.Join(dir, "testlibs")
	libSrcs, err := sources(filepath.Join(tests, "testlibs"))
	if err != nil {
		return nil, nil, nil, err
	}
	for _, s := range libSrcs {
		name := "lib" + stem(s) + ".so"
		args := []string{compiler(s), "-g", "-O0", "-fPIC", "-shared"}
		if f == FormatV017 {
			args = append(args, "-DHAVE_SYSTEMTAP_SYS_SDT_H")
		} else {
			args = append(args, "-I", inc)
		}
		out := filepath.Join("testlibs", name)
		libs = append(libs, buildStep{out: out, cmd: append(args, "-o", out, s),
			then: [][]string{{"chmod", "-x", out}}})
	}
	progSrcs, err := sources(filepath.Join(tests, "testprogs"))
	if err != nil {
		return nil, nil, nil, err
	}
	for _, s := range progSrcs {
		name := stem(s)
		variants := []bool{false}
		if f == FormatMain {
			variants = []bool{false, true}
		}
		for _, pie := range variants {
			out := filepath.Join("testprogs", name)
			var args []string
			if f == FormatV017 {
				args = []string{compiler(s), "-g", "-O0", "-DHAVE_SYSTEMTAP_SYS_SDT_H"}
			} else {
				args = []string{compiler(s), "-g", "-O0", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"}
				if name == "uprobe_nofp" {
					args = []string{compiler(s), "-g", "-O1", "-fomit-frame-pointer", "-fno-optimize-sibling-calls"}
				} else if pie {
					args = append(args, "-fpie")
				}
				args = append(args, "-I", inc)
			}
			link := "-no-pie"
			if pie {
				out += "-pie"
				link = "-pie"
			}
			if name == "usdt_lib" {
				args = append(args, "-I", filepath.Join(tests, "testlibs"), "-fPIC")
			}
			args = append(args, "-o", out, s, link)
			if name == "usdt_lib" {
				args = append(args, "-L", libdir, "-lusdt_tp", "-Wl,-rpath,"+libdir)
			}
			progs = append(progs, buildStep{out: out, cmd: args})
		}
	}
	if f == FormatV017 {
		return libs, progs, nil, nil
	}
	tp := filepath.Join(tests, "testprogs")
	for _, g := range globs(tp, "*.go") {
		out := filepath.Join("testprogs", stem(g))
		abs := filepath.Join(dir, out)
		extra = append(extra, buildStep{out: out, cmd: []string{"sh", "-c", fmt.Sprintf("cd %s && go build -o %s %s", tp, abs, filepath.Base(g))}})
	}
	for _, r := range globs(tp, "*.rs") {
		out := filepath.Join("testprogs", stem(r))
		extra = append(extra, buildStep{out: out, cmd: []string{"rustc", "-C", "symbol_mangling_version=v0", "-o", out, r}})
	}
	if _, err := os.Stat(filepath.Join(tp, "false.c")); err == nil {
		extra = append(extra, buildStep{out: "testprogs/false.bin",
			cmd: []string{"gcc", "-c", filepath.Join(tp, "false.c"), "-o", "testprogs/false.o"},
			then: [][]string{{objcopy(), "-S", "--only-section=.text", "--keep-symbol=main", "-O", "binary", "testprogs/false.o", "testprogs/false.bin"},
				{"rm", "-f", "testprogs/false.o"}}})
	}
	if _, err := os.Stat(filepath.Join(tp, "true.c")); err == nil {
		extra = append(extra, buildStep{out: "testprogs/archive.zip", cmd: []string{"zip", "-q", "-0", "-j", "testprogs/archive.zip", "testprogs/true"}})
	}
	ed := "testprogs/external_debug"
	if _, err := os.Stat(filepath.Join(tp, "uprobe_test.c")); err == nil {
		extra = append(extra, buildStep{out: "testprogs/uprobe_test-stripped",
			cmd: []string{"mkdir", "-p", ed + "/dwo", ed + "/dwp", "testprogs/.debug"},
			then: [][]string{
				{objcopy(), "--only-keep-debug", "testprogs/uprobe_test", ed + "/uprobe_test-stripped.debug"},
				{objcopy(), "--strip-debug", "testprogs/uprobe_test", "testprogs/uprobe_test-stripped"},
				{"gcc", "-g", "-O0", "-gsplit-dwarf", filepath.Join(tp, "uprobe_test.c"), "-o", ed + "/dwo/uprobe_test-split"},
				{"gcc", "-g", "-O0", "-gsplit-dwarf", filepath.Join(tp, "uprobe_test.c"), "-o", ed + "/dwp/uprobe_test-split"},
				{"sh", "-c", fmt.Sprintf("(%s -e %s/dwp/uprobe_test-split -o %s/dwp/uprobe_test-split.dwp) && rm -f %s/dwp/*.dwo", dwpTool(), ed, ed, ed)},
			}})
	}
	if _, err := os.Stat(filepath.Join(tp, "uprobe_separate_debug.c")); err == nil {
		d := "testprogs/.debug/uprobe_separate_debug-stripped.debug"
		extra = append(extra, buildStep{out: "testprogs/uprobe_separate_debug-stripped",
			cmd: []string{"mkdir", "-p", "testprogs/.debug"},
			then: [][]string{
				{objcopy(), "--only-keep-debug", "testprogs/uprobe_separate_debug", d},
				{objcopy(), "--strip-debug", "testprogs/uprobe_separate_debug", "testprogs/uprobe_separate_debug-stripped"},
				{objcopy(), "--add-gnu-debuglink=" + filepath.Join(dir, d), "testprogs/uprobe_separate_debug-stripped"},
			}})
	}
	return libs, progs, extra, nil
}

func sources(dir string) ([]string, error) {
	var out []string
	for _, p := range []string{"*.c", "*.cpp"} {
		out = append(out, globs(dir, p)...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sources in %s", dir)
	}
	return out, nil
}

func globs(dir, pat string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pat))
	return m
}

func stem(p string) string {
	b := filepath.Base(p)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func compiler(src string) string {
	if strings.HasSuffix(src, ".cpp") {
		return "g++"
	}
	return "gcc"
}

func objcopy() string {
	if _, err := exec.LookPath("llvm-objcopy"); err == nil {
		return "llvm-objcopy"
	}
	return "objcopy"
}

func dwpTool() string {
	if _, err := exec.LookPath("llvm-dwp"); err == nil {
		return "llvm-dwp"
	}
	return "dwp"
}

// Build makes the test programs in dir (libraries first, then programs,
// then the derived files), jobs at a time, and links dir/runtime to the
// suite so that the tests' relative paths (runtime/outputs/...,
// runtime/scripts/...) work from dir. What is already built is kept. It
// returns the artefacts that failed to build, with their error.
func Build(src, dir string, f Format, jobs int, log func(string)) (map[string]string, error) {
	for _, d := range []string{"testprogs", "testlibs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	link := filepath.Join(dir, "runtime")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(filepath.Join(src, "tests", "runtime"), link); err != nil {
			return nil, err
		}
	}
	libs, progs, extra, err := buildPlan(src, dir, f)
	if err != nil {
		return nil, err
	}
	failed := map[string]string{}
	var mu sync.Mutex
	for _, stage := range [][]buildStep{libs, progs, extra} {
		sem := make(chan struct{}, max(jobs, 1))
		var wg sync.WaitGroup
		for _, st := range stage {
			if _, err := os.Stat(filepath.Join(dir, st.out)); err == nil {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(st buildStep) {
				defer wg.Done()
				defer func() { <-sem }()
				for _, c := range append([][]string{st.cmd}, st.then...) {
					cmd := exec.Command(c[0], c[1:]...)
					cmd.Dir = dir
					if out, err := cmd.CombinedOutput(); err != nil {
						msg := fmt.Sprintf("%s: %v: %s", strings.Join(c, " "), err, firstLine(string(out)))
						mu.Lock()
						failed[st.out] = msg
						mu.Unlock()
						log("build " + st.out + " failed: " + msg)
						return
					}
				}
			}(st)
		}
		wg.Wait()
	}
	return failed, nil
}
