package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Scope says whether uscope is meant to pass a test.
type Scope string

const (
	// ScopeUser: userspace probes (uprobe, uretprobe, usdt), maybe with
	// BEGIN/END/interval.
	ScopeUser Scope = "userspace"
	// ScopeSpecial: BEGIN/END/interval/self/test/bench probes only, or no
	// program at all (command-line behaviour).
	ScopeSpecial Scope = "probe-less"
	// ScopeProfile: profile: probes (in scope once user-stack profiling
	// exists), without kernel-only parts.
	ScopeProfile Scope = "profile"
	// ScopeKernel: needs the kernel side of bpftrace.
	ScopeKernel Scope = "kernel-only"
)

// InScope is whether the scope counts in uscope's pass rate now.
func (s Scope) InScope() bool { return s == ScopeUser || s == ScopeSpecial }

// probeKinds maps bpftrace's probe types and their aliases to a canonical
// name.
var probeKinds = map[string]string{
	"uprobe": "uprobe", "u": "uprobe",
	"uretprobe": "uretprobe", "ur": "uretprobe",
	"usdt": "usdt", "U": "usdt",
	"BEGIN": "begin", "END": "end", "begin": "begin", "end": "end",
	"interval": "interval", "i": "interval",
	"self": "self", "test": "test", "bench": "bench",
	"profile": "profile", "p": "profile",
	"kprobe": "kprobe", "k": "kprobe", "kretprobe": "kretprobe", "kr": "kretprobe",
	"tracepoint": "tracepoint", "t": "tracepoint",
	"rawtracepoint": "rawtracepoint", "rt": "rawtracepoint",
	"kfunc": "fentry", "kretfunc": "fexit", "fentry": "fentry", "fexit": "fexit", "f": "fentry", "fr": "fexit",
	"watchpoint": "watchpoint", "w": "watchpoint", "asyncwatchpoint": "watchpoint", "aw": "watchpoint",
	"hardware": "hardware", "h": "hardware", "software": "software", "s": "software",
	"iter": "iter", "it": "iter",
}

var userKinds = map[string]bool{"uprobe": true, "uretprobe": true, "usdt": true}
var specialKinds = map[string]bool{"begin": true, "end": true, "interval": true, "self": true, "test": true, "bench": true}

// kernelBuiltins are builtins and functions that read the kernel's side
// (its stack, task, symbols, BTF types, sockets, files) or print to the
// kernel's trace pipe.
var kernelBuiltins = regexp.MustCompile(`\b(kstack|curtask|kptr|kaddr|ksym|percpu_kaddr|skboutput|socket_cookie)\b|\bpath\s*\(|\b(struct|union)\s+(task_struct|file|sk_buff|sock|inode|dentry|mm_struct|bpf_iter\w*|cgroup|kernfs_node|net_device)\b`)

// kernelFeatures are REQUIRES_FEATURE names that only kernel probes need.
var kernelFeatures = map[string]bool{"btf": true, "fentry": true, "kfunc": true, "kprobe_multi": true,
	"kprobe_session": true, "iter": true, "iter:task": true, "iter:task_file": true, "dpath": true,
	"skboutput": true, "get_func_ip": true}

// Class is what a test needs.
type Class struct {
	Scope Scope
	Kinds []string // canonical probe types found
	Why   string   // for kernel-only: what makes it so
}

