package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// USDT probes of real runtimes, as Debian 12 ships them (.ci/run installs
// the packages).
const (
	python311 = "/usr/bin/python3.11"
	pgBin     = "/usr/lib/postgresql/15/bin"
	javaHome  = "/usr/lib/jvm/java-17-openjdk-amd64"
	libjvm    = javaHome + "/lib/server/libjvm.so"
	libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
)

// countLines counts the lines of out equal to line.
func countLines(out, line string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			n++
		}
	}
	return n
}

// TestUSDTPython traces testdata/usdt_calls.py with CPython 3.11's probes,
// whose semaphores uscope sets before the interpreter's first instruction
// (-c). function__entry reports file, function and line; 3.11 fires it only
// for a generator resumed by throw() (or closed) and for calls made while
// a profile or trace function is set (sys.setprofile): the eval loop
// reaches the probe only on those paths, so plain calls, inlined
// Python-to-Python or not, go unreported. function__return fires for every
// call. gc__start/gc__done report the generation and the count that
// gc.collect() returns.
func TestUSDTPython(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, python311)
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/usdt_calls.py")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "calls.py")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	facts := filepath.Join(dir, "facts.txt")
	prog := fmt.Sprintf(`
usdt:%[1]s:python:function__entry /str(arg0) == "%[2]s"/ { printf("entry %%s %%d\n", str(arg1), arg2); }
usdt:%[1]s:python:function__return /str(arg0) == "%[2]s"/ { printf("return %%s %%d\n", str(arg1), arg2); }
usdt:%[1]s:python:gc__start { printf("gc start %%d\n", arg0); }
usdt:%[1]s:python:gc__done { printf("gc done %%d\n", arg0); }
`, python311, script)
	r := runUscope(t, "run", "--str-size", "256", "-c", python311+" "+script+" "+facts, "-e", prog)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(facts)
	if err != nil {
		t.Fatal(err)
	}
	var leafLine, outerLine, genLine int
	var collected [][2]int
	for _, l := range strings.Split(string(b), "\n") {
		var g, n int
		if _, err := fmt.Sscanf(l, "collected %d %d", &g, &n); err == nil {
			collected = append(collected, [2]int{g, n})
		}
		fmt.Sscanf(l, "lines leaf %d outer %d gen %d", &leafLine, &outerLine, &genLine)
	}
	if len(collected) != 3 || leafLine == 0 {
		t.Fatalf("the script's report is incomplete:\n%s", b)
	}
	out := r.stdout

	// Entries: leaf and outer once each (the call under sys.setprofile),
	// at their first line; gen when throw() resumes it at its first yield.
	counts := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && (f[0] == "entry" || f[0] == "return") {
			counts[f[0]+" "+f[1]]++
		}
	}
	t.Logf("CPython 3.11 probe counts for the script's functions: %v", counts)
	for _, w := range []struct {
		line string
		n    int
	}{
		{fmt.Sprintf("entry leaf %d", leafLine), 1},
		{fmt.Sprintf("entry outer %d", outerLine), 1},
		{fmt.Sprintf("entry gen %d", genLine+2), 1}, // throw() at "yield 1"
		{fmt.Sprintf("return leaf %d", leafLine+1), 4},
		{fmt.Sprintf("return outer %d", outerLine+1), 4},
	} {
		if got := countLines(out, w.line); got != w.n {
			t.Errorf("%q printed %d times, want %d\n%s", w.line, got, w.n, out)
		}
	}
	if counts["entry main"] != 0 || counts["entry <module>"] != 0 || counts["return main"] != 1 || counts["return <module>"] != 1 {
		t.Errorf("main and <module>: %v; want no entry (plain calls) and one return each", counts)
	}

	// Each gc.collect(G) is a gc__start G directly followed by gc__done N,
	// N being what gc.collect returned.
	var gcs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "gc ") {
			gcs = append(gcs, l)
		}
	}
	for _, c := range collected {
		start, done := fmt.Sprintf("gc start %d", c[0]), fmt.Sprintf("gc done %d", c[1])
		found := false
		for i := 0; i+1 < len(gcs); i++ {
			if gcs[i] == start && gcs[i+1] == done {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q followed by %q\n%s", start, done, strings.Join(gcs, "\n"))
		}
	}
}

