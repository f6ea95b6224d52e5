package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const notice = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"

// noticeValue is the value the notice variable is given: bpftrace only
// looks for the variable; uscope prints the notice on standard error for
// "stderr", as bpftrace 0.17 did (its suite pipes standard output into JSON
// checkers), and on standard output, as bpftrace main does, otherwise.
func noticeValue(f Format) string {
	if f == FormatV017 {
		return "stderr"
	}
	return "1"
}

// causeAttachedTimeout: the tool attached, then neither exited nor printed
// what the test expects within its TIMEOUT.
const causeAttachedTimeout = "timeout after the probes were attached"

// Status of a test run.
type Status string

const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Timeout Status = "timeout"
	Skip    Status = "skip"
)

// Result is what one test did.
type Result struct {
	Test     *Test
	Class    Class
	Status   Status
	Reason   string // first reason of a failure or skip
	Cause    string // the reason, generalised, for the taxonomy
	Cmd      string
	Output   string
	Elapsed  time.Duration
	Attempts int // runs of the test when it was retried (-retries)
}

// Env is where and with what tests run.
type Env struct {
	Src      string // bpftrace checkout
	Dir      string // build directory: the tests' working directory
	Bin      string // what {{BPFTRACE}} becomes (bpftrace, or the shim script)
	Tool     string
	Features map[string]bool
	Kernel   string
}

// attachTimeout is the peer runner's wait for the notice (main: 10 s,
// v0.17.0: 5 s).
func attachTimeout(f Format) time.Duration {
	if f == FormatV017 {
		return 5 * time.Second
	}
	return 10 * time.Second
}

