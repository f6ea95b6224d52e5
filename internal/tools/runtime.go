package tools

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/resolve"
)

// The report writers of the language-runtime tools — calls (bcc's ucalls),
// objnew (uobjnew), flow (uflow), gc (ugc), threads (uthreads), stat
// (ustat) — in uscope's layout and, under bcc's names (BCC set), in the
// layout bcc's tools/lib/u*.py print. The programs come from
// internal/runtimes; the rows of flow, gc and threads arrive as printf
// arguments (session.Config.Printf) and are laid out here, never printed
// and parsed again.

// FindMap returns the map named name ("@calls") of maps, or nil.
func FindMap(maps []*output.Map, name string) *output.Map { return find(maps, name) }

// ValueInt is an integer value as int64.
func ValueInt(v output.Value) int64 {
	if v.Signed {
		return v.Int
	}
	return int64(v.Uint)
}

// MethodName is class.method (uscope's layout gives Python's file:function),
// or method alone when the runtime gives no class. bcc joins with "."
// in every language.
func MethodName(lang, class, method string, bcc bool) string {
	if class == "" {
		return method
	}
	if lang == "python" && !bcc {
		return class + ":" + method
	}
	return class + "." + method
}

func methodOf(lang string, key []output.Value, bcc bool) string {
	if len(key) != 2 {
		return ""
	}
	return MethodName(lang, key[0].Str, key[1].Str, bcc)
}

// Calls prints the calls tool's table.
type Calls struct {
	Lang string
	// Top keeps the Top last rows (the most calls, or time with Millis...).
	Top    int
	Millis bool
	BCC    bool
	// Live clears the screen before each table and says when it was drawn
	// (--top on a terminal).
	Live bool
}

// Write prints one table: METHOD, # CALLS and, with times, TIME, sorted
// ascending by time (or calls), so that the largest is last. bcc's ucalls
// prints an empty line before each table.
func (c Calls) Write(w io.Writer, calls, times *output.Map) {
	type row struct {
		name  string
		n, ns int64
	}
	rows := map[string]*row{}
	for _, e := range calls.Entries {
		n := methodOf(c.Lang, e.Key, c.BCC)
		rows[n] = &row{name: n, n: ValueInt(e.Value)}
	}
	if times != nil {
		for _, e := range times.Entries {
			if r := rows[methodOf(c.Lang, e.Key, c.BCC)]; r != nil {
				r.ns = ValueInt(e.Value)
			}
		}
	}
	var list []*row
	for _, r := range rows {
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b *row) int {
		if times != nil && a.ns != b.ns {
			return cmp.Compare(a.ns, b.ns)
		}
		if a.n != b.n {
			return cmp.Compare(a.n, b.n)
		}
		return strings.Compare(a.name, b.name)
	})
	if c.Top > 0 && len(list) > c.Top {
		list = list[len(list)-c.Top:]
	}
	unit, div := "us", 1000.0
	if c.Millis {
		unit, div = "ms", 1e6
	}
	if c.Live {
		fmt.Fprintf(w, "%s%s  top %d of %d  (Ctrl-C to end)\n\n", clearScreen, time.Now().Format("15:04:05"), len(list), len(rows))
	}
	if c.BCC {
		fmt.Fprintln(w)
		if times == nil {
			fmt.Fprintf(w, "%-50s %8s\n", "METHOD", "# CALLS")
		} else {
			fmt.Fprintf(w, "%-50s %8s %8s\n", "METHOD", "# CALLS", "TIME ("+unit+")")
		}
		for _, r := range list {
			if times == nil {
				fmt.Fprintf(w, "%-50s %8d\n", r.name, r.n)
			} else {
				fmt.Fprintf(w, "%-50s %8d %6.2f\n", r.name, r.n, float64(r.ns)/div)
			}
		}
		return
	}
	if times == nil {
		fmt.Fprintf(w, "%-50s %8s\n", "METHOD", "# CALLS")
		for _, r := range list {
			fmt.Fprintf(w, "%-50s %8d\n", r.name, r.n)
		}
		return
	}
	fmt.Fprintf(w, "%-50s %8s %16s\n", "METHOD", "# CALLS", "TIME ("+unit+")")
	for _, r := range list {
		fmt.Fprintf(w, "%-50s %8d %16.2f\n", r.name, r.n, float64(r.ns)/div)
	}
}

