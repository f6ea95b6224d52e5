package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// TraceOptions are the flags of uscope trace (bcc's trace.py) that change
// its columns.
type TraceOptions struct {
	// Timestamp (-t) adds a TIME column with seconds since the trace
	// started (TraceRow.Elapsed), "%.6f" cut to 8 characters as bcc does.
	Timestamp bool
	// UnixTimestamp (-u, with -t) prints the wall clock as Unix seconds
	// instead, "%.6f" cut to 17 characters, in a 17-wide column.
	UnixTimestamp bool
	// Time (-T) adds a TIME column with the local wall clock as HH:MM:SS.
	// With Timestamp too, Timestamp wins, as in bcc.
	Time bool
	// CPU (-C) adds a CPU column.
	CPU bool
	// KernelStack (-K) and UserStack (-U) print stacks below each row,
	// then an empty line.
	KernelStack, UserStack bool
	// Address (-a) prints each frame's address before its symbol.
	Address bool
	// Trivial is set when every probe has no format string (bcc's default
	// action): the header's last column is then empty instead of "-".
	Trivial bool
}

// TraceEvent is one event printed by uscope trace.
type TraceEvent struct {
	// Time is the event's wall-clock time (for -T and -u).
	Time time.Time
	// Elapsed is the time since the trace started (for -t).
	Elapsed time.Duration
	// CPU is the CPU the event fired on.
	CPU int
	// PID is the process (thread group) id, TID the thread id.
	PID, TID int
	// Comm is the thread's name.
	Comm string
	// Func is the probe's display name: the function, or the USDT probe's
	// name.
	Func string
	// Msg is the formatted message.
	Msg string
	// KernelStack and UserStack are the stacks, innermost frame first.
	KernelStack, UserStack []Frame
	// KernelStackErr and UserStackErr, when negative, are the errors of
	// capturing the stacks (such as -14 for EFAULT); bcc prints the number
	// in place of the frames.
	KernelStackErr, UserStackErr int
}

func (o TraceOptions) printTime() bool { return o.Timestamp || o.Time }

// timeWidth returns the width of the TIME column.
func (o TraceOptions) timeWidth() int {
	if o.UnixTimestamp {
		return 17
	}
	return 8
}

// padRight pads s with spaces to n bytes.
func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// TraceHeader writes bcc trace's header line, such as
//
//	PID     TID     COMM            FUNC             -
//
// preceded by TIME and CPU columns when the options ask for them. JSON
// output has no header.
func TraceHeader(w io.Writer, opts TraceOptions) error {
	var sb strings.Builder
	if opts.printTime() {
		sb.WriteString(padRight("TIME", opts.timeWidth()) + " ")
	}
	if opts.CPU {
		sb.WriteString("CPU ")
	}
	last := "-"
	if opts.Trivial {
		last = ""
	}
	fmt.Fprintf(&sb, "%-7s %-7s %-15s %-16s %s\n", "PID", "TID", "COMM", "FUNC", last)
	_, err := io.WriteString(w, sb.String())
	return err
}

// traceTime returns the TIME column's text, before padding.
func (o TraceOptions) traceTime(row *TraceEvent) string {
	if o.Timestamp {
		var s string
		if o.UnixTimestamp {
			s = strconv.FormatFloat(1e-9*float64(row.Time.UnixNano()), 'f', 6, 64)
			return s[:min(len(s), 17)]
		}
		s = strconv.FormatFloat(1e-9*float64(row.Elapsed.Nanoseconds()), 'f', 6, 64)
		return s[:min(len(s), 8)]
	}
	return row.Time.Format("15:04:05")
}

