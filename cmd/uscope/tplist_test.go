package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// stapNote is one .note.stapsdt entry as binutils' readelf -n prints it.
type stapNote struct {
	provider, name string
	loc, sema      uint64
	args           []string
}

func readelfNotes(t *testing.T, bin string) []stapNote {
	t.Helper()
	readelf := testutil.RequireTool(t, "readelf")
	out, err := exec.Command(readelf, "-n", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	var notes []stapNote
	re := regexp.MustCompile(`Provider: (\S+)\n\s+Name: (\S+)\n\s+Location: 0x([0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: 0x([0-9a-f]+)\n\s+Arguments:(.*)`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		loc, _ := strconv.ParseUint(m[3], 16, 64)
		sema, _ := strconv.ParseUint(m[4], 16, 64)
		notes = append(notes, stapNote{m[1], m[2], loc, sema, strings.Fields(m[5])})
	}
	if len(notes) == 0 {
		t.Fatalf("readelf finds no stapsdt notes in %s", bin)
	}
	return notes
}

// bccArgText is how bcc's USDTProbeArgument prints a note's argument
// spec (src/python/bcc/usdt.py): "SIZE signed  /unsigned bytes @ WHERE",
// WHERE a constant, a register (its 64-bit name without the r: %edx is
// dx), or *(reg +/- off); "" for forms this does not derive (index).
func bccArgText(spec string) string {
	at := strings.Index(spec, "@")
	size, err := strconv.Atoi(spec[:at])
	if err != nil {
		return "" // 8f@%xmm0: floats, which bcc does not parse either
	}
	sign := "unsigned"
	if size < 0 {
		sign, size = "signed  ", -size
	}
	loc := spec[at+1:]
	reg := func(r string) string {
		r = strings.TrimPrefix(r, "%")
		names := map[string]string{"eax": "ax", "al": "ax", "ax": "ax", "rax": "ax", "ebx": "bx", "rbx": "bx",
			"ecx": "cx", "rcx": "cx", "cl": "cx", "edx": "dx", "rdx": "dx", "dl": "dx", "esi": "si", "rsi": "si",
			"edi": "di", "rdi": "di", "ebp": "bp", "rbp": "bp", "esp": "sp", "rsp": "sp", "rip": "ip"}
		if n, ok := names[r]; ok {
			return n
		}
		return regexp.MustCompile(`^(r\d+)[dwb]?$`).ReplaceAllString(r, "$1")
	}
	var where string
	switch {
	case strings.HasPrefix(loc, "$"):
		where = loc[1:]
	case strings.HasPrefix(loc, "%"):
		where = reg(loc)
	case strings.Contains(loc, ","):
		return ""
	default:
		m := regexp.MustCompile(`^(-?\d*)\((%\w+)\)$`).FindStringSubmatch(loc)
		if m == nil {
			return ""
		}
		off, _ := strconv.Atoi(m[1])
		op := "+"
		if off < 0 {
			op, off = "-", -off
		}
		where = fmt.Sprintf("*(%s %s %d)", reg(m[2]), op, off)
	}
	return fmt.Sprintf("%d %s bytes @ %s", size, sign, where)
}

// TestBCCTplistExamples runs tplist_example.txt's lines on
// testdata/usdtargs.c's binary and checks them against readelf -n.
func TestBCCTplistExamples(t *testing.T) {
	src, err := os.ReadFile("testdata/usdtargs.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "usdtargs", string(src), "-O0")
	notes := readelfNotes(t, bin)

	// $ tplist -l basic_usdt: "PATH provider:name", each probe once.
	out := runOK(t, "tplist", "-l", bin)
	var want []string
	seen := map[string]bool{}
	for _, n := range notes {
		if l := bin + " " + n.provider + ":" + n.name; !seen[l] {
			seen[l] = true
			want = append(want, l)
		}
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Errorf("tplist -l: %d lines, want %d (one per probe)\n%s", len(got), len(want), out)
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("tplist -l: no line %q\n%s", w, out)
		}
	}

	// $ tplist '*loop_iter' -l basic_usdt -v, for one probe here.
	n := notes[0]
	short := n.provider + ":" + n.name
	locs := 0
	for _, m := range notes {
		if m.provider == n.provider && m.name == n.name {
			locs++
		}
	}
	out = runOK(t, "tplist", "*"+n.name, "-l", bin, "-v")
	wantV := fmt.Sprintf("%s [sema 0x%x]\n  %d location(s)\n  %d argument(s)\n", short, n.sema, locs, len(n.args))
	if !strings.Contains(out, wantV) {
		t.Errorf("tplist -v: want\n%s\ngot\n%s", wantV, out)
	}

	// -vv: each location and how each argument is fetched.
	out = runOK(t, "tplist", "-vv", "-l", bin)
	checked := 0
	for _, m := range notes {
		if locs := strings.Count(out, fmt.Sprintf("%s 0x%x\n", bin, m.loc)); locs != 1 {
			t.Errorf("-vv: location 0x%x of %s:%s printed %d times\n%s", m.loc, m.provider, m.name, locs, out)
		}
		for i, a := range m.args {
			if w := bccArgText(a); w != "" {
				line := fmt.Sprintf("    argument #%d %s\n", i+1, w)
				if !strings.Contains(out, line) {
					t.Errorf("-vv: %s:%s argument %s: no line %q\n%s", m.provider, m.name, a, line, out)
				}
				checked++
			}
		}
	}
	if checked < 5 {
		t.Errorf("only %d arguments checked", checked)
	}

	// -f json: one object per probe.
	out = runOK(t, "tplist", "-f", "json", "-l", bin)
	if strings.Count(out, `{"type": "usdt_probe", "data": {`) != len(want) {
		t.Errorf("-f json: want %d usdt_probe lines\n%s", len(want), out)
	}

	// Without -l or -p, bcc lists kernel tracepoints: one line saying no.
	r := runUscope(t, "tplist")
	if r.code != 1 || !strings.Contains(r.stderr, "userspace") {
		t.Errorf("tplist alone: exit %d, %q", r.code, r.stderr)
	}
}
