package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Format is the dialect of bpftrace's runtime test files: the one of the
// v0.17.0 tag (one EXPECT, a regex; one BEFORE, run by a shell; TIMEOUT
// required) or the one of main (many EXPECT kinds, continuation lines,
// SETUP/CLEANUP, RETURN_CODE, NEW_PIDNS...). Both are defined by
// tests/runtime/engine/parser.py and runner.py of their checkout.
type Format int

const (
	FormatMain Format = iota
	FormatV017
)

func (f Format) String() string {
	if f == FormatV017 {
		return "v0.17"
	}
	return "main"
}

// ExpectMode is how an expectation is checked against the output.
type ExpectMode string

const (
	ExpectText      ExpectMode = "EXPECT"            // a whole line, surrounding blanks ignored
	ExpectTextNone  ExpectMode = "EXPECT_NONE"       // no such line
	ExpectRegex     ExpectMode = "EXPECT_REGEX"      // a regex found anywhere (multi-line mode)
	ExpectRegexNone ExpectMode = "EXPECT_REGEX_NONE" // the regex found nowhere
	ExpectFile      ExpectMode = "EXPECT_FILE"       // the output after the notice equals a file
	ExpectJSON      ExpectMode = "EXPECT_JSON"       // the output after the notice is that JSON (or ndjson)
)

// Expect is one expectation of a test.
type Expect struct {
	Mode ExpectMode
	Text string
}

// Test is one block of a runtime test file.
type Test struct {
	Suite, Name string // file name and NAME
	Line        int    // first line of the block in the file
	Format      Format

	Prog, Run        string
	Expects          []Expect
	HasExactExpect   bool // an EXPECT_FILE or EXPECT_JSON: output is taken after the notice
	Timeout          int  // seconds after the probes are attached
	Befores          []string
	After            string
	Setup, Cleanup   string
	KernelMin        string
	KernelMax        string
	Requires         []string
	Env              map[string]string
	Arch             []string
	Features         []string // REQUIRES_FEATURE
	NegFeatures      []string // REQUIRES_FEATURE !x
	WillFail         bool
	NewPIDNS         bool
	SkipIfEnvHas     [2]string // name, value; empty name: none
	ReturnCode       int
	LocalizeTS       int // -1: none
	hasLocalizeTS    bool
	hasReturnCodeSet bool
}

// ID is "suite.name", as the peer's runner prints it.
func (t *Test) ID() string { return t.Suite + "." + t.Name }

// DetectFormat tells the dialect of a checkout from its parser.
func DetectFormat(src string) (Format, error) {
	b, err := os.ReadFile(filepath.Join(src, "tests/runtime/engine/parser.py"))
	if err != nil {
		return FormatMain, fmt.Errorf("not a bpftrace checkout: %w", err)
	}
	if strings.Contains(string(b), "EXPECT_REGEX") {
		return FormatMain, nil
	}
	return FormatV017, nil
}

// SuiteFiles lists the test files of tests/runtime, as the peer's runner
// walks them: every file of the directory tree except engine/, scripts/
// and outputs/ and names starting with a dot.
func SuiteFiles(src string) ([]string, error) {
	root := filepath.Join(src, "tests/runtime")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (d.Name() == "engine" || d.Name() == "scripts" || d.Name() == "outputs") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(d.Name(), ".") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// ParseFile reads one test file. Tests whose ARCH excludes the host
// architecture are returned apart, as the peer's parser drops them.
func ParseFile(path string, f Format, machine string) (tests, otherArch []*Test, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Parse(filepath.Base(path), string(b), f, machine)
}

// Parse parses the text of a test file named suite.
func Parse(suite, text string, f Format, machine string) (tests, otherArch []*Test, err error) {
	lines := splitKeepNL(text)
	var block []string
	start := 0
	for i, line := range lines {
		if strings.HasPrefix(line, "#") {
			// Comments are skipped, even between the lines of a test
			// (and a comment on the last line does not end the block).
			continue
		}
		if line != "\n" {
			if len(block) == 0 {
				start = i + 1
			}
			block = append(block, line)
		}
		if line == "\n" || i == len(lines)-1 {
			if len(block) > 0 {
				t, err := parseBlock(block, suite, f)
				if err != nil {
					return nil, nil, fmt.Errorf("%s:%d: %w", suite, start, err)
				}
				t.Line = start
				if archMatches(t, f, machine) {
					tests = append(tests, t)
				} else {
					otherArch = append(otherArch, t)
				}
				block = nil
			}
		}
	}
	return tests, otherArch, nil
}

// splitKeepNL splits text into lines that keep their "\n" (Python's
// readlines).
func splitKeepNL(text string) []string {
	var out []string
	for len(text) > 0 {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			out = append(out, text)
			break
		}
		out = append(out, text[:i+1])
		text = text[i+1:]
	}
	return out
}