// PairReport is a session Report hook for a tool that keeps two maps,
// first and (when paired) second, written one after the other each
// interval, and at the end.
func PairReport(first, second string, paired, intervals bool, write func(a, b *output.Map)) func([]*output.Map, bool) {
	var stash *output.Map
	return func(maps []*output.Map, final bool) {
		if final {
			a, b := find(maps, first), find(maps, second)
			// With intervals, the end prints only what came in after the
			// last one (the traced process exited in between).
			if intervals && (a == nil || len(a.Entries) == 0) {
				return
			}
			if a == nil {
				a = &output.Map{Name: first}
			}
			if paired && b == nil {
				b = &output.Map{Name: second}
			}
			write(a, b)
			return
		}
		for _, m := range maps {
			switch {
			case m.Name == first && !paired:
				write(m, nil)
			case m.Name == first:
				stash = m
			case m.Name == second && stash != nil:
				write(stash, m)
				stash = nil
			}
		}
	}
}

// ObjNew prints the objnew tool's table.
type ObjNew struct {
	Lang               string
	TopCount, TopBytes int
	BCC                bool
}

// Write prints TYPE, ALLOCS, BYTES, ascending (bcc: by bytes, or by count
// with -C), the Top last rows.
func (o ObjNew) Write(w io.Writer, objs, bytes *output.Map) {
	type row struct {
		name     string
		n, bytes int64
	}
	rows := map[string]*row{}
	name := func(k []output.Value) string {
		if len(k) != 1 {
			return ""
		}
		if o.Lang == "c" {
			return fmt.Sprintf("block size %d", ValueInt(k[0]))
		}
		return k[0].Str
	}
	for _, e := range objs.Entries {
		rows[name(e.Key)] = &row{name: name(e.Key), n: ValueInt(e.Value)}
	}
	if bytes != nil {
		for _, e := range bytes.Entries {
			if r := rows[name(e.Key)]; r != nil {
				r.bytes = ValueInt(e.Value)
			}
		}
	}
	var list []*row
	for _, r := range rows {
		list = append(list, r)
	}
	bySize := o.TopBytes > 0 || (o.BCC && o.TopCount == 0)
	slices.SortFunc(list, func(a, b *row) int {
		if bySize && a.bytes != b.bytes {
			return cmp.Compare(a.bytes, b.bytes)
		}
		if a.n != b.n {
			return cmp.Compare(a.n, b.n)
		}
		return strings.Compare(a.name, b.name)
	})
	top := max(o.TopCount, o.TopBytes)
	if top > 0 && len(list) > top {
		list = list[len(list)-top:]
	}
	if o.BCC {
		// The layout of uobjnew_example.txt.
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-30s %8s %12s\n", "TYPE", "# ALLOCS", "# BYTES")
		for _, r := range list {
			fmt.Fprintf(w, "%-30s %8d %12d\n", r.name, r.n, r.bytes)
		}
		return
	}
	if bytes == nil {
		fmt.Fprintf(w, "%-50s %10s\n", "TYPE", "ALLOCS")
		for _, r := range list {
			fmt.Fprintf(w, "%-50s %10d\n", r.name, r.n)
		}
		return
	}
	fmt.Fprintf(w, "%-50s %10s %12s\n", "TYPE", "ALLOCS", "BYTES")
	for _, r := range list {
		fmt.Fprintf(w, "%-50s %10d %12d\n", r.name, r.n, r.bytes)
	}
}

// Flow lays out the flow tool's rows from the arguments of the program's
// printf (runtimes.FlowProgram): cpu, pid, tid, microseconds since the
// start, depth, class, method; the format's arrow says entry or return.
type Flow struct {
	W    io.Writer
	Lang string
	BCC  bool
}

// Header prints the tool's first lines.
func (f Flow) Header(lang string, pid int) {
	fmt.Fprintf(f.W, "Tracing method calls in %s process %d... Ctrl-C to quit.\n", lang, pid)
	if f.BCC {
		fmt.Fprintf(f.W, "%-3s %-6s %-6s %-8s %s\n", "CPU", "PID", "TID", "TIME(us)", "METHOD")
		return
	}
	fmt.Fprintf(f.W, "%-3s %-7s %-7s %-10s %s\n", "CPU", "PID", "TID", "TIME(us)", "METHOD")
}

// Printf is the session's Printf hook.
func (f Flow) Printf(format string, args []output.Value) {
	if len(args) != 7 {
		return
	}
	arrow := "->"
	if strings.Contains(format, "<-") {
		arrow = "<-"
	}
	cpu, pid, tid, us, depth := ValueInt(args[0]), ValueInt(args[1]), ValueInt(args[2]), ValueInt(args[3]), ValueInt(args[4])
	indent := strings.Repeat("  ", int(min(max(depth, 0), 100)))
	name := MethodName(f.Lang, args[5].Str, args[6].Str, f.BCC)
	if f.BCC {
		fmt.Fprintf(f.W, "%-3d %-6d %-6d %-8.3f %-40s\n", cpu, pid, tid, float64(us)/1e6, indent+arrow+" "+name)
		return
	}
	fmt.Fprintf(f.W, "%-3d %-7d %-7d %-10d %s%s %s\n", cpu, pid, tid, us, indent, arrow, name)
}

