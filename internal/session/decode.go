package session

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

var le = binary.LittleEndian

// handle acts on one ring buffer record.
func (s *session) handle(rec []byte) error {
	if len(rec) < 8 {
		return nil
	}
	id := le.Uint64(rec)
	kind, idx := id>>32, int(uint32(id))
	if s.discard {
		return nil
	}
	if p := s.dec.pending; p != nil {
		s.dec.pending = nil
		if kind == compile.RecClear && idx < len(s.plan.Maps) && s.plan.Maps[idx] == p.md {
			// print(@m); clear(@m): each key is read and deleted at once,
			// so that an update between the two is printed next time
			// instead of being lost.
			s.printMap(p.md, p.top, p.div, true)
			return nil
		}
		s.printMap(p.md, p.top, p.div, false)
	}
	switch kind {
	case compile.RecPrintf:
		if idx >= len(s.dec.printfs) {
			return nil
		}
		s.printf(idx, rec)
	case compile.RecPrint:
		if idx < len(s.plan.Maps) && len(rec) >= 16 {
			// Held until the next record says whether clear() follows.
			packed := le.Uint64(rec[8:])
			s.dec.pending = &pendingPrint{s.plan.Maps[idx], int(packed >> 32), int(uint32(packed))}
		}
	case compile.RecClear:
		if idx < len(s.plan.Maps) {
			s.clearMap(s.plan.Maps[idx], false)
		}
	case compile.RecZero:
		if idx < len(s.plan.Maps) {
			s.clearMap(s.plan.Maps[idx], true)
		}
	case compile.RecExit:
		s.exited = true
		if !s.exitCalled && len(rec) >= 16 {
			s.exitCode = int(uint8(le.Uint64(rec[8:]))) // a process's exit status is 8 bits
		}
		s.exitCalled = true
	case compile.RecValue:
		if idx < len(s.plan.Values) {
			t := s.plan.Values[idx]
			s.out.w.Value(s.decode(t, rec[8:], 0))
		}
	case compile.RecTime:
		if idx < len(s.plan.Times) {
			s.out.w.Time(output.Strftime(s.plan.Times[idx], time.Now()))
		}
	case compile.RecRuntime:
		// Each warning once: a probe can hit it at every call.
		if idx < len(s.plan.Runtime) && !s.dec.warned[idx] && !s.cfg.NoWarnings {
			s.dec.warned[idx] = true
			var ret int64
			if len(rec) >= 16 {
				ret = int64(le.Uint64(rec[8:]))
			}
			s.out.runtimeWarning(s.plan.Runtime[idx], ret)
		}
	}
	return nil
}

// decoder holds what decoding needs, prepared once per plan: the parsed
// printf formats and a reused argument slice for each, and the record
// buffer the ring buffer reader copies into. Records of a printf of
// integers and strings decode and format with no allocation.
type decoder struct {
	rec     ringbuf.Record
	printfs []preparedPrintf
	// warned holds the runtime warnings already printed.
	warned []bool
	// pending is a print(@m) record read, not yet done (see handle).
	pending *pendingPrint
}

// pendingPrint is print(@m, top, div).
type pendingPrint struct {
	md       *compile.MapDesc
	top, div int
}

// flushPrint does the print(@m) held for the record after it, at the end
// of the records read for now.
func (s *session) flushPrint() {
	if p := s.dec.pending; p != nil {
		s.dec.pending = nil
		s.printMap(p.md, p.top, p.div, false)
	}
}

type preparedPrintf struct {
	desc *compile.PrintfDesc
	f    *output.Format // nil when the format does not parse
	args []output.Value
}

func newDecoder(s *session) *decoder {
	d := &decoder{printfs: make([]preparedPrintf, len(s.plan.Printfs)), warned: make([]bool, len(s.plan.Runtime))}
	for i, pd := range s.plan.Printfs {
		f, err := output.ParseFormat(pd.Format)
		if err != nil {
			f = nil
		} else if !s.plan.Trace {
			f.CInt() // bpftrace's printf; bcc trace's reads values whole
		}
		d.printfs[i] = preparedPrintf{desc: pd, f: f, args: make([]output.Value, len(pd.Args))}
	}
	return d
}

