package main

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// checkExpects checks every expectation of t against the output, as
// runner.py's check_result does, and returns the first that fails, or nil.
func checkExpects(t *Test, output, dir string) *Expect {
	var first *Expect
	for i := range t.Expects {
		x := &t.Expects[i]
		if !checkExpect(t, x, output, dir) && first == nil {
			first = x
		}
	}
	return first
}

func checkExpect(t *Test, x *Expect, output, dir string) bool {
	switch x.Mode {
	case ExpectText:
		return searchRegex(`^\s*`+regexp.QuoteMeta(x.Text)+`\s*$`, output)
	case ExpectTextNone:
		return !searchRegex(`^\s*`+regexp.QuoteMeta(x.Text)+`\s*$`, output)
	case ExpectRegex:
		return searchRegex(x.Text, output)
	case ExpectRegexNone:
		return !searchRegex(x.Text, output)
	case ExpectFile:
		b, err := os.ReadFile(filepath.Join(dir, x.Text))
		if err != nil {
			return false
		}
		want := strings.TrimSpace(string(b))
		if t.hasLocalizeTS {
			want = strftime(want, time.Unix(int64(t.LocalizeTS), 0).Local())
		}
		return strings.TrimSpace(output) == want
	case ExpectJSON:
		b, err := os.ReadFile(filepath.Join(dir, x.Text))
		if err != nil {
			return false
		}
		got := strings.Split(strings.TrimSpace(output), "\n")
		if strings.HasSuffix(x.Text, ".ndjson") {
			want := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(want) != len(got) {
				return false
			}
			for i := range want {
				if !jsonEqual(got[i], want[i]) {
					return false
				}
			}
			return true
		}
		if len(got) != 1 {
			return false
		}
		return jsonEqual(got[0], string(b))
	}
	return false
}

// searchRegex is Python's re.search(pattern, s, re.M). Patterns Go's
// regexp cannot compile (look-arounds, back-references) go to python3.
func searchRegex(pattern, s string) bool {
	re, err := regexp.Compile("(?m)" + pattern)
	if err == nil {
		return re.MatchString(s)
	}
	c := exec.Command("python3", "-c", "import re,sys; sys.exit(0 if re.search(sys.argv[1], sys.stdin.read(), re.M) else 1)", pattern)
	c.Stdin = strings.NewReader(s)
	return c.Run() == nil
}

// jsonEqual compares two JSON texts as Python's == on json.loads does
// (numbers by value: 1 == 1.0).
func jsonEqual(a, b string) bool {
	va, err := decodeJSON(a)
	if err != nil {
		return false
	}
	vb, err := decodeJSON(b)
	if err != nil {
		return false
	}
	return jsonValueEqual(va, vb)
}

func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func jsonValueEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonValueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonValueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// strftime expands the few conversions the suite's expected files use
// with LOCALIZE_TIMESTAMPS (time.strftime of Python).
func strftime(f string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'H':
			b.WriteString(t.Format("15"))
		case 'M':
			b.WriteString(t.Format("04"))
		case 'S':
			b.WriteString(t.Format("05"))
		case 'Y':
			b.WriteString(t.Format("2006"))
		case 'm':
			b.WriteString(t.Format("01"))
		case 'd':
			b.WriteString(t.Format("02"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
