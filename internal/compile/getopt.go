package compile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// programArgs are the arguments given to the program after it on the
// command line: positional ones ($1, $2 ...) and named options
// (--name or --name=value), which getopt() reads.
type programArgs struct {
	positional []string
	named      map[string]*string // nil value: --name without '='
	used       map[string]bool
	described  map[string]string
}

// PositionalParams returns the positional parameters among the words
// after a program ($1 is the first), leaving out named options (--name).
func PositionalParams(params []string) []string { return splitProgramArgs(params).positional }

func splitProgramArgs(params []string) *programArgs {
	a := &programArgs{named: map[string]*string{}, used: map[string]bool{}, described: map[string]string{}}
	for _, p := range params {
		if opt, ok := strings.CutPrefix(p, "--"); ok && opt != "" {
			name, val, hasVal := strings.Cut(opt, "=")
			if hasVal {
				a.named[name] = &val
			} else {
				a.named[name] = nil
			}
			continue
		}
		a.positional = append(a.positional, p)
	}
	return a
}

// getopt lowers getopt(NAME[, DEFAULT[, DESCRIPTION]]) to the literal of
// the option's value on the command line, typed by the default (a bool
// without one), or to the default when the option is not given.
func (l *lowerer) getopt(c *lang.Call) lang.Expr {
	name, ok := c.Args[0].(*lang.StrLit)
	if !ok || len(c.Args) > 3 {
		return c // check reports it
	}
	l.args.used[name.Value] = true
	if len(c.Args) == 3 {
		if d, ok := c.Args[2].(*lang.StrLit); ok {
			l.args.described[name.Value] = d.Value
		}
	}
	val, given := l.args.named[name.Value]
	boolLit := func(b bool) lang.Expr {
		t := "false"
		if b {
			t = "true"
		}
		return &lang.IntLit{Pos: c.Pos, Value: map[bool]uint64{true: 1}[b], Text: t}
	}
	parseBool := func(s string) (bool, bool) {
		switch strings.ToLower(s) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
		return false, false
	}
	bad := func(kind string) lang.Expr {
		// A mistake on the command line, not in the program: no place.
		l.errs = append(l.errs, &lang.Error{Hint: "give --" + name.Value + "=VALUE",
			Msg: fmt.Sprintf("program command line option --%s invalid %s (value: %s)", name.Value, kind, *val)})
		return c
	}
	if len(c.Args) == 1 {
		if !given {
			return boolLit(false)
		}
		if val == nil {
			return boolLit(true)
		}
		b, ok := parseBool(*val)
		if !ok {
			return bad("boolean")
		}
		return boolLit(b)
	}
	def := c.Args[1]
	if !given {
		return def
	}
	switch d := def.(type) {
	case *lang.StrLit:
		if val == nil {
			return &lang.StrLit{Pos: c.Pos, Value: ""}
		}
		return &lang.StrLit{Pos: c.Pos, Value: *val}
	case *lang.IntLit:
		if d.Text == "true" || d.Text == "false" {
			if val == nil {
				return boolLit(true)
			}
			b, ok := parseBool(*val)
			if !ok {
				return bad("boolean")
			}
			return boolLit(b)
		}
	}
	if val == nil {
		return bad("integer")
	}
	s := *val
	neg := strings.HasPrefix(s, "-")
	if u, err := strconv.ParseUint(strings.TrimPrefix(s, "-"), 0, 64); err == nil {
		lit := &lang.IntLit{Pos: c.Pos, Value: u, Text: strings.TrimPrefix(s, "-")}
		if neg {
			return &lang.Unary{Pos: c.Pos, Op: "-", X: lit}
		}
		return lit
	}
	return bad("integer")
}

// unusedOptions reports the named options no getopt() asked for.
func (l *lowerer) unusedOptions() {
	var extra, want []string
	for n := range l.args.named {
		if !l.args.used[n] {
			extra = append(extra, "--"+n)
		}
	}
	if len(extra) == 0 {
		return
	}
	for n := range l.args.used {
		w := "--" + n
		if d := l.args.described[n]; d != "" {
			w += ": " + d
		}
		want = append(want, w)
	}
	sort.Strings(extra)
	sort.Strings(want)
	hint := "the program takes no named options"
	_, help := l.args.named["help"]
	switch {
	case len(want) > 0 && help:
		// -- --help: the options one per line, as bpftrace lists them.
		hint = "expected program options:\n" + strings.Join(want, "\n")
	case len(want) > 0:
		hint = "expected program options: " + strings.Join(want, ", ")
	}
	l.errs = append(l.errs, &lang.Error{Hint: hint,
		Msg: "unexpected program command line options: " + strings.Join(extra, " ")})
}
