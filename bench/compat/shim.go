package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// The shim stands in for bpftrace on the tests' command lines: the runner
// writes a script named bpftrace that runs `compat -shim USCOPE ARGS...`,
// which translates bpftrace's command line to uscope's and execs uscope.
// A bpftrace option uscope has no equivalent for ends the test with a
// line carrying unsupportedMark, so that the runner fails the test with that
// reason whatever the test expects (a WILL_FAIL test must not pass because
// of the translation).
const unsupportedMark = "__COMPAT_UNSUPPORTED__"

// reportEnv names a file the shim also appends that line to: a test's own
// pipe or redirection (2>&1 | grep -c ...) must not hide it from the runner.
const reportEnv = "COMPAT_SHIM_REPORT"

// bpftrace's options (src/main.cpp, getopt_long "d:bB:f:e:hlp:vqc:Vo:I:k").
const shortOpts = "d:bB:f:e:hlp:vqc:Vo:I:k"

var longOpts = map[string]bool{ // name -> takes an argument
	"aot": true, "bench": false, "btf": false, "cmd": true, "debug": true, "debuginfo": true,
	"dry-run": false, "emit-elf": true, "emit-llvm": true, "fmt": false, "help": false,
	"include": true, "info": false, "list": false, "no-feature": true, "no-warnings": false,
	"output": true, "pid": true, "probe-filter": true, "quiet": false, "test": false, "mode": true,
	"unsafe": false, "dwarf-pid": true, "usdt-file-activation": false, "verbose": false,
	"verify-llvm-ir": false, "version": false, "warnings": false, "traceable-functions": true,
}

// longAliases maps long options to the short ones they equal.
var longAliases = map[string]string{"cmd": "c", "debug": "d", "help": "h",
	"list": "l", "output": "o", "pid": "p", "quiet": "q", "verbose": "v", "version": "V", "btf": "b"}

type btOpt struct{ name, arg string } // name: "e", "c", or a long name

// parseBpftraceArgs splits bpftrace's argv (without argv[0]) into options
// and positional arguments the way GNU getopt_long does: options anywhere
// (permutation), "--" ends them, long options by unique prefix, "=" or the
// next word as argument.
func parseBpftraceArgs(args []string) (opts []btOpt, pos []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			return opts, pos, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			full, err := matchLong(name)
			if err != nil {
				return nil, nil, err
			}
			if longOpts[full] {
				if !hasVal {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("option --%s requires an argument", full)
					}
					i++
					val = args[i]
				}
			} else if hasVal {
				return nil, nil, fmt.Errorf("option --%s takes no argument", full)
			}
			if s, ok := longAliases[full]; ok {
				full = s
			}
			opts = append(opts, btOpt{full, val})
		case strings.HasPrefix(a, "-") && a != "-":
			for j := 1; j < len(a); j++ {
				c := a[j]
				k := strings.IndexByte(shortOpts, c)
				if k < 0 || c == ':' {
					return nil, nil, fmt.Errorf("invalid option -- '%c'", c)
				}
				if k+1 < len(shortOpts) && shortOpts[k+1] == ':' {
					val := a[j+1:]
					if val == "" {
						if i+1 >= len(args) {
							return nil, nil, fmt.Errorf("option requires an argument -- '%c'", c)
						}
						i++
						val = args[i]
					}
					opts = append(opts, btOpt{string(c), val})
					break
				}
				opts = append(opts, btOpt{string(c), ""})
			}
		default:
			pos = append(pos, a)
		}
	}
	return opts, pos, nil
}

func matchLong(name string) (string, error) {
	if _, ok := longOpts[name]; ok {
		return name, nil
	}
	var found []string
	for n := range longOpts {
		if strings.HasPrefix(n, name) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		return "", fmt.Errorf("option '--%s' is ambiguous", name)
	}
	return "", fmt.Errorf("unrecognized option '--%s'", name)
}

// UnsupportedError says which bpftrace option or form uscope lacks.
type UnsupportedError struct{ What string }

func (e *UnsupportedError) Error() string { return "uscope lacks " + e.What }

