package runtimes

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		exe    string
		mapped []string
		lang   string
		v      Version
		object string
	}{
		{"/usr/bin/python3.11", []string{"/usr/lib/x86_64-linux-gnu/libc.so.6"}, "python", Version{3, 11}, "/usr/bin/python3.11"},
		{"/usr/local/bin/python3.13", nil, "python", Version{3, 13}, "/usr/local/bin/python3.13"},
		{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", []string{"/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", "/usr/lib/x86_64-linux-gnu/libc.so.6"},
			"java", Version{17, 0}, "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"},
		{"/opt/app/launcher", []string{"/opt/jdk-21/lib/server/libjvm.so"}, "java", Version{21, 0}, "/opt/jdk-21/lib/server/libjvm.so"},
		{"/usr/bin/ruby3.1", []string{"/usr/lib/x86_64-linux-gnu/libruby-3.1.so.3.1"}, "ruby", Version{3, 1}, "/usr/lib/x86_64-linux-gnu/libruby-3.1.so.3.1"},
		{"/usr/bin/node", nil, "node", Version{}, "/usr/bin/node"},
		{"/usr/bin/perl", []string{"/usr/lib/x86_64-linux-gnu/libperl.so.5.36"}, "perl", Version{}, "/usr/lib/x86_64-linux-gnu/libperl.so.5.36"},
		{"/usr/bin/tclsh8.6", []string{"/usr/lib/x86_64-linux-gnu/libtcl8.6.so"}, "tcl", Version{8, 6}, "/usr/lib/x86_64-linux-gnu/libtcl8.6.so"},
		{"/usr/bin/php8.2", nil, "php", Version{8, 2}, "/usr/bin/php8.2"},
		{"/usr/lib/postgresql/15/bin/postgres", nil, "postgres", Version{15, 0}, "/usr/lib/postgresql/15/bin/postgres"},
		{"/usr/sbin/mysqld", nil, "mysql", Version{}, "/usr/sbin/mysqld"},
		{"/usr/bin/vim", []string{"/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "/usr/lib/x86_64-linux-gnu/libc.so.6"},
			"python", Version{3, 11}, "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"},
		{"/tmp/a.out", []string{"/usr/lib/x86_64-linux-gnu/libc.so.6"}, "c", Version{}, "/tmp/a.out"},
		{"/tmp/static", nil, "", Version{}, ""},
	} {
		lang, v, obj := Classify(c.exe, c.mapped)
		if lang != c.lang || v != c.v || obj != c.object {
			t.Errorf("Classify(%q) = %q %v %q, want %q %v %q", c.exe, lang, v, obj, c.lang, c.v, c.object)
		}
	}
}

// notes is a synthetic set of USDT notes: one site per probe.
func notes(names ...string) map[string]bool {
	var sites []usdt.Site
	for _, n := range names {
		prov, name, _ := strings.Cut(n, ":")
		sites = append(sites, usdt.Site{Provider: prov, Name: name, ArgsRaw: "8@%rdi"})
	}
	have := map[string]bool{}
	for _, p := range usdt.Probes(sites) {
		have[p.Provider+":"+p.Name] = true
	}
	return have
}

