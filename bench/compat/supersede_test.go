package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// v0.17.0's tests (quoted names, one regex EXPECT, words joined by one
// blank) against main's (continuation lines, several EXPECTs).
const supOld = `NAME pointer
PROG BEGIN { @ = (uint8*)0x32; @++; exit(); }
EXPECT ^@: 33
TIMEOUT 5

NAME "usdt probes - quoted"
PROG usdt:./testprogs/usdt_test:* { exit(); }
EXPECT Attaching 3 probes...
TIMEOUT 5

NAME same test
PROG BEGIN {  printf("x\n"); exit(); }
EXPECT ^x$
TIMEOUT 5

NAME main fails too
PROG BEGIN { exit(); }
EXPECT ^a$
TIMEOUT 5

NAME only in 0.17
PROG BEGIN { exit(); }
EXPECT ^a$
TIMEOUT 5

NAME passes
PROG BEGIN { exit(); }
EXPECT ^b$
TIMEOUT 5

NAME twice
PROG BEGIN { exit(); }
EXPECT ^one$
TIMEOUT 5

NAME twice
PROG BEGIN { exit(); }
EXPECT two
TIMEOUT 5

NAME to a file
PROG BEGIN { @ = 1; exit(); }
EXPECT ^@: 1$
TIMEOUT 5
`

const supMain = `NAME pointer
PROG begin { @ = (uint8*)0x32; @++; exit(); }
EXPECT @: 0x33

NAME usdt probes - quoted
PROG usdt:./testprogs/usdt_test:* { exit(); }
EXPECT Attached 3 probes

NAME same test
PROG BEGIN {
       printf("x\n"); exit(); }
EXPECT_REGEX ^x$

NAME main fails too
PROG begin { exit(); }
EXPECT b

NAME passes
PROG begin { exit(); }
EXPECT c

NAME twice
PROG BEGIN { exit(); }
EXPECT one

NAME twice
PROG BEGIN { exit(); }
EXPECT deux

NAME to a file
PROG BEGIN { @ = 1; exit(); }
EXPECT_FILE runtime/outputs/one.txt
`

func TestSupersede(t *testing.T) {
	old, _, err := Parse("f", supOld, FormatV017, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	main, _, err := Parse("f", supMain, FormatMain, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	mainSrc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mainSrc, "tests/runtime/outputs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mainSrc, "tests/runtime/outputs/one.txt"), []byte("@: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := func(pass ...string) map[string]resultRow {
		m := map[string]resultRow{}
		for _, id := range pass {
			st := Pass
			if strings.HasPrefix(id, "!") {
				id, st = id[1:], Fail
			}
			m[id] = resultRow{suite: "f", scope: string(ScopeSpecial), status: string(st)}
		}
		return m
	}
	oldRes := res("!f.pointer#1", `!f."usdt probes - quoted"#1`, "!f.same test#1", "!f.main fails too#1",
		"!f.only in 0.17#1", "f.passes#1", "!f.twice#1", "!f.twice#2", "!f.to a file#1")
	mainRes := res("f.pointer#1", "f.usdt probes - quoted#1", "f.same test#1", "!f.main fails too#1",
		"f.passes#1", "f.twice#1", "f.twice#2", "f.to a file#1")
	sup := Supersede(old, oldRes, t.TempDir(), main, mainRes, mainSrc)
	got := map[string]string{}
	for _, s := range sup {
		got[s.OldKey] = s.Differs + " -> " + s.MainKey
	}
	want := map[string]string{
		// Program (BEGIN/begin) and expectation both changed.
		"f.pointer#1": "program and expectations -> f.pointer#1",
		// The quotes of v0.17's name do not count.
		`f."usdt probes - quoted"#1`: "expectations -> f.usdt probes - quoted#1",
		// The second test of a name is matched to main's second.
		"f.twice#2": "expectations -> f.twice#2",
		// An EXPECT_FILE differs from a regex whatever the file says.
		"f.to a file#1": "expectations -> f.to a file#1",
		// Not superseded: "same test" (only blanks and the continuation
		// line differ), "main fails too" (uscope fails main's version),
		// "only in 0.17", "passes" (not a failure), "twice#1" (^one$ is
		// EXPECT one).
	}
	if len(got) != len(want) {
		t.Errorf("superseded %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}

	// superseded.tsv, read back and reported by the table.
	dir := t.TempDir()
	if err := writeSuperseded(filepath.Join(dir, supersededFile), sup, t.TempDir(), mainSrc); err != nil {
		t.Fatal(err)
	}
	rows, order, err := readSuperseded(filepath.Join(dir, supersededFile))
	if err != nil || len(order) != 4 || order[0] != "f.pointer#1" {
		t.Fatalf("read back %v %v %v", rows, order, err)
	}
	if r := rows["f.to a file#1"]; r.oldExpect != "EXPECT_REGEX ^@: 1$" || r.mainExpect != "EXPECT_FILE one.txt: @: 1" {
		t.Errorf("short expectations %+v", r)
	}
}

func TestNormName(t *testing.T) {
	for in, want := range map[string]string{`"usdt probes - x"`: "usdt probes - x", `cat "no such file"`: `cat "no such file"`, ` a `: "a", `"`: `"`} {
		if got := NormName(in); got != want {
			t.Errorf("NormName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The table leaves superseded tests out of the denominator of the rate
// over the tests bpftrace passes, and lists them.
func TestTableSuperseded(t *testing.T) {
	dir := t.TempDir()
	write := func(name, file, body string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	head := "test\tsuite\tscope\tstatus\treason\n"
	us := write("us", "results.tsv", head+"f.a\tf\tuserspace\tpass\t\nf.b\tf\tuserspace\tfail\tunmatched x\nf.c\tf\tuserspace\tfail\ty\n"+
		"basic.delete count-map\tbasic\tprobe-less\tfail\tz\n")
	write("us", supersededFile, "test\tdiffers\tmain test\tv0.17 expects\tmain expects\nf.b#1\texpectations\tf.b#1\tEXPECT_REGEX 1|2\tEXPECT 0x1\n")
	bt := write("bt", "results.tsv", head+"f.a\tf\tuserspace\tpass\t\nf.b\tf\tuserspace\tpass\t\nf.c\tf\tuserspace\tpass\t\n"+
		"basic.delete count-map\tbasic\tprobe-less\tpass\t\n")
	var b strings.Builder
	if err := tableMain(us, bt, &b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	// A test main changed elsewhere stays a failure, listed with why.
	for _, want := range []string{"| **total** | **4** | **1 (25.0 %)** | **4** | **1 of 4 (25.0 %)** |",
		"uscope passes 1 of 3 (33.3 %)", "- basic.delete count-map: main moved it to stdlib.delete count-map", "| f.b | expectations | unmatched x | `EXPECT_REGEX 1\\|2` | `EXPECT 0x1` |"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
}
