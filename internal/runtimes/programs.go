package runtimes

import (
	"fmt"
	"strings"
)

// The programs of the language tools, in uscope's language, built from a
// process's probes. Each takes the object that holds the probes.

// GCOptions configure the gc tool's program.
type GCOptions struct {
	// Millis prints durations in milliseconds (-m), else microseconds.
	Millis bool
	// MinNanos leaves out collections shorter than this (-M).
	MinNanos int64
}

// GCProgram prints each collection when it ends: seconds since the
// start, its duration, and what it was (the generation and the number
// of objects collected for Python, full or not for the JVM).
func GCProgram(p *Process, probes map[Event]Probe, o GCOptions) string {
	start, done := probes[GCStart], probes[GCDone]
	div := int64(1000)
	if o.Millis {
		div = 1000000
	}
	key := "tid"
	var save, desc, descArgs string
	switch p.Lang {
	case "python":
		save = fmt.Sprintf("\t@gcgen[tid] = %s;\n", start.Args["gen"])
		desc = "gen %d GC collected %d objects"
		descArgs = fmt.Sprintf("@gcgen[tid], %s", done.Args["collected"])
	case "java":
		// gc__begin and gc__end fire in the VM thread of the process.
		key = "pid"
		save = fmt.Sprintf("\t@gcfull[pid] = %s;\n", start.Args["full"])
		desc = "%s collection"
		descArgs = `@gcfull[pid] ? "full" : "young"`
	case "node":
		save = fmt.Sprintf("\t@gctype[tid] = %s;\n", start.Args["type"])
		desc = "GC type 0x%x (1 scavenge, 2 mark-sweep-compact, 4 incremental marking, 8 weak callbacks)"
		descArgs = "@gctype[tid]"
	default:
		desc = "%s"
		descArgs = `"collection"`
	}
	var b strings.Builder
	// Written plainly: fixed columns START (s) TIME (unit) DESCRIPTION.
	fmt.Fprintf(&b, "%s {\n\t@gcstart[%s] = nsecs;\n%s}\n\n", start.Point(p.Object), key, save)
	fmt.Fprintf(&b, "%s {\n\t$start = @gcstart[%s];\n\tif ($start > 0 && nsecs - $start >= %d) {\n", done.Point(p.Object), key, o.MinNanos)
	fmt.Fprintf(&b, "\t\t$ns = nsecs - $start;\n\t\t$t = elapsed / 1000000;\n")
	fmt.Fprintf(&b, "\t\tprintf(\"%%4d.%%03d %%8d.%%03d "+strings.ReplaceAll(desc, "%", "%%")+"\\n\", $t / 1000, $t %% 1000, $ns / %d, ($ns %% %d) / %d, %s);\n", div, div, div/1000, descArgs)
	fmt.Fprintf(&b, "\t}\n\tdelete(@gcstart[%s]);\n", key)
	for _, m := range []string{"gcgen", "gcfull", "gctype"} {
		if strings.Contains(save, "@"+m) {
			fmt.Fprintf(&b, "\tdelete(@%s[%s]);\n", m, key)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// CallsOptions configure the calls tool's program.
type CallsOptions struct {
	// Latency times each call (-L).
	Latency bool
	// IntervalMS prints and clears the counts every so many milliseconds.
	IntervalMS int64
}

// methodKey is the key of a method in maps: class and method.
func methodKey(p Probe) string {
	class := p.Args["class"]
	if class == "" {
		class = `""`
	}
	return class + ", " + p.Args["method"]
}

// CallsProgram counts calls per class (Python: file) and method in
// @calls and, with Latency, sums their time in @times (nanoseconds).
// Without Latency, calls are counted at their return where the entry
// probe misses some calls (CPython 3.11 fires function__entry only for
// calls that are not inlined, but function__return for all of them).
func CallsProgram(p *Process, probes map[Event]Probe, o CallsOptions) string {
	entry, ret := probes[MethodEntry], probes[MethodReturn]
	var b strings.Builder
	if !o.Latency {
		counted := entry
		if entry.Note != "" || entry.Name == "" {
			counted = ret
		}
		fmt.Fprintf(&b, "%s {\n\t@calls[%s] = count();\n}\n", counted.Point(p.Object), methodKey(counted))
	} else {
		// The method entered at each depth is kept: a return without a
		// traced entry (CPython 3.11's inlined calls, a profile function
		// called from C) pairs with nothing and leaves the depth alone.
		fmt.Fprintf(&b, "%s {\n\t$depth = @depth[tid];\n\t@start[tid, $depth] = nsecs;\n\t@entered[tid, $depth] = %s;\n\t@depth[tid]++;\n}\n\n", entry.Point(p.Object), entry.Args["method"])
		fmt.Fprintf(&b, "%s {\n\t$depth = @depth[tid];\n\tif ($depth > 0 && @entered[tid, $depth - 1] == %s) {\n\t\t@depth[tid]--;\n\t\t$depth = $depth - 1;\n\t\tdelete(@entered[tid, $depth]);\n", ret.Point(p.Object), ret.Args["method"])
		fmt.Fprintf(&b, "\t\t$start = @start[tid, $depth];\n\t\tdelete(@start[tid, $depth]);\n\t\tif ($start > 0) {\n")
		fmt.Fprintf(&b, "\t\t\t@calls[%[1]s] = count();\n\t\t\t@times[%[1]s] = sum(nsecs - $start);\n\t\t}\n\t}\n}\n", methodKey(ret))
	}
	if o.IntervalMS > 0 {
		maps := []string{"calls"}
		if o.Latency {
			maps = append(maps, "times")
		}
		fmt.Fprintf(&b, "\ninterval:ms:%d {\n", o.IntervalMS)
		for _, m := range maps {
			fmt.Fprintf(&b, "\tprint(@%s);\n", m)
		}
		for _, m := range maps {
			fmt.Fprintf(&b, "\tclear(@%s);\n", m)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// ThreadsProgram prints each thread start and stop: for the JVM from its
// thread__start/stop probes with the thread's name and native id, for C
// (lang "c") from pthread_create with the start routine's name.
func ThreadsProgram(p *Process, probes map[Event]Probe) string {
	if p.Lang == "c" {
		return "uprobe:libc:pthread_create {\n\tprintf(\"%-10d %-8s %s\\n\", tid, \"create\", usym(arg2));\n}\n"
	}
	var b strings.Builder
	for _, te := range threadEvents(probes) {
		pr, kind := te.pr, te.kind
		tid := pr.Args["native"]
		if tid == "" {
			tid = "tid"
		}
		fmt.Fprintf(&b, "%s {\n\tprintf(\"%%-10d %%-8s %%s\\n\", %s, \"%s\", %s);\n}\n\n", pr.Point(p.Object), tid, kind, pr.Args["name"])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// threadEvent is a thread start or stop probe and its kind.
type threadEvent struct {
	pr   Probe
	kind string // "start", "stop"
}

// threadEvents are the thread start and stop probes there are.
func threadEvents(probes map[Event]Probe) []threadEvent {
	var out []threadEvent
	for _, ev := range []Event{ThreadStart, ThreadStop} {
		if pr, ok := probes[ev]; ok {
			kind := "start"
			if ev == ThreadStop {
				kind = "stop"
			}
			out = append(out, threadEvent{pr, kind})
		}
	}
	return out
}

// ObjNewBytes reports whether ObjNewProgram counts bytes (@bytes) for p.
func ObjNewBytes(p *Process, probes map[Event]Probe) bool {
	return p.Lang == "c" || probes[ObjNew].Args["size"] != ""
}

// ObjNewProgram counts allocations and their bytes by type in @objs and
// @bytes: by class for the JVM, by requested size for C's malloc.
func ObjNewProgram(p *Process, probes map[Event]Probe, intervalMS int64) string {
	var b strings.Builder
	if p.Lang == "c" {
		b.WriteString("uprobe:libc:malloc {\n\t@objs[arg0] = count();\n\t@bytes[arg0] = sum(arg0);\n}\n")
	} else {
		pr := probes[ObjNew]
		key := pr.Args["class"]
		fmt.Fprintf(&b, "%s {\n\t@objs[%s] = count();\n", pr.Point(p.Object), key)
		if size := pr.Args["size"]; size != "" {
			fmt.Fprintf(&b, "\t@bytes[%s] = sum(%s);\n", key, size)
		}
		b.WriteString("}\n")
	}
	if intervalMS > 0 {
		if ObjNewBytes(p, probes) {
			fmt.Fprintf(&b, "\ninterval:ms:%d {\n\tprint(@objs);\n\tprint(@bytes);\n\tclear(@objs);\n\tclear(@bytes);\n}\n", intervalMS)
		} else {
			fmt.Fprintf(&b, "\ninterval:ms:%d {\n\tprint(@objs);\n\tclear(@objs);\n}\n", intervalMS)
		}
	}
	return b.String()
}

// FlowOptions configure the flow tool's program.
type FlowOptions struct {
	// Class and Method keep only the calls whose class (Python: file) or
	// method starts with them.
	Class, Method string
}

// FlowProgram prints each method entry and return with the thread's call
// depth: "CPU PID TID TIME(us) DEPTH -> class.method" (or "<-"); the
// tool turns the depth into indentation. A return without a traced entry
// (CPython 3.11's inlined calls; calls begun before tracing), told by its
// method not being the one entered last, is printed at its thread's
// current depth and leaves it alone.
func FlowProgram(p *Process, probes map[Event]Probe, o FlowOptions) string {
	entry, ret := probes[MethodEntry], probes[MethodReturn]
	var b strings.Builder
	for _, side := range []struct {
		pr    Probe
		arrow string
	}{{entry, "->"}, {ret, "<-"}} {
		pr := side.pr
		var conds []string
		if o.Class != "" && pr.Args["class"] != "" {
			conds = append(conds, fmt.Sprintf("strncmp(%s, %q, %d) == 0", pr.Args["class"], o.Class, len(o.Class)))
		}
		if o.Method != "" {
			conds = append(conds, fmt.Sprintf("strncmp(%s, %q, %d) == 0", pr.Args["method"], o.Method, len(o.Method)))
		}
		filter := ""
		if len(conds) > 0 {
			filter = " /" + strings.Join(conds, " && ") + "/"
		}
		class := pr.Args["class"]
		if class == "" {
			class = `""`
		}
		fmt.Fprintf(&b, "%s%s {\n", pr.Point(p.Object), filter)
		// The method entered at each depth is kept, so that a return
		// without a traced entry leaves the depth alone.
		if side.arrow == "->" {
			fmt.Fprintf(&b, "\t$depth = @depth[tid];\n\t@depth[tid]++;\n\t@entered[tid, $depth] = %s;\n", pr.Args["method"])
		} else {
			fmt.Fprintf(&b, "\t$depth = @depth[tid];\n\tif ($depth > 0 && @entered[tid, $depth - 1] == %s) {\n\t\t@depth[tid]--;\n\t\t$depth = $depth - 1;\n\t\tdelete(@entered[tid, $depth]);\n\t}\n", pr.Args["method"])
		}
		fmt.Fprintf(&b, "\tprintf(\"%%d %%d %%d %%d %%d %s %%s %%s\\n\", cpu, pid, tid, elapsed / 1000, $depth, %s, %s);\n}\n\n", side.arrow, class, pr.Args["method"])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// GCFieldsProgram is GCProgram for a tool that lays its rows out itself
// (bcc's ugc): each collection is one printf of the nanoseconds since the
// start, its duration in nanoseconds, then prefix's description with its
// own arguments, in one format that starts with prefix.
func GCFieldsProgram(p *Process, probes map[Event]Probe, minNanos int64, prefix string) string {
	start, done := probes[GCStart], probes[GCDone]
	key := "tid"
	var save, desc, descArgs string
	switch p.Lang {
	case "python":
		save = fmt.Sprintf("\t@gcgen[tid] = %s;\n", start.Args["gen"])
		desc, descArgs = "gen %d GC collected %d objects", fmt.Sprintf(", @gcgen[tid], %s", done.Args["collected"])
	case "java":
		// As bcc: each memory pool's collection (manager, pool, used and
		// max bytes before and after), then the collection itself, which
		// the JVM describes no further. Like bcc's, the start is the
		// thread's last begin (the JVM begins every pool, then ends them).
		pool := func(name string) string {
			return fmt.Sprintf("usdt:%s:%s:mem__pool__gc__%s", p.Object, start.Provider, name)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s {\n\t@gcstart[tid] = nsecs;\n\t@gcused[tid] = arg5;\n\t@gcmax[tid] = arg7;\n}\n\n", pool("begin"))
		fmt.Fprintf(&b, "%s {\n\t$start = @gcstart[tid];\n\tif ($start > 0 && nsecs - $start >= %d) {\n", pool("end"), minNanos)
		fmt.Fprintf(&b, "\t\tprintf(\"%s%%s %%s used=%%llu->%%llu max=%%llu->%%llu\\n\", elapsed, nsecs - $start, str(arg0, arg1), str(arg2, arg3), @gcused[tid], arg5, @gcmax[tid], arg7);\n\t}\n}\n\n", prefix)
		fmt.Fprintf(&b, "%s {\n\t@gcstart[tid] = nsecs;\n}\n\n", start.Point(p.Object))
		fmt.Fprintf(&b, "%s {\n\t$start = @gcstart[tid];\n\tif ($start > 0 && nsecs - $start >= %d) {\n", done.Point(p.Object), minNanos)
		fmt.Fprintf(&b, "\t\tprintf(\"%sno additional info available\\n\", elapsed, nsecs - $start);\n\t}\n}\n", prefix)
		return b.String()
	case "node":
		desc, descArgs = "GC type 0x%x", fmt.Sprintf(", %s", done.Args["type"])
	case "ruby":
		desc = "GC mark and sweep"
	default:
		desc = "collection"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s {\n\t@gcstart[%s] = nsecs;\n%s}\n\n", start.Point(p.Object), key, save)
	fmt.Fprintf(&b, "%s {\n\t$start = @gcstart[%s];\n\tif ($start > 0 && nsecs - $start >= %d) {\n", done.Point(p.Object), key, minNanos)
	fmt.Fprintf(&b, "\t\tprintf(\"%s%s\\n\", elapsed, nsecs - $start%s);\n\t}\n\tdelete(@gcstart[%s]);\n", prefix, desc, descArgs, key)
	if save != "" {
		fmt.Fprintf(&b, "\tdelete(@gcgen[%s]);\n", key)
	}
	b.WriteString("}\n")
	return b.String()
}

// ThreadsFieldsProgram prints each thread event for a tool that lays its
// rows out itself (bcc's uthreads): nanoseconds since the start, the
// runtime's thread id, the native one, the type and the name. For the JVM
// the events are thread__start/stop; for C (and, as bcc does, beside the
// JVM's) each pthread, seen in the new thread itself when glibc's
// start_thread initialises its locale (__ctype_init), with the start
// routine the process last gave pthread_create (its address, as the
// runtime id) and the new thread's id as the native one.
func ThreadsFieldsProgram(p *Process, probes map[Event]Probe) string {
	var b strings.Builder
	b.WriteString("uprobe:libc:pthread_create {\n\t@routine[pid] = arg2;\n}\n\n")
	b.WriteString("uprobe:libc:__ctype_init /tid != pid && has_key(@routine[pid])/ {\n\tprintf(\"%llu %llu %d %s %s\\n\", elapsed, @routine[pid], tid, \"pthread\", \"\");\n}\n")
	if p.Lang == "c" {
		return b.String()
	}
	for _, te := range threadEvents(probes) {
		pr, kind := te.pr, te.kind
		rid, native := pr.Args["tid"], pr.Args["native"]
		if rid == "" {
			rid = "0"
		}
		if native == "" {
			native = "tid"
		}
		fmt.Fprintf(&b, "\n%s {\n\tprintf(\"%%llu %%llu %%d %%s %%s\\n\", elapsed, %s, %s, \"%s\", %s);\n}\n", pr.Point(p.Object), rid, native, kind, pr.Args["name"])
	}
	return b.String()
}