var (
	pythonNotes = notes("python:function__entry", "python:function__return", "python:gc__start", "python:gc__done", "python:line")
	python312   = notes("python:gc__start", "python:gc__done", "python:import__find__load__start", "python:audit")
	jvmNotes    = notes("hotspot:method__entry", "hotspot:method__return", "hotspot:gc__begin", "hotspot:gc__end",
		"hotspot:object__alloc", "hotspot:thread__start", "hotspot:thread__stop", "hotspot:class__loaded")
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name    string
		lang    string
		v       Version
		ev      Event
		have    map[string]bool
		cmdline []string
		environ []string
		probe   string // provider:name, when ok
		ok      bool
		msg     string // in the note or reason
	}{
		{"python 3.10 entry", "python", Version{3, 10}, MethodEntry, pythonNotes, nil, nil, "python:function__entry", true, ""},
		{"python 3.11 entry skips inlined", "python", Version{3, 11}, MethodEntry, pythonNotes, nil, nil, "python:function__entry", true, "inlined"},
		{"python 3.11 return", "python", Version{3, 11}, MethodReturn, pythonNotes, nil, nil, "python:function__return", true, ""},
		{"python 3.11 gc", "python", Version{3, 11}, GCStart, pythonNotes, nil, nil, "python:gc__start", true, ""},
		{"python 3.12 entry removed", "python", Version{3, 12}, MethodEntry, python312, nil, nil, "", false, "3.12–3.14 removed"},
		{"python 3.14 gc", "python", Version{3, 14}, GCDone, python312, nil, nil, "python:gc__done", true, ""},
		{"python 3.15 entry restored", "python", Version{3, 15}, MethodEntry, pythonNotes, nil, nil, "python:function__entry", true, ""},
		{"python without dtrace", "python", Version{3, 11}, GCStart, notes(), nil, nil, "", false, "has no USDT probes"},
		{"jdk 17 without flag", "java", Version{17, 0}, MethodEntry, jvmNotes, []string{"java", "Main"}, nil, "", false, "-XX:+ExtendedDTraceProbes"},
		{"jdk 17 with flag", "java", Version{17, 0}, MethodEntry, jvmNotes, []string{"java", "-XX:+ExtendedDTraceProbes", "Main"}, nil, "hotspot:method__entry", true, ""},
		{"jdk 17 with method flag", "java", Version{17, 0}, ObjNew, jvmNotes, []string{"java", "-XX:+DTraceAllocProbes", "Main"}, nil, "hotspot:object__alloc", true, ""},
		{"jdk 21 needs method flag", "java", Version{21, 0}, MethodEntry, jvmNotes, []string{"java", "-XX:+ExtendedDTraceProbes", "Main"}, nil, "", false, "-XX:+DTraceMethodProbes"},
		{"jdk 21 alloc flag", "java", Version{21, 0}, ObjNew, jvmNotes, []string{"java", "-XX:+DTraceMethodProbes"}, nil, "", false, "-XX:+DTraceAllocProbes"},
		{"jdk gc needs no flag", "java", Version{21, 0}, GCStart, jvmNotes, []string{"java"}, nil, "hotspot:gc__begin", true, ""},
		{"jdk exceptions", "java", Version{17, 0}, Exception, jvmNotes, nil, nil, "", false, "JNI call"},
		{"php without env", "php", Version{8, 2}, MethodEntry, notes("php:function__entry", "php:function__return"), []string{"php"}, []string{"HOME=/"}, "", false, "USE_ZEND_DTRACE=1"},
		{"php with env", "php", Version{8, 2}, MethodEntry, notes("php:function__entry"), []string{"php"}, []string{"USE_ZEND_DTRACE=1"}, "php:function__entry", true, ""},
		{"node 18 gc", "node", Version{18, 0}, GCStart, notes("node:gc__start", "node:gc__done"), nil, nil, "node:gc__start", true, ""},
		{"node 20", "node", Version{20, 0}, GCStart, notes(), nil, nil, "", false, "Node.js 19 removed"},
		{"node methods", "node", Version{16, 0}, MethodEntry, notes("node:gc__start"), nil, nil, "", false, "no method probes"},
		{"perl without probes", "perl", Version{5, 36}, MethodEntry, notes(), nil, nil, "", false, "-Dusedtrace"},
		{"tcl without probes", "tcl", Version{8, 6}, MethodEntry, notes(), nil, nil, "", false, "--enable-dtrace"},
		{"ruby gc", "ruby", Version{3, 1}, GCStart, notes("ruby:gc__mark__begin", "ruby:gc__sweep__end"), nil, nil, "ruby:gc__mark__begin", true, ""},
		{"postgres query", "postgres", Version{15, 0}, QueryStart, notes("postgresql:query__start", "postgresql:query__done"), nil, nil, "postgresql:query__start", true, ""},
		{"mysql 8", "mysql", Version{8, 0}, QueryStart, notes(), nil, nil, "", false, "WL#9581"},
		{"mysql 5.7", "mysql", Version{5, 7}, QueryStart, notes("mysql:query__start"), nil, nil, "mysql:query__start", true, ""},
	} {
		rt, err := Find(c.lang, c.v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p, msg, ok := rt.Check(c.ev, "/obj", c.have, c.cmdline, c.environ)
		if ok != c.ok || (ok && p.Provider+":"+p.Name != c.probe) || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %s:%s %v %q; want %s %v, a message with %q", c.name, p.Provider, p.Name, ok, msg, c.probe, c.ok, c.msg)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: the message has more than one line: %q", c.name, msg)
		}
	}
}

