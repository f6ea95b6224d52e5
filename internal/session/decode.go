package session

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/compile"
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
	switch kind {
	case compile.RecPrintf:
		if idx >= len(s.plan.Printfs) {
			return nil
		}
		s.printf(s.plan.Printfs[idx], rec)
	case compile.RecPrint:
		if idx < len(s.plan.Maps) && len(rec) >= 16 {
			packed := le.Uint64(rec[8:])
			s.printMap(s.plan.Maps[idx], int(packed>>32), int(uint32(packed)))
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
	case compile.RecValue:
		if idx < len(s.plan.Values) {
			t := s.plan.Values[idx]
			s.out.w.Value(s.decode(t, rec[8:], 0))
		}
	case compile.RecTime:
		if idx < len(s.plan.Times) {
			s.out.w.Time(output.Strftime(s.plan.Times[idx], time.Now()))
		}
	}
	return nil
}

func (s *session) printf(d *compile.PrintfDesc, rec []byte) {
	if len(rec) < d.Size {
		return
	}
	args := make([]output.Value, len(d.Args))
	for i, a := range d.Args {
		args[i] = s.decode(a.Type, rec[a.Offset:], 0)
	}
	f, err := output.ParseFormat(d.Format)
	if err != nil {
		return
	}
	if !s.plan.Trace {
		s.out.w.Printf(f, args)
		return
	}
	msg := f.Sprintf(args)
	h := rec[8:]
	ts := le.Uint64(h)
	pidTgid := le.Uint64(h[8:])
	comm := cString(h[16:32])
	cookie := le.Uint64(h[32:])
	label := ""
	if cookie < uint64(len(s.plan.Sites)) {
		label = s.plan.Sites[cookie].Func
	}
	row := traceRow{
		Nanos: ts, PID: int(pidTgid >> 32), TID: int(uint32(pidTgid)), Comm: comm,
		Func: label, Msg: msg,
	}
	if s.cfg.Trace.UserStack && len(h) >= compile.TraceHeaderSize+16 {
		id := int64(le.Uint64(h[compile.TraceHeaderSize:]))
		row.Stack, row.StackErr = s.frames(id, row.PID)
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
		return output.BufferValue(append([]byte(nil), b[8:8+n]...), false)
	case compile.KindSym:
		id := le.Uint64(b)
		if id >= uint64(len(s.plan.Sites)) {
			return output.StringValue(t.Builtin, false)
		}
		st := s.plan.Sites[id]
		if t.Builtin == "probe" {
			return output.StringValue(st.Probe, false)
		}
		return output.StringValue(st.Func, false)
	case compile.KindUsym:
		return output.StringValue(s.symbolize(pid, le.Uint64(b)), false)
	case compile.KindStack:
		id := int64(le.Uint64(b))
		spid := int(le.Uint64(b[8:]))
		frames := s.stack(id, spid)
		if t.Max > 0 && int64(len(frames)) > t.Max {
			frames = frames[:t.Max] // ustack(N)
		}
		return output.StackValue(frames)
	case compile.KindMapLen:
		if idx := le.Uint64(b); idx < uint64(len(s.plan.Maps)) {
			return output.UintValue(s.mapLen(s.plan.Maps[idx]), 8)
		}
		return output.UintValue(0, 8)
	case compile.KindTuple:
		var elems []output.Value
		off := 0
		for _, e := range t.Elems {
			elems = append(elems, s.decode(e, b[off:], pid))
			off += e.StorageSize()
		}
		tv := output.TupleValue(elems...)
		tv.Names = t.Names
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

// stack reads a user stack and formats its frames: as bpftrace does, or
// with Config.Frame when set.
func (s *session) stack(id int64, pid int) []string {
	frames, errno := s.frames(id, pid)
	if errno != 0 {
		return []string{fmt.Sprintf("[unknown: stack not captured: error %d]", errno)}
	}
	out := make([]string, len(frames))
	for i, f := range frames {
		if s.cfg.Frame != nil {
			out[i] = s.cfg.Frame(f)
		} else {
			out[i] = f.Bpftrace()
		}
	}
	return out
}

// frames reads a user stack from the stack map and symbolizes it; a
// negative id is the error bpf_get_stackid returned.
func (s *session) frames(id int64, pid int) ([]output.Frame, int) {
	if id < 0 {
		return nil, int(id)
	}
	m := s.coll.Maps[compile.MapStacks]
	if m == nil {
		return nil, 0
	}
	raw, err := m.LookupBytes(uint32(id))
	if err != nil || raw == nil {
		return nil, 0
	}
	if pid == 0 {
		pid = s.pid
	}
	var frames []output.Frame
	for i := 0; i+8 <= len(raw); i += 8 {
		pc := le.Uint64(raw[i:])
		if pc == 0 {
			break
		}
		f := output.Frame{Addr: pc}
		if name, off, obj, ok := s.resolver.Symbolize(pid, pc); ok {
			f.Sym, f.Off, f.Module = name, off, obj
		}
		if i == 0 {
			s.unmoveFrame(&f)
		}
		frames = append(frames, f)
	}
	return frames, 0
}

// reportLosses prints records the ring buffer refused and updates full maps
// refused.
func (s *session) reportLosses() {
	var lost uint64
	if m := s.coll.Maps[compile.MapLost]; m != nil {
		_ = m.Lookup(uint32(0), &lost)
	}
	if lost > 0 {
		s.out.w.Lost(lost)
		s.out.flush()
	}
	em := s.coll.Maps[compile.MapErrors]
	for _, md := range s.plan.Maps {
		var n uint64
		if em != nil {
			_ = em.Lookup(uint32(md.Index), &n)
		}
		if n > 0 {
			s.out.warn(fmt.Sprintf("map @%s was full (%d keys): %d updates were dropped; raise the limit with --map-size", md.Name, s.mapSize(), n))
		}
	}
}

func (s *session) mapSize() int {
	if s.cfg.MapSize > 0 {
		return s.cfg.MapSize
	}
	return 4096
}

// clearMap deletes every key of a map, or zeroes every value.
func (s *session) clearMap(md *compile.MapDesc, zero bool) {
	m := s.coll.Maps[md.Spec]
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
