package tools

import (
	"fmt"
	"slices"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/resolve"
)

// LatencyOptions configure `uscope latency`.
type LatencyOptions struct {
	Options
	// Pattern is funclatency's pattern (see Pattern); USDT probes have no
	// return and are refused.
	Pattern string
	// Unit is "nsecs" (default), "usecs" (-u) or "msecs" (-m).
	Unit string
	// PerFunction prints one histogram per function and process (-F).
	PerFunction bool
	// Key is the expression that tells apart the callers whose calls are
	// timed (default tid). Go functions key on the goroutine instead
	// ("pid, goid", see GoKey), as goroutines move between threads while a
	// call runs.
	Key string
	// Functions, when non-zero, is the number of functions traced, for the
	// header: return probes of Go functions attach at every RET
	// instruction, so the number of probes does not tell.
	Functions int
	// Level, when positive, times only the outermost Level levels of
	// nested or recursive calls (funclatency -l); 0 times every level.
	Level int
}

// GoKey returns the key latency pairs the calls of the functions pattern
// matches by, in process pid (0: any): "pid, goid" when every one is a Go
// function, since a goroutine may move to another thread during a call and
// another goroutine may run on the first one; "" (the thread) otherwise, or
// when the pattern does not resolve (the session reports why). functions
// is the number of functions matched.
func GoKey(pattern string, pid int) (key string, functions int) {
	ap, err := Pattern(pattern)
	if err != nil || ap.Kind != lang.KindUprobe {
		return "", 0
	}
	r := resolve.New(resolve.Options{PID: pid})
	defer r.Close()
	sites, err := r.Resolve(ap)
	if err != nil || len(sites) == 0 {
		return "", 0
	}
	for _, s := range sites {
		if s.GoFunc == "" || s.GoAsm {
			return "", 0
		}
	}
	return "pid, goid", len(sites)
}

// latencyUnits are the units of -u and -m, as bcc names them, and their
// size in nanoseconds.
var latencyUnits = map[string]int64{"nsecs": 1, "usecs": 1000, "msecs": 1000000}

// Latency builds bcc's funclatency: the time from each entry of the
// matched functions to its return, as a log2 histogram in the kernel
// (@latency), with the average, total and count from @total.
//
// The entry stores the time in @start[key, depth] and increments
// @depth[key]; the return decrements it and takes the start time of its own
// depth, so nested and recursive calls of the matched functions each pair
// with their own return. A return without a recorded entry (the call began
// before the probes were attached) is not counted.
func Latency(o LatencyOptions) (*Tool, error) {
	ap, err := Pattern(o.Pattern)
	if err != nil {
		return nil, err
	}
	if ap.Kind == lang.KindUSDT {
		return nil, fmt.Errorf("pattern %q: a USDT probe has no return to time; give functions", o.Pattern)
	}
	if o.Unit == "" {
		o.Unit = "nsecs"
	}
	div, ok := latencyUnits[o.Unit]
	if !ok {
		return nil, fmt.Errorf("unknown unit %q", o.Unit)
	}
	if o.Key == "" {
		o.Key = "tid"
	}
	entry, err := o.points(ap)
	if err != nil {
		return nil, err
	}
	ret, err := o.points(withKind(ap, lang.KindUretprobe))
	if err != nil {
		return nil, err
	}
	prog, err := render("latency", struct {
		Entry, Return, Key string
		PerFunction        bool
		Divisor            int64
		Level              int
		intervalData
	}{o.probeHeader(entry), ret, o.Key, o.PerFunction, div, o.Level, o.data("latency", "total")})
	if err != nil {
		return nil, err
	}
	var hist *output.Map // the histogram of this interval, until @total comes
	return o.jsonTool(&Tool{
		Program: prog,
		Attached: func(probes int) {
			if o.Functions > 0 {
				probes = 2 * o.Functions
			}
			o.printf("%s", output.BCCTracing(probes/2, o.Pattern))
		},
		Report: func(maps []*output.Map, final bool) {
			// Each interval prints @latency, then @total.
			if h := find(maps, "@latency"); h != nil {
				hist = h
			}
			total := find(maps, "@total")
			if total == nil {
				return
			}
			if hist != nil && (!final || o.Interval == 0 || !empty([]*output.Map{hist})) {
				o.printf("%s", o.latencyText(hist, total, div))
			}
			hist = nil
			if final {
				o.printf("Detaching...\n")
			}
		},
	}, "@latency", "@total"), nil
}

// latencyText is one interval of funclatency's output: the histogram (or
// one per function with -F), then the average.
func (o *LatencyOptions) latencyText(hist, total *output.Map, div int64) string {
	var sb strings.Builder
	sb.WriteString("\n")
	if o.Timestamp {
		sb.WriteString(output.BCCTimestamp(o.now().Format("15:04:05")))
	}
	if o.PerFunction {
		type section struct {
			name    string
			pid     int64
			buckets []uint64
		}
		var secs []section
		for _, e := range hist.Entries {
			if len(e.Key) != 2 {
				continue
			}
			secs = append(secs, section{keyText(e.Key[0]), int64(intOf(e.Key[1])), e.Buckets})
		}
		slices.SortFunc(secs, func(a, b section) int {
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return int(a.pid - b.pid)
		})
		for _, s := range secs {
			fmt.Fprintf(&sb, "\nFunction = %s [%d]\n", s.name, s.pid)
			sb.WriteString(output.BCCLog2Hist(s.buckets, o.Unit))
		}
	} else {
		buckets := sumBuckets(hist)
		sb.WriteString(output.BCCLog2Hist(buckets, o.Unit))
	}
	var count, sum int64
	for _, e := range total.Entries {
		count += e.Count
		sum += e.Sum
	}
	if count > 0 {
		t := sum / div
		fmt.Fprintf(&sb, "\navg = %d %s, total: %d %s, count: %d\n\n", t/count, o.Unit, t, o.Unit, count)
	}
	return sb.String()
}
