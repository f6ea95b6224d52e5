package session

import (
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/compile"
)

// Event is one printf or trace event, handed to Config.Events as it is
// decoded. The process fields are set when the plan's records carry them
// (compile.Options.EventHeader, which Config.Events turns on).
type Event struct {
	// Time is when the probe fired (the kernel's clock, as wall time), or
	// when the event was decoded if the record has no time.
	Time time.Time
	// PID and TID are the process and thread that hit the probe; Comm is
	// the thread's name.
	PID, TID int
	Comm     string
	// Probe is the probe as the program names its site, canonical
	// ("uprobe:/usr/bin/x:main.work"), "" for BEGIN, END and interval
	// probes; Func is the function (demangled) or USDT probe name.
	Probe, Func string
	// Text is the formatted output, without its final newline.
	Text string
}

// event hands one decoded event to Config.Events.
func (s *session) event(text string, rec []byte) {
	ev := Event{Time: time.Now(), Text: strings.TrimSuffix(text, "\n")}
	if s.plan.EventHeader && len(rec) >= 8+compile.TraceHeaderSize {
		h := rec[8:]
		ev.Time = s.wallTime(le.Uint64(h))
		pidTgid := le.Uint64(h[8:])
		ev.PID, ev.TID = int(pidTgid>>32), int(uint32(pidTgid))
		ev.Comm = cString(h[16:32])
		if cookie := le.Uint32(h[32:]); int(cookie) < len(s.plan.Sites) {
			site := &s.plan.Sites[cookie]
			ev.Probe, ev.Func = site.Probe, site.Name()
		}
	}
	s.cfg.Events(ev)
}

// wallTime turns a CLOCK_MONOTONIC time (bpf_ktime_get_ns) into wall-clock
// time, with the offset between the clocks measured once.
func (s *session) wallTime(mono uint64) time.Time {
	if s.monoOffset == 0 {
		var ts unix.Timespec
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
			return time.Now()
		}
		s.monoOffset = time.Now().UnixNano() - ts.Nano()
	}
	return time.Unix(0, int64(mono)+s.monoOffset)
}
