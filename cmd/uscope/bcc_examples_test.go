package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// The userspace lines of bcc's tools/*_example.txt (and their --help
// epilogs), run under bcc's tool names against testdata/bccex.c, whose
// calls are known. A line is rewritten only where it must be local: -p PID
// becomes --cmd "BIN MODES" (the program runs traced from its first
// instruction), a path becomes the test's binary, and a system-wide line
// gets --cmd so that only the test's calls count. Expectations are what the
// example files show bcc printing: the headers, the columns, the
// histogram layout, and the counts the program makes.

// bccexProgram builds testdata/bccex.c.
func bccexProgram(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/bccex.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "bccex", string(src), "-O0", "-fno-omit-frame-pointer", "-pthread")
}

// bccExample is one rewritten example line: the tool's arguments and the
// modes of bccex it runs with.
type bccExample struct {
	line  string // the line as bcc's example file has it
	modes string
	args  []string
	check func(t *testing.T, out string)
}

func runBCCExamples(t *testing.T, examples []bccExample) {
	testutil.RequireRoot(t)
	bin := bccexProgram(t)
	for _, ex := range examples {
		t.Run(ex.line, func(t *testing.T) {
			args := make([]string, 0, len(ex.args)+2)
			for _, a := range ex.args {
				args = append(args, strings.ReplaceAll(a, "BIN", bin))
			}
			if ex.modes != "" {
				args = append([]string{args[0], "--cmd", bin + " " + ex.modes}, args[1:]...)
			}
			exampleBin = bin
			ex.check(t, runOK(t, args...))
		})
	}
}

// exampleBin is the binary of the example being checked.
var exampleBin string

var hmsLine = regexp.MustCompile(`(?m)^\[\d\d:\d\d:\d\d\]$`)

// wantCounts checks argdist -C's rows under label.
func wantCounts(label string, want map[string]int) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		if !hmsLine.MatchString(out) {
			t.Errorf("no [HH:MM:SS] line:\n%s", out)
		}
		if !strings.Contains(out, label+"\n\tCOUNT      EVENT\n") {
			t.Errorf("no %q heading with argdist's COUNT EVENT columns:\n%s", label, out)
		}
		if got := argdistCounts(t, out, label); !reflect.DeepEqual(got, want) {
			t.Errorf("counts %v, want %v\n%s", got, want, out)
		}
	}
}

// wantHist checks a bcc log2 histogram: its value-type header and buckets
// (by low bound).
func wantHist(valType string, want map[uint64]int) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		header := regexp.MustCompile(`(?m)^ {5}` + regexp.QuoteMeta(valType) + ` +: count     distribution$`)
		if !header.MatchString(out) {
			t.Errorf("no %q histogram header:\n%s", valType, out)
		}
		if want == nil {
			return
		}
		if got := bccHist(t, out); !reflect.DeepEqual(got, want) {
			t.Errorf("buckets %v, want %v\n%s", got, want, out)
		}
	}
}

// histTotal checks the number of values a histogram holds.
func histTotal(valType string, n int) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		wantHist(valType, nil)(t, out)
		total := 0
		for _, c := range bccHist(t, out) {
			total += c
		}
		if total != n {
			t.Errorf("%d values in the histogram, want %d\n%s", total, n, out)
		}
	}
}

