package tools

import (
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

func TestPattern(t *testing.T) {
	cases := map[string]string{
		"c:str*":                       "uprobe:c:str*",
		"p:c:malloc":                   "uprobe:c:malloc",
		"/usr/bin/redis-server:*":      "uprobe:/usr/bin/redis-server:*",
		"p:/usr/bin/redis-server:set*": "uprobe:/usr/bin/redis-server:set*",
		"u:python3:function__*":        "usdt:python3:function__*",
		"u:/usr/bin/node:node:gc*":     "usdt:/usr/bin/node:node:gc*",
		"work_*":                       "uprobe::work_*",
		"p::work_*":                    "uprobe::work_*",
	}
	for in, want := range cases {
		ap, err := Pattern(in)
		if err != nil {
			t.Errorf("Pattern(%q): %v", in, err)
			continue
		}
		if got := ap.String(); got != want {
			t.Errorf("Pattern(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"":                     "no pattern",
		"t:sched:sched_switch": "tracepoints",
		"r:c:malloc":           "without r:",
		"x:c:malloc":           "type must be p",
		"a:b:c:d:e":            "too many",
		"p:c:f:g":              "too many",
		"c:":                   "missing function",
	} {
		if _, err := Pattern(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Pattern(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

// TestProgramsParse renders every tool's program, which must parse (the
// compiler checks the rest in the end-to-end tests).
func TestProgramsParse(t *testing.T) {
	every := Options{Timing: Timing{Interval: 2 * time.Second, Ticks: 3}}
	cases := map[string]func() (*Tool, error){
		"count":          func() (*Tool, error) { return Count(CountOptions{Pattern: "c:str*"}) },
		"count interval": func() (*Tool, error) { return Count(CountOptions{Options: every, Pattern: "/usr/bin/redis-server:*"}) },
		"count usdt":     func() (*Tool, error) { return Count(CountOptions{Pattern: "u:python3:function__*"}) },
		"latency":        func() (*Tool, error) { return Latency(LatencyOptions{Pattern: "c:read"}) },
		"latency -F -u": func() (*Tool, error) {
			return Latency(LatencyOptions{Options: every, Pattern: "c:*printf", PerFunction: true, Unit: "usecs"})
		},
		"latency goid": func() (*Tool, error) { return Latency(LatencyOptions{Pattern: "/app:main.work", Key: "goid"}) },
		"stack":        func() (*Tool, error) { return Stack(StackOptions{Pattern: "c:malloc"}) },
		"argdist": func() (*Tool, error) {
			return Argdist(ArgdistOptions{Options: every,
				Counts: []string{"p:c:malloc(size_t size):size_t:size", "r:c:malloc():u64:$retval", "p:c:write(int fd, char *buf, size_t n):char*,int:buf,fd:fd==1#writes"},
				Hists:  []string{"r:c:read(int fd, void *buf, size_t count):size_t:$entry(count):$latency > 1000000", "r:c:malloc()", "r:c:free(void *p):u64:$latency"}})
		},
	}
	for name, mk := range cases {
		tool, err := mk()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		src := lang.Format(tool.Program)
		if _, err := lang.Parse("again", src); err != nil {
			t.Errorf("%s: the formatted program does not parse: %v\n%s", name, err, src)
		}
	}
	tool, _ := Latency(LatencyOptions{Pattern: "/app:main.work", Key: "goid"})
	if src := lang.Format(tool.Program); !strings.Contains(src, "@start[goid, $depth] = nsecs;") {
		t.Errorf("the latency key hook is not used:\n%s", src)
	}
}

func fixedClock() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }

func countMap(name string, rows map[string]int64) *output.Map {
	m := &output.Map{Name: name, Kind: output.AggCount}
	for k, v := range rows {
		m.Entries = append(m.Entries, output.Entry{Key: []output.Value{output.StringValue(k, false)}, Value: output.IntValue(v, 8)})
	}
	return m
}

func TestCountReport(t *testing.T) {
	var sb strings.Builder
	tool, err := Count(CountOptions{Options: Options{Out: &sb, Now: fixedClock, Timing: Timing{Timestamp: true}}, Pattern: "c:str*"})
	if err != nil {
		t.Fatal(err)
	}
	tool.Attached(3)
	tool.Report([]*output.Map{countMap("@counts", map[string]int64{"strlen": 12, "strcmp": 3, "strdup": 3})}, true)
	want := "Tracing 3 functions for \"c:str*\"... Hit Ctrl-C to end.\n" +
		"\n15:04:05\n" +
		"FUNC                                    COUNT\n" +
		"strcmp                                      3\n" +
		"strdup                                      3\n" +
		"strlen                                     12\n" +
		"Detaching...\n"
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}

	// In an interval run that ended on an interval, the empty final table
	// is left out.
	sb.Reset()
	tool, _ = Count(CountOptions{Options: Options{Out: &sb, Timing: Timing{Interval: time.Second, Ticks: 1}}, Pattern: "c:str*"})
	tool.Report([]*output.Map{countMap("@counts", map[string]int64{"strlen": 2})}, false)
	tool.Report([]*output.Map{countMap("@counts", nil), countMap("@ticks", nil)}, true)
	if want := "\nFUNC                                    COUNT\nstrlen                                      2\nDetaching...\n"; sb.String() != want {
		t.Errorf("got %q, want %q", sb.String(), want)
	}
}

func hist(name string, key []output.Value, values ...int64) output.Entry {
	b := make([]uint64, output.Log2Buckets)
	for _, v := range values {
		b[output.Log2Bucket(v)]++
	}
	return output.Entry{Key: key, Buckets: b}
}

func TestLatencyReport(t *testing.T) {
	var sb strings.Builder
	tool, err := Latency(LatencyOptions{Options: Options{Out: &sb}, Pattern: "c:read", Unit: "usecs", PerFunction: true})
	if err != nil {
		t.Fatal(err)
	}
	tool.Attached(4)
	lat := &output.Map{Name: "@latency", Kind: output.AggHist, Entries: []output.Entry{
		hist("@latency", []output.Value{output.StringValue("read", false), output.UintValue(7, 4)}, 3),
		hist("@latency", []output.Value{output.StringValue("pread", false), output.UintValue(7, 4)}, 1, 1),
	}}
	total := &output.Map{Name: "@total", Kind: output.AggStats, Entries: []output.Entry{{Count: 3, Sum: 5500}}}
	tool.Report([]*output.Map{lat, total}, true)
	want := "Tracing 2 functions for \"c:read\"... Hit Ctrl-C to end.\n" +
		"\n" +
		"\nFunction = pread [7]\n" +
		"     usecs               : count     distribution\n" +
		"         0 -> 1          : 2        |****************************************|\n" +
		"\nFunction = read [7]\n" +
		"     usecs               : count     distribution\n" +
		"         0 -> 1          : 0        |                                        |\n" +
		"         2 -> 3          : 1        |****************************************|\n" +
		"\navg = 1 usecs, total: 5 usecs, count: 3\n\n" +
		"Detaching...\n"
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}
}

func TestArgdistReport(t *testing.T) {
	var sb strings.Builder
	tool, err := Argdist(ArgdistOptions{Options: Options{Out: &sb, Now: fixedClock, Timing: Timing{Interval: time.Second}},
		Counts: []string{"p:c:write(int fd, char *buf):int,char*:fd,buf", "p:c:fork()#forks"}, Hists: []string{"r:c:read()"}, Top: 2})
	if err != nil {
		t.Fatal(err)
	}
	writes := &output.Map{Name: "@spec0", Kind: output.AggCount, Entries: []output.Entry{
		{Key: []output.Value{output.IntValue(1, 4), output.StringValue("hello", false)}, Value: output.IntValue(5, 8)},
		{Key: []output.Value{output.IntValue(2, 4), output.StringValue("oops", false)}, Value: output.IntValue(1, 8)},
		{Key: []output.Value{output.IntValue(1, 4), output.StringValue("bye", false)}, Value: output.IntValue(2, 8)},
	}}
	forks := &output.Map{Name: "@spec1", Kind: output.AggCount, Entries: []output.Entry{
		{Key: []output.Value{output.UintValue(1, 8)}, Value: output.IntValue(4, 8)},
	}}
	reads := &output.Map{Name: "@spec2", Kind: output.AggHist, Entries: []output.Entry{hist("@spec2", nil, 0, 5)}}
	for _, m := range []*output.Map{writes, forks, reads} {
		tool.Report([]*output.Map{m}, false)
	}
	want := "[15:04:05]\n" +
		"p:c:write(int fd, char *buf):int,char*:fd,buf\n" +
		"\tCOUNT      EVENT\n" +
		"\t2          fd = 1, buf = bye\n" +
		"\t5          fd = 1, buf = hello\n" +
		"forks\n" +
		"\tCOUNT      EVENT\n" +
		"\t4          total calls\n" +
		"     retval              : count     distribution\n" +
		"         0 -> 1          : 1        |****************************************|\n" +
		"         2 -> 3          : 0        |                                        |\n" +
		"         4 -> 7          : 1        |****************************************|\n"
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}
	// At the end, nothing new: nothing printed.
	sb.Reset()
	empty := func(n string) *output.Map { return &output.Map{Name: n} }
	tool.Report([]*output.Map{empty("@spec0"), empty("@spec1"), empty("@spec2")}, true)
	if sb.String() != "" {
		t.Errorf("empty final block printed %q", sb.String())
	}
}

func TestStackReport(t *testing.T) {
	stack := func(comm string, pid int64, n int64, frames ...string) output.Entry {
		return output.Entry{Key: []output.Value{output.StringValue(comm, false), output.UintValue(uint64(pid), 4), output.StackValue(frames)}, Value: output.IntValue(n, 8)}
	}
	m := &output.Map{Name: "@stacks", Kind: output.AggCount, Entries: []output.Entry{
		stack("app", 10, 7, "leaf", "path_a", "main"),
		stack("app", 11, 2, "leaf", "path_a", "main"),
		stack("app", 10, 3, "leaf", "path_b", "main"),
	}}
	var sb strings.Builder
	tool, _ := Stack(StackOptions{Options: Options{Out: &sb}, Pattern: "c:malloc"})
	tool.Attached(1)
	tool.Report([]*output.Map{m}, true)
	want := "Tracing 1 functions for \"c:malloc\"... Hit Ctrl-C to end.\n\n" +
		"  leaf\n  path_a\n  main\n    app [11]\n    2\n\n" +
		"  leaf\n  path_b\n  main\n    app [10]\n    3\n\n" +
		"  leaf\n  path_a\n  main\n    app [10]\n    7\n\n" +
		"Detaching...\n"
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}
	sb.Reset()
	tool, _ = Stack(StackOptions{Options: Options{Out: &sb}, Pattern: "c:malloc", Folded: true})
	tool.Attached(1)
	tool.Report([]*output.Map{m}, true)
	if want := "app;main;path_b;leaf 3\napp;main;path_a;leaf 9\n"; sb.String() != want {
		t.Errorf("folded: got\n%s\nwant\n%s", sb.String(), want)
	}
	if got := tool.Frame(output.Frame{Sym: "main", Off: 4}); got != "main" {
		t.Errorf("frame %q", got)
	}
}