// RunTest runs one test with the semantics of the peer's runner.py.
func RunTest(ctx context.Context, e *Env, t *Test) (r *Result) {
	r = &Result{Test: t}
	start := time.Now()
	defer func() { r.Elapsed = time.Since(start) }()
	if t.KernelMin != "" && versionLess(e.Kernel, t.KernelMin) {
		return skip(r, "kernel older than MIN_KERNEL "+t.KernelMin)
	}
	if t.KernelMax != "" && versionLess(t.KernelMax, e.Kernel) {
		return skip(r, "kernel newer than MAX_KERNEL "+t.KernelMax)
	}
	if k := t.SkipIfEnvHas[0]; k != "" && os.Getenv(k) == t.SkipIfEnvHas[1] {
		return skip(r, "SKIP_IF_ENV_HAS "+k)
	}
	for _, req := range t.Requires {
		c := e.shell(ctx, req)
		if c.Run() != nil {
			return skip(r, "REQUIRES "+req)
		}
	}
	for _, f := range t.Features {
		if !e.Features[f] {
			return skip(r, "REQUIRES_FEATURE "+f)
		}
	}
	for _, f := range t.NegFeatures {
		if e.Features[f] {
			return skip(r, "REQUIRES_FEATURE !"+f)
		}
	}
	if t.NewPIDNS && len(t.Befores) == 0 {
		return fail(r, "NEW_PIDNS without BEFORE", "test error")
	}
	if t.Setup != "" {
		if out, err := e.shell(ctx, t.Setup).CombinedOutput(); err != nil {
			return fail(r, "SETUP failed: "+firstLine(string(out)), "environment: SETUP failed")
		}
	}
	var procs []*exec.Cmd // befores and after, killed at the end
	defer func() {
		for _, p := range procs {
			killGroup(p)
		}
	}()
	var nsenter []string
	beforePID := 0
	for i, b := range t.Befores {
		words := strings.Fields(b)
		if len(words) == 0 {
			continue
		}
		var c *exec.Cmd
		switch {
		case t.Format == FormatV017:
			c = e.shell(ctx, b)
		case t.NewPIDNS && i == 0:
			c = exec.Command("unshare", append([]string{"--fork", "--pid", "--mount-proc", "-r", "--kill-child", "--"}, words...)...)
		case t.NewPIDNS:
			c = exec.Command(nsenter[0], append(nsenter[1:], absWords(words)...)...)
		default:
			c = exec.Command(words[0], words[1:]...)
		}
		c.Dir = e.Dir
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		var sink bytes.Buffer
		c.Stdout, c.Stderr = &sink, &sink
		if err := c.Start(); err != nil {
			return fail(r, "BEFORE "+b+": "+err.Error(), "environment: BEFORE did not start")
		}
		procs = append(procs, c)
		var pid int
		if t.NewPIDNS && i == 0 {
			pid = waitProc(ctx, c.Process.Pid, "", time.Duration(t.Timeout)*time.Second)
			if pid != 0 {
				nsenter = []string{"nsenter", "-p", "-m", "-t", strconv.Itoa(pid)}
			}
		} else {
			pid = waitProc(ctx, c.Process.Pid, words[len(words)-1], time.Duration(t.Timeout)*time.Second)
		}
		if pid == 0 {
			return timeout(r, "BEFORE "+b+" did not start", "environment: BEFORE did not start")
		}
		if i == 0 {
			beforePID = pid
		}
	}
	call := e.command(t)
	if len(nsenter) > 0 {
		call = strings.Join(nsenter, " ") + " " + call
	}
	if strings.Contains(call, "{{BEFORE_PID}}") {
		call = strings.ReplaceAll(call, "{{BEFORE_PID}}", strconv.Itoa(beforePID))
	}
	r.Cmd = call

	env := []string{"test=" + t.Name, notice + "=" + noticeValue(t.Format), "__BPFTRACE_NOTIFY_AOT_PORTABILITY_DISABLED=1",
		"PATH=" + filepath.Dir(e.Bin) + ":" + os.Getenv("PATH")}
	if t.Format == FormatV017 {
		env = append(env, "BPFTRACE_VERIFY_LLVM_IR=1")
	}
	for k, v := range t.Env {
		env = append(env, k+"="+v)
	}
	report, err := os.CreateTemp("", "compat-shim-report.*")
	if err != nil {
		return fail(r, err.Error(), "runner error")
	}
	report.Close()
	defer os.Remove(report.Name())
	defer os.Remove(report.Name() + ".bt")
	env = append(env, reportEnv+"="+report.Name())
	pr, pw, err := os.Pipe()
	if err != nil {
		return fail(r, err.Error(), "runner error")
	}
	p := exec.Command("/bin/sh", "-c", call)
	p.Dir, p.Env = e.Dir, env
	p.Stdout, p.Stderr = pw, pw
	p.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := p.Start(); err != nil {
		pw.Close()
		pr.Close()
		return fail(r, err.Error(), "runner error")
	}
	pw.Close()
	defer killGroup(p)

	lines := make(chan string)
	go func() {
		defer close(lines)
		br := bufio.NewReader(pr)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				lines <- l
			}
			if err != nil {
				pr.Close()
				return
			}
		}
	}()
	var out strings.Builder
	attached := false
	timer := time.NewTimer(attachTimeout(t.Format))
	defer timer.Stop()
	timedOut := false
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break read
			}
			out.WriteString(l)
			if !attached && l == notice+"\n" {
				attached = true
				if t.HasExactExpect {
					out.Reset()
				}
				timer.Reset(time.Duration(t.Timeout) * time.Second)
				if t.After != "" {
					var a *exec.Cmd
					if t.NewPIDNS && len(nsenter) > 0 {
						a = exec.Command(nsenter[0], append(nsenter[1:], absWords(strings.Fields(t.After))...)...)
					} else {
						a = e.shell(ctx, t.After)
					}
					a.Dir = e.Dir
					a.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
					var sink bytes.Buffer
					a.Stdout, a.Stderr = &sink, &sink
					if a.Start() == nil {
						procs = append(procs, a)
					}
				}
			}
		case <-timer.C:
			timedOut = true
			// SIGTERM, as the peer's runner does, then SIGKILL after 1 s.
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
			grace := time.After(time.Second)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break read
					}
					out.WriteString(l)
				case <-grace:
					_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
					grace = nil
				}
			}
		case <-ctx.Done():
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			return fail(r, "interrupted", "interrupted")
		}
	}
	_ = p.Wait()
	rc := p.ProcessState.ExitCode()
	if ws, ok := p.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		rc = -int(ws.Signal())
	}
	output := normalizeNewlines(out.String())
	r.Output = output
	for _, c := range procs {
		killGroup(c)
	}
	procs = nil
	if t.Cleanup != "" {
		if o, err := e.shell(ctx, t.Cleanup).CombinedOutput(); err != nil {
			return fail(r, "CLEANUP failed: "+firstLine(string(o)), "environment: CLEANUP failed")
		}
	}
	shimOut, _ := os.ReadFile(report.Name())
	for _, o := range []string{string(shimOut), output} {
		if i := strings.Index(o, unsupportedMark); i >= 0 {
			what := strings.TrimSpace(firstLine(o[i+len(unsupportedMark):]))
			return fail(r, what, what)
		}
	}
	failed := checkExpects(t, output, e.Dir)
	errLine := firstErrorLine(output)
	if timedOut && failed == nil {
		return pass(r)
	}
	if timedOut {
		why := causeAttachedTimeout
		if !attached {
			why = fmt.Sprintf("timeout: no %s within %s", notice, attachTimeout(t.Format))
		}
		if errLine != "" {
			return timeout(r, why+"; "+errLine, "timeout: "+generalise(errLine))
		}
		return timeout(r, why+"; unmatched "+describe(failed), why)
	}
	codeBad := false
	if t.Format == FormatMain {
		if rc != t.ReturnCode && !t.WillFail {
			codeBad = true
		}
		if rc == 0 && t.WillFail {
			return fail(r, "exit status 0 but WILL_FAIL", "exits 0 where bpftrace fails (WILL_FAIL)")
		}
	} else if rc != 0 && !t.WillFail {
		codeBad = true
	}
	if codeBad {
		reason := fmt.Sprintf("exit status %d (want %d)", rc, t.ReturnCode)
		if errLine != "" {
			return fail(r, reason+": "+errLine, generalise(errLine))
		}
		return fail(r, reason+"; "+firstLine(strings.TrimPrefix(output, notice+"\n")), fmt.Sprintf("exit status %d without an error line", rc))
	}
	if failed == nil {
		return pass(r)
	}
	if errLine != "" {
		return fail(r, "unmatched "+describe(failed)+"; "+errLine, generalise(errLine))
	}
	return fail(r, "unmatched "+describe(failed), wrongOutput(failed))
}

