package output

import (
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Frame is one symbolized stack frame.
type Frame struct {
	// Addr is the frame's instruction address.
	Addr uint64
	// Sym is the function's name; "" when the address did not resolve.
	Sym string
	// Off is Addr's offset from the start of Sym.
	Off uint64
	// Module is the path of the object that maps Addr; "" when unknown.
	Module string
}

// Bpftrace formats the frame as bpftrace's ustack does by default:
// "sym+off" with a decimal offset, or the address as 0x-hex when the
// symbol is unknown.
func (f Frame) Bpftrace() string {
	if f.Sym == "" {
		return "0x" + strconv.FormatUint(f.Addr, 16)
	}
	return f.Sym + "+" + strconv.FormatUint(f.Off, 10)
}

// Perf formats the frame as bpftrace's ustack(perf) does: "addr sym+off
// (module)" with a bare hex address, or "addr 0xaddr ([unknown])".
func (f Frame) Perf() string {
	a := strconv.FormatUint(f.Addr, 16)
	if f.Sym == "" {
		return a + " 0x" + a + " ([unknown])"
	}
	return a + " " + f.Sym + "+" + strconv.FormatUint(f.Off, 10) + " (" + f.Module + ")"
}

// BCC formats the frame as bcc's trace -U does: "sym+0xoff [module]" with
// the module's base name, "[unknown] [module]" or "[unknown]". With addr
// (trace -a) the address comes first, right-aligned in 16 hex digits.
func (f Frame) BCC(addr bool) string {
	var sb strings.Builder
	if addr {
		a := strconv.FormatUint(f.Addr, 16)
		sb.WriteString(strings.Repeat(" ", max(0, 16-len(a))))
		sb.WriteString(a)
		sb.WriteByte(' ')
	}
	if f.Sym == "" {
		sb.WriteString("[unknown]")
	} else {
		sb.WriteString(f.Sym)
		sb.WriteString("+0x")
		sb.WriteString(strconv.FormatUint(f.Off, 16))
	}
	if f.Module != "" {
		sb.WriteString(" [")
		sb.WriteString(filepath.Base(f.Module))
		sb.WriteByte(']')
	}
	return sb.String()
}

// FormatStack returns frames (innermost first) as bpftrace prints a stack:
// a newline, then each frame on its own line after indent. The indent is
// KeyIndent for a stack in a map key, ValueIndent for print() and printf
// and PerfIndent for perf-mode frames. An empty stack is "\n".
func FormatStack(frames []string, indent string) string {
	var sb strings.Builder
	sb.WriteByte('\n')
	for _, f := range frames {
		sb.WriteString(indent)
		sb.WriteString(f)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Stack writes frames (innermost first) in bpftrace's layout; see
// FormatStack.
func Stack(w io.Writer, frames []string, indent string) error {
	_, err := io.WriteString(w, FormatStack(frames, indent))
	return err
}

// Folded returns a stack in the folded format of flame graphs: comm and
// the frames joined by ';', root first. frames are innermost first, as
// stacks are captured, so they are reversed. An empty comm is left out.
// Semicolons inside names become ':' and line breaks become spaces, so
// that every stack stays one parseable line.
func Folded(comm string, frames []string) string {
	var sb strings.Builder
	if comm != "" {
		sb.WriteString(foldClean(comm))
	}
	for i := len(frames) - 1; i >= 0; i-- {
		if sb.Len() > 0 {
			sb.WriteByte(';')
		}
		sb.WriteString(foldClean(frames[i]))
	}
	return sb.String()
}

// FoldedLine returns one line of folded output, "comm;outer;...;inner N",
// ending in a newline.
func FoldedLine(comm string, frames []string, count uint64) string {
	return Folded(comm, frames) + " " + strconv.FormatUint(count, 10) + "\n"
}

var foldReplacer = strings.NewReplacer(";", ":", "\n", " ", "\r", " ")

func foldClean(s string) string { return foldReplacer.Replace(s) }
