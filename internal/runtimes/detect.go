package runtimes

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lazy"
	"github.com/uscope/uscope/proc"
	"github.com/uscope/uscope/usdt"
)

// Process is a process whose language is known.
type Process struct {
	PID int
	// Lang is the language (-l), Version the runtime's version if known.
	Lang    string
	Version Version
	// Object is the file that holds the runtime's probes: the executable
	// or a mapped library (libjvm.so), as a path uscope can open.
	Object string
	// Cmdline and Environ are the process's, for the checks of flags.
	Cmdline, Environ []string
}

var (
	pythonRE = lazy.Regexp(`^(?:lib)?python(\d+)\.(\d+)`)
	jdkRE    = lazy.Regexp(`(?:jdk|java)-(\d+)`)
	nodeRE   = lazy.Regexp(`^node(?:js)?$`)
	rubyRE   = lazy.Regexp(`^(?:lib)?ruby[-.]?(\d+)?\.?(\d+)?`)
	phpRE    = lazy.Regexp(`^(?:lib)?php(?:-fpm|-cgi)?(\d+)?\.?(\d+)?`)
	perlRE   = lazy.Regexp(`^(?:lib)?perl(?:5\.(\d+))?`)
	tclRE    = lazy.Regexp(`^(?:lib)?tcl(?:sh)?(\d+)?\.?(\d+)?`)
	pgRE     = lazy.Regexp(`^postgres(?:ql)?$`)
	mysqlRE  = lazy.Regexp(`^(?:mysqld|mariadbd)$`)
)

// Classify tells the language of a process from the path of its
// executable and the paths of its mapped files: the executable's name
// first (python3.11 is Python 3.11, java is Java), then the runtime
// libraries it maps (libjvm.so, libpython3.X.so, libruby, libperl,
// libtcl, libphp); a process that maps libc only is "c". object is the
// file that holds the probes; lang is "" if nothing is known.
func Classify(exe string, mapped []string) (lang string, v Version, object string) {
	base := filepath.Base(exe)
	num := func(m []string, i int) int {
		if i < len(m) {
			n, _ := strconv.Atoi(m[i])
			return n
		}
		return 0
	}
	switch {
	case pythonRE().MatchString(base):
		m := pythonRE().FindStringSubmatch(base)
		lang, v, object = "python", Version{num(m, 1), num(m, 2)}, exe
	case base == "python" || base == "python3":
		lang, object = "python", exe
	case nodeRE().MatchString(base):
		lang, object = "node", exe
	case pgRE().MatchString(base):
		lang, object = "postgres", exe
		if m := regexp.MustCompile(`postgresql/(\d+)/`).FindStringSubmatch(exe); m != nil {
			v.Major = num(m, 1)
		}
	case mysqlRE().MatchString(base):
		lang, object = "mysql", exe
	case strings.HasPrefix(base, "php"):
		lang, object = "php", exe
		m := phpRE().FindStringSubmatch(base)
		v = Version{num(m, 1), num(m, 2)}
	case strings.HasPrefix(base, "perl"):
		lang, object = "perl", exe
	case strings.HasPrefix(base, "tclsh"):
		lang, object = "tcl", exe
	case strings.HasPrefix(base, "ruby"):
		lang, object = "ruby", exe
	}
	// Libraries: the runtime may live in one (libjvm.so, libpython,
	// libruby, libtcl); it then holds the probes.
	hasLibc := false
	for _, p := range mapped {
		b := filepath.Base(p)
		switch {
		case b == "libjvm.so":
			lang, object = "java", p
			if m := jdkRE().FindStringSubmatch(p); m != nil {
				v = Version{Major: num(m, 1)}
			}
		case strings.HasPrefix(b, "libpython") && (lang == "" || lang == "python"):
			m := pythonRE().FindStringSubmatch(b)
			if lang == "" {
				lang, v = "python", Version{num(m, 1), num(m, 2)}
			}
			if object == "" || !hasNotes(object) {
				object = p
			}
		case strings.HasPrefix(b, "libruby") && (lang == "" || lang == "ruby"):
			lang, object = "ruby", p
			m := rubyRE().FindStringSubmatch(b)
			v = Version{num(m, 1), num(m, 2)}
		case strings.HasPrefix(b, "libtcl") && (lang == "" || lang == "tcl"):
			lang, object = "tcl", p
			m := tclRE().FindStringSubmatch(b)
			v = Version{num(m, 1), num(m, 2)}
		case strings.HasPrefix(b, "libperl") && (lang == "" || lang == "perl"):
			lang, object = "perl", p
		case strings.HasPrefix(b, "libphp") && (lang == "" || lang == "php"):
			lang, object = "php", p
		case strings.HasPrefix(b, "libc.so") || strings.HasPrefix(b, "libc-"):
			hasLibc = true
		}
	}
	if lang == "" && hasLibc {
		lang, object = "c", exe
	}
	return lang, v, object
}

