package output

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func traceEvents() []*TraceEvent {
	t0 := time.Date(2024, 3, 5, 14, 7, 9, 123456789, time.UTC)
	return []*TraceEvent{
		{
			Time: t0, Elapsed: 1234567 * time.Microsecond, CPU: 3, PID: 4242, TID: 4243,
			Comm: "app", Func: "malloc", Msg: "size 16",
			UserStack: []Frame{
				{Addr: 0x7f5133b1f829, Sym: "malloc", Off: 0x19, Module: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
				{Addr: 0x55d87f0b0a60, Sym: "main", Off: 0x40, Module: "/usr/bin/app"},
				{Addr: 0x7ffce19acea8},
			},
			KernelStackErr: -14,
		},
		{
			Time: t0.Add(time.Hour), Elapsed: 12345678901 * time.Nanosecond, CPU: 12, PID: 1, TID: 1234567,
			Comm: "a-very-long-command-name", Func: "a_function_with_a_long_name", Msg: "",
			UserStackErr: -14,
		},
	}
}

func TestTraceGolden(t *testing.T) {
	tests := []struct {
		name string
		opts TraceOptions
	}{
		{"plain", TraceOptions{}},
		{"trivial", TraceOptions{Trivial: true}},
		{"timestamp", TraceOptions{Timestamp: true}},
		{"unix timestamp", TraceOptions{Timestamp: true, UnixTimestamp: true}},
		{"time", TraceOptions{Time: true}},
		{"time and timestamp", TraceOptions{Time: true, Timestamp: true}},
		{"cpu", TraceOptions{CPU: true, Time: true}},
		{"user stack", TraceOptions{UserStack: true}},
		{"user stack addresses", TraceOptions{UserStack: true, Address: true}},
		{"both stacks", TraceOptions{UserStack: true, KernelStack: true}},
	}
	var text, js bytes.Buffer
	for _, tt := range tests {
		fmt.Fprintf(&text, "=== %s\n", tt.name)
		if err := TraceHeader(&text, tt.opts); err != nil {
			t.Fatal(err)
		}
		for _, ev := range traceEvents() {
			if err := TraceRow(&text, tt.opts, ev); err != nil {
				t.Fatal(err)
			}
			var line bytes.Buffer
			if err := TraceRowJSON(&line, tt.opts, ev); err != nil {
				t.Fatal(err)
			}
			checkJSONLines(t, tt.name, line.Bytes())
			js.Write(line.Bytes())
		}
	}
	golden(t, "trace_text", text.Bytes())
	golden(t, "trace_json", js.Bytes())
}

func TestTraceHeader(t *testing.T) {
	// The header of bcc's trace.py, checked against its format strings.
	tests := []struct {
		opts TraceOptions
		want string
	}{
		{TraceOptions{}, "PID     TID     COMM            FUNC             -\n"},
		{TraceOptions{Trivial: true}, "PID     TID     COMM            FUNC             \n"},
		{TraceOptions{Time: true}, "TIME     PID     TID     COMM            FUNC             -\n"},
		{TraceOptions{Timestamp: true, UnixTimestamp: true, CPU: true}, "TIME              CPU PID     TID     COMM            FUNC             -\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := TraceHeader(&b, tt.opts); err != nil || b.String() != tt.want {
			t.Errorf("TraceHeader(%+v) = %q, %v; want %q", tt.opts, b.String(), err, tt.want)
		}
	}
}

func TestTraceTimeColumn(t *testing.T) {
	// bcc prints "%.6f" of the offset and keeps 8 characters; the
	// expectations come from Python: ('%.6f' % (1e-9*ns))[:8].
	tests := []struct {
		elapsed time.Duration
		want    string
	}{
		{0, "0.000000"},
		{1500 * time.Millisecond, "1.500000"},
		{12345678901 * time.Nanosecond, "12.34567"},
		{1234567890123 * time.Nanosecond, "1234.567"},
		{999999999 * time.Nanosecond, "1.000000"},
		{9999999500 * time.Nanosecond, "10.00000"},
		{2500000500 * time.Nanosecond, "2.500001"},
		{1000000500 * time.Nanosecond, "1.000001"},
	}
	for _, tt := range tests {
		row := FormatTraceRow(TraceOptions{Timestamp: true}, &TraceEvent{Elapsed: tt.elapsed})
		if got := row[:8]; got != tt.want {
			t.Errorf("elapsed %v: TIME = %q, want %q", tt.elapsed, got, tt.want)
		}
		if row[8] != ' ' {
			t.Errorf("no space after TIME in %q", row)
		}
	}
}

func TestFrameFormats(t *testing.T) {
	known := Frame{Addr: 0x7f5133b1f829, Sym: "syscall", Off: 25, Module: "/usr/lib/x86_64-linux-gnu/libc.so.6"}
	unknown := Frame{Addr: 0x7ffce19acea8}
	moduleOnly := Frame{Addr: 0x1000, Module: "/usr/bin/app"}
	tests := []struct{ got, want string }{
		{known.Bpftrace(), "syscall+25"},
		{unknown.Bpftrace(), "0x7ffce19acea8"},
		// Checked against bpftrace 0.17's ustack(perf).
		{known.Perf(), "7f5133b1f829 syscall+25 (/usr/lib/x86_64-linux-gnu/libc.so.6)"},
		{unknown.Perf(), "7ffce19acea8 0x7ffce19acea8 ([unknown])"},
		{known.BCC(false), "syscall+0x19 [libc.so.6]"},
		{known.BCC(true), "    7f5133b1f829 syscall+0x19 [libc.so.6]"},
		{unknown.BCC(false), "[unknown]"},
		{moduleOnly.BCC(false), "[unknown] [app]"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestStackGolden(t *testing.T) {
	frames := []string{"syscall+25", "0x7ffce19acea8", "0x55d87f0b0a60"}
	perf := []string{
		Frame{Addr: 0x7f5133b1f829, Sym: "syscall", Off: 25, Module: "/usr/lib/x86_64-linux-gnu/libc.so.6"}.Perf(),
		Frame{Addr: 0x7ffce19acea8}.Perf(),
	}
	var b bytes.Buffer
	b.WriteString("=== print(ustack)\n")
	PrintValue(&b, StackValue(frames))
	b.WriteString("=== printf(\"%s|\\n\", ustack)\n")
	f, _ := ParseFormat("%s|\n")
	f.Fprintf(&b, []Value{StackValue(frames)})
	b.WriteString("=== map key\n")
	Stack(&b, frames, KeyIndent)
	b.WriteString("=== perf\n")
	Stack(&b, perf, PerfIndent)
	b.WriteString("=== empty\n")
	Stack(&b, nil, ValueIndent)
	b.WriteString("=== folded\n")
	b.WriteString(FoldedLine("app", []string{"malloc", "alloc_thing", "main", "__libc_start_main"}, 42))
	b.WriteString(FoldedLine("", []string{"inner", "outer"}, 1))
	b.WriteString(FoldedLine("my app", []string{"std::map<a;b>::find", "multi\nline"}, 7))
	b.WriteString(FoldedLine("idle", nil, 3))
	golden(t, "stacks", b.Bytes())
}

func TestFolded(t *testing.T) {
	tests := []struct {
		comm   string
		frames []string
		want   string
	}{
		{"app", []string{"inner", "mid", "outer"}, "app;outer;mid;inner"},
		{"", []string{"inner", "outer"}, "outer;inner"},
		{"app", nil, "app"},
		{"a;b", []string{"x;y"}, "a:b;x:y"},
	}
	for _, tt := range tests {
		if got := Folded(tt.comm, tt.frames); got != tt.want {
			t.Errorf("Folded(%q, %q) = %q, want %q", tt.comm, tt.frames, got, tt.want)
		}
		if got := FoldedLine(tt.comm, tt.frames, 5); got != tt.want+" 5\n" {
			t.Errorf("FoldedLine = %q", got)
		}
	}
}

func TestWriter(t *testing.T) {
	f, err := ParseFormat("pid %d comm %s\n")
	if err != nil {
		t.Fatal(err)
	}
	run := func(mode Mode) string {
		var b bytes.Buffer
		w := NewWriter(&b, mode)
		if w.Mode() != mode {
			t.Fatal("Mode")
		}
		w.AttachedProbes(1)
		w.AttachedProbes(3)
		w.Printf(f, []Value{i64(42), str("a\"b\\c\x01\xff")})
		w.Time("12:00:00\n")
		w.Message("join", "a b c\n")
		w.Lost(7)
		w.Value(i64(9))
		w.Map(&Map{Name: "@c", Kind: AggCount, Entries: []Entry{{Key: key("k"), Value: u64(1)}}}, PrintOptions{})
		w.MapsAtExit(nil)
		if w.Err() != nil {
			t.Fatal(w.Err())
		}
		return b.String()
	}
	text := run(Text)
	wantText := "Attaching 1 probe...\nAttaching 3 probes...\npid 42 comm a\"b\\c\x01\xff\n12:00:00\na b c\nLost 7 events\n9\n@c[k]: 1\n\n\n"
	if text != wantText {
		t.Errorf("text output\n%q\nwant\n%q", text, wantText)
	}
	js := run(JSON)
	checkJSONLines(t, "writer", []byte(js))
	golden(t, "writer_json", []byte(js))
	if !strings.Contains(js, `{"type": "lost_events", "data": {"events": 7}}`) {
		t.Errorf("no lost_events object in\n%s", js)
	}
	if !strings.Contains(js, `"data": "pid 42 comm a\"b\\c\u0001\ufffd\n"`) {
		t.Errorf("printf not escaped like bpftrace:\n%s", js)
	}

	var b bytes.Buffer
	Lost(&b, 3)
	LostJSON(&b, 3)
	if got := b.String(); got != "Lost 3 events\n{\"type\": \"lost_events\", \"data\": {\"events\": 3}}\n" {
		t.Errorf("Lost, LostJSON = %q", got)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, fmt.Errorf("write %d failed", f.n)
}

func TestWriterKeepsFirstError(t *testing.T) {
	fw := &failWriter{}
	w := NewWriter(fw, Text)
	w.Lost(1)
	w.Lost(2)
	if err := w.Value(i64(1)); err == nil || err.Error() != "write 1 failed" || fw.n != 1 {
		t.Errorf("err = %v after %d writes", err, fw.n)
	}
}

func TestJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\s\n\r\t", `"q\"b\\s\n\r\t"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"héllo ☃", `"héllo ☃"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
	}
	for _, tt := range tests {
		if got := jsonString(tt.in); got != tt.want {
			t.Errorf("jsonString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