func archMatches(t *Test, f Format, machine string) bool {
	if len(t.Arch) == 0 {
		return true
	}
	machine = strings.ToLower(machine)
	if f == FormatV017 {
		for _, a := range t.Arch {
			if a == machine {
				return true
			}
		}
		return false
	}
	host := map[string]bool{machine: true, hostEndian(): true}
	var pos, neg []string
	for _, a := range t.Arch {
		if strings.HasPrefix(a, "!") {
			neg = append(neg, a[1:])
		} else {
			pos = append(pos, a)
		}
	}
	ok := true
	if len(pos) > 0 {
		ok = anyIn(pos, host)
	}
	if len(neg) > 0 && ok {
		ok = !anyIn(neg, host)
	}
	return ok
}

func anyIn(xs []string, set map[string]bool) bool {
	for _, x := range xs {
		if set[x] {
			return true
		}
	}
	return false
}

// isSpace is Python's str.isspace: non-empty and only whitespace.
func isSpace(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func parseBlock(block []string, suite string, f Format) (*Test, error) {
	t := &Test{Suite: suite, Format: f, Env: map[string]string{}, LocalizeTS: -1}
	timeout := ""
	prev := ""
	var v017Expect string
	for _, item := range block {
		if f == FormatMain {
			n := len(prev) + 1
			if n > len(item) {
				n = len(item)
			}
			if isSpace(item[:n]) {
				line := ""
				if len(prev)+1 <= len(item)-1 {
					line = item[len(prev)+1 : len(item)-1]
				}
				switch prev {
				case "PROG":
					t.Prog += "\n" + line
					continue
				case "EXPECT", "EXPECT_REGEX":
					if len(t.Expects) > 0 {
						t.Expects[len(t.Expects)-1].Text += "\n" + line
						continue
					}
				}
			}
		}
		var name, line string
		if f == FormatMain {
			fields := strings.TrimSpace(item)
			i := strings.IndexFunc(fields, unicode.IsSpace)
			if i < 0 {
				name = fields
			} else {
				name = fields[:i]
				line = strings.TrimLeftFunc(fields[i:], unicode.IsSpace)
			}
		} else {
			// v0.17.0 splits on whitespace and joins with single spaces.
			w := strings.Fields(item)
			if len(w) == 0 {
				continue
			}
			name, line = w[0], strings.Join(w[1:], " ")
		}
		prev = name
		switch name {
		case "NAME":
			t.Name = line
		case "RUN":
			t.Run = line
		case "PROG":
			t.Prog = line
		case "EXPECT":
			if f == FormatV017 {
				v017Expect = line
			} else {
				t.Expects = append(t.Expects, Expect{ExpectText, line})
			}
		case "TIMEOUT":
			timeout = strings.TrimSpace(line)
		case "BEFORE":
			if f == FormatV017 {
				t.Befores = []string{line}
			} else {
				t.Befores = append(t.Befores, line)
			}
		case "AFTER":
			t.After = line
		case "MIN_KERNEL":
			t.KernelMin = line
		case "MAX_KERNEL":
			t.KernelMax = line
		case "REQUIRES":
			t.Requires = append(t.Requires, line)
		case "ENV":
			for _, e := range strings.Fields(line) {
				k, v, ok := strings.Cut(e, "=")
				if !ok {
					return nil, fmt.Errorf("ENV %q: want NAME=VALUE", e)
				}
				t.Env[k] = v
			}
		case "ARCH":
			t.Arch = nil
			for _, a := range strings.Split(line, "|") {
				t.Arch = append(t.Arch, strings.TrimSpace(a))
			}
		case "REQUIRES_FEATURE":
			for _, x := range strings.Split(line, " ") {
				x = strings.TrimSpace(x)
				if strings.HasPrefix(x, "!") && f == FormatMain {
					t.NegFeatures = append(t.NegFeatures, x[1:])
				} else if x != "" {
					t.Features = append(t.Features, x)
				}
			}
		case "WILL_FAIL":
			t.WillFail = true
		default:
			if f == FormatV017 {
				return nil, fmt.Errorf("field %s is unknown", name)
			}
			if err := parseMainOnly(t, name, line); err != nil {
				return nil, err
			}
		}
	}
	if f == FormatV017 && v017Expect != "" {
		t.Expects = []Expect{{ExpectRegex, v017Expect}}
	}
	switch {
	case t.Name == "":
		return nil, fmt.Errorf("test NAME is required")
	case t.Run == "" && t.Prog == "":
		return nil, fmt.Errorf("test %s: RUN or PROG is required", t.Name)
	case t.Run != "" && t.Prog != "":
		return nil, fmt.Errorf("test %s: RUN and PROG both given", t.Name)
	case len(t.Expects) == 0 && !(f == FormatMain && t.hasReturnCodeSet):
		return nil, fmt.Errorf("test %s: an EXPECT is required", t.Name)
	case len(t.Expects) > 1 && t.HasExactExpect:
		return nil, fmt.Errorf("test %s: EXPECT_JSON or EXPECT_FILE cannot be used with other EXPECTs", t.Name)
	}
	if timeout == "" {
		if f == FormatV017 {
			return nil, fmt.Errorf("test %s: TIMEOUT is required", t.Name)
		}
		t.Timeout = 5
	} else {
		n, err := strconv.Atoi(timeout)
		if err != nil {
			return nil, fmt.Errorf("test %s: TIMEOUT %q: %v", t.Name, timeout, err)
		}
		t.Timeout = n
	}
	if t.ReturnCode != 0 && t.WillFail {
		return nil, fmt.Errorf("test %s: WILL_FAIL and RETURN_CODE cannot be used together", t.Name)
	}
	return t, nil
}

// parseMainOnly handles the directives only main's format has.
func parseMainOnly(t *Test, name, line string) error {
	switch name {
	case "EXPECT_NONE":
		t.Expects = append(t.Expects, Expect{ExpectTextNone, line})
	case "EXPECT_REGEX":
		t.Expects = append(t.Expects, Expect{ExpectRegex, line})
	case "EXPECT_REGEX_NONE":
		t.Expects = append(t.Expects, Expect{ExpectRegexNone, line})
	case "EXPECT_FILE":
		t.HasExactExpect = true
		t.Expects = append(t.Expects, Expect{ExpectFile, line})
	case "EXPECT_JSON":
		t.HasExactExpect = true
		t.Expects = append(t.Expects, Expect{ExpectJSON, line})
	case "SETUP":
		t.Setup = line
	case "CLEANUP":
		t.Cleanup = line
	case "NEW_PIDNS":
		t.NewPIDNS = true
	case "SKIP_IF_ENV_HAS":
		k, v, _ := strings.Cut(line, "=")
		t.SkipIfEnvHas = [2]string{k, v}
	case "RETURN_CODE", "LOCALIZE_TIMESTAMPS":
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return fmt.Errorf("%s %q: %v", name, line, err)
		}
		if name == "RETURN_CODE" {
			t.ReturnCode, t.hasReturnCodeSet = n, true
		} else {
			t.LocalizeTS, t.hasLocalizeTS = n, true
		}
	default:
		return fmt.Errorf("field %s is not a runtime test directive", name)
	}
	return nil
}