func (s *session) printf(idx int, rec []byte) {
	pp := &s.dec.printfs[idx]
	d := pp.desc
	if len(rec) < d.Size || pp.f == nil {
		return
	}
	args := pp.args
	for i, a := range d.Args {
		args[i] = s.decodeArg(a.Type, rec[a.Offset:])
	}
	f := pp.f
	if d.Action != "printf" && d.Action != "" {
		s.action(d, f.Sprintf(args))
		clear(args)
		return
	}
	if !s.plan.Trace {
		if s.cfg.Printf != nil {
			s.cfg.Printf(d.Format, args)
			clear(args)
			return
		}
		if s.cfg.Events != nil {
			s.event(f.Sprintf(args), rec)
		}
		s.out.w.Printf(f, args)
		clear(args) // drop the strings that point into rec
		return
	}
	if s.cfg.Trace.MaxEvents > 0 && s.events >= s.cfg.Trace.MaxEvents {
		clear(args)
		return // -M: no row after the last one asked for
	}
	msg := f.Sprintf(args)
	clear(args)
	if s.cfg.Trace.MsgFilter != "" && !strings.Contains(msg, s.cfg.Trace.MsgFilter) {
		return // -f: not a row asked for
	}
	h := rec[8:]
	ts := le.Uint64(h)
	pidTgid := le.Uint64(h[8:])
	comm := cString(h[16:32])
	cookie, cpu := uint64(le.Uint32(h[32:])), int(le.Uint32(h[36:]))
	label := ""
	if cookie < uint64(len(s.plan.Sites)) {
		label = s.plan.Sites[cookie].Name()
	}
	row := traceRow{
		Nanos: ts, PID: int(pidTgid >> 32), TID: int(uint32(pidTgid)), Comm: comm, CPU: cpu,
		Func: label, Msg: msg,
	}
	if s.cfg.Trace.UserStack && len(h) >= compile.TraceHeaderSize+16 {
		row.Stack, row.StackErr = s.frames(stackRef(h[compile.TraceHeaderSize:]))
	}
	if s.cfg.Events != nil {
		s.event(msg, rec)
	}
	s.out.traceRow(row, s.cfg.Trace)
	s.events++
	if s.cfg.Trace.MaxEvents > 0 && s.events >= s.cfg.Trace.MaxEvents {
		s.exited = true
	}
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// decodeArg decodes a printf argument that is formatted at once: a string
// points into the record instead of being copied.
func (s *session) decodeArg(t *compile.Type, b []byte) output.Value {
	switch t.Kind {
	case compile.KindInt:
		if len(b) < 8 {
			return output.Value{}
		}
		v := le.Uint64(b)
		if t.Pointee != nil {
			return output.PointerValue(v)
		}
		if t.Builtin != "" || t.Bool {
			return s.decode(t, b, 0) // integers that print as names
		}
		if t.Enum != nil {
			return output.EnumValue(int64(v), t.Enum.Names[int64(v)])
		}
		if t.Signed {
			return output.IntValue(int64(v), t.Size)
		}
		return output.UintValue(v, t.Size)
	case compile.KindString:
		if len(b) < t.StorageSize() || t.Size == 0 {
			return output.Value{}
		}
		raw := b[:t.Size]
		n := bytes.IndexByte(raw, 0)
		truncated := n < 0 || n == t.Size-1
		if n < 0 {
			n = len(raw)
		}
		var str string
		if n > 0 {
			str = unsafe.String(&raw[0], n)
		}
		return output.StringValue(str, truncated && t.Size > 16)
	}
	return s.decode(t, b, 0)
}

// decode turns the storage form of a value of type t into an output.Value.
func (s *session) decode(t *compile.Type, b []byte, pid int) output.Value {
	if len(b) < t.StorageSize() {
		return output.Value{}
	}
	switch t.Kind {
	case compile.KindInt:
		v := le.Uint64(b)
		if t.Pointee != nil {
			return output.PointerValue(v)
		}
		if t.Bool {
			return output.BoolValue(v&0xff != 0)
		}
		switch t.Builtin {
		case "strftime":
			return output.StringValue(output.Strftime(t.Format, bootTime(v)), false)
		case "username":
			return output.StringValue(userName(uint32(v)), false)
		case "strerror":
			return output.StringValue(output.Strerror(syscall.Errno(v)), false)
		case "signal_name":
			return output.StringValue(signalName(int64(v)), false)
		case "cgroup_path":
			return output.StringValue(cgroupPath(v), false)
		case "goitab", "goetype":
			// The word, which printf's %x prints, named by its dynamic
			// type in text (print(args), %s), as an enum is.
			w := output.UintValue(v, 8)
			if name, ok := s.goTypeName(t.GoBinary, v, t.Builtin == "goetype"); ok {
				w.Str = name
			}
			return w
		}
		if t.Enum != nil {
			return output.EnumValue(int64(v), t.Enum.Names[int64(v)])
		}
		if t.Signed {
			return output.IntValue(int64(v), t.Size)
		}
		return output.UintValue(v, t.Size)
	case compile.KindString:
		raw := b[:t.Size]
		n := bytes.IndexByte(raw, 0)
		truncated := n < 0 || n == t.Size-1
		if n < 0 {
			n = len(raw)
		}
		return output.StringValue(string(raw[:n]), truncated && t.Size > 16)
	case compile.KindBuf:
		n := int(le.Uint64(b))
		if n > t.Size {
			n = t.Size
		}
		switch t.Builtin {
		case "inet": // ntop(): the address's bytes, 4 or 16 of them
			return output.StringValue(net.IP(append([]byte(nil), b[8:8+n]...)).String(), false)
		case "macaddr":
			parts := make([]string, n)
			for i := range parts {
				parts[i] = fmt.Sprintf("%02X", b[8+i])
			}
			return output.StringValue(strings.Join(parts, ":"), false)
		}
		return output.BufferValue(append([]byte(nil), b[8:8+n]...), false)
	case compile.KindSym:
		return output.StringValue(s.plan.SymName(t.Builtin, le.Uint64(b)), false)
	case compile.KindUsym:
		return output.StringValue(s.symbolize(pid, le.Uint64(b)), false)
	case compile.KindStack:
		mode := s.stackMode(t)
		v := output.StackValue(s.stack(stackRef(b), mode, int(t.Max)))
		v.StackMode = mode
		return v
	case compile.KindTuple:
		var elems []output.Value
		off := 0
		for _, e := range t.Elems {
			elems = append(elems, s.decode(e, b[off:], pid))
			off += e.StorageSize()
		}
		tv := output.TupleValue(elems...)
		tv.Names, tv.Array = t.Names, t.Array
		return tv
	}
	return output.Value{}
}

// symbolize names a user address of the traced process.
func (s *session) symbolize(pid int, addr uint64) string {
	if pid == 0 {
		pid = s.pid
	}
	if name, off, _, ok := s.resolver.Symbolize(pid, addr); ok {
		if off == 0 {
			return name
		}
		return fmt.Sprintf("%s+%d", name, off)
	}
	return fmt.Sprintf("0x%x", addr)
}

// stack reads a user stack and formats its frames, at most max of them
// (ustack(N); 0: all): as bpftrace does, or with Config.Frame when set.
// The limit counts addresses, as bpftrace's does: with show_debug_info
// an address prints a line for each function inlined there too.
func (s *session) stack(ref stackValue, mode string, max int) []string {
	frames, errno := s.frames(ref)
	if errno != 0 {
		return []string{fmt.Sprintf("[unknown: stack not captured: error %d]", errno)}
	}
	if max > 0 && len(frames) > max {
		frames = frames[:max]
	}
	debug := s.plan.Config.ShowDebugInfo && s.cfg.Frame == nil
	out := make([]string, 0, len(frames))
	for i, f := range frames {
		switch {
		case debug && mode == "":
			out = append(out, s.sourceFrames(f, ref.pid, i > 0)...)
			continue
		case debug && mode == "perf":
			out = append(out, s.inlinedPerf(f, ref.pid, i > 0)...)
		}
		out = append(out, s.formatFrame(f, ref.pid, mode))
	}
	return out
}

// reportLosses prints records the ring buffer refused and updates full maps
// refused.
func (s *session) reportLosses() {
	var lost uint64
	var byProbe []string
	if m := s.coll.Map(compile.MapLost); m != nil {
		for i, p := range s.plan.Programs {
			var n uint64
			if err := m.Lookup(uint32(i), &n); err != nil || n == 0 {
				continue
			}
			lost += n
			byProbe = append(byProbe, fmt.Sprintf("%d at %s", n, s.programLabel(p)))
		}
	}
	if lost > 0 {
		s.out.w.Lost(lost)
		s.out.flush()
		s.out.warn(fmt.Sprintf("the ring buffer was full: lost %s; raise --ringbuf-size (now %d bytes)",
			strings.Join(byProbe, ", "), s.ringBufSize()))
	}
	em := s.coll.Map(compile.MapErrors)
	for _, md := range s.plan.Maps {
		var n uint64
		if em != nil {
			_ = em.Lookup(uint32(md.Index), &n)
		}
		if n > 0 {
			size := s.plan.Spec.Maps[md.Spec].MaxEntries
			s.out.flush()
			fmt.Fprintf(os.Stderr, "WARNING: Map full; can't update element: map @%s holds %d keys, %d updates were dropped; raise the limit with --map-size or let @%s = hash(N)\n", md.Name, size, n, md.Name)
		}
	}
}

// clearMap deletes every key of a map, or zeroes every value.
func (s *session) clearMap(md *compile.MapDesc, zero bool) {
	m := s.coll.Map(md.Spec)
	var keys [][]byte
	it := m.Iterate()
	key := make([]byte, md.KeySize)
	var val []byte
	if md.PerCPU {
		var vals [][]byte
		for it.Next(&key, &vals) {
			keys = append(keys, append([]byte(nil), key...))
		}
	} else {
		for it.Next(&key, &val) {
			keys = append(keys, append([]byte(nil), key...))
		}
	}
	for _, k := range keys {
		if !zero {
			_ = m.Delete(k)
			continue
		}
		if md.PerCPU {
			n, _ := ebpf.PossibleCPU()
			vals := make([][]byte, n)
			for i := range vals {
				vals[i] = make([]byte, md.ValueSize)
			}
			_ = m.Put(k, vals)
		} else {
			_ = m.Put(k, make([]byte, md.ValueSize))
		}
	}
}

// userName is the name of a user id, or the id when it has none.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// bootTime is the wall-clock time of a CLOCK_MONOTONIC reading (nsecs),
// from the wall-clock time of the clock's zero, taken once (as bpftrace
// does) so that two readings keep their distance exactly.
func bootTime(nsecs uint64) time.Time {
	bootOnce.Do(func() {
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		bootWall = time.Now().Add(-time.Duration(ts.Nano()))
	})
	return bootWall.Add(time.Duration(nsecs))
}

var (
	bootOnce sync.Once
	bootWall time.Time
)

// maxCatBytes bounds what cat() prints of a file, as bpftrace's
// max_cat_bytes (default 10240; the config's MaxCatBytes when set).
const maxCatBytes = 10240

// action does what cat, system, errorf, warnf and debugf ask, with their
// formatted text.
func (s *session) action(d *compile.PrintfDesc, text string) {
	switch d.Action {
	case "cat":
		b, err := os.ReadFile(text)
		if err != nil {
			// bpftrace's words, with C's text of the errno.
			s.out.fail(fmt.Sprintf("failed to open file '%s' (%s)", text, output.Strerror(err)))
			return
		}
		limit := maxCatBytes
		if n := s.plan.Config.MaxCatBytes; n > 0 {
			limit = n
		}
		if len(b) > limit {
			b = b[:limit]
		}
		s.out.w.Message("cat", string(b))
	case "system":
		s.out.flush()
		cmd := exec.Command("/bin/sh", "-c", text)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = s.out.buf, os.Stderr
		if s.cfg.JSON {
			// bpftrace's JSON carries the command's output as a message.
			cmd.Stdout = &out
		}
		if err := cmd.Run(); err != nil {
			if _, exited := err.(*exec.ExitError); !exited {
				s.out.warn(fmt.Sprintf("system(%q): %v", text, err))
			}
		}
		if s.cfg.JSON {
			s.out.w.Message("syscall", out.String())
		}
		s.out.flush()
	case "errorf", "warnf":
		if d.Action == "warnf" && s.cfg.NoWarnings {
			return
		}
		s.out.flush()
		level := "ERROR"
		if d.Action == "warnf" {
			level = "WARNING"
		}
		fmt.Fprintf(os.Stderr, "%s: %s: %s\n", lang.Location(s.plan.Source.File, d.Pos, d.End-d.Pos.Col), level, text)
		for _, m := range d.ExpandedFrom {
			// As bpftrace: each macro call the message came through.
			fmt.Fprintf(os.Stderr, "%s: %s: expanded from\n", lang.Location(s.plan.Source.File, m.Pos, m.End-m.Pos.Col), level)
			if u := lang.Underline(s.plan.Source.Source, m.Pos, m.End-m.Pos.Col); u != "" {
				fmt.Fprintln(os.Stderr, u)
			}
		}
	case "debugf":
		s.out.flush()
		fmt.Fprintf(os.Stderr, "debugf: %s\n", text)
	}
}

// signalName is glibc's strsignal(3) text of a signal, as main's stdlib
// signal_name gives it; N/A outside the signal numbers.
func signalName(n int64) string {
	switch {
	case n < 0 || n > 64:
		return "N/A"
	case n == 0 || n == 32 || n == 33:
		return fmt.Sprintf("Unknown signal %d", n)
	case n >= 34:
		return fmt.Sprintf("Real-time signal %d", n-34)
	}
	return output.Capitalize(syscall.Signal(n).String())
}

// programLabel names a program for messages: its probe, as written for
// BEGIN and END, else the first site's probe.
func (s *session) programLabel(p *compile.Program) string {
	if p.Special != nil || len(p.Sites) == 0 {
		return p.Kind
	}
	l := s.plan.Sites[p.Sites[0]].Probe
	if n := len(p.Sites) - 1; n > 0 {
		l += fmt.Sprintf(" (and %d more site%s)", n, plural(n))
	}
	return l
}

func (s *session) ringBufSize() int {
	if n := ringBufSizeFor(s.cfg.Program, s.cfg.RingBufSize); n > 0 {
		return n
	}
	return compile.DefaultRingBufSize
}
