package lang

import (
	"fmt"
	"strings"
)

// Error is a mistake in a program, with where it is and what to try.
type Error struct {
	File string
	Pos  Pos
	// Len is how many bytes of source the caret underlines (at least 1).
	Len int
	Msg string
	// Hint says what would be valid, or is empty.
	Hint string
	// Source is the program text, for the caret line; may be empty.
	Source string
	// Warning marks a diagnostic that does not stop the program (an
	// unused map, unreachable code).
	Warning bool
}

// Error returns the one-line form: "file:line:col: ERROR: msg; hint"
// ("WARNING:" for a warning).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Pos.IsValid() {
		// A mistake at a place in the program is labelled as bpftrace
		// and compilers label theirs.
		fmt.Fprintf(&b, "%d:%d: ", e.Pos.Line, e.Pos.Col)
		if e.Warning {
			b.WriteString("WARNING: ")
		} else {
			b.WriteString("ERROR: ")
		}
	} else if e.File != "" {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Detail returns the one-line form followed by the offending source line and
// a caret under the offending text.
func (e *Error) Detail() string {
	line := sourceLine(e.Source, e.Pos.Line)
	if line == "" || !e.Pos.IsValid() {
		return e.Error()
	}
	n := e.Len
	if n < 1 {
		n = 1
	}
	col := e.Pos.Col - 1
	if col > len(line) {
		col = len(line)
	}
	if col+n > len(line)+1 {
		n = len(line) + 1 - col
	}
	pad := []byte(line[:col])
	for i, c := range pad {
		if c != '\t' {
			pad[i] = ' '
		}
	}
	return e.Error() + "\n" + line + "\n" + string(pad) + "^" + strings.Repeat("~", n-1)
}

func sourceLine(src string, n int) string {
	if n < 1 {
		return ""
	}
	for i := 1; i < n; i++ {
		j := strings.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := strings.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return src
}

// Errorf builds an Error at the position of node n in program p.
func (p *Program) Errorf(n Node, length int, hint string, format string, args ...any) *Error {
	e := &Error{Pos: n.Position(), Len: length, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if p != nil {
		e.File, e.Source = p.File, p.Source
	}
	return e
}

// ErrorList is several mistakes in one program, in source order.
type ErrorList []*Error

// Error returns one line per mistake.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Detail returns each mistake with its source line and caret.
func (l ErrorList) Detail() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Detail()
	}
	return strings.Join(parts, "\n")
}

// Unwrap gives errors.As and errors.Is every mistake.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