// Classify decides the scope of a test from its program(s), its command
// line and its feature requirements. src is the bpftrace checkout (for
// script files named on a RUN line).
func Classify(t *Test, src string) Class {
	progs, listing, listPatterns := testPrograms(t, src)
	kinds := map[string]bool{}
	for _, p := range progs {
		for _, k := range attachKinds(p) {
			kinds[k] = true
		}
	}
	for _, pat := range listPatterns {
		for _, k := range listKinds(pat) {
			kinds[k] = true
		}
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	c := Class{Kinds: ks}
	for _, k := range ks {
		if !userKinds[k] && !specialKinds[k] && k != "profile" {
			c.Scope, c.Why = ScopeKernel, "probe "+k
			return c
		}
	}
	for _, f := range t.Features {
		if kernelFeatures[f] {
			c.Scope, c.Why = ScopeKernel, "feature "+f
			return c
		}
	}
	for _, p := range progs {
		if m := kernelBuiltins.FindString(stripStringsAndComments(p)); m != "" {
			c.Scope, c.Why = ScopeKernel, "uses "+strings.Join(strings.Fields(m), " ")
			return c
		}
	}
	if listing && len(listPatterns) == 0 {
		// A bare -l lists every kernel probe too.
		c.Scope, c.Why = ScopeKernel, "lists kernel probes"
		return c
	}
	switch {
	case kinds["profile"]:
		c.Scope = ScopeProfile
	case kinds["uprobe"] || kinds["uretprobe"] || kinds["usdt"]:
		c.Scope = ScopeUser
	default:
		c.Scope = ScopeSpecial
	}
	return c
}

// testPrograms returns the program texts of a test: PROG, or the -e
// arguments and the .bt files of a RUN line; and, for a listing (-l), the
// patterns it lists.
func testPrograms(t *Test, src string) (progs []string, listing bool, listPatterns []string) {
	if t.Prog != "" {
		return []string{t.Prog}, false, nil
	}
	words := shellWords(t.Run)
	// Only the words after {{BPFTRACE}} are its arguments (up to a pipe).
	for i := 0; i < len(words); i++ {
		if !strings.Contains(words[i], "{{BPFTRACE}}") {
			continue
		}
		if _, rest, _ := strings.Cut(words[i], "{{BPFTRACE}}"); strings.TrimSpace(rest) != "" {
			// A command inside a quoted word: sh -c "... {{BPFTRACE}} -e '...'".
			words = append(append(words[:i+1:i+1], shellWords(rest)...), words[i+1:]...)
		}
		j := i + 1
		var posArgs []string
		for ; j < len(words); j++ {
			w := words[j]
			if w == "|" || w == "&&" || w == ";" || w == "||" || strings.HasPrefix(w, ">") || strings.HasPrefix(w, "2>") || strings.HasPrefix(w, "<") {
				break
			}
			switch {
			case w == "-e" && j+1 < len(words):
				progs = append(progs, words[j+1])
				j++
			case strings.HasPrefix(w, "-e") && len(w) > 2 && !strings.HasPrefix(w, "--"):
				progs = append(progs, w[2:])
			case w == "-l" || w == "--list" || (strings.HasPrefix(w, "-l") && !strings.HasPrefix(w, "--")):
				listing = true
			case (w == "-c" || w == "-p" || w == "-o" || w == "-f" || w == "-I" || w == "--include" || w == "--pid" || w == "--cmd" || w == "-B" || w == "-d") && j+1 < len(words):
				j++
			case strings.HasPrefix(w, "-"):
			default:
				posArgs = append(posArgs, w)
			}
		}
		for _, a := range posArgs {
			if strings.HasSuffix(a, ".bt") {
				if b, err := os.ReadFile(filepath.Join(src, "tests", a)); err == nil {
					progs = append(progs, string(b))
				}
			} else if listing {
				listPatterns = append(listPatterns, a)
			}
		}
		i = j
	}
	// A program read from standard input: "- < runtime/scripts/x.bt".
	if m := regexp.MustCompile(`<\s*(\S+\.bt)`).FindStringSubmatch(t.Run); m != nil {
		if b, err := os.ReadFile(filepath.Join(src, "tests", m[1])); err == nil {
			progs = append(progs, string(b))
		}
	}
	return progs, listing, listPatterns
}

// listKinds are the probe types a -l pattern lists ("struct X" is a BTF
// type lookup: kernel).
func listKinds(pat string) []string {
	var out []string
	for _, p := range strings.Split(pat, ",") {
		p = strings.TrimSpace(p)
		if strings.HasPrefix(p, "struct ") || strings.HasPrefix(p, "union ") || strings.HasPrefix(p, "enum ") {
			out = append(out, "kernel-btf-type")
			continue
		}
		typ, _, hasColon := strings.Cut(p, ":")
		if !hasColon {
			// A pattern without a probe type searches every type.
			out = append(out, "kprobe")
			continue
		}
		if strings.ContainsAny(typ, "*?[") {
			re := globRegexp(typ)
			for name, k := range probeKinds {
				if len(name) > 2 && re.MatchString(name) {
					out = append(out, k)
				}
			}
			continue
		}
		if k, ok := probeKinds[typ]; ok {
			out = append(out, k)
		}
	}
	return out
}

func globRegexp(g string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range g {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

var attachRe = regexp.MustCompile(`(^|[\s,}/;])([A-Za-z]+)\s*:`)
var specialRe = regexp.MustCompile(`(^|[\s,}])(BEGIN|END|begin|end)\s*(,|\{|/|$)`)

// attachKinds finds the probe types of the attach points of a program:
// words followed by ':' outside braces, strings and comments, and the
// BEGIN/END specials.
func attachKinds(prog string) []string {
	top := topLevel(stripStringsAndComments(prog))
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, line := range strings.Split(top, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			continue
		}
		for _, m := range attachRe.FindAllStringSubmatch(line, -1) {
			if k, ok := probeKinds[m[2]]; ok {
				add(k)
			}
		}
		for _, m := range specialRe.FindAllStringSubmatch(line, -1) {
			add(probeKinds[m[2]])
		}
	}
	return out
}

// stripStringsAndComments blanks string literals and comments.
func stripStringsAndComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`""`)
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// topLevel keeps the text outside braces (blocks, config, struct bodies).
func topLevel(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '{':
			depth++
			b.WriteString(" { ")
		case r == '}':
			if depth > 0 {
				depth--
			}
			b.WriteString(" } ")
		case depth == 0 || r == '\n':
			b.WriteRune(r)
		}
	}
	return b.String()
}