func skip(r *Result, why string) *Result { r.Status, r.Reason, r.Cause = Skip, why, why; return r }
func pass(r *Result) *Result             { r.Status = Pass; return r }
func fail(r *Result, why, cause string) *Result {
	r.Status, r.Reason, r.Cause = Fail, why, cause
	return r
}
func timeout(r *Result, why, cause string) *Result {
	r.Status, r.Reason, r.Cause = Timeout, why, cause
	return r
}

// command is the shell command line of a test, as prepare_bpf_call builds
// it (without --verify-llvm-ir, a self-check of bpftrace's IR that
// bpftrace 0.17 does not know).
func (e *Env) command(t *Test) string {
	if t.Run != "" {
		return strings.ReplaceAll(t.Run, "{{BPFTRACE}}", e.Bin)
	}
	if t.Format == FormatV017 {
		return fmt.Sprintf("%s -e '%s'", e.Bin, t.Prog)
	}
	json := ""
	if len(t.Expects) > 0 && t.Expects[0].Mode == ExpectJSON {
		json = " -q -f json"
	}
	return fmt.Sprintf("%s%s -e '%s'", e.Bin, json, strings.ReplaceAll(t.Prog, "'", `'\''`))
}

func (e *Env) shell(ctx context.Context, cmd string) *exec.Cmd {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Dir = e.Dir
	c.Env = append(os.Environ(), "PATH="+filepath.Dir(e.Bin)+":"+os.Getenv("PATH"))
	return c
}

func killGroup(c *exec.Cmd) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	_ = c.Wait()
}

// commName is the comm a program of that path gets (15 bytes).
func commName(path string) string {
	b := filepath.Base(path)
	if len(b) > 15 {
		b = b[:15]
	}
	return b
}

func absWords(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if a, err := filepath.Abs(w); err == nil {
			out[i] = a
		} else {
			out[i] = w
		}
	}
	return out
}

