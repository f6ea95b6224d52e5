package compile

import (
	"sort"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// probeKind is a set of the kinds of probe a builtin is valid in.
type probeKind uint8

const (
	inUprobe probeKind = 1 << iota
	inUretprobe
	inUSDT
	inSpecial // BEGIN, END, interval
	inAll     = inUprobe | inUretprobe | inUSDT | inSpecial
	inTraced  = inUprobe | inUretprobe | inUSDT
)

func (p probeKind) String() string {
	if p == inAll {
		return "every probe"
	}
	var names []string
	for _, k := range []struct {
		k    probeKind
		name string
	}{{inUprobe, "uprobe"}, {inUretprobe, "uretprobe"}, {inUSDT, "usdt"}, {inSpecial, "BEGIN/END/interval"}} {
		if p&k.k != 0 {
			names = append(names, k.name)
		}
	}
	return strings.Join(names, ", ") + " probes"
}

// builtin is one row of the builtins table: an identifier (pid) or a
// function (str()). Checking, emission, the hints of error messages,
// `uscope man` and shell completion all read this table.
type builtin struct {
	name string
	call bool // a function, called as name(...)
	// minArgs and maxArgs bound a function's arguments (maxArgs < 0: any).
	minArgs, maxArgs int
	where            probeKind
	// whereHint is the hint when it is used where it is not valid.
	whereHint string
	// result names the result's type, for the reference.
	result string
	usage  string // a call as written, e.g. `str(ptr[, len])`
	help   string // one line
	// ext marks what uscope adds to bpftrace's language.
	ext bool
	// agg is the aggregation a function makes (count(), hist() ...),
	// AggNone for other builtins. Aggregations are checked by
	// checkAggArgs and emitted by the map assignment that holds them.
	agg AggKind
	// check types a use (an *lang.Ident or *lang.Call) and checks its
	// arguments; the arity and the probe kind are checked before.
	check func(k *checker, e lang.Expr) (*Type, error)
	// emit generates a scalar value into R0, or a call's effect.
	emit func(g *gen, e lang.Expr) error
	// place generates a non-scalar value into the scratch area at off.
	place func(g *gen, e lang.Expr, t *Type, off int) error
	// lowered marks a builtin the lower pass replaces (getopt()): it has
	// no emitter, and check sees it only when it could not be lowered.
	lowered bool
}

func fixed(t *Type) func(*checker, lang.Expr) (*Type, error) {
	return func(*checker, lang.Expr) (*Type, error) { return t, nil }
}

// helperInto emits a helper call and the shifts that keep part of its result.
func helperInto(fn asm.BuiltinFunc, post ...asm.Instruction) func(*gen, lang.Expr) error {
	return func(g *gen, _ lang.Expr) error {
		g.emit(fn.Call())
		g.emit(post...)
		return nil
	}
}

func loadReg(name string) func(*gen, lang.Expr) error {
	return func(g *gen, _ lang.Expr) error {
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[name], asm.DWord))
		return nil
	}
}

var lo32 = []asm.Instruction{asm.LSh.Imm(asm.R0, 32), asm.RSh.Imm(asm.R0, 32)}

// builtins is the table, kept sorted by kind, then name, as `uscope man`
// prints it. It is filled by init because the emitters and checkers it
// names look builtins up themselves.
var builtins []*builtin

// builtinIndex finds a row by kind and name.
var builtinIndex = map[builtinKey]*builtin{}

// builtinKey is a row's key in builtinIndex.
type builtinKey struct {
	call bool
	name string
}

func init() {
	builtins = builtinTable()
	for _, b := range builtins {
		builtinIndex[builtinKey{b.call, b.name}] = b
	}
}