// FormatTraceRow returns one event as bcc trace prints it: the optional
// TIME and CPU columns, then "%-7d %-7d %-15s %-16s %s" of PID, TID, COMM,
// FUNC and the message, then the requested stacks, one frame per line
// indented by 8 spaces in bcc's "sym+0xoff [module]" form, and an empty
// line after them.
func FormatTraceRow(opts TraceOptions, row *TraceEvent) string {
	var sb strings.Builder
	if opts.printTime() {
		sb.WriteString(padRight(opts.traceTime(row), opts.timeWidth()) + " ")
	}
	if opts.CPU {
		sb.WriteString(padRight(strconv.Itoa(row.CPU), 3) + " ")
	}
	fmt.Fprintf(&sb, "%-7d %-7d %-15s %-16s %s\n", row.PID, row.TID, row.Comm, row.Func, row.Msg)
	// bcc prints a stack's capture error without a newline, and the empty
	// line that follows the stacks ends it. When the kernel stack failed
	// and a user stack follows, uscope ends the error's line itself rather
	// than run the user stack's first frame into it.
	writeStack := func(frames []Frame, errno int, last bool) {
		if errno < 0 {
			sb.WriteString("        " + strconv.Itoa(errno))
			if !last {
				sb.WriteByte('\n')
			}
			return
		}
		for _, f := range frames {
			sb.WriteString("        " + f.BCC(opts.Address) + "\n")
		}
	}
	if opts.KernelStack {
		writeStack(row.KernelStack, row.KernelStackErr, !opts.UserStack)
	}
	if opts.UserStack {
		writeStack(row.UserStack, row.UserStackErr, true)
	}
	if opts.KernelStack || opts.UserStack {
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TraceRow writes one event in bcc trace's format; see FormatTraceRow.
func TraceRow(w io.Writer, opts TraceOptions, row *TraceEvent) error {
	_, err := io.WriteString(w, FormatTraceRow(opts, row))
	return err
}

// FormatTraceRowJSON returns one event of uscope trace --json as one line:
//
//	{"type": "trace", "data": {"time": "12:00:01", "pid": 42, "tid": 43,
//	"comm": "app", "func": "malloc", "msg": "size 16"}}
//
// (on one line). "time" appears with -T as HH:MM:SS, "elapsed" with -t as
// seconds, "timestamp" with -t -u as Unix seconds, "cpu" with -C; "kstack"
// and "ustack" with -K and -U are arrays of frames
// {"addr": "0x...", "sym": "main", "offset": 16, "module": "/bin/app"},
// innermost first, or the capture error as a number. The envelope and
// spacing follow bpftrace's NDJSON, so one reader handles both.
func FormatTraceRowJSON(opts TraceOptions, row *TraceEvent) string {
	var sb strings.Builder
	sb.WriteString(`{"type": "trace", "data": {`)
	if opts.Timestamp {
		if opts.UnixTimestamp {
			sb.WriteString(`"timestamp": ` + strconv.FormatFloat(1e-9*float64(row.Time.UnixNano()), 'f', 6, 64) + ", ")
		} else {
			sb.WriteString(`"elapsed": ` + strconv.FormatFloat(row.Elapsed.Seconds(), 'f', 6, 64) + ", ")
		}
	} else if opts.Time {
		sb.WriteString(`"time": "` + row.Time.Format("15:04:05") + `", `)
	}
	if opts.CPU {
		sb.WriteString(`"cpu": ` + strconv.Itoa(row.CPU) + ", ")
	}
	sb.WriteString(`"pid": ` + strconv.Itoa(row.PID) + `, "tid": ` + strconv.Itoa(row.TID) +
		`, "comm": ` + jsonString(row.Comm) + `, "func": ` + jsonString(row.Func) +
		`, "msg": ` + jsonString(row.Msg))
	stack := func(name string, frames []Frame, errno int) {
		sb.WriteString(`, "` + name + `": `)
		if errno < 0 {
			sb.WriteString(strconv.Itoa(errno))
			return
		}
		sb.WriteByte('[')
		for i, f := range frames {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(`{"addr": "0x` + strconv.FormatUint(f.Addr, 16) + `"`)
			if f.Sym != "" {
				sb.WriteString(`, "sym": ` + jsonString(f.Sym) + `, "offset": ` + strconv.FormatUint(f.Off, 10))
			}
			if f.Module != "" {
				sb.WriteString(`, "module": ` + jsonString(f.Module))
			}
			sb.WriteByte('}')
		}
		sb.WriteByte(']')
	}
	if opts.KernelStack {
		stack("kstack", row.KernelStack, row.KernelStackErr)
	}
	if opts.UserStack {
		stack("ustack", row.UserStack, row.UserStackErr)
	}
	sb.WriteString("}}\n")
	return sb.String()
}

// TraceRowJSON writes one event as a JSON line; see FormatTraceRowJSON.
func TraceRowJSON(w io.Writer, opts TraceOptions, row *TraceEvent) error {
	_, err := io.WriteString(w, FormatTraceRowJSON(opts, row))
	return err
}