// Translate turns bpftrace's argv into uscope's. An option with no uscope
// equivalent is an *UnsupportedError; a command line bpftrace itself
// rejects is passed on as it is to `uscope run`, which rejects it too.
func Translate(args []string) ([]string, error) {
	opts, pos, err := parseBpftraceArgs(args)
	if err != nil {
		// bpftrace prints a usage error: so does uscope for the same words.
		return append([]string{"run"}, args...), nil
	}
	var (
		listing, verbose, version, help bool
		expr, hasExpr                   = "", false
		out                             []string
	)
	for _, o := range opts {
		switch o.name {
		case "e":
			expr, hasExpr = o.arg, true
		case "c":
			out = append(out, "-c", o.arg)
		case "p":
			out = append(out, "-p", o.arg)
		case "o":
			out = append(out, "-o", o.arg)
		case "f":
			switch o.arg {
			case "json":
				out = append(out, "-f", "json")
			case "text":
			default:
				out = append(out, "-f", o.arg) // uscope refuses it, as bpftrace does
			}
		case "l":
			listing = true
		case "v":
			verbose = true
		case "V":
			version = true
		case "h":
			help = true
		case "q":
			out = append(out, "-q")
		case "k":
			out = append(out, "-k")
		case "unsafe":
			out = append(out, "--unsafe")
		case "no-warnings":
			out = append(out, "--no-warnings")
		case "usdt-file-activation":
			out = append(out, "--usdt-file-activation")
		case "debuginfo":
			out = append(out, "--debuginfo", o.arg)
		case "mode":
			out = append(out, "--mode", o.arg)
		case "probe-filter":
			out = append(out, "--probe-filter", o.arg)
		case "include":
			out = append(out, "--include", o.arg)
		case "dry-run":
			out = append(out, "--dry-run")
		case "verify-llvm-ir":
			// A self-check of bpftrace's LLVM IR, added by the peer's
			// runner; nothing to translate.
		default:
			name := "-" + o.name
			if len(o.name) > 1 {
				name = "-" + name
			}
			return nil, &UnsupportedError{"bpftrace's option " + name}
		}
	}
	switch {
	case help:
		return []string{"run", "--help"}, nil
	case version:
		return []string{"run", "--version"}, nil
	case listing:
		if hasExpr {
			return nil, &UnsupportedError{"listing the probes of a program (-l -e)"}
		}
		l := []string{"list"}
		if verbose {
			l = append(l, "-v")
		}
		for i := 0; i+1 < len(out); i += 2 {
			if out[i] == "-p" || out[i] == "--debuginfo" {
				l = append(l, out[i], out[i+1])
			} else {
				return nil, &UnsupportedError{"-l with " + out[i]}
			}
		}
		if len(pos) > 1 {
			return nil, &UnsupportedError{"-l with several arguments"}
		}
		if len(pos) == 1 {
			if strings.HasSuffix(pos[0], ".bt") {
				return nil, &UnsupportedError{"listing the probes of a program file (-l FILE.bt)"}
			}
			l = append(l, pos[0])
		}
		return l, nil
	case verbose:
		return nil, &UnsupportedError{"bpftrace's option -v"}
	}
	r := append([]string{"run"}, out...)
	if hasExpr {
		r = append(r, "-e", expr)
	} else if len(pos) > 0 {
		r = append(r, pos[0]) // "-": the program from standard input
		pos = pos[1:]
	}
	if len(pos) > 0 {
		// The program's positional parameters ($1 ...).
		r = append(append(r, "--"), pos...)
	}
	return r, nil
}

// shimMain is the shim's entry: args are USCOPE then bpftrace's argv.
func shimMain(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "compat -shim: no uscope path")
		return 2
	}
	uscope := args[0]
	tr, err := Translate(args[1:])
	if err != nil {
		line := fmt.Sprintf("%s %v\n", unsupportedMark, err)
		fmt.Fprint(os.Stderr, line)
		if p := os.Getenv(reportEnv); p != "" {
			if f, ferr := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); ferr == nil {
				f.WriteString(line)
				f.Close()
			}
		}
		return 64
	}
	if os.Getenv(rewriteEnv) == "1" {
		tr = rewriteBeginEnd(tr)
	}
	// argv[0] is the link's name, bpftrace, as comm is: tests find the
	// tracer with pidof bpftrace.
	argv := append([]string{filepath.Base(uscope)}, tr...)
	err = syscall.Exec(uscope, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "compat -shim: exec %s: %v\n", uscope, err)
	return 2
}

// rewriteEnv, set by compat -rewrite-begin, makes the shim write the
// lowercase begin/end probes of bpftrace ≥ 0.22 as BEGIN/END, to see the
// next blocker of the tests that stop there (a measurement aid, not a
// result: the summary says when it was on).
const rewriteEnv = "COMPAT_REWRITE_BEGIN"

var beginEndRe = regexp.MustCompile(`(^|[\s,}])(begin|end)(\s*[,{/])`)

// rewriteBeginEnd rewrites the program of a `uscope run` command line:
// the -e text, or a program file (copied beside the shim's report file).
func rewriteBeginEnd(args []string) []string {
	if len(args) == 0 || args[0] != "run" {
		return args
	}
	up := func(s string) string {
		for i := 0; i < 2; i++ { // matches may share a separator: "begin,end {"
			s = beginEndRe.ReplaceAllStringFunc(s, func(m string) string {
				sub := beginEndRe.FindStringSubmatch(m)
				return sub[1] + strings.ToUpper(sub[2]) + sub[3]
			})
		}
		return s
	}
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		switch {
		case out[i] == "-e" && i+1 < len(out):
			out[i+1] = up(out[i+1])
			i++
		case out[i] == "-c" || out[i] == "-p" || out[i] == "-o" || out[i] == "-f":
			i++
		case !strings.HasPrefix(out[i], "-"):
			b, err := os.ReadFile(out[i])
			report := os.Getenv(reportEnv)
			if err == nil && report != "" {
				if os.WriteFile(report+".bt", []byte(up(string(b))), 0o644) == nil {
					out[i] = report + ".bt"
				}
			}
		}
	}
	return out
}

// shellWords splits a command line roughly as sh does, for reading the
// arguments of a RUN line: quotes and backslashes, nothing else.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
			} else {
				cur.WriteString(s[i+1 : i+1+j])
				i += j + 1
			}
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			cur.WriteByte(s[i])
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