func builtinTable() []*builtin {
	return []*builtin{
		// Identifiers.
		{name: "pid", where: inAll, result: "uint32", help: "process id (thread group id) of the current thread, in uscope's PID namespace", check: fixed(tU32),
			emit: pidEmit(true)},
		{name: "tid", where: inAll, result: "uint32", help: "thread id of the current thread, in uscope's PID namespace", check: fixed(tU32),
			emit: pidEmit(false)},
		{name: "uid", where: inAll, result: "uint32", help: "user id of the current thread", check: fixed(tU32),
			emit: helperInto(asm.FnGetCurrentUidGid, lo32...)},
		{name: "gid", where: inAll, result: "uint32", help: "group id of the current thread", check: fixed(tU32),
			emit: helperInto(asm.FnGetCurrentUidGid, asm.RSh.Imm(asm.R0, 32))},
		{name: "cpu", where: inAll, result: "uint32", help: "the CPU the probe runs on", check: fixed(tU32),
			emit: helperInto(asm.FnGetSmpProcessorId)},
		{name: "nsecs", where: inAll, result: "uint64", help: "nanoseconds since boot (CLOCK_MONOTONIC)", check: fixed(tU64),
			emit: helperInto(asm.FnKtimeGetNs)},
		{name: "elapsed", where: inAll, result: "uint64", help: "nanoseconds since the program started", check: fixed(tU64),
			emit: (*gen).elapsed},
		{name: "cgroup", where: inAll, result: "uint64", help: "cgroup v2 id of the current thread", check: fixed(tU64),
			emit: helperInto(asm.FnGetCurrentCgroupId)},
		{name: "cpid", where: inAll, result: "uint32", help: "pid of the command started with -c (0 without)", check: fixed(tU32),
			emit: (*gen).cpid},
		{name: "probetype", where: inAll, result: "string[16]", help: "the probe's type: uprobe, uretprobe, usdt, interval, or special (begin and end)",
			check: fixed(strType(16)), place: (*gen).placeProbeType},
		{name: "comm", where: inAll, result: "string[16]", help: "name of the current thread", check: fixed(strType(16)),
			place: (*gen).placeComm},
		{name: "retval", where: inUretprobe, whereHint: "use a uretprobe", result: "int64", help: "the value the function returned",
			check: fixed(tS64), emit: loadReg("ax")},
		{name: "func", where: inAll, result: "symbol", help: "name of the probed function (the probe in BEGIN/END/interval); a string where one is needed (func == \"main\")", check: fixed(tFunc),
			emit: (*gen).siteName},
		{name: "probe", where: inAll, result: "symbol", help: "the probe as written, e.g. uprobe:/bin/bash:readline; a string where one is needed (strcontains(probe, \"read\"))", check: fixed(tProbe),
			emit: (*gen).siteName},
		{name: "ustack", where: inAll, result: "ustack", help: "the user stack; as a map key, stacks are counted in the kernel", check: (*checker).ustackType,
			place: (*gen).placeStackExpr},
		{name: "ncpus", where: inAll, result: "uint64", help: "the number of CPUs", check: fixed(tU64), emit: (*gen).ncpus},
		{name: "rand", where: inAll, result: "uint32", help: "a pseudo-random number", check: fixed(tU32), emit: helperInto(asm.FnGetPrandomU32)},
		{name: "jiffies", where: inAll, result: "uint64", help: "the kernel's jiffies counter", check: fixed(tU64), emit: helperInto(asm.FnJiffies64)},
		{name: "numaid", where: inAll, result: "uint32", help: "the NUMA node the probe runs on", check: fixed(tU32), emit: helperInto(asm.FnGetNumaNodeId)},
		{name: "usermode", where: inAll, result: "uint8", help: "1 when the probe fired in user mode (always, for uprobes), else 0", check: fixed(intTypes["uint8"]), emit: (*gen).usermode},
		{name: "username", where: inAll, result: "username", help: "the name of the current user, from its uid", check: fixed(tUsername),
			emit: helperInto(asm.FnGetCurrentUidGid, lo32...)},
		{name: "ctx", where: inAll, result: "pointer", help: "the probe's context in the kernel (pt_regs in uprobes), read through casts with probe_read_kernel", check: fixed(tCtx),
			emit: (*gen).ctxValue},
		{name: "sp", where: inAll, result: "uint64", help: "the stack pointer", check: fixed(tU64), emit: loadReg("sp")},
		{name: "ip", where: inAll, result: "uint64", help: "the instruction pointer (the function's address at a moved entry)", check: fixed(tU64),
			emit: (*gen).ipValue},
		{name: "argN", where: inTraced, result: "uint64",
			help: "the N-th argument (C calling convention, Go's register ABI, or the USDT argument)", check: (*checker).argType, emit: (*gen).argValue},
		{name: "sargN", where: inTraced, result: "uint64",
			help: "the N-th 64-bit stack argument at a C function's entry (bpftrace 0.17; main removed it)", check: (*checker).sargType, emit: (*gen).sargValue},
		{name: "args", where: inTraced, result: "record", ext: true,
			help: "the parameters by name (args.NAME) from DWARF: of a C or C++ function (at its entry, an offset, a line, an inlined instance), of a Go function (results at a return)", check: (*checker).argsType,
			emit: (*gen).goScalarExpr, place: (*gen).placeGoExpr},
		{name: "locals", where: inTraced, result: "record", ext: true,
			help: "the variables in scope by name (locals.NAME) from DWARF, in C and C++ code (at a source line or an offset)", check: (*checker).localsType,
			emit: (*gen).cArgsExpr, place: (*gen).placeCArgsExpr},
		{name: "goid", where: inTraced, result: "uint64", ext: true, help: "the goroutine id in a Go function", check: (*checker).goidType,
			emit: (*gen).goid},

		// Functions.
		{name: "bswap", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "integer", usage: "bswap(x)",
			help: "x with its bytes in the other order, at x's width", check: (*checker).bswapType, emit: (*gen).bswap},
		{name: "sizeof", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "uint64", usage: "sizeof(type or expression)",
			help: "the size in bytes of a type or of an expression's type", check: (*checker).sizeofType, emit: (*gen).constValue},
		{name: "uaddr", call: true, minArgs: 1, maxArgs: 1, where: inTraced, result: "pointer", usage: `uaddr("symbol")`,
			help: "the address of a symbol of the probed binary, a pointer to an unsigned integer of its size (uint64* if not 1, 2, 4 or 8)", check: (*checker).uaddrType, emit: (*gen).uaddr},
		{name: "offsetof", call: true, minArgs: 2, maxArgs: 2, where: inAll, result: "uint64", usage: "offsetof(struct Foo, member[.member])",
			help: "the byte offset of a member in a struct (of a type or of an expression's type)", check: (*checker).offsetofType, emit: (*gen).constValue},
		{name: "signal_name", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "signal_name", usage: "signal_name(sig)",
			help: "a signal number, printed as its description (Interrupt), as main's stdlib", check: (*checker).strerrorType, emit: (*gen).firstArg},
		{name: "cgroup_path", call: true, minArgs: 1, maxArgs: 2, where: inAll, result: "cgroup_path", usage: `cgroup_path(cgroup[, "unified"])`,
			help: "a cgroup v2 id, printed as its path: unified:/system.slice/x.service", check: (*checker).cgroupPathType, emit: (*gen).firstArg},
		{name: "strerror", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "strerror", usage: "strerror(errno)",
			help: "an errno value, printed as its message", check: (*checker).strerrorType, emit: (*gen).firstArg},
		{name: "buf", call: true, minArgs: 1, maxArgs: 2, where: inAll, result: "buffer", usage: "buf(ptr, len), buf(array[, len]) or buf(string[, len])",
			help: "len bytes of user memory, printed with %r as escaped text", check: (*checker).bufType, place: (*gen).placeBuf},
		{name: "clear", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "void", usage: "clear(@m)",
			help: "delete every element of a map", check: (*checker).wholeMap, emit: (*gen).mapRecord},
		{name: "delete", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "bool", usage: "delete(@m[key]), delete(@m, key) or delete(@scalar)",
			help: "delete one element of a map; true if there was one", check: (*checker).mapKeyed, emit: (*gen).deleteCall},
		{name: "container_of", call: true, minArgs: 3, maxArgs: 3, where: inAll, result: "pointer", usage: "container_of(ptr, typeof(struct Foo), member)",
			help: "the struct that holds the member ptr points to: ptr less the member's offset, as main's stdlib macro", check: (*checker).containerOfType, lowered: true},
		{name: "getopt", call: true, minArgs: 1, maxArgs: 3, where: inAll, result: "bool, int64 or string", usage: `getopt("name"[, default[, "description"]])`,
			help: "the named option --name[=value] given after the program (after --), typed by its default", check: (*checker).getoptType, lowered: true},
		{name: "assert", call: true, minArgs: 2, maxArgs: 2, where: inAll, result: "void", usage: `assert(cond, "message")`,
			help: `when cond is false: the error "assert failed: message" and exit(1) (bpftrace main's stdlib)`, check: (*checker).assertType, lowered: true},
		{name: "config", call: true, minArgs: 0, maxArgs: 0, where: inAll, result: "record", usage: "config().max_strlen",
			help: "the config variables as the program runs with them (also __builtin_config.NAME)", check: (*checker).configType, lowered: true},
		{name: "ntop", call: true, minArgs: 1, maxArgs: 2, where: inAll, result: "inet", usage: "ntop([af, ] addr)",
			help: "an IPv4 (an integer, 4 bytes) or IPv6 (16 bytes) address, printed as text", check: (*checker).ntopType, place: (*gen).placeNtop},
		{name: "pton", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "uint8[4] or uint8[16]", usage: `pton("127.0.0.1")`,
			help: "the bytes of an IPv4 or IPv6 address written as text (at compile time)", check: (*checker).ptonType, place: (*gen).placePton},
		{name: "macaddr", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "macaddr", usage: "macaddr(mac)",
			help: "6 bytes (a char[6] or a pointer) printed as a MAC address", check: (*checker).macaddrType, place: (*gen).placeMacaddr},
		{name: "strlen", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "uint64", usage: "strlen(s)",
			help: "the length of a string", check: (*checker).strlenType, emit: (*gen).strlen},
		{name: "pid", call: true, minArgs: 0, maxArgs: 1, where: inAll, result: "uint32", usage: "pid(), pid(curr_ns) or pid(init)",
			help: "process id in uscope's PID namespace (curr_ns, as pid) or in the initial one (init)", check: (*checker).pidNSType, emit: pidEmit(true)},
		{name: "tid", call: true, minArgs: 0, maxArgs: 1, where: inAll, result: "uint32", usage: "tid(), tid(curr_ns) or tid(init)",
			help: "thread id in uscope's PID namespace (curr_ns, as tid) or in the initial one (init)", check: (*checker).pidNSType, emit: pidEmit(false)},
		{name: "nsecs", call: true, minArgs: 0, maxArgs: 1, where: inAll, result: "uint64", usage: "nsecs() or nsecs(monotonic|boot|tai|sw_tai)",
			help: "nanoseconds of a clock: monotonic (nsecs), boot (with suspend), tai", check: (*checker).nsecsType, emit: (*gen).nsecsClock},
		{name: "exit", call: true, minArgs: 0, maxArgs: 1, where: inAll, result: "void", usage: "exit() or exit(code)",
			help: "end the program: END runs, maps are printed, uscope exits with code (0)", check: (*checker).exitType, emit: (*gen).exit},
		{name: "goarg", call: true, minArgs: 1, maxArgs: 1, where: inTraced, result: "uint64", ext: true, usage: "goarg(N)",
			help: "the N-th integer register of Go's ABI (no DWARF needed)", check: (*checker).goargType, emit: (*gen).goarg},
		{name: "has_key", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "bool", usage: "has_key(@m, key) or has_key(@m[key])",
			help: "whether a map has an element", check: (*checker).mapKeyed, emit: (*gen).hasKey},
		{name: "len", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "uint64", usage: "len(@m)",
			help: "the number of elements of a map (printable), of the frames of a ustack, or the length of a Go string, slice or array", check: (*checker).lenType,
			emit: (*gen).length},
		{name: "cat", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "void", usage: `cat("/proc/%d/status", pid)`,
			help: "print a file's contents (the path formatted as printf)", check: (*checker).printfType, emit: (*gen).printf},
		{name: "debugf", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "void", usage: `debugf("fmt", args...)`,
			help: "print a formatted debug line on stderr (bpftrace prints it to trace_pipe)", check: (*checker).printfType, emit: (*gen).printf},
		{name: "errorf", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "void", usage: `errorf("fmt", args...)`,
			help: "print a formatted ERROR line with the call's place on stderr", check: (*checker).printfType, emit: (*gen).printf},
		{name: "warnf", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "void", usage: `warnf("fmt", args...)`,
			help: "print a formatted WARNING line with the call's place on stderr", check: (*checker).printfType, emit: (*gen).printf},
		{name: "system", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "void", usage: `system("cmd %d", pid)`,
			help: "run a shell command (formatted as printf); needs --unsafe", check: (*checker).systemType, emit: (*gen).printf},
		{name: "strftime", call: true, minArgs: 2, maxArgs: 2, where: inAll, result: "timestamp", usage: `strftime("%H:%M:%S", nsecs)`,
			help: "a time since boot (nsecs), printed with a strftime format", check: (*checker).strftimeType, emit: (*gen).secondArg},
		{name: "print", call: true, minArgs: 1, maxArgs: 3, where: inAll, result: "void", usage: "print(@m[, top[, div]]) or print(value)",
			help: "print a map now, or a value", check: (*checker).printType, emit: (*gen).print},
		{name: "printf", call: true, minArgs: 1, maxArgs: -1, where: inAll, result: "void", usage: `printf("fmt", args...)`,
			help: "print formatted text, with C's printf directives", check: (*checker).printfType, emit: (*gen).printf},
		{name: "reg", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "uint64", usage: `reg("rdi")`,
			help: "the value of a register at the probe", check: (*checker).regType, emit: (*gen).reg},
		{name: "str", call: true, minArgs: 1, maxArgs: 2, where: inAll, result: "string", usage: "str(ptr[, len])",
			help: "a NUL-terminated string of user memory (at most len bytes)", check: (*checker).strType, place: (*gen).placeStr},
		{name: "strcontains", call: true, minArgs: 2, maxArgs: 2, where: inAll, result: "bool", usage: `strcontains(s, needle)`,
			help: "whether a string contains another", check: (*checker).strcontainsType, emit: (*gen).strcontains},
		{name: "strncmp", call: true, minArgs: 3, maxArgs: 3, where: inAll, result: "int64", usage: "strncmp(a, b, n)",
			help: "compare at most n bytes of two strings: 0 when equal", check: (*checker).strncmpType, emit: (*gen).strncmp},
		{name: "time", call: true, minArgs: 0, maxArgs: 1, where: inAll, result: "void", usage: `time("%H:%M:%S\n")`,
			help: "print the current time with a strftime format", check: (*checker).timeType, emit: (*gen).time},
		{name: "ustack", call: true, minArgs: 0, maxArgs: 2, where: inAll, result: "ustack", usage: "ustack([MODE, ][N])",
			help: "the user stack, printed with at most N frames", check: (*checker).ustackType, place: (*gen).placeStackExpr},
		{name: "usym", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "usym", usage: "usym(addr)",
			help: "an address, printed as the symbol it is in", check: (*checker).usymType, emit: (*gen).usym},
		{name: "zero", call: true, minArgs: 1, maxArgs: 1, where: inAll, result: "void", usage: "zero(@m)",
			help: "set every value of a map to zero", check: (*checker).wholeMap, emit: (*gen).mapRecord},

		// Aggregations: assigned to a map, @m[k] = count().
		{name: "avg", call: true, minArgs: 1, maxArgs: 1, where: inAll, agg: AggAvg, result: "aggregation", usage: "@m = avg(x)", help: "the average of the values"},
		{name: "count", call: true, minArgs: 0, maxArgs: 0, where: inAll, agg: AggCount, result: "aggregation", usage: "@m = count()", help: "how many times it ran"},
		{name: "hist", call: true, minArgs: 1, maxArgs: 2, where: inAll, agg: AggHist, result: "aggregation", usage: "@m = hist(x) or hist(x, k)", help: "a power-of-two histogram of the values; k (0-5) splits each power of two into 2^k buckets"},
		{name: "tseries", call: true, minArgs: 3, maxArgs: 4, where: inAll, agg: AggTSeries, result: "aggregation", usage: `@m = tseries(x, interval, n[, "avg"|"max"|"min"|"sum"])`, help: "a time series: the last n intervals, each the last value (or their avg, max, min or sum)"},
		{name: "lhist", call: true, minArgs: 4, maxArgs: 4, where: inAll, agg: AggLhist, result: "aggregation", usage: "@m = lhist(x, min, max, step)", help: "a linear histogram of the values"},
		{name: "max", call: true, minArgs: 1, maxArgs: 1, where: inAll, agg: AggMax, result: "aggregation", usage: "@m = max(x)", help: "the largest value"},
		{name: "min", call: true, minArgs: 1, maxArgs: 1, where: inAll, agg: AggMin, result: "aggregation", usage: "@m = min(x)", help: "the smallest value"},
		{name: "stats", call: true, minArgs: 1, maxArgs: 1, where: inAll, agg: AggStats, result: "aggregation", usage: "@m = stats(x)", help: "count, average and total of the values"},
		{name: "sum", call: true, minArgs: 1, maxArgs: 1, where: inAll, agg: AggSum, result: "aggregation", usage: "@m = sum(x)", help: "the total of the values"},
	}
}

