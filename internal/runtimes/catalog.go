// Package runtimes is uscope's catalog of language runtimes and databases
// with USDT probes: per runtime and version, which probe serves which event
// (a method call, a garbage collection, an allocation, a thread start),
// how to read its arguments in uscope's language, and what the runtime
// needs before the probe fires (a JVM flag, an environment variable), or
// why it cannot (built without probes, probes removed in that version).
// It also tells the language of a running process from what it runs.
//
// The language tools (stat, flow, calls, gc, objnew, threads, dbslower,
// dbstat) are programs built from this catalog.
package runtimes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Event is something a language tool observes.
type Event string

// The events of the catalog.
const (
	MethodEntry  Event = "method entry"
	MethodReturn Event = "method return"
	GCStart      Event = "gc start"
	GCDone       Event = "gc done"
	ObjNew       Event = "object allocation"
	ThreadStart  Event = "thread start"
	ThreadStop   Event = "thread stop"
	ClassLoad    Event = "class load"
	Exception    Event = "exception"
	QueryStart   Event = "query start"
	QueryDone    Event = "query done"
)

// Probe is the USDT probe that serves an event, with the expressions (in
// uscope's language) that read its arguments by meaning.
type Probe struct {
	Provider, Name string
	// Args maps an argument's meaning to the expression that reads it:
	// "class", "method" (method events; for Python the class is the file
	// name), "line", "gen" and "collected" (Python GC), "full" (JVM GC),
	// "name" (thread or class name), "tid" (the runtime's thread id),
	// "size" (bytes allocated), "query" (SQL text).
	Args map[string]string
	// Needs names the flag or environment the runtime must be started with
	// for this probe to fire; empty if none.
	Needs string
	// Note tells what the probe misses in this version ("skips inlined
	// calls"); empty if nothing.
	Note string
}

// Version is a runtime's major and minor version; Major 0 is unknown.
type Version struct{ Major, Minor int }

// ParseVersion reads "3.11", "17", "17.0.9" or "15.4".
func ParseVersion(s string) (Version, bool) {
	parts := strings.SplitN(s, ".", 3)
	maj, err := strconv.Atoi(parts[0])
	if err != nil || maj < 0 {
		return Version{}, false
	}
	v := Version{Major: maj}
	if len(parts) > 1 {
		minor, err := strconv.Atoi(parts[1])
		if err != nil || minor < 0 {
			return Version{}, false
		}
		v.Minor = minor
	}
	return v, true
}