// waitProc waits until pid or one of its descendants runs the program
// named prog (or, with an empty prog, until pid has a child) and returns
// its pid. A process matches as with pidof: by its comm (the first 15 bytes
// of the name) or by the name in its argv[0], which a program that execs
// another with the same argv keeps.
func waitProc(ctx context.Context, pid int, prog string, limit time.Duration) int {
	name, base := commName(prog), filepath.Base(prog)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		tree := descendants(pid)
		if prog == "" {
			if len(tree) > 1 {
				return tree[1]
			}
		} else {
			for _, p := range tree {
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); err == nil && strings.TrimSpace(string(b)) == name {
					return p
				}
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); err == nil {
					if argv0, _, _ := strings.Cut(string(b), "\x00"); argv0 != "" && filepath.Base(argv0) == base {
						return p
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0
}

// descendants lists pid and its descendants, pid first.
func descendants(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int][]int{}
	for _, en := range ents {
		n, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + en.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[pp] = append(parent[pp], n)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parent[out[i]]...)
	}
	return out
}

// versionLess compares dotted versions numerically (LooseVersion-like).
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

var digits = regexp.MustCompile(`\d+`)

func versionParts(v string) []int {
	var out []int
	for _, m := range digits.FindAllString(v, -1) {
		n, _ := strconv.Atoi(m)
		out = append(out, n)
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimLeft(s, "\n")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// normalizeNewlines does what Python's universal newlines do.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

var errLineRe = regexp.MustCompile(`(?m)^(uscope: .*|.*\bERROR: .*|.*\bcompat -shim: .*)$`)

// firstErrorLine is the first error the tool printed.
// bpftrace 0.17's warning that it cannot raise RLIMIT_MEMLOCK (not fatal:
// the kernel charges BPF memory to the cgroup) is not an error.
func firstErrorLine(out string) string {
	for _, m := range errLineRe.FindAllString(out, -1) {
		if !strings.Contains(m, "couldn't set RLIMIT_MEMLOCK") {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

var (
	locRe     = regexp.MustCompile(`^(\S+?):\d+:\d+(-\d+)?:\s*`)
	dquoteRe  = regexp.MustCompile(`"[^"]*"`)
	squoteRe  = regexp.MustCompile(`'[^']*'`)
	pathRe    = regexp.MustCompile(`(\.{0,2}/[^\s:"',;()]+)+`)
	numberRe  = regexp.MustCompile(`\b\d+\b`)
	wordishRe = regexp.MustCompile(`^["'][A-Za-z_.\-{}()\[\]@$=<>!&|+*/%^~?:,]{1,20}["']$`)
)

// generalise turns an error line into a taxonomy key: no location, no
// hint, paths and numbers and long quoted texts replaced.
func generalise(line string) string {
	s := strings.TrimSpace(line)
	s = strings.TrimPrefix(s, "uscope: ")
	s = locRe.ReplaceAllString(s, "")
	if i := strings.Index(s, "ERROR: "); i >= 0 {
		s = s[i+len("ERROR: "):]
	}
	if i := strings.Index(s, "; "); i > 0 {
		s = s[:i]
	}
	q := func(m string) string {
		if wordishRe.MatchString(m) {
			return m
		}
		return m[:1] + "…" + m[:1]
	}
	s = dquoteRe.ReplaceAllStringFunc(s, q)
	s = squoteRe.ReplaceAllStringFunc(s, q)
	s = pathRe.ReplaceAllString(s, "PATH")
	s = numberRe.ReplaceAllString(s, "N")
	if len(s) > 110 {
		s = s[:110] + "…"
	}
	return s
}

// wrongOutput is the taxonomy key of an unmatched expectation: its kind
// and the start of its text, generalised, so that the same expected line
// across tests ("Attaching N probes...") is counted once.
func wrongOutput(x *Expect) string {
	t := firstLine(x.Text)
	if x.Mode == ExpectFile || x.Mode == ExpectJSON {
		return "wrong output (" + string(x.Mode) + ")"
	}
	t = numberRe.ReplaceAllString(t, "N")
	if len(t) > 32 {
		t = t[:32] + "…"
	}
	return "wrong output: " + string(x.Mode) + " " + t
}

func describe(x *Expect) string {
	t := strings.ReplaceAll(x.Text, "\n", `\n`)
	if len(t) > 80 {
		t = t[:80] + "…"
	}
	return string(x.Mode) + " " + t
}