func TestBCCArgdistExamples(t *testing.T) {
	sizes := map[string]int{"size = 16": 5, "size = 77": 3, "size = 1000": 2}
	runBCCExamples(t, []bccExample{
		{"argdist -p 2420 -c -C 'p:c:malloc(size_t size):size_t:size'", "m",
			[]string{"argdist", "-c", "-C", "p:c:malloc(size_t size):size_t:size"},
			wantCounts("p:c:malloc(size_t size):size_t:size", sizes)},
		{"argdist -c -H 'p:c:write(int fd, void *buf, size_t len):size_t:len'", "w",
			[]string{"argdist", "-c", "-H", "p:c:write(int fd, void *buf, size_t len):size_t:len"},
			wantHist("len", map[uint64]int{8: 3, 64: 2})},
		{"argdist -c -H 'p:c:write(int fd, void *buf, size_t len):size_t:len:fd==1'", "w",
			[]string{"argdist", "-c", "-H", "p:c:write(int fd, void *buf, size_t len):size_t:len:fd==1"},
			wantHist("len", map[uint64]int{8: 3})},
		{"argdist -i 10 -n 1 -C 'p:c:puts(char *str):char*:str'", "p",
			[]string{"argdist", "-i", "10", "-n", "1", "-C", "p:c:puts(char *str):char*:str"},
			wantCounts("p:c:puts(char *str):char*:str", map[string]int{"str = hello": 3, "str = world": 1})},
		{"argdist -i 10 -n 1 -C 'r:c:gets():char*:(char*)$retval:$retval!=0'", "g",
			[]string{"argdist", "-i", "10", "-n", "1", "-C", "r:c:gets():char*:(char*)$retval:$retval!=0"},
			wantCounts("r:c:gets():char*:(char*)$retval:$retval!=0", map[string]int{"(char*)$retval = ab": 2, "(char*)$retval = cd": 1})},
		{"argdist -i 10 -c -H 'r:c:read()'", "r",
			[]string{"argdist", "-i", "10", "-c", "-H", "r:c:read()"},
			wantHist("retval", map[uint64]int{8: 3, 64: 2})},
		// bcc's current argdist takes the label after '#'; the example's
		// older ';' would be part of the expression there too.
		{"argdist -H 'r:c:malloc(size_t size):u64:$latency/$entry(size)#ns per byte' -n 1 -i 10", "m",
			[]string{"argdist", "-H", "r:c:malloc(size_t size):u64:$latency/$entry(size)#ns per byte", "-n", "1", "-i", "10"},
			histTotal("ns per byte", 10)},
		{`argdist -c -H 'r:c:open(char *file):u64:$latency/1000:STRCMP("test.txt",$entry(file))'`, "o",
			[]string{"argdist", "-c", "-H", `r:c:open(char *file):u64:$latency/1000:STRCMP("test.txt",$entry(file))`},
			histTotal("$latency/1000", 2)},
		{"argdist -c -C 'p:c:write():int:$PID#write per process' -n 2", "w",
			[]string{"argdist", "-c", "-C", "p:c:write():int:$PID#write per process", "-n", "2"},
			func(t *testing.T, out string) {
				rows := regexp.MustCompile(`(?m)^\t5 +\$PID = \d+$`).FindAllString(out, -1)
				if !strings.Contains(out, "write per process\n\tCOUNT      EVENT\n") || len(rows) != 1 {
					t.Errorf("want one '$PID = N' row of 5 writes under 'write per process':\n%s", out)
				}
			}},
		{"argdist -p 1005 -C 'p:c:malloc(size_t size):size_t:size:size==16'", "m",
			[]string{"argdist", "-C", "p:c:malloc(size_t size):size_t:size:size==16"},
			wantCounts("p:c:malloc(size_t size):size_t:size:size==16", map[string]int{"size = 16": 5})},
		{"argdist -p 1005 -C 'p:c:write(int fd):int:fd' -T 5", "w",
			[]string{"argdist", "-C", "p:c:write(int fd):int:fd", "-T", "5"},
			wantCounts("p:c:write(int fd):int:fd", map[string]int{"fd = 1": 3, "fd = 2": 2})},
		{"argdist -p 1005 -C 'p:c:write(int fd):int:fd' -T 1", "w",
			[]string{"argdist", "-C", "p:c:write(int fd):int:fd", "-T", "1"},
			wantCounts("p:c:write(int fd):int:fd", map[string]int{"fd = 1": 3})},
		{"argdist -p 1005 -H 'r:c:read()'", "r",
			[]string{"argdist", "-H", "r:c:read()"},
			wantHist("retval", map[uint64]int{8: 3, 64: 2})},
		{"argdist -C 'p:c:fork()#fork calls'", "f",
			[]string{"argdist", "-C", "p:c:fork()#fork calls"},
			wantCounts("fork calls", map[string]int{"total calls": 2})},
		{"argdist -C 'r::__vfs_read():u32:$COMM' (a libc function here)", "w",
			[]string{"argdist", "-C", "p:c:write():char*:$COMM"},
			wantCounts("p:c:write():char*:$COMM", map[string]int{"$COMM = bccex": 5})},
		// A struct member through a pointer argument (argdist's --help:
		// -H 'p:c:nanosleep(struct timespec *req):long:req->tv_nsec').
		{"argdist -C 'p:c:nanosleep(struct timespec *req):long:req->tv_nsec'", "n",
			[]string{"argdist", "-C", "p:c:nanosleep(struct timespec *req):long:req->tv_nsec"},
			wantCounts("p:c:nanosleep(struct timespec *req):long:req->tv_nsec",
				map[string]int{"req->tv_nsec = 1000": 3, "req->tv_nsec = 300000": 2, "req->tv_nsec = 200000000": 2})},
		{"argdist -H 'p:c:nanosleep(struct timespec *req):long:req->tv_nsec'", "n",
			[]string{"argdist", "-H", "p:c:nanosleep(struct timespec *req):long:req->tv_nsec"},
			wantHist("req->tv_nsec", map[uint64]int{512: 3, 262144: 2, 134217728: 2})},
		{"argdist -p 2780 -z 120 -C 'p:c:write(int fd, char* buf, size_t len):char*:buf:fd==1'", "w",
			[]string{"argdist", "-z", "120", "-C", "p:c:write(int fd, char* buf, size_t len):char*:buf:fd==1"},
			wantCounts("p:c:write(int fd, char* buf, size_t len):char*:buf:fd==1",
				map[string]int{"buf = ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn": 3})},
	})
}

