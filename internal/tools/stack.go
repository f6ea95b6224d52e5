package tools

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/uscope/uscope/internal/output"
)

// StackOptions configure `uscope stack`.
type StackOptions struct {
	Options
	// Pattern is stackcount's pattern (see Pattern).
	Pattern string
	// Folded prints one line per stack, "comm;outer;...;inner count", for
	// flame graphs (-f).
	Folded bool
	// Offset prints frames as sym+0xoff (-s).
	Offset bool
	// OneProcess leaves out the "comm [pid]" line of each stack, as
	// stackcount does when it traces one process (-p, -c).
	OneProcess bool
	// Merge adds up the stacks of all processes and prints no process
	// line, as stackcount does without -P.
	Merge bool
	// Delimiter prints stackcount -d's "--" line between the kernel stack
	// (which a uprobe does not have) and the user stack; folded, a "-"
	// frame after the user frames.
	Delimiter bool
	// Addresses prints each frame's address before it (stackcount -v).
	Addresses bool
	// Format "pprof" or "svg" writes the stacks counted over the whole
	// run to Path at the end, as a pprof profile (calls/count) or a flame
	// graph, as 'uscope profile' writes its samples; "" or "folded"
	// prints them.
	Format, Path string
}

// StackFormats are the file formats of stack -f.
var StackFormats = []string{"pprof", "svg"}

// Stack builds bcc's stackcount: the user stacks that reach the matched
// functions, counted in the kernel in @stacks[comm, pid, ustack] (a stack
// map holds each distinct stack once) and symbolized in userspace when
// printed. Stacks of the traced process are walked with its objects'
// call frame information (compile/cfiunwind.go), so code built without
// frame pointers gives whole stacks.
func Stack(o StackOptions) (*Tool, error) {
	switch o.Format {
	case "", "folded":
	case "pprof", "svg":
		if o.Path == "" {
			return nil, fmt.Errorf("-f %s writes a file: give -o FILE", o.Format)
		}
		if o.Interval != 0 {
			return nil, fmt.Errorf("-f %s writes one file at the end: leave out -i", o.Format)
		}
	default:
		return nil, fmt.Errorf("unknown format %q; use -f folded, pprof or svg", o.Format)
	}
	ap, err := Pattern(o.Pattern)
	if err != nil {
		return nil, err
	}
	points, err := o.points(ap)
	if err != nil {
		return nil, err
	}
	prog, err := render("stack", struct {
		Probe string
		intervalData
	}{o.probeHeader(points), o.data("stacks")})
	if err != nil {
		return nil, err
	}
	return o.jsonTool(&Tool{
		Program: prog,
		Attached: func(probes int) {
			if !o.Folded {
				o.printf("%s", output.BCCTracing(probes, o.Pattern))
			}
		},
		Frame: func(f output.Frame) string {
			if o.Addresses {
				return fmt.Sprintf("%-16x %s", f.Addr, output.BCCFrame(f, o.Offset))
			}
			return output.BCCFrame(f, o.Offset)
		},
		Report: func(maps []*output.Map, final bool) {
			m := find(maps, "@stacks")
			if m == nil {
				return
			}
			if o.Format == "pprof" || o.Format == "svg" {
				if final {
					o.writeFile(m)
				}
				return
			}
			if !final || o.Interval == 0 || !empty([]*output.Map{m}) {
				o.printf("%s", o.stacksText(m))
			}
			if final && !o.Folded {
				o.printf("Detaching...\n")
			}
		},
	}, "@stacks"), nil
}

// writeFile writes the stacks as a pprof profile or a flame graph (the
// writers of 'uscope profile'): processes of one name merged.
func (o *StackOptions) writeFile(m *output.Map) {
	samples := mergeSamples(m, 2)
	err := writeSamples(o.Out, o.Path, o.Format, "Stacks of "+o.Pattern, samples, func(w io.Writer, st []output.Sampled) error {
		return output.PprofCounts(w, st, "calls")
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "uscope: stack: %v\n", err)
	}
}

// stackEntry is one counted stack.
type stackEntry struct {
	comm   string
	pid    int
	frames []string
	count  uint64
}

// stacksText prints the stacks of one interval, by ascending count.
func (o *StackOptions) stacksText(m *output.Map) string {
	var stacks []stackEntry
	index := map[string]int{}
	for _, e := range m.Entries {
		if len(e.Key) != 3 {
			continue
		}
		s := stackEntry{comm: keyText(e.Key[0]), pid: int(intOf(e.Key[1])), frames: e.Key[2].Frames, count: intOf(e.Value)}
		if o.Merge {
			s.comm, s.pid = "", 0
		}
		if o.Folded && o.Delimiter {
			s.frames = append([]string{"-"}, s.frames...)
		}
		if o.Folded || o.Merge {
			// Flame graphs merge the stacks of processes of one name.
			k := output.Folded(s.comm, s.frames)
			if i, ok := index[k]; ok {
				stacks[i].count += s.count
				continue
			}
			index[k] = len(stacks)
		}
		stacks = append(stacks, s)
	}
	slices.SortFunc(stacks, func(a, b stackEntry) int {
		if a.count != b.count {
			if a.count < b.count {
				return -1
			}
			return 1
		}
		if c := strings.Compare(output.Folded(a.comm, a.frames), output.Folded(b.comm, b.frames)); c != 0 {
			return c
		}
		return a.pid - b.pid
	})
	var sb strings.Builder
	if !o.Folded {
		sb.WriteString("\n")
	}
	if o.Timestamp {
		sb.WriteString(output.BCCTimestamp(o.now().Format("15:04:05")))
	}
	for _, s := range stacks {
		if o.Folded {
			sb.WriteString(output.FoldedLine(s.comm, s.frames, s.count))
			continue
		}
		comm := s.comm
		if o.OneProcess {
			comm = ""
		}
		if o.Delimiter {
			sb.WriteString("    --\n")
		}
		sb.WriteString(output.BCCStack(s.frames, comm, s.pid, s.count))
	}
	return sb.String()
}
