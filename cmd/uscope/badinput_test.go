package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestBadInput: every bad flag value, program, pattern and target is one
// line on stderr (plus the source line and caret of a program error) and
// exit 1, before anything is attached (issue 19). Each case names what the
// message must say.
func TestBadInput(t *testing.T) {
	const malloc = "p:c:malloc(size_t s):size_t:s"
	cases := []struct {
		args []string
		want []string // substrings of stderr
	}{
		// Flags of every tracing command.
		{[]string{"run", "--str-size", "0", "-e", "BEGIN{}"}, []string{"--str-size 0", fmt.Sprintf("2 to %d bytes", maxStrSize)}},
		{[]string{"run", "--otlp", "foo:bar", "-e", "BEGIN{}"}, []string{`--otlp "foo:bar"`, "grpc://HOST:4317"}},
		{[]string{"run", "--otlp", "ftp://x:1", "-e", "BEGIN{}"}, []string{`unknown scheme "ftp"`, "http://HOST:4318"}},
		{[]string{"run", "--otlp", "grpc://127.0.0.1:1", "--otlp-interval", "0", "-e", "BEGIN{}"}, []string{"--otlp-interval 0s", "positive duration"}},
		{[]string{"run", "--str-size", "-1", "-e", "BEGIN{}"}, []string{"--str-size -1", fmt.Sprintf("2 to %d", maxStrSize)}},
		{[]string{"run", "--str-size", "1", "-e", "BEGIN{}"}, []string{"--str-size 1", "terminating NUL"}},
		{[]string{"run", "--str-size", "20000", "-e", "BEGIN{}"}, []string{"--str-size 20000", "at most what str() reads"}},
		{[]string{"run", "--str-size", "abc", "-e", "BEGIN{}"}, []string{`invalid argument "abc"`, "--str-size"}},
		{[]string{"run", "--map-size", "0", "-e", "BEGIN{}"}, []string{"--map-size 0", "1 to 134217728 keys"}},
		{[]string{"run", "--map-size", "-5", "-e", "BEGIN{}"}, []string{"--map-size -5", "134217728"}},
		{[]string{"run", "--map-size", "2000000000", "-e", "BEGIN{}"}, []string{"--map-size 2000000000", "the most buckets the kernel gives a hash map"}},
		{[]string{"run", "-p", "0", "-e", "BEGIN{}"}, []string{"--pid 0", "positive"}},
		{[]string{"run", "-p", "-1", "-e", "BEGIN{}"}, []string{"--pid -1", "positive"}},
		{[]string{"run", "-p", "99999999", "-e", "BEGIN{}"}, []string{"Pid out of range: 99999999"}},
		{[]string{"run", "-p", "1", "-c", "true", "-e", "BEGIN{}"}, []string{"-p and -c cannot be used together"}},
		{[]string{"run", "-c", "", "-e", "BEGIN{}"}, []string{`--command ""`, "the command is empty"}},
		{[]string{"run", "-c", "   ", "-e", "BEGIN{}"}, []string{"the command is empty"}},
		{[]string{"run", "-c", "'unterminated", "-e", "BEGIN{}"}, []string{"unterminated '"}},
		{[]string{"run", "-c", "/nonexistent/prog", "-e", "BEGIN{}"}, []string{"cannot run", "/nonexistent/prog", "no such file"}},
		{[]string{"run", "--duration", "0s", "-e", "BEGIN{}"}, []string{"--duration 0s", "positive duration"}},
		{[]string{"run", "--duration", "-1s", "-e", "BEGIN{}"}, []string{"--duration -1s", "positive duration"}},
		{[]string{"run", "--duration", "abc", "-e", "BEGIN{}"}, []string{"invalid duration"}},
		{[]string{"run", "-f", "yaml", "-e", "BEGIN{}"}, []string{`Invalid output format "yaml"`, "HINT: use -f text or -f json"}},
		{[]string{"run"}, []string{"no program"}},
		{[]string{"run", "nosuchfile.bt"}, []string{"failed to open file 'nosuchfile.bt': No such file or directory"}},
		// Programs.
		{[]string{"run", "-e", `uprobe:c:malloc { printf("%s\n", str(arg0, -1)); }`}, []string{"stdin:1:44-45: ERROR: str()'s length cannot be negative", "\n" + strings.Repeat(" ", 43) + "~\n"}},
		{[]string{"run", "-e", "uprobe:c:malloc { @x = "}, []string{"unexpected end of input", "~"}},
		{[]string{"run", "-e", `uprobe:c:malloc { printf("%d %d\n", arg0); }`}, []string{"2 directive(s) but 1 argument(s)"}},
		{[]string{"run", "-e", "uprobe:c:malloc { nosuchfn(); }"}, []string{"unknown function nosuchfn()"}},
		{[]string{"run", "-e", "BEGIN { ustack(0); }"}, []string{"ustack() takes a constant number of frames"}},
		// Patterns and targets that match nothing.
		{[]string{"run", "-e", "uprobe:c:mallok { }"}, []string{`no function matches "mallok"`, "did you mean malloc"}},
		{[]string{"run", "-e", "uprobe:/nonexistent:f { }"}, []string{"/nonexistent does not exist"}},
		{[]string{"run", "-e", "usdt:c:nosuchprobe { }"}, []string{`no USDT probe matches "nosuchprobe"`}},
		{[]string{"count", "c:mallok"}, []string{`no function matches "mallok"`, "did you mean malloc"}},
		{[]string{"count", "c:xyzzy_no_such*"}, []string{`no function matches "xyzzy_no_such*"`, "uscope list"}},
		{[]string{"list", "/bin/ls", "uprobe:[:*"}, []string{"no probe matches 'uprobe:[:*'", `object part "["`}},
		{[]string{"list", "c", "mallok"}, []string{"no probe matches 'mallok'", "did you mean malloc"}},
		{[]string{"list", "c", "uprobe:*no_such_function_here*"}, []string{"no probe matches"}},
		{[]string{"list", "/nonexistent"}, []string{"/nonexistent does not exist"}},
		{[]string{"list", "-p", "0"}, []string{"--pid 0", "positive"}},
		{[]string{"list", "-p", "-1", "c"}, []string{"--pid -1"}},
		{[]string{"list"}, []string{"needs a TARGET or -p PID"}},
		// The tools' flags.
		{[]string{"count", "-i", "0", "c:malloc"}, []string{"--interval 0s", "more than 0 seconds"}},
		{[]string{"count", "-i", "-1", "c:malloc"}, []string{"-i, --interval", "out of range"}},
		{[]string{"count", "-d", "-1", "c:malloc"}, []string{"-d, --duration", "out of range"}},
		{[]string{"count", "-d", "xyz", "c:malloc"}, []string{"neither seconds nor a duration"}},
		{[]string{"count", "--map-size", "0", "c:malloc"}, []string{"--map-size 0"}},
		{[]string{"count", "-p", "0", "c:malloc"}, []string{"--pid 0"}},
		{[]string{"latency", "-c", "", "c:malloc"}, []string{"the command is empty"}},
		{[]string{"stack", "-p", "-4", "c:malloc"}, []string{"--pid -4"}},
		{[]string{"trace", "-M", "0", "c:malloc"}, []string{"--max-events 0", "at least 1"}},
		{[]string{"trace", "-M", "-3", "c:malloc"}, []string{"--max-events -3"}},
		{[]string{"trace", "-Z", "0", "c:malloc"}, []string{"--string-size 0", fmt.Sprintf("2 to %d", maxStrSize)}},
		{[]string{"trace", "-L", "0", "c:malloc"}, []string{"--tid 0", "positive"}},
		{[]string{"argdist", "-n", "0", "-C", malloc}, []string{"--number 0", "at least 1"}},
		{[]string{"argdist", "-T", "0", "-C", malloc}, []string{"--top 0"}},
		{[]string{"argdist", "-z", "0", "-C", malloc}, []string{"--string-size 0"}},
		{[]string{"tls", "--max-bytes", "0"}, []string{"--max-bytes 0", "1 to 1024 bytes"}},
		{[]string{"tls", "--max-bytes", "100000"}, []string{"--max-bytes 100000"}},
		{[]string{"demo", "--requests", "0"}, []string{"--requests 0"}},
		{[]string{"stat", "-r", "0"}, []string{"--rows 0"}},
	}
	if len(cases) < 40 {
		t.Fatalf("%d cases, the table must hold at least 40", len(cases))
	}
	for _, c := range cases {
		r := runUscope(t, c.args...)
		if r.code != 1 {
			t.Errorf("uscope %q: exit %d, want 1\nstderr: %s", c.args, r.code, r.stderr)
			continue
		}
		if r.stdout != "" {
			t.Errorf("uscope %q: stdout %q, want nothing", c.args, r.stdout)
		}
		if c.args[0] == "run" {
			// run labels its messages as bpftrace does: one ERROR line
			// (at its place in the program, with the source line and
			// the text underlined), what to try on a HINT line, and
			// after a mistake in the flags the synopsis.
			checkBpftraceMessage(t, c.args, r.stderr)
		} else {
			if !strings.HasPrefix(r.stderr, "uscope: ") {
				t.Errorf("uscope %q: stderr %q does not start with uscope:", c.args, r.stderr)
			}
			// One line, or a program error's message, source line and caret.
			lines := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") + 1
			if lines != 1 && !(lines == 3 && strings.Contains(r.stderr, "^")) {
				t.Errorf("uscope %q: %d lines on stderr:\n%s", c.args, lines, r.stderr)
			}
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("uscope %q: stderr lacks %q:\n%s", c.args, w, r.stderr)
			}
		}
	}
}

// checkBpftraceMessage checks a mistake as run prints it: bpftrace's
// layout, with exactly one ERROR line.
func checkBpftraceMessage(t *testing.T, args []string, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	first := lines[0]
	if !strings.HasPrefix(first, "ERROR: ") && !regexp.MustCompile(`^stdin:\d+:\d+-\d+: ERROR: `).MatchString(first) {
		t.Errorf("uscope %q: first line %q is not bpftrace's ERROR line", args, first)
	}
	if n := strings.Count(stderr, "ERROR: "); n != 1 {
		t.Errorf("uscope %q: %d ERROR lines:\n%s", args, n, stderr)
	}
	rest := lines[1:]
	if len(rest) >= 2 && strings.Contains(rest[1], "~") && strings.Trim(rest[1], " ~") == "" {
		rest = rest[2:] // the source line and the underline
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && strings.HasPrefix(rest[0], "HINT: "):
	case len(rest) >= 2 && rest[0] == "USAGE:" && strings.HasPrefix(strings.TrimSpace(rest[1]), "uscope run "):
	default:
		t.Errorf("uscope %q: stderr is not ERROR [source underline] [HINT|USAGE]:\n%s", args, stderr)
	}
}
