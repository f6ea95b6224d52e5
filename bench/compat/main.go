// Command compat runs bpftrace's own runtime test suite (tests/runtime of a
// bpftrace checkout) against uscope, or against Debian's bpftrace as the
// control, with the semantics of the suite's runner
// (tests/runtime/engine/parser.py and runner.py): it parses the test files
// (main's format or v0.17.0's), builds tests/testprogs and tests/testlibs
// with gcc as bpftrace's CMake files do, classifies each test (userspace,
// probe-less, profile, kernel-only), runs the selected ones and writes
// summary.txt (per-file pass counts and a failure taxonomy) and
// failures.tsv into -out.
//
//	go run ./bench/compat -bpftrace-src /work/peers/bpftrace-main -tool uscope -uscope /tmp/uscope -out /tmp/compat-main
//	go run ./bench/compat -bpftrace-src /work/peers/bpftrace-main -tool bpftrace -out /tmp/compat-main-bt
//
// A failed test of the v0.17.0 suite is "superseded by main" when main's
// suite has a test of the same file and name (v0.17's quotes around a name
// dropped) whose program or expectations differ and uscope passes main's:
// main wins where the two differ (issue 16). Either give the v0.17 run
// -superseded-by MAIN_SRC -superseded-results MAIN_RUN/results.tsv, or
// classify two finished runs with
//
//	compat -supersede V017_SRC V017_RUN MAIN_SRC MAIN_RUN
//
// which writes V017_RUN/superseded.tsv; -table then reports the rate
// without them and lists them with both expectations.
//
// For uscope, {{BPFTRACE}} and PROG run a script named bpftrace that calls
// this program's shim (-shim), which translates bpftrace's options to
// `uscope run` / `uscope list` / `uscope version`; an option uscope lacks
// fails the test with that reason.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-shim" {
		os.Exit(shimMain(os.Args[2:]))
	}
	if len(os.Args) == 4 && os.Args[1] == "-table" {
		// compat -table USCOPE_OUT BPFTRACE_OUT: the markdown table of two runs.
		if err := tableMain(os.Args[2], os.Args[3], os.Stdout); err != nil {
			os.Exit(fatal(err))
		}
		os.Exit(0)
	}
	if len(os.Args) == 6 && os.Args[1] == "-supersede" {
		// compat -supersede V017_SRC V017_RUN MAIN_SRC MAIN_RUN: write
		// V017_RUN/superseded.tsv from the two uscope runs.
		if err := supersedeMain(os.Args[2], os.Args[3], os.Args[4], os.Args[5]); err != nil {
			os.Exit(fatal(err))
		}
		os.Exit(0)
	}
	os.Exit(run())
}