// lookupBuiltin finds an identifier (call false) or a function.
func lookupBuiltin(name string, call bool) *builtin {
	if !call {
		if name == "argN" {
			return nil
		}
		if _, ok := argIndex(name); ok {
			name = "argN"
		}
		if name == "sargN" {
			return nil
		}
		if _, ok := sargIndex(name); ok {
			name = "sargN"
		}
	}
	return builtinIndex[builtinKey{call, name}]
}

// builtinNames lists the identifiers or the functions of the table.
func builtinNames(call bool) []string {
	var names []string
	for _, b := range builtins {
		if b.call == call {
			names = append(names, b.name)
		}
	}
	sort.Strings(names)
	return names
}

// builtinHint lists the identifiers or functions valid in a kind of probe.
func builtinHint(call bool, where probeKind) string {
	var names []string
	for _, b := range builtins {
		if b.call == call && b.where&where != 0 {
			names = append(names, b.name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// nearest returns the name closest to s by edit distance (a swap of two
// neighbours counts as one edit; ties go to the longer common prefix), or
// "" when none is close: at most half of the letters differ. Then the
// length nearest to s wins.
func nearest(s string, names []string) string {
	best, bestD, bestP, bestL := "", len(s)/2+1, -1, 0
	for _, n := range names {
		d, p, l := editDistance(s, n), commonPrefix(s, n), abs(len(n)-len(s))
		if d < bestD || d == bestD && best != "" && (p > bestP || p == bestP && l < bestL) {
			best, bestD, bestP, bestL = n, d, p, l
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// editDistance is the optimal string alignment distance of a and b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Builtin describes a builtin of the language for documentation and
// completion.
type Builtin struct {
	Name string // "pid", "str" (functions without parentheses)
	Call bool   // a function
	// Usage is how a function is called; Result the type it gives.
	Usage, Result string
	Help          string
	// Where lists the probe kinds it is valid in.
	Where string
	// Extension marks what uscope adds to bpftrace's language.
	Extension bool
}

// Builtins lists the builtins of the language, identifiers first.
func Builtins() []Builtin {
	var out []Builtin
	for _, b := range builtins {
		out = append(out, Builtin{Name: b.name, Call: b.call, Usage: b.usage, Result: b.result, Help: b.help, Where: b.where.String(), Extension: b.ext})
	}
	return out
}
