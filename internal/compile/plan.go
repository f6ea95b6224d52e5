package compile

import (
	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

// Site is one place a probe attaches, as internal/resolve finds it: one
// type from resolution to the session.
type Site = resolve.Site

// GoBinary is what the compiler asks of a Go binary (resolve.GoBinary).
type GoBinary = resolve.GoBinary

// Resolver finds the sites of an attach point.
type Resolver interface {
	Resolve(ap *lang.AttachPoint) ([]Site, error)
}

// Options control compilation.
type Options struct {
	Resolver Resolver
	// PidNS is the PID namespace uscope runs in, when it is not the
	// initial one: pid and tid are then as that namespace numbers them, as
	// bpftrace's (pid(init) and tid(init) stay the initial namespace's).
	PidNS *PidNamespace
	// HelperErrors is bpftrace's -k: a read of a key a map does not hold
	// warns (once, at its place), as bpftrace's map_lookup_elem check.
	HelperErrors bool
	// StrSize is the capacity of strings read by str() including the NUL
	// (default 64).
	StrSize int
	// MapSize is the number of keys of each map (default 4096).
	MapSize int
	// FilterTree limits probe programs to the processes in MapTree
	// (filter.go): -p and -c follow the process's descendants.
	FilterTree bool
	// ProfilePID keeps profile probes to one process when FilterTree is
	// off (-p with --no-follow); 0: every process.
	ProfilePID int
	// CPID is the value of the cpid builtin (the -c child), 0 if none.
	CPID int
	// StartNanos is CLOCK_MONOTONIC at start, for `elapsed`.
	StartNanos uint64
	// RingBufSize is the size in bytes of the events ring buffer, a power
	// of two of at least one page (0: DefaultRingBufSize).
	RingBufSize int
	// Block stops the process that writes a record while the ring buffer
	// is more than 3/4 full (bpf_send_signal(SIGSTOP)); the session sends
	// SIGCONT once it has drained it (--block).
	Block bool
	// Multi selects uprobe_multi links (programs are loaded for them).
	Multi bool
	// TraceUserStack adds the user stack to every bcc trace row (-U).
	TraceUserStack bool
	// Unsafe allows what can harm the system: system().
	Unsafe bool
	// ConfigEnv are the environment's BPFTRACE_* variables that name
	// config keys (BPFTRACE_STACK_MODE=raw): they override the program's
	// config block, as in bpftrace.
	ConfigEnv map[string]string
	// DummyTSMap names a scalar map whose value tseries() takes as the
	// time instead of the clock: bpftrace's BPFTRACE_DUMMY_TS_MAP, the
	// hook its runtime tests use to make time series deterministic.
	DummyTSMap string
	// Params are the positional parameters ($1, $2 ...) given after the
	// program on the command line.
	Params []string
	// Defines are the constants of the headers given with --include
	// (IncludeDefines): a name the program uses as an identifier.
	Defines map[string]int64
	// TriggerArgOffset is the pt_regs offset of the register holding the
	// first argument of the trigger function that runs BEGIN, END and
	// interval probes.
	TriggerArgOffset int16
	// SpecialIDBase is added to the ids of BEGIN, END and interval probes,
	// so that several sessions in one process (the agent) do not run each
	// other's specials through the shared trigger function.
	SpecialIDBase uint64
	// EventHeader gives every printf record the trace row's fixed fields
	// (time, pid_tgid, comm, cookie: TraceHeaderSize bytes after the id),
	// so that exporters can attribute events (--otlp).
	EventHeader bool
}

// Plan is everything the session needs to load, attach and decode.
type Plan struct {
	Spec     *ebpf.CollectionSpec
	Programs []*Program
	// Sites, indexed by the cookie each site is attached with.
	Sites []Site
	// Printfs, indexed by the record id of each printf call.
	Printfs []*PrintfDesc
	// Maps are the program's @maps, in order of first use.
	Maps []*MapDesc
	// Specials lists BEGIN, END and interval probes, run by the trigger.
	Specials []*Special
	// Times are the format strings of time() calls, by record index.
	Times []string
	// Values describes print(value) calls, by record index.
	Values []*Type
	// HasStacks is set when ustack is used (the stack map exists).
	HasStacks bool
	// Trace is set for bcc trace programs: printf rows carry pid, tid,
	// comm, time and the site.
	Trace bool
	// EventHeader is set when printf records carry the trace row's fixed
	// fields (Options.EventHeader, or Trace).
	EventHeader bool
	// Program is the source the plan came from.
	Source *lang.Program
	// Config is what the program's config block asks of the session.
	Config Config
	// Warnings are for the user: attach points skipped by missing_probes.
	Warnings []string
	// Diagnostics are the warnings at places in the program (an unused
	// map, an unreachable statement), with their source line and caret.
	Diagnostics []*lang.Error
	// Runtime are the warnings a probe may send while it runs (RecRuntime),
	// each at its place in the program.
	Runtime []*RuntimeWarning
}

// RuntimeWarning is a warning a probe sends while it runs, at its place in
// the program: a fixed message, or with -k (Options.HelperErrors) the
// failure of a BPF helper, whose record carries the helper's return code
// (RecRuntime's second u64).
type RuntimeWarning struct {
	*lang.Error
	// Helper is the helper that failed, in bpftrace's words
	// ("map_lookup_elem", "probe_read_user"); "" for a fixed message.
	Helper string
}

// Program is one generated BPF program and where it attaches.
type Program struct {
	Name    string
	Kind    string // lang.Kind*
	Sites   []int  // indexes into Plan.Sites; the cookie of each is its index
	Return  bool   // attach as uretprobe
	Special *Special
	Profile *Profile // a profile probe's rate (profile.go)
	// positions maps each instruction to the source it came from.
	positions []lang.Pos
}

// Special is a BEGIN, END or interval probe, run by calling the trigger
// function with ID as its first argument.
type Special struct {
	// Name is the probe as written (BEGIN, interval:s:1), what func and
	// probe print there; Index its place in Plan.Specials.
	Name          string
	Index         int
	Kind          string // lang.KindBegin, KindEnd, KindInterval
	ID            uint64
	IntervalNanos uint64
	Program       string
}

// PrintfDesc describes the record of one printf call.
type PrintfDesc struct {
	Format string
	Args   []Field
	// Size of the whole record.
	Size int
	Pos  lang.Pos
	// Action is the function that sent it: printf prints, cat prints a
	// file, system runs a command, errorf/warnf/debugf print a message on
	// stderr.
	Action string
	// End is the column just past the call, for errorf's and warnf's place.
	End int
	// ExpandedFrom are the macro calls the call was expanded from,
	// innermost first, which errorf and warnf name after their message.
	ExpandedFrom []MacroCall
}

// Field is one value in a record or a map key: its type and byte offset.
type Field struct {
	Type   *Type
	Offset int
}

// MapDesc describes a @map for printing.
type MapDesc struct {
	Name      string // without '@'
	Spec      string // name of the BPF map in Plan.Spec
	Key       *Type  // nil for a map without keys
	KeyFields []Field
	KeySize   int
	Value     *Type
	ValueSize int
	PerCPU    bool
	// BucketOff is where a tseries() map's key holds the interval's slot
	// (a u64 after the keys); 0 for other maps.
	BucketOff int
	// Index of the map's slot in the errors map (updates that failed: full).
	Index int
}

// Record ids: the first u64 of every ring buffer record is kind<<32 | index.
const (
	RecPrintf uint64 = 1 + iota
	RecPrint
	RecClear
	RecZero
	RecExit
	RecValue
	RecTime
	// RecRuntime is a warning found while the probe ran (a division by
	// zero, an array index out of bounds): its index in Plan.Runtime.
	RecRuntime
)

// Names of the maps every plan has.
const (
	MapEvents  = "events"  // ring buffer
	MapLost    = "lost"    // array u64 by index in Plan.Programs: records the ring buffer refused
	MapErrors  = "errors"  // array[maps] u64: updates a full map refused
	MapScratch = "scratch" // per-CPU array[1]: room for strings and records
	MapStacks  = "stacks"  // stack traces
)

// PidNamespace names a PID namespace by the device and inode of its
// /proc/PID/ns/pid file, as bpf_get_ns_current_pid_tgid takes them.
type PidNamespace struct{ Dev, Ino uint64 }

// MacroCall is the place of a macro's call: its position and the column
// just past it.
type MacroCall struct {
	Pos lang.Pos
	End int
}