// wantFuncCounts checks funccount's header, FUNC COUNT table and
// Detaching... line.
func wantFuncCounts(pattern string, want map[string]int) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		pattern := strings.ReplaceAll(pattern, "BIN", exampleBin)
		if !regexp.MustCompile(`^Tracing \d+ functions for "` + regexp.QuoteMeta(pattern) + `"\.\.\. Hit Ctrl-C to end\.\n`).MatchString(out) {
			t.Errorf("no funccount header for %q:\n%s", pattern, out)
		}
		if !strings.HasSuffix(out, "\nDetaching...\n") {
			t.Errorf("no Detaching... at the end:\n%s", out)
		}
		got := funcCounts(t, out)
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d calls, want %d\n%s", k, got[k], n, out)
			}
		}
	}
}

func TestBCCFunccountExamples(t *testing.T) {
	paths := map[string]int{"path_a": 7, "path_b": 3, "leaf": 10}
	runBCCExamples(t, []bccExample{
		{"funccount -p 1442 /home/ubuntu/contentions:*", "s",
			[]string{"funccount", "BIN:*"}, wantFuncCounts("BIN:*", paths)},
		{"funccount -p 1442 contentions:*", "s",
			[]string{"funccount", "bccex:*"}, wantFuncCounts("bccex:*", paths)},
		{"funccount -r 'c:(write|read)$'", "wr",
			[]string{"funccount", "-r", "c:(write|read)$"},
			func(t *testing.T, out string) {
				wantFuncCounts("c:(write|read)$", map[string]int{"write": 5, "read": 5})(t, out)
				if got := funcCounts(t, out); len(got) != 2 {
					t.Errorf("-r matched more than write and read: %v", got)
				}
			}},
		{"funccount c:malloc", "m",
			[]string{"funccount", "c:malloc"}, wantFuncCounts("c:malloc", map[string]int{"malloc": 10})},
		{"funccount ./test:read*", "s",
			[]string{"funccount", "BIN:path*"}, wantFuncCounts("BIN:path*", map[string]int{"path_a": 7, "path_b": 3})},
		{"funccount -Ti 5 'vfs_*' (user functions here)", "s",
			[]string{"funccount", "-Ti", "0.1", "BIN:path_*"},
			func(t *testing.T, out string) {
				wantFuncCounts("BIN:path_*", map[string]int{"path_a": 7, "path_b": 3})(t, out)
				if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\s*\nFUNC `).MatchString(out) {
					t.Errorf("-T: no HH:MM:SS line before a table:\n%s", out)
				}
			}},
		{"funccount -D c:malloc (bcc prints its BPF; uscope its program, on stderr)", "m",
			[]string{"funccount", "c:malloc"}, wantFuncCounts("c:malloc", map[string]int{"malloc": 10})},
	})
}

// TestBCCFunccountCPU: -c CPU counts only calls on that CPU (bcc's
// "funccount -c 1 'vfs_*'"); the program is pinned to CPU 0.
func TestBCCFunccountCPU(t *testing.T) {
	testutil.RequireRoot(t)
	taskset := testutil.RequireTool(t, "taskset")
	bin := bccexProgram(t)
	out := runOK(t, "funccount", "-c", "0", "--cmd", taskset+" -c 0 "+bin+" s", bin+":path_*")
	if got := funcCounts(t, out); got["path_a"] != 7 || got["path_b"] != 3 {
		t.Errorf("-c 0 on a program pinned to CPU 0: %v, want path_a 7, path_b 3\n%s", got, out)
	}
	out = runOK(t, "funccount", "-c", "1", "--cmd", taskset+" -c 0 "+bin+" s", bin+":path_*")
	if got := funcCounts(t, out); len(got) != 0 {
		t.Errorf("-c 1 on a program pinned to CPU 0 counted %v\n%s", got, out)
	}
}

func TestBCCFunclatencyExamples(t *testing.T) {
	avg := regexp.MustCompile(`(?m)^avg = \d+ (\w+), total: \d+ \w+, count: (\d+)$`)
	wantCount := func(unit, count string) func(*testing.T, string) {
		return func(t *testing.T, out string) {
			t.Helper()
			wantHist(unit, nil)(t, out)
			m := avg.FindStringSubmatch(out)
			if m == nil || m[1] != unit || m[2] != count {
				t.Errorf("want an avg line in %s with count %s:\n%s", unit, count, out)
			}
			if !strings.HasSuffix(out, "Detaching...\n") {
				t.Errorf("no Detaching... at the end:\n%s", out)
			}
		}
	}
	runBCCExamples(t, []bccExample{
		{"funclatency pthread:pthread_mutex_lock -p $(pidof contentions)", "x",
			[]string{"funclatency", "pthread:pthread_mutex_lock"},
			func(t *testing.T, out string) {
				// Four locks of the program's own, besides those glibc
				// takes (ld.so's lock at exit): counted without them too.
				count := func(out string) int {
					if m := avg.FindStringSubmatch(out); m != nil {
						n, _ := strconv.Atoi(m[2])
						return n
					}
					return 0
				}
				base := count(runOK(t, "funclatency", "--cmd", exampleBin, "pthread:pthread_mutex_lock"))
				wantCount("nsecs", strconv.Itoa(base+4))(t, out)
			}},
		{"funclatency /home/user/primes:* -p $(pidof primes) -F", "l",
			[]string{"funclatency", "BIN:nest", "-F"},
			func(t *testing.T, out string) {
				if !regexp.MustCompile(`(?m)^Function = nest \[\d+\]$`).MatchString(out) {
					t.Errorf("-F: no 'Function = nest [PID]' section:\n%s", out)
				}
				wantCount("nsecs", "3")(t, out)
			}},
		{"funclatency c:read", "r",
			[]string{"funclatency", "c:read"}, wantCount("nsecs", "5")},
		{"funclatency -i 2 -d 10 c:open", "o",
			[]string{"funclatency", "-i", "2", "-d", "10", "c:open"}, wantCount("nsecs", "3")},
		{"funclatency -m do_nanosleep (a user function here)", "l",
			[]string{"funclatency", "-m", "BIN:nest"},
			func(t *testing.T, out string) {
				wantCount("msecs", "3")(t, out)
				// The calls last at least 4.5, 3 and 1.5 ms (the program
				// spins until then; a busy machine only adds time).
				wantAtLeast(t, out, 0, 2, 4)
			}},
		{"funclatency -l 1 (outermost level only)", "l",
			[]string{"funclatency", "-m", "-l", "1", "BIN:nest"},
			func(t *testing.T, out string) {
				wantCount("msecs", "1")(t, out)
				wantAtLeast(t, out, 4)
			}},
		{"funclatency -u -r (a regular expression)", "l",
			[]string{"funclatency", "-u", "-r", "BIN:^nes"}, wantCount("usecs", "3")},
		{"funclatency 'c:*printf'", "p",
			[]string{"funclatency", "c:*printf"}, wantCount("nsecs", "2")},
	})
}

// commLine is stackcount's "    comm [pid]" line.
var commLine = regexp.MustCompile(`(?m)^    \S+ \[\d+\]$`)

// wantAtLeast checks that a histogram holds one value per bound, each in a
// bucket at or above its bound (ascending).
func wantAtLeast(t *testing.T, out string, lows ...uint64) {
	t.Helper()
	var got []uint64
	for lo, n := range bccHist(t, out) {
		for range n {
			got = append(got, lo)
		}
	}
	slices.Sort(got)
	if len(got) != len(lows) {
		t.Errorf("%d values, want %d\n%s", len(got), len(lows), out)
		return
	}
	for i := range lows {
		if got[i] < lows[i] {
			t.Errorf("value %d in bucket %d, want at least %d\n%s", i, got[i], lows[i], out)
		}
	}
}

func TestBCCStackcountExamples(t *testing.T) {
	header := func(pattern string) *regexp.Regexp {
		return regexp.MustCompile(`^Tracing \d+ functions for "` + regexp.QuoteMeta(pattern) + `"\.\.\. Hit Ctrl-C to end\.\n`)
	}
	// bcc's stack block: frames "  sym", then "    count", innermost first.
	block := func(frames ...string) string {
		return "  " + strings.Join(frames, "\n  ") + "\n"
	}
	runBCCExamples(t, []bccExample{
		{"stackcount -p 4902 c:malloc", "m",
			[]string{"stackcount", "c:malloc"},
			func(t *testing.T, out string) {
				if !header("c:malloc").MatchString(out) || !strings.HasSuffix(out, "Detaching...\n") {
					t.Errorf("no stackcount header or Detaching...:\n%s", out)
				}
				if !regexp.MustCompile(`(?m)^  malloc\n(  \S.*\n)*    10\n\n`).MatchString(out) {
					t.Errorf("want one malloc stack counted 10 times:\n%s", out)
				}
				if commLine.MatchString(out) {
					t.Errorf("with -p (here --cmd) no 'comm [pid]' line:\n%s", out)
				}
			}},
		{"stackcount -P -d -p PID c:malloc", "m",
			[]string{"stackcount", "-P", "-d", "c:malloc"},
			func(t *testing.T, out string) {
				if !regexp.MustCompile(`(?m)^    --\n  malloc\n(  \S.*\n)*    bccex \[\d+\]\n    10\n\n`).MatchString(out) {
					t.Errorf("want the -- delimiter, the malloc stack, 'bccex [PID]' (-P without -p), count 10:\n%s", out)
				}
			}},
		{"stackcount -P -df t:sched:sched_switch (a user function here)", "s",
			[]string{"stackcount", "-P", "-df", "BIN:leaf"},
			func(t *testing.T, out string) {
				for _, w := range []string{"path_a;leaf;- 7", "path_b;leaf;- 3"} {
					if !regexp.MustCompile(`(?m)^bccex;(\S+;)*` + regexp.QuoteMeta(w) + `$`).MatchString(out) {
						t.Errorf("folded with delimiter: no line ending %q:\n%s", w, out)
					}
				}
				if strings.Contains(out, "Tracing") || strings.Contains(out, "Detaching") {
					t.Errorf("-f prints only the folded lines:\n%s", out)
				}
			}},
		{"stackcount -P -Tdi 1 submit_bio (a user function here)", "s",
			[]string{"stackcount", "-P", "-Tdi", "0.1", "BIN:leaf"},
			func(t *testing.T, out string) {
				if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\s*$`).MatchString(out) {
					t.Errorf("-T: no timestamp line:\n%s", out)
				}
				if !strings.Contains(out, "    --\n"+block("leaf", "path_a")) {
					t.Errorf("no delimited leaf/path_a stack:\n%s", out)
				}
			}},
		{"stackcount -r '^tcp_send.*' (user functions here)", "s",
			[]string{"stackcount", "-r", "BIN:^pa.*_a"},
			func(t *testing.T, out string) {
				if !regexp.MustCompile(`(?m)^  path_a\n(  \S.*\n)*    7\n\n`).MatchString(out) || strings.Contains(out, "path_b") {
					t.Errorf("-r: want path_a's stack counted 7 times only:\n%s", out)
				}
			}},
		{"stackcount -sv ip_output (a user function here)", "s",
			[]string{"stackcount", "-sv", "BIN:path_b"},
			func(t *testing.T, out string) {
				if !regexp.MustCompile(`(?m)^  [0-9a-f]+ +path_b\+0x[0-9a-f]+\n  [0-9a-f]+ +main\+0x[0-9a-f]+\n`).MatchString(out) {
					t.Errorf("-sv: want 'ADDR sym+0xOFF' frames:\n%s", out)
				}
			}},
	})
}