// GC lays out ugc's rows: START (seconds since tracing began), TIME (us
// or ms) and the description. The program's printf gives the start and
// the duration in nanoseconds, then the description's own arguments,
// which the rest of its format formats.
type GC struct {
	W      io.Writer
	Millis bool
	// Filter keeps the collections whose description contains it (-F).
	Filter string
}

// Header prints ugc's first lines.
func (g GC) Header(lang string, pid int) {
	fmt.Fprintf(g.W, "Tracing garbage collections in %s process %d... Ctrl-C to quit.\n", lang, pid)
	unit := "us"
	if g.Millis {
		unit = "ms"
	}
	fmt.Fprintf(g.W, "%-8s %-8s %-40s\n", "START", "TIME ("+unit+")", "DESCRIPTION")
}

// GCPrefix starts the format of the program's printf for GC: the start
// and the duration, in nanoseconds.
const GCPrefix = "%llu %llu "

// Printf is the session's Printf hook.
func (g GC) Printf(format string, args []output.Value) {
	rest, ok := strings.CutPrefix(format, GCPrefix)
	if !ok || len(args) < 2 {
		return
	}
	f, err := output.ParseFormat(strings.TrimSuffix(rest, "\n"))
	if err != nil {
		return
	}
	f.CInt()
	desc := f.Sprintf(args[2:])
	if g.Filter != "" && !strings.Contains(desc, g.Filter) {
		return
	}
	div := 1000.0
	if g.Millis {
		div = 1e6
	}
	fmt.Fprintf(g.W, "%-8.3f %-8.2f %s\n", float64(ValueInt(args[0]))/1e9, float64(ValueInt(args[1]))/div, desc)
}

// Threads lays out uthreads' rows: TIME (seconds since tracing began),
// ID, TYPE, DESCRIPTION. The program's printf gives the time in
// nanoseconds, the runtime's thread id (the start routine's address for
// pthreads), the native id, the type and the name.
type Threads struct {
	W io.Writer
	// Symbolize names a pthread start routine: "name [module]".
	Symbolize func(addr uint64) string
}

// ModuleSymbolizer names addresses of process pid as uthreads prints a
// start routine: "name [module]" ("name+0xOFF [module]" inside a
// function), or the address in hex when no symbol holds it.
func ModuleSymbolizer(r *resolve.Resolver, pid int) func(addr uint64) string {
	return func(addr uint64) string {
		name, off, obj, ok := r.Symbolize(pid, addr)
		if !ok {
			return fmt.Sprintf("%#x", addr)
		}
		if off != 0 {
			name = fmt.Sprintf("%s+%#x", name, off)
		}
		return name + " [" + obj[strings.LastIndexByte(obj, '/')+1:] + "]"
	}
}

// Header prints uthreads' first lines.
func (t Threads) Header(lang string, pid int) {
	fmt.Fprintf(t.W, "Tracing thread events in process %d (language: %s)... Ctrl-C to quit.\n", pid, lang)
	fmt.Fprintf(t.W, "%-8s %-16s %-8s %-30s\n", "TIME", "ID", "TYPE", "DESCRIPTION")
}

// Printf is the session's Printf hook.
func (t Threads) Printf(_ string, args []output.Value) {
	if len(args) != 5 {
		return
	}
	secs := float64(ValueInt(args[0])) / 1e9
	kind, name := args[3].Str, args[4].Str
	id := fmt.Sprintf("R=%d/N=%d", ValueInt(args[1]), ValueInt(args[2]))
	if kind == "pthread" {
		id = fmt.Sprint(ValueInt(args[2]))
		if t.Symbolize != nil {
			name = t.Symbolize(uint64(ValueInt(args[1])))
		}
	}
	fmt.Fprintf(t.W, "%-8.3f %-16s %-8s %-30s\n", secs, id, kind, name)
}

// StatColumn is one of stat's counters: its column and the map that counts
// it per process.
type StatColumn struct{ Col, Map string }