// TestUSDTLibstdcxx counts C++ exceptions with libstdc++'s throw probe
// (libstdcxx:throw, arguments: the exception object and its std::type_info,
// whose second word points to the mangled type name), attached by path
// before the library is loaded.
func TestUSDTLibstdcxx(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, libstdcxx)
	gxx := testutil.RequireTool(t, "g++")
	const src = `
#include <cstdio>
#include <stdexcept>
#include <typeinfo>
struct MyError { int code; };
template <typename E> void raise(E e) {
	try { throw e; } catch (E &) { std::fprintf(stderr, "thrown %s\n", typeid(E).name()); }
}
int main() {
	for (int i = 0; i < 3; i++) raise(std::runtime_error("x"));
	raise(MyError{7});
	raise(MyError{8});
	raise(42);
	return 0;
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "throws.cc"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "throws")
	if out, err := exec.Command(gxx, "-O1", "-o", bin, filepath.Join(dir, "throws.cc")).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	r := runUscope(t, "run", "-c", bin, "-e",
		fmt.Sprintf(`usdt:%s:throw { printf("throw %%s\n", str(*(uint64 *)(arg1 + 8))); }`, libstdcxx))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	want := prefixed(r.stderr, "thrown ")
	if len(want) != 6 {
		t.Fatalf("the program reported %d exceptions, want 6\n%s", len(want), r.stderr)
	}
	got := prefixed(r.stdout, "throw ")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("throw probe saw %q, the program threw %q", got, want)
	}
}

// TestUSDTJava runs one JVM (openjdk-17, -XX:+ExtendedDTraceProbes) with
// hotspot probes from libjvm.so: method__entry (class, method and
// signature, each a pointer and a length), thread__start, gc__begin/end on
// System.gc(), class__loaded.
func TestUSDTJava(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, libjvm)
	javac := filepath.Join(javaHome, "bin", "javac")
	testutil.RequireFile(t, javac)
	dir := t.TempDir()
	if out, err := exec.Command(javac, "-d", dir, "testdata/UscopeProbes.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	prog := fmt.Sprintf(`
