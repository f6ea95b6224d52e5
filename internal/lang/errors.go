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

// Location is a place in a program as bpftrace names it in messages,
// "file:line:col-end", where end is the column after the last byte of the
// text (length bytes from col, at least one).
func Location(file string, p Pos, length int) string {
	if length < 1 {
		length = 1
	}
	s := fmt.Sprintf("%d:%d-%d", p.Line, p.Col, p.Col+length)
	if file != "" {
		s = file + ":" + s
	}
	return s
}

// Underline returns line n of src and, under it, '~' beneath the length
// bytes from column col, as bpftrace marks the text of a message (a tab
// is four columns wide in both lines); "" when there is no such line.
func Underline(src string, p Pos, length int) string {
	line := sourceLine(src, p.Line)
	if line == "" || !p.IsValid() {
		return ""
	}
	if length < 1 {
		length = 1
	}
	var text, marks strings.Builder
	for i := 0; i < len(line); i++ {
		c, w := line[i], 1
		if c == '\t' {
			w = 4
		}
		mark := byte(' ')
		if i >= p.Col-1 && i < p.Col-1+length {
			mark = '~'
		}
		if i < p.Col-1+length {
			marks.WriteString(strings.Repeat(string(mark), w))
		}
		if c == '\t' {
			text.WriteString("    ")
		} else {
			text.WriteByte(c)
		}
	}
	return text.String() + "\n" + marks.String()
}

// Bpftrace returns the diagnostic as bpftrace labels it:
// "file:line:col-end: ERROR: msg" (WARNING: for a warning), the source
// line with the text underlined, and the hint on a "HINT:" line. Without
// a position, the label starts the line.
func (e *Error) Bpftrace() string {
	label := "ERROR: "
	if e.Warning {
		label = "WARNING: "
	}
	var b strings.Builder
	if e.Pos.IsValid() {
		b.WriteString(Location(e.File, e.Pos, e.Len) + ": ")
	}
	b.WriteString(label + e.Msg)
	if u := Underline(e.Source, e.Pos, e.Len); u != "" {
		b.WriteString("\n" + u)
	}
	if e.Hint != "" {
		b.WriteString("\nHINT: " + e.Hint)
	}
	return b.String()
}

// Bpftrace returns each mistake as bpftrace labels it.
func (l ErrorList) Bpftrace() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Bpftrace()
	}
	return strings.Join(parts, "\n")
}
