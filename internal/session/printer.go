package session

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// printer writes the session's output through output.Writer, buffered and
// flushed after every drain of the ring buffer.
type printer struct {
	buf  *bufio.Writer
	w    *output.Writer
	json bool
	// bpftrace labels messages as bpftrace does (Config.BpftraceLabels).
	bpftrace bool
	// first is the kernel time of the first trace row, for -t.
	first uint64
	// agg counts the rows of trace -A, in the order first seen.
	agg      map[string]int
	aggOrder []string
}

func newPrinter(w io.Writer, asJSON bool) *printer {
	buf := bufio.NewWriterSize(w, outBufSize)
	mode := output.Text
	if asJSON {
		mode = output.JSON
	}
	return &printer{buf: buf, w: output.NewWriter(buf, mode), json: asJSON}
}

func (p *printer) flush() { p.buf.Flush() }

func (p *printer) warn(msg string) {
	p.buf.Flush()
	if p.bpftrace {
		fmt.Fprintln(os.Stderr, "WARNING: "+msg)
		return
	}
	fmt.Fprintln(os.Stderr, "uscope: warning: "+msg)
}

// fail prints an error that does not stop the session (a cat() of a file
// that cannot be read).
func (p *printer) fail(msg string) {
	p.buf.Flush()
	if p.bpftrace {
		fmt.Fprintln(os.Stderr, "ERROR: "+msg)
		return
	}
	fmt.Fprintln(os.Stderr, "uscope: error: "+msg)
}

// diagnostic prints a warning about the program with its source line and
// caret.
func (p *printer) diagnostic(e *lang.Error) {
	p.buf.Flush()
	if p.bpftrace {
		fmt.Fprintln(os.Stderr, e.Bpftrace())
		return
	}
	fmt.Fprintln(os.Stderr, "uscope: "+e.Detail())
}

// runtimeWarning prints a warning a probe sent, once: a helper's failure
// (-k) in bpftrace's words, with the return code ret, and in JSON as
// bpftrace's helper_error object on stdout.
func (p *printer) runtimeWarning(w *compile.RuntimeWarning, ret int64) {
	if w.Helper == "" {
		p.diagnostic(w.Error)
		return
	}
	msg := output.ErrnoText(syscall.Errno(-ret))
	if w.Helper == "map_lookup_elem" {
		msg = "Can't lookup map element because it does not exist."
	}
	if p.json {
		p.w.HelperError(output.ErrnoText(syscall.Errno(-ret)), w.Helper, ret, w.File, w.Pos.Line, w.Pos.Col)
		p.buf.Flush()
		return
	}
	e := *w.Error
	e.Msg = fmt.Sprintf("%s\nAdditional Info - helper: %s, retcode: %d", msg, w.Helper, ret)
	p.diagnostic(&e)
}

// traceRow is one row of `uscope trace` output.
type traceRow struct {
	Nanos    uint64
	PID, TID int
	Comm     string
	Func     string
	Msg      string
	CPU      int
	Stack    []output.Frame
	StackErr int
}

func traceOpts(o TraceOptions) output.TraceOptions {
	return output.TraceOptions{Timestamp: o.Timestamp, Time: o.Time, UserStack: o.UserStack,
		UnixTimestamp: o.UnixTimestamp, Address: o.Address, CPU: o.CPU}
}

func (p *printer) traceHeader(o TraceOptions) {
	if p.json {
		return
	}
	output.TraceHeader(p.buf, traceOpts(o))
	p.buf.Flush()
}

func (p *printer) traceRow(r traceRow, o TraceOptions) {
	if p.first == 0 {
		p.first = r.Nanos
	}
	ev := &output.TraceEvent{
		Time: time.Now(), Elapsed: time.Duration(r.Nanos - p.first),
		PID: r.PID, TID: r.TID, Comm: r.Comm, Func: r.Func, Msg: strings.TrimSuffix(r.Msg, "\n"),
		CPU: r.CPU, UserStack: r.Stack, UserStackErr: r.StackErr,
	}
	if o.Aggregate && !p.json {
		row := output.FormatTraceRow(traceOpts(o), ev)
		if p.agg == nil {
			p.agg = map[string]int{}
		}
		if p.agg[row] == 0 {
			p.aggOrder = append(p.aggOrder, row)
		}
		p.agg[row]++
		return
	}
	if p.json {
		output.TraceRowJSON(p.buf, traceOpts(o), ev)
		return
	}
	output.TraceRow(p.buf, traceOpts(o), ev)
}

// aggregated prints trace -A's rows, most frequent first, as bcc does:
// the row (and its stacks), "-->COUNT N", an empty line.
func (p *printer) aggregated() {
	sort.SliceStable(p.aggOrder, func(i, j int) bool { return p.agg[p.aggOrder[i]] > p.agg[p.aggOrder[j]] })
	for _, row := range p.aggOrder {
		fmt.Fprintf(p.buf, "%s-->COUNT %d\n\n", row, p.agg[row])
	}
	p.aggOrder, p.agg = nil, nil
}

// outBufSize is the size of the output buffer: large, so that a burst of
// events is written with few system calls; it is flushed after every drain
// of the ring buffer, so a slow stream of events is not held back.
const outBufSize = 1 << 20