// TestBCCStackcountPerProcess: without -P the stacks of every process add
// up and no process is named; -P names each. Two copies of the program run
// under one shell, traced with --cmd (its descendants too).
func TestBCCStackcountPerProcess(t *testing.T) {
	testutil.RequireRoot(t)
	bin := bccexProgram(t)
	cmd := "sh -c '" + bin + " s & " + bin + " s; wait'"
	out := runOK(t, "stackcount", "--cmd", cmd, bin+":path_b")
	// (The frames of a descendant that has exited are not always named:
	// symbolization is not what this checks.)
	if !regexp.MustCompile(`(?m)^(  \S.*\n)+    6\n\n`).MatchString(out) || commLine.MatchString(out) {
		t.Errorf("without -P: want one path_b stack counted 6 times (3 per process), no process line:\n%s", out)
	}
	out = runOK(t, "stackcount", "-P", "--cmd", cmd, bin+":path_b")
	procs := regexp.MustCompile(`(?m)^    bccex \[\d+\]\n    3\n\n`).FindAllString(out, -1)
	if len(procs) != 2 {
		t.Errorf("-P: want two stacks counted 3 times, each named 'bccex [PID]':\n%s", out)
	}
}

func TestBCCStackcountKernelRefused(t *testing.T) {
	r := runUscope(t, "stackcount", "-K", "c:malloc")
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "userspace") {
		t.Errorf("-K: exit %d, stderr %q; want exit 1 and one line saying uscope traces userspace", r.code, r.stderr)
	}
}

