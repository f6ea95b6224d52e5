package main

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/output"
)

func TestFlowWriter(t *testing.T) {
	for _, c := range []struct {
		lang, in, want string
	}{
		{"java", "1 10 11 500 0 -> A main\n", "1   10      11      500        -> A.main\n"},
		{"java", "1 10 11 501 2 <- A step\n", "1   10      11      501            <- A.step\n"},
		{"python", "0 5 5 7 1 -> /t/w.py leaf\n", "0   5       5       7            -> /t/w.py:leaf\n"},
		{"tcl", "0 5 5 7 0 -> " + " proc\n", "0   5       5       7          -> proc\n"},
	} {
		var b strings.Builder
		fw := &flowWriter{w: &b, lang: c.lang}
		// Written in two pieces: lines may arrive split.
		fw.Write([]byte(c.in[:5]))
		fw.Write([]byte(c.in[5:]))
		if b.String() != c.want {
			t.Errorf("%s %q: got %q, want %q", c.lang, c.in, b.String(), c.want)
		}
	}
}

func TestWriteCalls(t *testing.T) {
	str := func(s string) output.Value { return output.Value{Kind: output.KindString, Str: s} }
	n := func(v int64) output.Value { return output.Value{Kind: output.KindInt, Signed: true, Int: v} }
	calls := &output.Map{Name: "@calls", Entries: []output.Entry{
		{Key: []output.Value{str("A"), str("f")}, Value: n(3)},
		{Key: []output.Value{str("A"), str("g")}, Value: n(9)},
		{Key: []output.Value{str("B"), str("h")}, Value: n(1)},
	}}
	times := &output.Map{Name: "@times", Entries: []output.Entry{
		{Key: []output.Value{str("A"), str("f")}, Value: n(5000)},
		{Key: []output.Value{str("A"), str("g")}, Value: n(1000)},
		{Key: []output.Value{str("B"), str("h")}, Value: n(2500)},
	}}
	for _, c := range []struct {
		name  string
		times *output.Map
		top   int
		rows  []string
	}{
		{"counts ascending", nil, 0, []string{"B.h 1", "A.f 3", "A.g 9"}},
		{"top 1", nil, 1, []string{"A.g 9"}},
		{"by time", times, 0, []string{"A.g 9 1.00", "B.h 1 2.50", "A.f 3 5.00"}},
	} {
		var b strings.Builder
		writeCalls(&b, "java", calls, c.times, c.top, false)
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")[1:]
		var got []string
		for _, l := range lines {
			got = append(got, strings.Join(strings.Fields(l), " "))
		}
		if strings.Join(got, "|") != strings.Join(c.rows, "|") {
			t.Errorf("%s: got %q, want %q", c.name, got, c.rows)
		}
	}
}