// Stat prints stat's table each interval.
type Stat struct {
	W       io.Writer
	Columns []StatColumn
	// Interval is the seconds counted; SortIdx the column sorted by
	// (descending; -1: by PID for bcc, by the first column for uscope);
	// Rows the most processes printed.
	Interval      float64
	SortIdx, Rows int
	BCC           bool
	// Clear clears the screen before each table (bcc's ustat without -C,
	// on a terminal); otherwise bcc's layout starts with an empty line.
	Clear bool
	Now   func() time.Time
	// Cmdlines holds the command lines of processes seen (by PID), so a
	// process that exits before its last counts are printed keeps its name,
	// as bcc's ustat keeps the targets it found.
	Cmdlines map[int64]string
}

func (s Stat) cmdline(pid int64) string {
	if c, ok := s.Cmdlines[pid]; ok {
		return c
	}
	c := Cmdline(pid)
	if s.Cmdlines != nil && c != "(exited)" {
		s.Cmdlines[pid] = c
	}
	return c
}

// Write prints one interval's table; counts are per map, per PID.
func (s Stat) Write(counts map[string]map[int64]int64) {
	pids := map[int64]bool{}
	for _, m := range counts {
		for pid := range m {
			pids[pid] = true
		}
	}
	type row struct {
		pid  int64
		cmd  string
		n    []int64
		rate []float64
	}
	var list []row
	for pid := range pids {
		r := row{pid: pid, cmd: s.cmdline(pid)}
		for _, sc := range s.Columns {
			n := counts[sc.Map][pid]
			r.n = append(r.n, n)
			r.rate = append(r.rate, float64(n)/s.Interval)
		}
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b row) int {
		i := s.SortIdx
		if i < 0 && !s.BCC {
			i = 0
		}
		if i >= 0 && a.rate[i] != b.rate[i] {
			if a.rate[i] > b.rate[i] {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.pid, b.pid)
	})
	if s.Rows > 0 && len(list) > s.Rows {
		list = list[:s.Rows]
	}
	if s.BCC {
		if s.Clear {
			fmt.Fprint(s.W, clearScreen)
		} else {
			fmt.Fprintln(s.W)
		}
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		load, _ := os.ReadFile("/proc/loadavg")
		// bcc prints the file as read, newline included, then one more.
		fmt.Fprintf(s.W, "%-8s loadavg: %s\n", now().Format("15:04:05"), load)
		fmt.Fprintf(s.W, "%-6s %-20s %-10s %-6s %-10s %-8s %-6s %-6s\n", "PID", "CMDLINE", "METHOD/s", "GC/s", "OBJNEW/s", "CLOAD/s", "EXC/s", "THR/s")
		for _, r := range list {
			cmd := r.cmd
			if len(cmd) > 20 {
				cmd = cmd[:20]
			}
			fmt.Fprintf(s.W, "%-6d %-20s", r.pid, cmd)
			for i, width := range []int{10, 6, 10, 8, 6, 6} {
				var v int64
				if i < len(r.rate) {
					v = int64(r.rate[i])
				}
				fmt.Fprintf(s.W, " %-*d", width, v)
			}
			fmt.Fprintln(s.W)
		}
		return
	}
	if s.Clear {
		fmt.Fprint(s.W, clearScreen)
	}
	fmt.Fprintf(s.W, "\n%-8s %-30s", "PID", "CMDLINE")
	for _, sc := range s.Columns {
		fmt.Fprintf(s.W, " %9s", sc.Col)
	}
	fmt.Fprintln(s.W)
	for _, r := range list {
		fmt.Fprintf(s.W, "%-8d %-30.30s", r.pid, r.cmd)
		for _, v := range r.rate {
			fmt.Fprintf(s.W, " %9.1f", v)
		}
		fmt.Fprintln(s.W)
	}
}

// Cmdline is a process's command line, or "(exited)".
func Cmdline(pid int64) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "(exited)"
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// JSONHooks are a session's Attached and Report hooks that print, in
// place of a tool's text, the NDJSON of `run -f json`: attached_probes,
// then each of the maps named (when the program has them) at every
// print, or at the end when there are no intervals.
func JSONHooks(w io.Writer, intervals bool, names ...string) (attached func(int), report func([]*output.Map, bool)) {
	jw := output.NewWriter(w, output.JSON)
	attached = func(n int) { jw.AttachedProbes(n) }
	report = func(maps []*output.Map, final bool) {
		for _, name := range names {
			// With intervals, the end holds only what came in after the
			// last one.
			if m := find(maps, name); m != nil && (!final || !intervals || len(m.Entries) > 0) {
				output.PrintMapJSON(w, m, output.PrintOptions{})
			}
		}
	}
	return attached, report
}
