package session

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/uscope/uscope/internal/output"
)

// printer writes the session's output through output.Writer, buffered and
// flushed after every drain of the ring buffer.
type printer struct {
	buf  *bufio.Writer
	w    *output.Writer
	json bool
	// first is the kernel time of the first trace row, for -t.
	first uint64
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
	fmt.Fprintln(os.Stderr, "uscope: warning: "+msg)
}

// diagnostic prints a warning about the program, already labelled, with
// its source line and caret.
func (p *printer) diagnostic(text string) {
	p.buf.Flush()
	fmt.Fprintln(os.Stderr, "uscope: "+text)
}

// traceRow is one row of `uscope trace` output.
type traceRow struct {
	Nanos    uint64
	PID, TID int
	Comm     string
	Func     string
	Msg      string
	Stack    []output.Frame
	StackErr int
}

func traceOpts(o TraceOptions) output.TraceOptions {
	return output.TraceOptions{Timestamp: o.Timestamp, Time: o.Time, UserStack: o.UserStack,
		UnixTimestamp: o.UnixTimestamp, Address: o.Address}
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
		UserStack: r.Stack, UserStackErr: r.StackErr,
	}
	if p.json {
		output.TraceRowJSON(p.buf, traceOpts(o), ev)
		return
	}
	output.TraceRow(p.buf, traceOpts(o), ev)
}

// outBufSize is the size of the output buffer: large, so that a burst of
// events is written with few system calls; it is flushed after every drain
// of the ring buffer, so a slow stream of events is not held back.
const outBufSize = 1 << 20