func TestFind(t *testing.T) {
	for _, c := range []struct {
		lang string
		v    Version
		err  string
		from Version
	}{
		{"python", Version{3, 11}, "", Version{3, 11}},
		{"python", Version{}, "", Version{3, 15}}, // unknown version: the newest rules
		{"java", Version{17, 0}, "", Version{}},
		{"java", Version{20, 0}, "", Version{20, 0}},
		{"cobol", Version{}, "unknown language", Version{}},
		{"c", Version{}, "libc functions", Version{}},
	} {
		rt, err := Find(c.lang, c.v)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Find(%s %v) error %v, want %q", c.lang, c.v, err, c.err)
			}
			continue
		}
		if err != nil || rt.From != c.from {
			t.Errorf("Find(%s %v) = %+v, %v; want the entry from %v", c.lang, c.v, rt, err, c.from)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		s  string
		v  Version
		ok bool
	}{{"3.11", Version{3, 11}, true}, {"17.0.9", Version{17, 0}, true}, {"21", Version{21, 0}, true}, {"x", Version{}, false}, {"3.y", Version{}, false}} {
		v, ok := ParseVersion(c.s)
		if v != c.v || ok != c.ok {
			t.Errorf("ParseVersion(%q) = %v %v, want %v %v", c.s, v, ok, c.v, c.ok)
		}
	}
}

// TestCatalogProbes checks that every probe's arguments are expressions
// for the names the tools read.
func TestCatalogProbes(t *testing.T) {
	for _, rt := range Catalog() {
		for ev, p := range rt.Probes {
			if p.Provider == "" || p.Name == "" || p.Args == nil {
				t.Errorf("%s %v: %s incomplete: %+v", rt.Lang, rt.From, ev, p)
			}
			if (ev == MethodEntry || ev == MethodReturn) && p.Args["method"] == "" {
				t.Errorf("%s: %s reads no method", rt.Lang, ev)
			}
		}
	}
}

// TestPrograms checks that the tools' programs parse, for every runtime
// whose probes they use.
func TestPrograms(t *testing.T) {
	java := &Process{PID: 1, Lang: "java", Version: Version{17, 0}, Object: "/jdk/lib/server/libjvm.so"}
	python := &Process{PID: 1, Lang: "python", Version: Version{3, 11}, Object: "/usr/bin/python3.11"}
	c := &Process{PID: 1, Lang: "c", Object: "/bin/app"}
	probesOf := func(p *Process) map[Event]Probe {
		rt, err := Find(p.Lang, p.Version)
		if err != nil {
			t.Fatal(err)
		}
		return rt.Probes
	}
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"gc python", GCProgram(python, probesOf(python), GCOptions{}), []string{"python:gc__start", "@gcgen[tid] = arg0", "collected %d objects"}},
		{"gc java ms", GCProgram(java, probesOf(java), GCOptions{Millis: true, MinNanos: 5e6}), []string{"hotspot:gc__begin", ">= 5000000", "$ns / 1000000"}},
		{"calls python 3.11 counts returns", CallsProgram(python, probesOf(python), CallsOptions{}), []string{"python:function__return", "@calls[str(arg0), str(arg1)] = count()"}},
		{"calls java latency", CallsProgram(java, probesOf(java), CallsOptions{Latency: true, IntervalMS: 1000}), []string{"hotspot:method__entry", "@times[str(arg1, arg2), str(arg3, arg4)] = sum(", "interval:ms:1000"}},
		{"flow java", FlowProgram(java, probesOf(java), FlowOptions{Class: "com/x", Method: "run"}), []string{`strncmp(str(arg1, arg2), "com/x", 5) == 0`, "@entered[tid, $depth]"}},
		{"threads java", ThreadsProgram(java, probesOf(java)), []string{"hotspot:thread__start", "str(arg0, arg1)", `"stop"`}},
		{"threads c", ThreadsProgram(c, nil), []string{"uprobe:libc:pthread_create", "usym(arg2)"}},
		{"objnew java", ObjNewProgram(java, probesOf(java), 0), []string{"hotspot:object__alloc", "@objs[str(arg1, arg2)] = count()"}},
		{"objnew c", ObjNewProgram(c, nil, 500), []string{"uprobe:libc:malloc", "@objs[arg0] = count()", "interval:ms:500"}},
	} {
		if _, err := lang.Parse(tc.name, tc.src); err != nil {
			t.Errorf("%s: %v\n%s", tc.name, err, tc.src)
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.src, w) {
				t.Errorf("%s: no %q in\n%s", tc.name, w, tc.src)
			}
		}
	}
}
