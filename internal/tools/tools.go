// Package tools holds uscope's classic tools, after bcc's: count
// (funccount), latency (funclatency), argdist and stack (stackcount). Each
// tool is a program in uscope's language, embedded as a text/template in
// programs/; the Go code here only fills the template from the command
// line and prints the maps the program keeps in bcc's formats
// (internal/output's bcc.go). Everything per event happens in the kernel.
package tools

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

//go:embed programs/*.bt
var programFS embed.FS

// programs parses the templates on first use, not at start-up.
var programs = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").ParseFS(programFS, "programs/*.bt"))
})

// render fills the template of a tool and parses the program it makes.
func render(tool string, data any) (*lang.Program, error) {
	var b bytes.Buffer
	if err := programs().ExecuteTemplate(&b, tool+".bt", data); err != nil {
		return nil, fmt.Errorf("%s: %w", tool, err)
	}
	prog, err := lang.Parse(ProgramFile(tool), b.String())
	if err != nil {
		// A tool that makes a program its own parser rejects is a bug.
		return nil, fmt.Errorf("internal error: uscope %s made a program that does not parse: %w\n%s", tool, err, b.String())
	}
	return prog, nil
}

// ProgramFile is the file name of a tool's generated program in error
// messages; errors that point into it are the user's only through the
// attach point (a function that does not exist, say), so the command
// line shows them without the generated source.
func ProgramFile(tool string) string { return "uscope-" + tool }

// Timing is when a tool prints: every Interval (0: only at the end), for
// at most Ticks intervals (0: no limit).
type Timing struct {
	Interval time.Duration
	Ticks    int
	// Cumulative keeps the counts across intervals (argdist -c).
	Cumulative bool
	// Timestamp prints the time before each output (-T).
	Timestamp bool
}

// intervalData is what programs/interval.bt needs.
type intervalData struct {
	IntervalMS int64
	Ticks      int
	Cumulative bool
	Maps       []string
}

func (t Timing) data(maps ...string) intervalData {
	d := intervalData{Ticks: t.Ticks, Cumulative: t.Cumulative, Maps: maps}
	if t.Interval > 0 {
		d.IntervalMS = max(1, t.Interval.Milliseconds())
	}
	return d
}

// Tool is a tool ready to run: its program, and the handlers the session
// calls once probes are attached and when the program prints its maps.
type Tool struct {
	Program *lang.Program
	// Attached prints the tool's header; probes is how many uprobes and
	// USDT probes the session attached.
	Attached func(probes int)
	// Report prints maps: those of one print() each interval (final false)
	// and all of them at the end (final true).
	Report func(maps []*output.Map, final bool)
	// Frame formats stack frames (stack only).
	Frame func(output.Frame) string
	// Printf, when set, lays out the rows of the program's printfs from
	// their arguments (session.Config.Printf).
	Printf func(format string, args []output.Value)
}

// Options are what every tool takes.
type Options struct {
	// Out receives the tool's output.
	Out io.Writer
	// Now gives the time for -T lines and argdist's headers (tests fix it).
	Now func() time.Time
	Timing
	// JSON prints bpftrace's NDJSON (-f json) instead of the tool's text.
	JSON bool
	// CPU, when set and not negative, counts only what runs on that CPU
	// (bcc's -c CPU).
	CPU *int
	// Regexp makes the pattern's function name a regular expression
	// (bcc's -r); PID is the process it is resolved in (0: none).
	Regexp bool
	PID    int
	// Top, when positive, prints only the Top largest rows of each
	// interval (--top); Live redraws them in place, as top does, when the
	// output is a terminal.
	Top  int
	Live bool
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) printf(format string, args ...any) {
	fmt.Fprintf(o.Out, format, args...)
}

// Pattern parses a probe pattern of funccount, funclatency and
// stackcount:
//
//	[p:]LIB:FUNC       a function of a library or executable ("c", "ssl", a
//	                   program on PATH) or of the file at /path
//	u:LIB:[PROV:]NAME  a USDT probe
//	FUNC               a function of the process given with -p
//
// FUNC and NAME may hold '*' wildcards. kind is the kind of a function
// probe (uprobe, or uretprobe for the return side).
func Pattern(pat string) (*lang.AttachPoint, error) {
	if pat == "" {
		return nil, fmt.Errorf("no pattern given; e.g. c:malloc, /usr/bin/app:handle_*, u:python3:function__entry")
	}
	parts := strings.Split(pat, ":")
	ap := &lang.AttachPoint{Raw: pat, Kind: lang.KindUprobe}
	switch len(parts) {
	case 1:
		ap.Func = parts[0]
	case 2:
		ap.Target, ap.Func = parts[0], parts[1]
	case 3, 4:
		switch parts[0] {
		case "p", "":
			if len(parts) == 4 {
				return nil, fmt.Errorf("pattern %q: too many ':'; write [p:]LIB:FUNC", pat)
			}
		case "u":
			ap.Kind = lang.KindUSDT
			if len(parts) == 4 {
				ap.Provider = parts[2]
			}
		case "t":
			return nil, fmt.Errorf("pattern %q: tracepoints are kernel probes, and uscope traces userspace; use LIB:FUNC or u:LIB:PROBE", pat)
		case "r":
			return nil, fmt.Errorf("pattern %q: give the function without r:; this tool probes entries (and returns where it needs them)", pat)
		default:
			return nil, fmt.Errorf("pattern %q: type must be p (a function) or u (a USDT probe), not %q", pat, parts[0])
		}
		ap.Target, ap.Func = parts[1], parts[len(parts)-1]
	default:
		return nil, fmt.Errorf("pattern %q: too many ':'-separated parts", pat)
	}
	if ap.Func == "" {
		return nil, fmt.Errorf("pattern %q: missing function name", pat)
	}
	return ap, nil
}

// withKind returns a copy of ap with another kind.
func withKind(ap *lang.AttachPoint, kind string) *lang.AttachPoint {
	c := *ap
	c.Kind = kind
	return &c
}

// empty reports whether every map holds nothing.
func empty(maps []*output.Map) bool {
	for _, m := range maps {
		if len(m.Entries) > 0 {
			return false
		}
	}
	return true
}

// find returns the map named name ("@counts"), or nil.
func find(maps []*output.Map, name string) *output.Map {
	for _, m := range maps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// intOf returns an integer value as uint64 (negative values as 0).
func intOf(v output.Value) uint64 {
	if v.Kind != output.KindInt {
		return 0
	}
	if v.Signed {
		return uint64(max(v.Int, 0))
	}
	return v.Uint
}

// keyText returns a map key's parts as text (strings unquoted).
func keyText(v output.Value) string {
	switch v.Kind {
	case output.KindString:
		return v.Str
	case output.KindInt:
		if v.Signed {
			return fmt.Sprint(v.Int)
		}
		return fmt.Sprint(v.Uint)
	}
	return v.Text()
}

// sumBuckets adds up the histograms of every key of m, bucket by bucket.
func sumBuckets(m *output.Map) []uint64 {
	var buckets []uint64
	for _, e := range m.Entries {
		if buckets == nil {
			buckets = make([]uint64, len(e.Buckets))
		}
		for i, c := range e.Buckets {
			buckets[i] += c
		}
	}
	return buckets
}