func run() int {
	var (
		src     = flag.String("bpftrace-src", "", "`DIR` of a bpftrace checkout (its tests/ is read)")
		tool    = flag.String("tool", "uscope", "tool under test: uscope or bpftrace")
		uscope  = flag.String("uscope", "", "`PATH` of a uscope binary (with -tool uscope)")
		bt      = flag.String("bpftrace", "bpftrace", "`PATH` of bpftrace (with -tool bpftrace)")
		runRe   = flag.String("run", "", "run only the tests whose suite.name matches `REGEX`")
		jobs    = flag.Int("j", 1, "tests run at once")
		outDir  = flag.String("out", "", "`DIR` for summary.txt, failures.tsv, results.tsv and logs/")
		build   = flag.String("build", "", "build `DIR` of the test programs (default OUT/build; one per tool: uprobes attach by inode)")
		format  = flag.String("format", "auto", "test file format: auto, main or v0.17")
		all     = flag.Bool("all", false, "also run the kernel-only tests")
		listOnl = flag.Bool("list", false, "print the classification of the tests and run nothing")
		retries = flag.Int("retries", 0, "run a test that timed out again, up to `N` more times (a loaded machine slows start-up past the runner's attach timeout)")
		supBy   = flag.String("superseded-by", "", "`DIR` of bpftrace main's checkout: a failed test whose same-named test in main differs and passed (-superseded-results) is superseded")
		supRes  = flag.String("superseded-results", "", "`FILE`: results.tsv of uscope's run of main's suite (with -superseded-by)")
		rewrite = flag.Bool("rewrite-begin", false, "with -tool uscope: write lowercase begin/end probes as BEGIN/END (to see the next blocker; not a result)")
	)
	flag.Parse()
	if *src == "" || (*outDir == "" && !*listOnl) {
		fmt.Fprintln(os.Stderr, "compat: give -bpftrace-src DIR and -out DIR; see -h")
		return 1
	}
	absSrc, err := filepath.Abs(*src)
	if err != nil {
		return fatal(err)
	}
	f, err := DetectFormat(absSrc)
	if err != nil {
		return fatal(err)
	}
	switch *format {
	case "auto":
	case "main":
		f = FormatMain
	case "v0.17":
		f = FormatV017
	default:
		return fatal(fmt.Errorf("-format %q: use auto, main or v0.17", *format))
	}
	var sel *regexp.Regexp
	if *runRe != "" {
		if sel, err = regexp.Compile(*runRe); err != nil {
			return fatal(fmt.Errorf("-run: %w", err))
		}
	}
	files, err := SuiteFiles(absSrc)
	if err != nil {
		return fatal(err)
	}
	machine := unameMachine()
	var tests []*Test
	otherArch := 0
	for _, p := range files {
		ts, other, err := ParseFile(p, f, machine)
		if err != nil {
			return fatal(err)
		}
		otherArch += len(other)
		tests = append(tests, ts...)
	}
	classes := map[*Test]Class{}
	for _, t := range tests {
		classes[t] = Classify(t, absSrc)
	}
	if *listOnl {
		for _, t := range tests {
			c := classes[t]
			fmt.Printf("%s\t%s\t%s\t%s\n", t.ID(), c.Scope, strings.Join(c.Kinds, ","), c.Why)
		}
		return 0
	}

	out, err := filepath.Abs(*outDir)
	if err != nil {
		return fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, "logs"), 0o755); err != nil {
		return fatal(err)
	}
	bdir := *build
	if bdir == "" {
		bdir = filepath.Join(out, "build")
	}
	if bdir, err = filepath.Abs(bdir); err != nil {
		return fatal(err)
	}
	logf := func(s string) { fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), s) }
	logf(fmt.Sprintf("building the test programs of %s (%s format) in %s", absSrc, f, bdir))
	buildFailed, err := Build(absSrc, bdir, f, *jobs, logf)
	if err != nil {
		return fatal(err)
	}

	env := &Env{Src: absSrc, Dir: bdir, Tool: *tool, Kernel: kernelRelease()}
	switch *tool {
	case "uscope":
		if *uscope == "" {
			return fatal(fmt.Errorf("-tool uscope needs -uscope PATH"))
		}
		us, err := filepath.Abs(*uscope)
		if err != nil {
			return fatal(err)
		}
		self, err := os.Executable()
		if err != nil {
			return fatal(err)
		}
		// The shim is this executable; `go run` deletes it at exit, so
		// keep a copy beside the script.
		shimBin := filepath.Join(out, "bin", "compat-shim")
		if err := copyFile(self, shimBin); err != nil {
			return fatal(err)
		}
		// The tests expect the tracer's comm to be "bpftrace" (comm in
		// BEGIN, `comm == "bpftrace"` filters): uscope is exec'd through
		// a link of that name, the kernel naming a task after the file
		// it executes.
		link := filepath.Join(out, "bin", "uscope-as", "bpftrace")
		os.RemoveAll(filepath.Dir(link))
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return fatal(err)
		}
		if err := os.Symlink(us, link); err != nil {
			return fatal(err)
		}
		us = link
		script := filepath.Join(out, "bin", "bpftrace")
		body := fmt.Sprintf("#!/bin/sh\nexec %s -shim %s \"$@\"\n", shimBin, us)
		if *rewrite {
			body = fmt.Sprintf("#!/bin/sh\n%s=1 exec %s -shim %s \"$@\"\n", rewriteEnv, shimBin, us)
		}
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			return fatal(err)
		}
		env.Bin = script
		env.Features = uscopeFeatures()
	case "bpftrace":
		p, err := exec.LookPath(*bt)
		if err != nil {
			return fatal(err)
		}
		env.Bin, _ = filepath.Abs(p)
		env.Features = bpftraceFeatures(env.Bin)
	default:
		return fatal(fmt.Errorf("-tool %q: use uscope or bpftrace", *tool))
	}

	var todo []*Test
	for _, t := range tests {
		if sel != nil && !sel.MatchString(t.ID()) {
			continue
		}
		if !*all && classes[t].Scope == ScopeKernel {
			continue
		}
		todo = append(todo, t)
	}
	logf(fmt.Sprintf("%d tests parsed (%d more for other architectures), %d to run with %s", len(tests), otherArch, len(todo), *tool))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results := make([]*Result, len(todo))
	sem := make(chan struct{}, max(*jobs, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, t := range todo {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, t *Test) {
			defer wg.Done()
			defer func() { <-sem }()
			r := RunTest(ctx, env, t)
			for n := 1; n <= *retries && r.Status == Timeout && ctx.Err() == nil; n++ {
				r = RunTest(ctx, env, t)
				r.Attempts = n + 1
			}
			r.Class = classes[t]
			if r.Status == Timeout && r.Cause == causeAttachedTimeout && onlyBeginEnd(r.Class.Kinds) {
				// bpftrace ends such a program once begin has run.
				r.Cause = "timeout: a program of only begin/end probes kept running"
			}
			results[i] = r
			writeLog(filepath.Join(out, "logs"), r)
			mu.Lock()
			done++
			logf(fmt.Sprintf("%d/%d %-7s %s %s", done, len(todo), r.Status, t.ID(), r.Reason))
			mu.Unlock()
		}(i, t)
	}
	wg.Wait()
	var rs []*Result
	for _, r := range results {
		if r != nil {
			rs = append(rs, r)
		}
	}
	rep := &Report{Tool: *tool, Src: absSrc, Format: f, Commit: gitCommit(absSrc), Date: time.Now().UTC(),
		Command: strings.Join(os.Args, " "), Tests: tests, Classes: classes, Results: rs,
		Retries: *retries, OtherArch: otherArch, BuildFailed: buildFailed, Selected: sel != nil, All: *all, Rewrite: *rewrite}
	if *supBy != "" {
		if err := rep.supersede(*supBy, *supRes, out); err != nil {
			return fatal(err)
		}
	}
	if err := rep.Write(out); err != nil {
		return fatal(err)
	}
	logf("wrote " + filepath.Join(out, "summary.txt") + " and failures.tsv")
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

// onlyBeginEnd: the probes are begin and end and nothing else.
func onlyBeginEnd(kinds []string) bool {
	for _, k := range kinds {
		if k != "begin" && k != "end" {
			return false
		}
	}
	return len(kinds) > 0
}

func fatal(err error) int {
	fmt.Fprintln(os.Stderr, "compat:", err)
	return 1
}

func writeLog(dir string, r *Result) {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\'' || r == '"' {
			return '_'
		}
		return r
	}, r.Test.ID())
	if len(name) > 200 {
		name = name[:200]
	}
	body := fmt.Sprintf("test: %s (%s:%d)\nscope: %s %v %s\nstatus: %s\nreason: %s\ncommand: %s\nelapsed: %s\n--- output\n%s",
		r.Test.ID(), r.Test.Suite, r.Test.Line, r.Class.Scope, r.Class.Kinds, r.Class.Why, r.Status, r.Reason, r.Cmd, r.Elapsed.Round(time.Millisecond), r.Output)
	_ = os.WriteFile(filepath.Join(dir, name+".log"), []byte(body), 0o644)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}