// hasNotes reports whether an object has any USDT note.
func hasNotes(path string) bool {
	sites, _ := usdt.ReadSites(path)
	return len(sites) > 0
}

// Detect tells the language of process pid from what it runs; lang, when
// not empty, overrides the detection (-l) but the object is still found.
func Detect(pid int, lang string) (*Process, error) {
	exe, _, err := proc.Exe(pid)
	if err != nil {
		return nil, err
	}
	maps, err := proc.Maps(pid)
	if err != nil {
		return nil, err
	}
	var mapped []string
	seen := map[string]bool{}
	for _, m := range maps {
		if m.IsFile() && !seen[m.Path] {
			seen[m.Path] = true
			mapped = append(mapped, m.Path)
		}
	}
	l, v, obj := Classify(exe, mapped)
	if lang != "" && lang != l {
		l, v, obj = lang, Version{}, exe
		// The library of the runtime, if the process maps one.
		for _, p := range mapped {
			if ll, vv, o := Classify("", []string{p}); ll == lang {
				v, obj = vv, o
			}
		}
	}
	root := proc.Root(pid)
	if r, err := os.Readlink(root); err == nil && r == "/" {
		root = "" // the same mount namespace as uscope's
	}
	if obj != "" && root != "" && !strings.HasPrefix(obj, "/proc/") {
		if _, err := os.Stat(root + obj); err == nil {
			obj = root + obj
		}
	}
	if l == "java" && v.Major == 0 {
		v = jdkVersion(obj)
	}
	p := &Process{PID: pid, Lang: l, Version: v, Object: obj}
	p.Cmdline = nulSplit(proc.Dir(pid) + "/cmdline")
	p.Environ = nulSplit(proc.Dir(pid) + "/environ")
	return p, nil
}

// jdkVersion reads JAVA_VERSION from the release file of the JDK whose
// libjvm.so is at path (lib/server/libjvm.so).
func jdkVersion(libjvm string) Version {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(libjvm), "..", "..", "release"))
	if err != nil {
		return Version{}
	}
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(l, "JAVA_VERSION="); ok {
			v, _ := ParseVersion(strings.Trim(s, `"`))
			return v
		}
	}
	return Version{}
}

func nulSplit(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// ProbeNames returns the USDT probes of an object as "provider:name".
func ProbeNames(path string) (map[string]bool, error) {
	sites, err := usdt.ReadSites(path)
	have := map[string]bool{}
	for _, s := range sites {
		have[s.Provider+":"+s.Name] = true
	}
	return have, err
}

// Point is the attach point of a probe in an object.
func (p Probe) Point(object string) string {
	return "usdt:" + object + ":" + p.Provider + ":" + p.Name
}

// Probes returns the probes of a process for events, from the catalog
// entry of its language and version, checked against the USDT notes of
// its object and the flags it was started with. A required event whose
// probe cannot fire is an error of one line saying why and, where there
// is one, the fix; an optional one is left out. notes are what the
// probes miss (CPython 3.11's inlined calls).
func (p *Process) Probes(required, optional []Event) (probes map[Event]Probe, notes []string, err error) {
	rt, err := Find(p.Lang, p.Version)
	if err != nil {
		return nil, nil, err
	}
	have, _ := ProbeNames(p.Object)
	probes = map[Event]Probe{}
	for i, ev := range append(append([]Event{}, required...), optional...) {
		pr, note, ok := rt.Check(ev, strings.TrimPrefix(p.Object, proc.Root(p.PID)), have, p.Cmdline, p.Environ)
		if !ok {
			if i < len(required) {
				return nil, nil, &Unavailable{Lang: p.Lang, Msg: note}
			}
			continue
		}
		probes[ev] = pr
		if note != "" && !slices.Contains(notes, note) {
			notes = append(notes, note)
		}
	}
	return probes, notes, nil
}

// Unavailable is a runtime's probes that cannot fire: the message says
// why, in one line.
type Unavailable struct {
	Lang, Msg string
}

func (e *Unavailable) Error() string { return e.Msg }