func (v Version) String() string {
	if v.Major == 0 {
		return "?"
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

func (v Version) less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// Runtime is one runtime in one range of versions.
type Runtime struct {
	// Lang is the language's name on the command line (-l): java, python,
	// ruby, node, php, perl, tcl, c, postgres, mysql.
	Lang string
	// Name is the runtime's name in messages ("CPython", "HotSpot JVM").
	Name string
	// From and Until bound the versions, Until excluded; zero is open.
	From, Until Version
	// Object is the object that holds the probes: "" for the executable,
	// or a library name prefix ("libjvm.so", "libruby").
	Object string
	// Probes serve the events; an event without an entry has no probe in
	// these versions, and Missing may say why.
	Probes map[Event]Probe
	// Missing says, per event, why these versions have no probe for it.
	Missing map[Event]string
	// Build is how the runtime must be built to have probes at all
	// ("--with-dtrace"); said when an object has no USDT notes.
	Build string
}

// Contains reports whether v is in the runtime's range of versions; an
// unknown version is in every range.
func (r *Runtime) Contains(v Version) bool {
	if v.Major == 0 {
		return true
	}
	if r.From.Major != 0 && v.less(r.From) {
		return false
	}
	if r.Until.Major != 0 && !v.less(r.Until) {
		return false
	}
	return true
}

func (r *Runtime) versions() string {
	switch {
	case r.From.Major == 0 && r.Until.Major == 0:
		return ""
	case r.Until.Major == 0:
		return " " + r.From.String() + "+"
	case r.From.Major == 0:
		return " before " + r.Until.String()
	}
	return fmt.Sprintf(" %s–%s", r.From, Version{r.Until.Major, r.Until.Minor - 1})
}

// Languages are the languages of the catalog, as -l takes them.
var Languages = []string{"java", "python", "ruby", "node", "php", "perl", "tcl", "c", "postgres", "mysql"}

func py(name string) Probe {
	args := map[string]string{"class": "str(arg0)", "method": "str(arg1)", "line": "arg2"}
	return Probe{Provider: "python", Name: name, Args: args}
}

func jstr(p, l int) string { return fmt.Sprintf("str(arg%d, arg%d)", p, l) }

func pythonGC() map[Event]Probe {
	return map[Event]Probe{
		GCStart: {Provider: "python", Name: "gc__start", Args: map[string]string{"gen": "arg0"}},
		GCDone:  {Provider: "python", Name: "gc__done", Args: map[string]string{"collected": "arg0"}},
	}
}

func with(base map[Event]Probe, more map[Event]Probe) map[Event]Probe {
	m := make(map[Event]Probe, len(base)+len(more))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range more {
		m[k] = v
	}
	return m
}

const (
	javaMethodFlag = "-XX:+ExtendedDTraceProbes"
	javaMethodNew  = "-XX:+DTraceMethodProbes"
	javaAllocNew   = "-XX:+DTraceAllocProbes"
	pythonBuild    = "CPython built with --with-dtrace (Debian's python3.X is)"
)

func javaProbes(methodFlag, allocFlag string) map[Event]Probe {
	method := map[string]string{"tid": "arg0", "class": jstr(1, 2), "method": jstr(3, 4), "signature": jstr(5, 6)}
	return map[Event]Probe{
		MethodEntry:  {Provider: "hotspot", Name: "method__entry", Args: method, Needs: methodFlag},
		MethodReturn: {Provider: "hotspot", Name: "method__return", Args: method, Needs: methodFlag},
		GCStart:      {Provider: "hotspot", Name: "gc__begin", Args: map[string]string{"full": "arg0"}},
		GCDone:       {Provider: "hotspot", Name: "gc__end", Args: map[string]string{}},
		// object__alloc's fourth argument (size) is not read: on
		// openjdk-17 it is 0 for most allocations and garbage for others
		// (seen with uscope run: 299 of 300 objects of one class gave 0).
		ObjNew:      {Provider: "hotspot", Name: "object__alloc", Args: map[string]string{"tid": "arg0", "class": jstr(1, 2)}, Needs: allocFlag},
		ThreadStart: {Provider: "hotspot", Name: "thread__start", Args: map[string]string{"name": jstr(0, 1), "tid": "arg2", "native": "arg3", "daemon": "arg4"}},
		ThreadStop:  {Provider: "hotspot", Name: "thread__stop", Args: map[string]string{"name": jstr(0, 1), "tid": "arg2", "native": "arg3", "daemon": "arg4"}},
		ClassLoad:   {Provider: "hotspot", Name: "class__loaded", Args: map[string]string{"name": jstr(0, 1)}},
	}
}

// Catalog returns every runtime uscope knows, newest rules last within a
// language; Find picks the entry whose versions contain the process's. It
// is built on first use: most commands never ask, and every command would
// pay for its maps at start-up (issue 22).
var Catalog = sync.OnceValue(catalog)

func catalog() []*Runtime {
	return []*Runtime{
		{
			Lang: "java", Name: "HotSpot JVM", Until: Version{20, 0}, Object: "libjvm.so",
			Probes:  javaProbes(javaMethodFlag, javaMethodFlag),
			Missing: map[Event]string{Exception: "HotSpot has no probe for Java exceptions (hotspot_jni:ExceptionOccurred is a JNI call, not a throw)"},
			Build:   "a JDK built with DTrace support (Debian's openjdk is)",
		},
		{
			Lang: "java", Name: "HotSpot JVM", From: Version{20, 0}, Object: "libjvm.so",
			Probes:  javaProbes(javaMethodNew, javaAllocNew),
			Missing: map[Event]string{Exception: "HotSpot has no probe for Java exceptions (hotspot_jni:ExceptionOccurred is a JNI call, not a throw)"},
			Build:   "a JDK built with DTrace support (Debian's openjdk is)",
		},
		{
			Lang: "python", Name: "CPython", Until: Version{3, 11},
			Probes: with(pythonGC(), map[Event]Probe{MethodEntry: py("function__entry"), MethodReturn: py("function__return")}),
			Build:  pythonBuild,
		},
		{
			Lang: "python", Name: "CPython", From: Version{3, 11}, Until: Version{3, 12},
			Probes: with(pythonGC(), map[Event]Probe{
				MethodEntry: func() Probe {
					p := py("function__entry")
					p.Note = "CPython 3.11 fires function__entry only for calls that do not stay in the eval loop: Python-to-Python calls (inlined) have no entry, only a return"
					return p
				}(),
				MethodReturn: py("function__return"),
			}),
			Build: pythonBuild,
		},
		{
			Lang: "python", Name: "CPython", From: Version{3, 12}, Until: Version{3, 15},
			Probes: pythonGC(),
			Missing: map[Event]string{
				MethodEntry:  "CPython 3.12–3.14 removed the function__entry/return probes (PEP 669); only gc__start/gc__done remain",
				MethodReturn: "CPython 3.12–3.14 removed the function__entry/return probes (PEP 669); only gc__start/gc__done remain",
			},
			Build: pythonBuild,
		},
		{
			Lang: "python", Name: "CPython", From: Version{3, 15},
			Probes: with(pythonGC(), map[Event]Probe{MethodEntry: py("function__entry"), MethodReturn: py("function__return")}),
			Build:  pythonBuild,
		},
		{
			Lang: "ruby", Name: "Ruby", Object: "libruby",
			Probes: map[Event]Probe{
				MethodEntry:  {Provider: "ruby", Name: "method__entry", Args: map[string]string{"class": "str(arg0)", "method": "str(arg1)", "file": "str(arg2)", "line": "arg3"}},
				MethodReturn: {Provider: "ruby", Name: "method__return", Args: map[string]string{"class": "str(arg0)", "method": "str(arg1)", "file": "str(arg2)", "line": "arg3"}},
				GCStart:      {Provider: "ruby", Name: "gc__mark__begin", Args: map[string]string{}},
				GCDone:       {Provider: "ruby", Name: "gc__sweep__end", Args: map[string]string{}},
				ObjNew:       {Provider: "ruby", Name: "object__create", Args: map[string]string{"class": "str(arg0)"}},
				Exception:    {Provider: "ruby", Name: "raise", Args: map[string]string{"class": "str(arg0)"}},
				ClassLoad:    {Provider: "ruby", Name: "require__entry", Args: map[string]string{"name": "str(arg0)"}},
			},
			Build: "Ruby configured with --enable-dtrace (Debian's ruby is not)",
		},
		{
			Lang: "node", Name: "Node.js", Until: Version{19, 0},
			Probes: map[Event]Probe{
				GCStart: {Provider: "node", Name: "gc__start", Args: map[string]string{"type": "arg0", "flags": "arg1"}},
				GCDone:  {Provider: "node", Name: "gc__done", Args: map[string]string{"type": "arg0", "flags": "arg1"}},
			},
			Missing: map[Event]string{MethodEntry: "Node.js has no method probes", MethodReturn: "Node.js has no method probes"},
			Build:   "Node.js 18 or older configured with --with-dtrace",
		},
		{
			Lang: "node", Name: "Node.js", From: Version{19, 0},
			Missing: map[Event]string{
				GCStart: "Node.js 19 removed its USDT probes (nodejs/node#43651)", GCDone: "Node.js 19 removed its USDT probes (nodejs/node#43651)",
				MethodEntry: "Node.js 19 removed its USDT probes (nodejs/node#43651)", MethodReturn: "Node.js 19 removed its USDT probes (nodejs/node#43651)",
			},
			Build: "Node.js 18 or older configured with --with-dtrace; Node.js 19 and later have no USDT probes",
		},
		{
			Lang: "php", Name: "PHP",
			Probes: map[Event]Probe{
				MethodEntry:  {Provider: "php", Name: "function__entry", Args: map[string]string{"method": "str(arg0)", "file": "str(arg1)", "line": "arg2", "class": "str(arg3)"}, Needs: "the environment variable USE_ZEND_DTRACE=1"},
				MethodReturn: {Provider: "php", Name: "function__return", Args: map[string]string{"method": "str(arg0)", "file": "str(arg1)", "line": "arg2", "class": "str(arg3)"}, Needs: "the environment variable USE_ZEND_DTRACE=1"},
				Exception:    {Provider: "php", Name: "exception__thrown", Args: map[string]string{"class": "str(arg0)"}},
				ClassLoad:    {Provider: "php", Name: "compile__file__entry", Args: map[string]string{"name": "str(arg0)"}},
			},
			Build: "PHP configured with --enable-dtrace",
		},
		{
			Lang: "perl", Name: "Perl",
			Probes: map[Event]Probe{
				MethodEntry:  {Provider: "perl", Name: "sub__entry", Args: map[string]string{"method": "str(arg0)", "file": "str(arg1)", "line": "arg2", "class": "str(arg3)"}},
				MethodReturn: {Provider: "perl", Name: "sub__return", Args: map[string]string{"method": "str(arg0)", "file": "str(arg1)", "line": "arg2", "class": "str(arg3)"}},
			},
			Build: "Perl configured with -Dusedtrace (Debian's perl is not)",
		},
		{
			Lang: "tcl", Name: "Tcl", Object: "libtcl",
			Probes: map[Event]Probe{
				MethodEntry:  {Provider: "tcl", Name: "proc__entry", Args: map[string]string{"method": "str(arg0)"}},
				MethodReturn: {Provider: "tcl", Name: "proc__return", Args: map[string]string{"method": "str(arg0)"}},
				ObjNew:       {Provider: "tcl", Name: "obj__create", Args: map[string]string{}},
			},
			Build: "Tcl configured with --enable-dtrace (Debian's tcl is not)",
		},
		{
			Lang: "postgres", Name: "PostgreSQL",
			Probes: map[Event]Probe{
				QueryStart: {Provider: "postgresql", Name: "query__start", Args: map[string]string{"query": "str(arg0)"}},
				QueryDone:  {Provider: "postgresql", Name: "query__done", Args: map[string]string{"query": "str(arg0)"}},
			},
			Build: "PostgreSQL configured with --enable-dtrace (Debian's is)",
		},
		{
			Lang: "mysql", Name: "MySQL", Until: Version{8, 0},
			Probes: map[Event]Probe{
				QueryStart: {Provider: "mysql", Name: "query__start", Args: map[string]string{"query": "str(arg0)"}},
				QueryDone:  {Provider: "mysql", Name: "query__done", Args: map[string]string{}},
			},
			Build: "MySQL 5.7 or older, or MariaDB, configured with -DENABLE_DTRACE=1",
		},
		{
			Lang: "mysql", Name: "MySQL", From: Version{8, 0},
			Missing: map[Event]string{
				QueryStart: "MySQL 8.0 removed its USDT probes (WL#9581)", QueryDone: "MySQL 8.0 removed its USDT probes (WL#9581)",
			},
			Build: "MySQL 5.7 or older, or MariaDB, configured with -DENABLE_DTRACE=1",
		},
	}
}

// Find returns the catalog entry of a language at a version (unknown:
// the newest entry).
func Find(lang string, v Version) (*Runtime, error) {
	var found *Runtime
	for _, r := range Catalog() {
		if r.Lang != lang {
			continue
		}
		if v.Major == 0 {
			found = r // the newest rules
			continue
		}
		if r.Contains(v) {
			return r, nil
		}
	}
	if found != nil {
		return found, nil
	}
	if lang == "c" {
		return nil, fmt.Errorf("C has no runtime probes; this tool traces C through libc functions")
	}
	return nil, fmt.Errorf("unknown language %q; uscope knows %s", lang, strings.Join(Languages, ", "))
}

// Check tells whether the probe of ev can fire in a runtime whose object
// has the USDT probes named in have ("provider:name"), started with the
// command line cmdline (flags and environment checked for Needs; nil:
// unknown). It returns the probe, and a one-line reason when it cannot
// fire or misses some calls (note, with ok true).
func (r *Runtime) Check(ev Event, object string, have map[string]bool, cmdline []string, environ []string) (p Probe, note string, ok bool) {
	p, found := r.Probes[ev]
	if !found {
		why := r.Missing[ev]
		if why == "" {
			why = fmt.Sprintf("%s%s has no probe for %ss", r.Name, r.versions(), ev)
		}
		return p, why, false
	}
	if len(have) == 0 {
		return p, fmt.Sprintf("%s (%s) has no USDT probes: it was built without them; tracing needs %s", r.Name, object, r.Build), false
	}
	if !have[p.Provider+":"+p.Name] {
		return p, fmt.Sprintf("%s (%s) has no %s:%s probe (needed for %ss); tracing needs %s", r.Name, object, p.Provider, p.Name, ev, r.Build), false
	}
	if p.Needs != "" && cmdline != nil && !started(p.Needs, cmdline, environ) {
		return p, fmt.Sprintf("%s probes (%s:%s) fire only when %s is started with %s; restart it with that", ev, p.Provider, p.Name, r.Name, p.Needs), false
	}
	return p, p.Note, true
}

// started reports whether a process was started with a flag ("-XX:+..."
// in its command line) or an environment setting ("... VAR=1").
func started(needs string, cmdline, environ []string) bool {
	if strings.HasPrefix(needs, "-XX:+") {
		if slices.Contains(cmdline, needs) {
			return true
		}
		// Before JDK 20 the specific flags also exist beside the
		// extended one.
		return needs == javaMethodFlag && (slices.Contains(cmdline, javaMethodNew) || slices.Contains(cmdline, javaAllocNew))
	}
	if i := strings.LastIndexByte(needs, ' '); i >= 0 {
		return slices.Contains(environ, needs[i+1:])
	}
	return true
}
