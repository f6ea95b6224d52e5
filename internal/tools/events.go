package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/uscope/uscope/internal/output"
)

// The tools that print one row per event, after bcc's bashreadline and
// gethostlatency.

// BashreadlineOptions configure bcc's bashreadline.
type BashreadlineOptions struct {
	Options
	// Shared is the library that holds readline (-s); default /bin/bash,
	// which links it statically.
	Shared string
}

// Bashreadline builds bcc's bashreadline: TIME PID COMMAND for every line
// a bash shell reads with readline, from readline's return value.
func Bashreadline(o BashreadlineOptions) (*Tool, error) {
	target := o.Shared
	if target == "" {
		target = "/bin/bash"
	}
	prog, err := render("bashreadline", struct{ Target string }{target})
	if err != nil {
		return nil, err
	}
	return o.eventTool(&Tool{
		Program:  prog,
		Attached: func(int) { o.printf("%-9s %-7s %s\n", "TIME", "PID", "COMMAND") },
	}), nil
}

// Gethostlatency builds bcc's gethostlatency: TIME PID COMM LATms HOST for
// every getaddrinfo, gethostbyname and gethostbyname2 call, at its return.
func Gethostlatency(o Options) (*Tool, error) {
	prog, err := render("gethostlatency", nil)
	if err != nil {
		return nil, err
	}
	return o.eventTool(&Tool{
		Program:  prog,
		Attached: func(int) { o.printf("%-9s %-7s %-16s %10s %s\n", "TIME", "PID", "COMM", "LATms", "HOST") },
		Printf: func(_ string, args []output.Value) {
			if len(args) != 4 {
				return
			}
			o.row("%-9s %-7d %-16s %10.2f %s\n", o.now().Format("15:04:05"), ValueInt(args[1]), args[2].Str, float64(ValueInt(args[0]))/1e6, args[3].Str)
		},
	}), nil
}

// row prints one event's row: as is, or with -f json as the printf
// line of `run -f json` ({"type": "printf", "data": ROW}).
func (o *Options) row(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if !o.JSON {
		fmt.Fprint(o.Out, text)
		return
	}
	b, _ := json.Marshal(text)
	fmt.Fprintf(o.Out, "{\"type\": \"printf\", \"data\": %s}\n", b)
}

// eventTool makes a tool whose program prints its rows itself print them
// as JSON lines with -f json, and its header as attached_probes.
func (o *Options) eventTool(t *Tool) *Tool {
	if !o.JSON {
		return t
	}
	w := output.NewWriter(o.Out, output.JSON)
	t.Attached = func(n int) { w.AttachedProbes(n) }
	if t.Printf == nil {
		formats := map[string]*output.Format{}
		t.Printf = func(format string, args []output.Value) {
			f, ok := formats[format]
			if !ok {
				var err error
				if f, err = output.ParseFormat(format); err != nil {
					return
				}
				f.CInt()
				formats[format] = f
			}
			o.row("%s", f.Sprintf(args))
		}
	}
	return t
}

// JSONRows returns a writer that turns each line of a tool's text (its
// rows, laid out by a Printf hook) into the printf line of `run -f json`
// ({"type": "printf", "data": LINE}) on w; a line is written when its
// newline comes.
func JSONRows(w io.Writer) io.Writer { return &jsonRows{w: w} }

type jsonRows struct {
	w       io.Writer
	pending []byte
}

func (j *jsonRows) Write(p []byte) (int, error) {
	j.pending = append(j.pending, p...)
	for {
		i := bytes.IndexByte(j.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		b, _ := json.Marshal(string(j.pending[:i+1]))
		j.pending = j.pending[i+1:]
		if _, err := fmt.Fprintf(j.w, "{\"type\": \"printf\", \"data\": %s}\n", b); err != nil {
			return len(p), err
		}
	}
}