func unameMachine() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return runtime.GOARCH
	}
	return utsString(u.Machine[:])
}

func kernelRelease() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	return utsString(u.Release[:])
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func hostEndian() string { return "le" } // amd64 and arm64 as Debian runs them

func gitCommit(src string) string {
	out, err := exec.Command("git", "-C", src, "describe", "--always", "--tags", "--long").Output()
	h, err2 := exec.Command("git", "-C", src, "rev-parse", "HEAD").Output()
	if err != nil || err2 != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(h)) + " (" + strings.TrimSpace(string(out)) + ")"
}

// kernelFeatureSet: what this kernel (6.x with BTF, uprobe_multi...) has,
// as bpftrace --info names it. Both tools are judged on the same kernel.
var kernelFeatureSet = []string{"loop", "probe_read_kernel", "btf", "fentry", "kfunc", "dpath", "signal",
	"iter", "iter:task", "iter:task_file", "kprobe_multi", "kprobe_session", "uprobe_multi", "skboutput",
	"get_tai_ns", "get_func_ip", "jiffies64", "lookup_percpu_elem", "uprobe_refcount"}

// uscopeFeatures: the kernel's, and of the build-time features of
// bpftrace: DWARF (uscope reads it) and library path resolution; not AOT,
// DWARF unwinding or blazesym.
func uscopeFeatures() map[string]bool {
	m := map[string]bool{"dwarf": true, "libpath_resolv": true}
	for _, f := range kernelFeatureSet {
		m[f] = true
	}
	return m
}

// bpftraceFeatures reads bpftrace --info, as the peer's runner does.
func bpftraceFeatures(bin string) map[string]bool {
	out, _ := exec.Command(bin, "--info").CombinedOutput()
	s := string(out)
	has := func(x string) bool { return strings.Contains(s, x) }
	return map[string]bool{
		"loop": has("Loop support: yes"), "probe_read_kernel": has("probe_read_kernel: yes"),
		"btf": has("btf: yes"), "fentry": has("fentry: yes") || has("kfunc: yes"), "kfunc": has("kfunc: yes"),
		"dpath": has("dpath: yes"), "signal": has("send_signal: yes"), "iter": has("iter: yes") || has("iter:task: yes"),
		"iter:task": has("iter:task: yes"), "iter:task_file": has("iter:task_file: yes"),
		"libpath_resolv": has("bcc library path resolution: yes"), "dwarf": has("libdw (DWARF support): yes"),
		"kprobe_multi": has("kprobe_multi: yes"), "kprobe_session": has("kprobe_session: yes"),
		"uprobe_multi": has("uprobe_multi: yes"), "skboutput": has("skboutput: yes"),
		"get_tai_ns": has("get_ktime_ns: yes"), "get_func_ip": has("get_func_ip: yes"),
		"jiffies64": has("jiffies64: yes"), "lookup_percpu_elem": has("lookup_percpu_elem: yes"),
		"dwunwind": has("dwunwind (DWARF stack unwinding): yes"), "blazesym": has("blazesym (advanced symbolization): yes"),
		"uprobe_refcount": has("uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount): yes"),
	}
}
