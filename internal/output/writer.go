package output

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonString returns s as a JSON string literal. Like bpftrace it escapes
// '"', '\\', \n, \r and \t by name and other control characters as \u00XX;
// unlike bpftrace 0.17 (which mangles bytes above 0x7f) it keeps valid
// UTF-8 and replaces invalid bytes with U+FFFD, so every line is JSON.
func jsonString(s string) string {
	const hexdig = "0123456789abcdef"
	var sb strings.Builder
	sb.Grow(len(s) + 2)
	sb.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				sb.WriteString(`\"`)
			case '\\':
				sb.WriteString(`\\`)
			case '\n':
				sb.WriteString(`\n`)
			case '\r':
				sb.WriteString(`\r`)
			case '\t':
				sb.WriteString(`\t`)
			default:
				if c < 0x20 {
					sb.WriteString(`\u00`)
					sb.WriteByte(hexdig[c>>4])
					sb.WriteByte(hexdig[c&15])
				} else {
					sb.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteString(`\ufffd`)
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	sb.WriteByte('"')
	return sb.String()
}

// Mode selects text or JSON output.
type Mode uint8

// Output modes.
const (
	// Text is bpftrace's default human-readable output.
	Text Mode = iota
	// JSON is bpftrace's -f json: one JSON object per line.
	JSON
)

// Writer writes a program's output in one mode. In JSON mode every write
// is one line holding one object of bpftrace's NDJSON:
//
//	{"type": "attached_probes", "count": 1, "data": {"probes": 1}}
//	{"type": "printf", "data": "   42|ab   |ff\n"}
//	{"type": "time", "data": "21:29:36\n"}
//	{"type": "value", "data": 5}
//	{"type": "map", "data": {"@c": {"a": 1, "b": 2}}}
//	{"type": "lost_events", "data": {"events": 3}}
//
// Writer keeps the first write error and returns it from every later call.
type Writer struct {
	w    io.Writer
	mode Mode
	err  error
	// scratch is Printf's buffer when w has no AvailableBuffer.
	scratch []byte
}

// NewWriter returns a Writer that writes to w in mode.
func NewWriter(w io.Writer, mode Mode) *Writer {
	return &Writer{w: w, mode: mode}
}

// Mode returns the writer's mode.
func (o *Writer) Mode() Mode { return o.mode }

// Err returns the first write error.
func (o *Writer) Err() error { return o.err }

func (o *Writer) write(s string) error {
	if o.err == nil && s != "" {
		_, o.err = io.WriteString(o.w, s)
	}
	return o.err
}

// jsonMessage returns {"type": typ, "data": data} and a newline; data is
// already JSON.
func jsonMessage(typ, data string) string {
	return `{"type": ` + jsonString(typ) + `, "data": ` + data + "}\n"
}

// Message writes text produced by a statement: as is in text mode, as
// {"type": typ, "data": "text"} in JSON mode. typ is bpftrace's message
// type: "printf", "time", "cat", "join" or "syscall".
func (o *Writer) Message(typ, text string) error {
	if o.mode == JSON {
		return o.write(jsonMessage(typ, jsonString(text)))
	}
	return o.write(text)
}

// Printf formats args with f (see Format.Sprintf) and writes the text as a
// "printf" message. In text mode it formats straight into the free space
// of a buffered writer (one with AvailableBuffer, such as *bufio.Writer),
// else into a scratch buffer it reuses: no allocation per call.
func (o *Writer) Printf(f *Format, args []Value) error {
	if o.mode == JSON {
		return o.Message("printf", f.Sprintf(args))
	}
	if o.err != nil {
		return o.err
	}
	var b []byte
	if ab, ok := o.w.(interface{ AvailableBuffer() []byte }); ok {
		b = f.Append(ab.AvailableBuffer(), args)
	} else {
		o.scratch = f.Append(o.scratch[:0], args)
		b = o.scratch
	}
	if len(b) > 0 {
		_, o.err = o.w.Write(b)
	}
	return o.err
}

// Time writes the text of time(): Strftime's result, as a "time" message.
func (o *Writer) Time(text string) error {
	return o.Message("time", text)
}

// Value writes print(value): its text and a newline, or in JSON
// {"type": "value", "data": ...}.
func (o *Writer) Value(v Value) error {
	if o.mode == JSON {
		return o.write(jsonMessage("value", v.JSON()))
	}
	return o.write(v.Text() + "\n")
}

// Map writes print(@m, top, div); see PrintMap and PrintMapJSON.
func (o *Writer) Map(m *Map, opts PrintOptions) error {
	if o.mode == JSON {
		return o.write(FormatMapJSON(m, opts))
	}
	return o.write(FormatMap(m, opts))
}

// MapsAtExit writes the maps a program prints when it ends: in text mode
// two empty lines first (bpftrace prints them even with no maps), then
// every map that holds something, in order of name (a map never set, or
// cleared, prints nothing, as in bpftrace). In JSON mode bpftrace 0.17 prints the two
// empty lines too, which breaks NDJSON readers; uscope leaves them out.
func (o *Writer) MapsAtExit(maps []*Map) error {
	if o.mode == Text {
		o.write("\n\n")
	}
	sorted := slices.Clone(maps)
	slices.SortStableFunc(sorted, func(a, b *Map) int { return strings.Compare(a.Name, b.Name) })
	for _, m := range sorted {
		if len(m.Entries) > 0 {
			o.Map(m, PrintOptions{})
		}
	}
	return o.err
}

// Lost writes the count of events lost because the ring buffer was full:
// "Lost N events" or {"type": "lost_events", "data": {"events": N}}.
func (o *Writer) Lost(n uint64) error {
	if o.mode == JSON {
		return o.write(jsonMessage("lost_events", `{"events": `+strconv.FormatUint(n, 10)+"}"))
	}
	return o.write("Lost " + strconv.FormatUint(n, 10) + " events\n")
}

// HelperError writes bpftrace's JSON report of a BPF helper that failed
// (-k): {"type": "helper_error", "msg": ..., "helper": ..., "retcode": N,
// "filename": ..., "line": N, "col": N}, msg the text of the errno.
func (o *Writer) HelperError(msg, helper string, retcode int64, file string, line, col int) error {
	return o.write(`{"type": "helper_error", "msg": ` + jsonString(msg) + `, "helper": ` + jsonString(helper) +
		`, "retcode": ` + strconv.FormatInt(retcode, 10) + `, "filename": ` + jsonString(file) +
		`, "line": ` + strconv.Itoa(line) + `, "col": ` + strconv.Itoa(col) + "}\n")
}

// AttachedProbes writes "Attaching N probes..." ("1 probe...") or, as
// bpftrace main does, {"type": "attached_probes", "count": N, "data":
// {"probes": N}}.
func (o *Writer) AttachedProbes(n int) error {
	if o.mode == JSON {
		c := strconv.Itoa(n)
		return o.write(`{"type": "attached_probes", "count": ` + c + `, "data": {"probes": ` + c + "}}\n")
	}
	if n == 1 {
		return o.write("Attaching 1 probe...\n")
	}
	return o.write("Attaching " + strconv.Itoa(n) + " probes...\n")
}

// Lost writes "Lost N events" and a newline, bpftrace's text report of
// events dropped when the ring buffer was full.
func Lost(w io.Writer, n uint64) error {
	return NewWriter(w, Text).Lost(n)
}

// LostJSON writes {"type": "lost_events", "data": {"events": N}}.
func LostJSON(w io.Writer, n uint64) error {
	return NewWriter(w, JSON).Lost(n)
}