usdt:%[1]s:hotspot:method__entry /str(arg1, arg2) == "UscopeProbes" || str(arg1, arg2) == "UscopeProbes$Inner"/ {
	printf("method %%s.%%s%%s\n", str(arg1, arg2), str(arg3, arg4), str(arg5, arg6));
}
usdt:%[1]s:hotspot:thread__start { printf("thread %%s\n", str(arg0, arg1)); }
usdt:%[1]s:hotspot:gc__begin { printf("gc begin %%d\n", arg0); }
usdt:%[1]s:hotspot:gc__end { printf("gc end\n"); }
usdt:%[1]s:hotspot:class__loaded { printf("class %%s\n", str(arg0, arg1)); }
`, libjvm)
	cmd := fmt.Sprintf("%s/bin/java -XX:+ExtendedDTraceProbes -cp %s UscopeProbes", javaHome, dir)
	r := runUscope(t, "run", "-c", cmd, "-e", prog)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "sum 16") {
		t.Fatalf("the Java program did not finish\n%s", r.stderr)
	}
	out := r.stdout
	for _, w := range []struct {
		line string
		n    int // 0: at least once
	}{
		{"method UscopeProbes.main([Ljava/lang/String;)V", 1},
		{"method UscopeProbes.work(I)I", 4},
		{"method UscopeProbes$Inner.value()I", 1},
		{"thread uscope-worker", 1},
		{"class UscopeProbes", 1},
		{"class UscopeProbes$Inner", 1},
		{"class java/lang/Object", 0},
		{"gc begin 1", 0}, // System.gc() is a full collection
		{"gc end", 0},
	} {
		got := countLines(out, w.line)
		if (w.n == 0 && got == 0) || (w.n != 0 && got != w.n) {
			t.Errorf("%q printed %d times, want %d (0: at least once)", w.line, got, w.n)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// postgres is a PostgreSQL server a test started: its own data directory
// and Unix socket under a temporary directory, run as a non-root user.
type postgres struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

// startPostgres initializes and starts a server; cleanup stops it (fast
// shutdown) and removes its files.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	testutil.RequireFile(t, filepath.Join(pgBin, "postgres"))
	u, err := user.Lookup("postgres") // made by the Debian package
	if err != nil {
		u, err = user.Lookup("nobody")
	}
	if err != nil {
		t.Fatalf("no unprivileged user to run postgres as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "uscope-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	asUser := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(pgBin, name), args...)
		c.Dir = dir
		c.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin", "HOME=" + dir}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := asUser("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-N").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg := &postgres{dir: dir, port: freePort(t)}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	pg.cmd = asUser("postgres", "-D", data, "-k", dir, "-p", strconv.Itoa(pg.port),
		"-c", "listen_addresses=", "-c", "fsync=off")
	pg.cmd.Stdout, pg.cmd.Stderr = logf, logf
	if err := pg.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: ends the backends
		done := make(chan struct{})
		go func() { pg.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			pg.cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	for i := 0; ; i++ {
		if _, err := pg.psql("SELECT 1"); err == nil {
			break
		}
		if i == 400 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("postgres did not accept connections\n%s", log)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return pg
}

// psql sends each query with its own -c, in one session, and returns the
// output lines (unaligned, tuples only).
func (pg *postgres) psql(queries ...string) ([]string, error) {
	args := []string{"-X", "-q", "-A", "-t", "-h", pg.dir, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "postgres"}
	for _, q := range queries {
		args = append(args, "-c", q)
	}
	out, err := exec.Command(filepath.Join(pgBin, "psql"), args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("psql: %v: %s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

// TestUSDTPostgres traces a PostgreSQL server the test starts, attached by
// path (system-wide: the backends are forked after the attach): query__start
// prints each SQL text psql sends, transaction__start/commit report the
// local transaction id that pg_locks shows for the session.
func TestUSDTPostgres(t *testing.T) {
	testutil.RequireRoot(t)
	pg := startPostgres(t)
	server := filepath.Join(pgBin, "postgres")
	tr := startUscope(t, "run", "--str-size", "200", "-e", fmt.Sprintf(`
usdt:%[1]s:query__start { printf("query %%d %%s\n", pid, str(arg0)); }
usdt:%[1]s:transaction__start { printf("txn start %%d %%d\n", pid, arg0); }
usdt:%[1]s:transaction__commit { printf("txn commit %%d %%d\n", pid, arg0); }
`, server))
	queries := []string{
		"SELECT pg_backend_pid()",
		"CREATE TABLE uscope_t (x int)",
		"BEGIN",
		"INSERT INTO uscope_t VALUES (1), (2)",
		"SELECT virtualtransaction FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'virtualxid'",
		"COMMIT",
		"SELECT sum(x) FROM uscope_t",
	}
	out, err := pg.psql(queries...)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[2] != "3" {
		t.Fatalf("psql printed %q", out)
	}
	backend := out[0]
	_, local, ok := strings.Cut(out[1], "/")
	if !ok {
		t.Fatalf("virtual transaction id %q", out[1])
	}
	tr.waitLine(fmt.Sprintf("query %s %s", backend, queries[len(queries)-1]))
	tr.waitLine(fmt.Sprintf("txn commit %s ", backend))
	got := tr.stop()
	var want []string
	for _, q := range queries {
		want = append(want, fmt.Sprintf("query %s %s", backend, q))
	}
	wantLines(t, got, want...)
	if n := strings.Count(got, fmt.Sprintf("query %s ", backend)); n != len(queries) {
		t.Errorf("%d queries traced from backend %s, want %d\n%s", n, backend, len(queries), got)
	}
	// The explicit transaction: started and committed once, with the id
	// the session saw.
	for _, w := range []string{"txn start", "txn commit"} {
		line := fmt.Sprintf("%s %s %s", w, backend, local)
		if n := countLines(got, line); n != 1 {
			t.Errorf("%q printed %d times, want 1\n%s", line, n, got)
		}
	}
}