// TestToolsJSON: every tool's -f json -o FILE writes bpftrace's NDJSON to
// the file: an attached_probes line, then map/hist/stats lines with the
// tool's results.
func TestToolsJSON(t *testing.T) {
	testutil.RequireRoot(t)
	bin := bccexProgram(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string // a map the output must hold, by its JSON data key
		typ  string
	}{
		{[]string{"count", "-c", bin + " s", bin + ":path_*"}, "@counts", "map"},
		{[]string{"funccount", "--cmd", bin + " s", bin + ":path_*"}, "@counts", "map"},
		{[]string{"latency", "-c", bin + " l", bin + ":nest"}, "@latency", "hist"},
		{[]string{"funclatency", "--cmd", bin + " l", bin + ":nest"}, "@total", "stats"},
		{[]string{"stack", "--format", "json", "-c", bin + " s", bin + ":leaf"}, "@stacks", "map"},
		{[]string{"stackcount", "--format", "json", "--cmd", bin + " s", bin + ":leaf"}, "@stacks", "map"},
		{[]string{"argdist", "--cmd", bin + " m", "-C", "p:c:malloc(size_t size):size_t:size"}, "@spec0", "map"},
		{[]string{"argdist", "--cmd", bin + " m", "-H", "p:c:malloc(size_t size):size_t:size"}, "@spec0", "hist"},
	} {
		t.Run(strings.Join(c.args[:1], " "), func(t *testing.T) {
			file := filepath.Join(dir, c.args[0]+".json")
			args := append([]string{c.args[0]}, c.args[1:]...)
			if !contains(args, "--format") {
				args = append(args, "-f", "json")
			}
			args = append(args, "-o", file)
			if out := runOK(t, args...); out != "" {
				t.Errorf("-o FILE: standard output not empty:\n%s", out)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			found := false
			for i, l := range lines {
				var obj struct {
					Type string                     `json:"type"`
					Data map[string]json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal([]byte(l), &obj); err != nil {
					t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, l)
				}
				if i == 0 && obj.Type != "attached_probes" {
					t.Errorf("first line %q, want attached_probes", l)
				}
				if _, ok := obj.Data[c.want]; ok && obj.Type == c.typ {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s line for %s:\n%s", c.typ, c.want, data)
			}
		})
	}
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

// traceRows returns the messages of trace's rows (the text after FUNC),
// after checking the header has bcc's columns.
func traceRows(t *testing.T, out, header, prefix string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) == 0 || !regexp.MustCompile(`^`+header+`PID +TID +COMM +FUNC +-$`).MatchString(lines[0]) {
		t.Errorf("header %q is not bcc trace's %q", lines[0], header+"PID TID COMM FUNC -")
	}
	row := regexp.MustCompile(`^` + prefix + `\d+ +\d+ +bccex +\S+ +(.*)$`)
	var msgs []string
	for _, l := range lines[1:] {
		if m := row.FindStringSubmatch(l); m != nil {
			msgs = append(msgs, m[1])
		} else if l != "" {
			t.Errorf("row %q is not PID TID COMM FUNC MSG", l)
		}
	}
	return msgs
}

// wantRows checks trace's rows; header and prefix are the regular
// expressions of the columns before PID in the header and in each row.
func wantRows(header, prefix string, want ...string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		got := traceRows(t, out, header, prefix)
		if !slices.Equal(got, want) {
			t.Errorf("rows %q, want %q\n%s", got, want, out)
		}
	}
}

func TestBCCTraceExamples(t *testing.T) {
	const hms = `\d\d:\d\d:\d\d +`
	runBCCExamples(t, []bccExample{
		{`trace 'p:c:write (arg1 == 1) "writing %d bytes to STDOUT", arg3'`, "w",
			[]string{"trace", `p:c:write (arg1 == 1) "writing %d bytes to STDOUT", arg3`},
			wantRows("", "", "writing 10 bytes to STDOUT", "writing 10 bytes to STDOUT", "writing 10 bytes to STDOUT")},
		{`trace 'p:c:open (STRCMP("test.txt", arg1)) "opening %s", arg1' -T`, "o",
			[]string{"trace", `p:c:open (STRCMP("test.txt", arg1)) "opening %s", arg1`, "-T"},
			wantRows(`TIME +`, hms, "opening test.txt", "opening test.txt")},
		{`trace 'p:c:open(char *filename) "opening %s", filename'`, "o",
			[]string{"trace", `p:c:open(char *filename) "opening %s", filename`},
			wantRows("", "", "opening test.txt", "opening test.txt", "opening other.txt")},
		{`trace 'c:malloc "size = %d", arg1'`, "m",
			[]string{"trace", `c:malloc "size = %d", arg1`},
			wantRows("", "", "size = 16", "size = 77", "size = 16", "size = 1000", "size = 16",
				"size = 77", "size = 16", "size = 1000", "size = 16", "size = 77")},
		{`trace 'r:c:malloc (retval) "allocated = %x", retval'`, "m",
			[]string{"trace", `r:c:malloc (retval) "allocated = %x", retval`},
			func(t *testing.T, out string) {
				got := traceRows(t, out, "", "")
				if len(got) != 10 || !regexp.MustCompile(`^allocated = [0-9a-f]+$`).MatchString(got[0]) {
					t.Errorf("want 10 'allocated = HEX' rows, got %q", got)
				}
			}},
		// Failed calls: the cast makes the comparison signed.
		{`trace 'r:c:read ((int)retval < 0) "read failed: %d", retval' 'r:c:write ((int)retval < 0) "write failed: %d", retval' -T`, "we",
			[]string{"trace", `r:c:read ((int)retval < 0) "read failed: %d", retval`, `r:c:write ((int)retval < 0) "write failed: %d", retval`, "-T"},
			wantRows(`TIME +`, hms, "read failed: -1", "read failed: -1", "write failed: -1")},
		// bcc trace's filters: -n on the command name, -f on the message,
		// --uid; -t -u prints Unix seconds.
		{`trace -n bcce -f 100 'p:c:write "fd %d n %d", arg1, arg3'`, "w",
			[]string{"trace", "-n", "bcce", "-f", "100", `p:c:write "fd %d n %d", arg1, arg3`},
			wantRows("", "", "fd 2 n 100", "fd 2 n 100")},
		{`trace -n nomatch 'p:c:write "fd %d", arg1'`, "w",
			[]string{"trace", "-n", "nomatch", `p:c:write "fd %d", arg1`}, wantRows("", "")},
		{`trace --uid 0 'p:c:write "fd %d", arg1'`, "w",
			[]string{"trace", "--uid", "0", `p:c:write "fd %d", arg1`}, wantRows("", "", "fd 1", "fd 1", "fd 1", "fd 2", "fd 2")},
		{`trace --uid 12345 'p:c:write "fd %d", arg1'`, "w",
			[]string{"trace", "--uid", "12345", `p:c:write "fd %d", arg1`}, wantRows("", "")},
		{`trace -t -u 'p:c:write (arg1 == 2) "fd %d", arg1'`, "w",
			[]string{"trace", "-t", "-u", `p:c:write (arg1 == 2) "fd %d", arg1`},
			wantRows(`TIME +`, `\d{10}\.\d{6} +`, "fd 2", "fd 2")},
		// -T -C, as in "trace 'u:pthread:pthread_create "%U", arg3' -T -C"
		// (Debian's glibc has no pthread USDT probes): a CPU column of
		// the CPUs there are.
		{`trace 'c:malloc "size = %d", arg1' -T -C`, "m",
			[]string{"trace", `c:malloc "size = %d", arg1`, "-T", "-C"},
			func(t *testing.T, out string) {
				got := traceRows(t, out, `TIME +CPU +`, hms+`(\d+) +`)
				if len(got) != 10 {
					t.Errorf("want 10 rows with TIME and CPU, got %q\n%s", got, out)
				}
				for _, m := range regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d (\d+) +\d+ `).FindAllStringSubmatch(out, -1) {
					if cpu, _ := strconv.Atoi(m[1]); cpu >= runtime.NumCPU() {
						t.Errorf("CPU %d of %d\n%s", cpu, runtime.NumCPU(), out)
					}
				}
			}},
		// -A with -M: each distinct row once, most frequent first, with
		// its count (trace_example.txt's 'trace ... -K -A -M 1000', the
		// kernel stack left out); the command ends before 1000 events,
		// and the rows are printed at the end.
		{`trace -A -M 1000 'c:malloc "size = %d", arg1'`, "m",
			[]string{"trace", "-A", "-M", "1000", `c:malloc "size = %d", arg1`},
			func(t *testing.T, out string) {
				row := regexp.MustCompile(`(?m)^\d+ +\d+ +bccex +malloc +(size = \d+)\n-->COUNT (\d+)\n\n`)
				var got []string
				for _, m := range row.FindAllStringSubmatch(out, -1) {
					got = append(got, m[1]+" "+m[2])
				}
				if want := []string{"size = 16 5", "size = 77 3", "size = 1000 2"}; !slices.Equal(got, want) {
					t.Errorf("aggregated %q, want %q\n%s", got, want, out)
				}
			}},
	})
}

// TestBCCTraceReadline: trace_example.txt's "trace 'r:bash:readline "%s",
// retval'": the lines an interactive bash reads, named by its command
// (bash) and the function.
func TestBCCTraceReadline(t *testing.T) {
	testutil.RequireRoot(t)
	bash := testutil.RequireTool(t, "bash")
	out := runWithStdin(t, []string{"trace", `r:bash:readline "%s", retval`, "--cmd", bash + " --norc -i"}, "echo hi!\nexit\n").stdout
	row := regexp.MustCompile(`^\d+ +\d+ +bash +readline +(.*)$`)
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if m := row.FindStringSubmatch(l); m != nil {
			got = append(got, m[1])
		}
	}
	if !slices.Equal(got, []string{"echo hi!", "exit"}) || !strings.HasPrefix(out, "PID") {
		t.Errorf("readline rows %q, want 'echo hi!' and 'exit' under bcc's header\n%s", got, out)
	}
}

func TestBCCTraceRefusals(t *testing.T) {
	for _, flag := range []string{"-K", "-A", "-B", "-I=x.h", "-s=/bin/ls"} {
		r := runUscope(t, "trace", flag, "c:malloc")
		if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("trace %s: exit %d, stderr %q; want exit 1 and one line", flag, r.code, r.stderr)
		}
	}
}

// TestCompleteToolArgs: completion offers tool names, the functions of
// the pattern's target, and PIDs with their command names for -p.
func TestCompleteToolArgs(t *testing.T) {
	bin := testutil.BuildC(t, "bccex", mustRead(t, "testdata/bccex.c"), "-O0", "-pthread")
	out := runOK(t, "__complete", "funccount", bin+":pa")
	if !strings.Contains(out, bin+":path_a\n") || !strings.Contains(out, bin+":path_b\n") || strings.Contains(out, ":leaf") {
		t.Errorf("pattern completion of %s:pa:\n%s", bin, out)
	}
	// USDT probe names of the binary after u:BIN:, as many as tplist lists.
	usdt := testutil.BuildC(t, "usdtargs", mustRead(t, "testdata/usdtargs.c"), "-O0")
	out = runOK(t, "__complete", "funccount", "u:"+usdt+":")
	probes := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "u:"+usdt+":") {
			probes++
		}
	}
	names := map[string]bool{} // tplist's "PATH provider:name" lines, by name
	for _, l := range strings.Fields(runOK(t, "tplist", "-l", usdt)) {
		if _, name, ok := strings.Cut(l, ":"); ok {
			names[name] = true
		}
	}
	if probes != len(names) || probes == 0 {
		t.Errorf("u:%s: completion: %d probe names, want the %d names tplist lists\n%s", usdt, probes, len(names), out)
	}
	out = runOK(t, "__complete", "fun")
	if !strings.Contains(out, "funccount\t") || !strings.Contains(out, "funclatency\t") {
		t.Errorf("tool names: \n%s", out)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	out = runOK(t, "__complete", "stackcount", "-p", self)
	if !strings.Contains(out, self+"\t"+strings.TrimSpace(string(comm))+"\n") {
		t.Errorf("-p completion lacks %s with its comm:\n%s", self, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBCCDoneWithPID runs the two lines of issue 21 as bcc's users type
// them, with -p of a running process (bccex L: malloc(32) every
// millisecond): argdist -c counts cumulatively from interval to interval
// (bcc's -c), and stackcount -P -d -p prints the delimiter before the
// user stack and, with -p, no process line (bcc prints "comm [pid]" only
// without -p).
func TestBCCDoneWithPID(t *testing.T) {
	testutil.RequireRoot(t)
	pid := strconv.Itoa(startLooper(t))
	spec := "p:c:malloc(size_t size):size_t:size"
	out := runOK(t, "argdist", "-c", "-C", spec, "-p", pid, "-i", "0.3", "-n", "3")
	blocks := hmsLine.Split(out, -1)[1:]
	if len(blocks) != 3 {
		t.Fatalf("argdist -i 0.3 -n 3: %d [HH:MM:SS] blocks, want 3\n%s", len(blocks), out)
	}
	prev := 0
	for i, b := range blocks {
		n := argdistCounts(t, b, spec)["size = 32"]
		if n <= prev {
			t.Errorf("argdist -c: interval %d counts %d malloc(32) calls after %d; cumulative counts only grow\n%s", i+1, n, prev, out)
		}
		prev = n
	}
	// Without -c each interval starts again: the last is no sum of all.
	out = runOK(t, "argdist", "-C", spec, "-p", pid, "-i", "0.3", "-n", "3")
	var each []int
	for _, b := range hmsLine.Split(out, -1)[1:] {
		each = append(each, argdistCounts(t, b, spec)["size = 32"])
	}
	if len(each) != 3 || each[2] >= each[0]+each[1]+each[2] || each[2] == 0 {
		t.Errorf("argdist without -c: counts %v, want three intervals of their own calls\n%s", each, out)
	}

	out = runOK(t, "stackcount", "-P", "-d", "-p", pid, "-D", "1", "c:malloc")
	if !regexp.MustCompile(`(?m)^    --\n  malloc\n(  \S.*\n)*  main\n(  \S.*\n)*    \d+\n\n`).MatchString(out) {
		t.Errorf("stackcount -P -d -p: want '    --', then the malloc stack through main, then its count\n%s", out)
	}
	if commLine.MatchString(out) {
		t.Errorf("stackcount -P -p: bcc prints no 'comm [pid]' line with -p\n%s", out)
	}
	if !regexp.MustCompile(`^Tracing \d+ functions for "c:malloc"\.\.\. Hit Ctrl-C to end\.\n`).MatchString(out) || !strings.HasSuffix(out, "Detaching...\n") {
		t.Errorf("stackcount: not bcc's header and Detaching...\n%s", out)
	}
}

// TestBCCPthreadUSDT: the example lines that use glibc's USDT probes
// (funccount u:pthread:*mutex* -p PID, stackcount -P -p PID
// u:pthread:pthread_create, trace 'u:pthread:pthread_create ...'). pthread
// resolves to libc (glibc 2.34 and later hold libpthread's functions);
// Debian builds glibc without SystemTap probes, so there each line is one
// clear error naming the library it looked in, as bcc finds no probe there
// either.
func TestBCCPthreadUSDT(t *testing.T) {
	testutil.RequireRoot(t)
	if out := runOK(t, "tplist", "-l", "c"); out != "" {
		t.Skip("this libc has USDT probes; the example lines run")
	}
	pid := strconv.Itoa(startLooper(t))
	for _, args := range [][]string{
		{"funccount", "u:pthread:*mutex*", "-p", pid},
		{"stackcount", "-P", "-p", pid, "u:pthread:pthread_create"},
		{"trace", "-p", pid, `u:pthread:pthread_create "%U", arg3`, "-T", "-C"},
	} {
		r := runUscope(t, args...)
		msg := strings.TrimSpace(r.stderr)
		if args[0] == "trace" {
			// The spec the user wrote is shown under the line, with a caret.
			msg, _, _ = strings.Cut(msg, "\n")
		}
		if r.code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "no USDT probe matches") || !strings.Contains(msg, "libc.so.6") {
			t.Errorf("%q: exit %d, stderr %q; want one line saying libc has no such USDT probe", args, r.code, r.stderr)
		}
	}
}
