// Package compile turns a parsed program into BPF: it checks types, lays out
// maps and event records, and generates one program per distinct probe shape
// with cilium/ebpf's asm package. Nothing here talks to the kernel; the
// session loads and attaches what the Plan describes.
package compile

import (
	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/usdt"
)

// Site is one place a probe attaches, as resolved from an attach point.
type Site struct {
	Kind         string // lang.KindUprobe, KindUretprobe, KindUSDT
	Probe        string // canonical probe name
	Target       string // object path for display
	AttachPath   string // object path handed to the kernel
	Func         string // name shown by `func` (demangled)
	Provider     string // USDT provider
	FuncAddr     uint64 // link-time address of the function start
	Addr         uint64 // link-time address of the site
	Offset       uint64 // file offset of the site
	RefCtrOffset uint64 // USDT semaphore file offset
	USDT         *usdt.Site
	GoBinary     bool
	// GoFunc is the Go function (from the binary's pclntab) the site is
	// in, "" for other sites (C code of a cgo binary, other objects). Go
	// answers questions about its binary: parameters, types, goid.
	GoFunc string
	Go     GoBinary
	// GoEntry marks the entry of GoFunc, placed after its stack-check
	// prologue: its parameters are where the calling convention put them.
	GoEntry bool
	// GoAsm marks a Go function written in assembly (ABI0): arguments on
	// the stack, R14 not the goroutine.
	GoAsm bool
	// AtReturn marks a RET instruction of a Go function. A uretprobe on a
	// Go function becomes plain uprobes on its RET instructions; the
	// program keeps return semantics (retval, results) but is attached as
	// an entry probe, never as a kernel uretprobe.
	AtReturn bool
	// Moved is how far an entry probe on a C or C++ function was moved
	// past the first instruction (internal/placement); programs still see
	// the function's address in ip and reg("ip"). Placement describes the
	// choice for -d ("+4 (jcc, emulated; skipped cmp)").
	Moved     uint64
	Placement string
}

// GoBinary is what the compiler asks of a Go binary; *gobin.Binary
// implements it.
type GoBinary interface {
	// Params places the parameters and results of fn (gobin.Binary.Params).
	Params(fn string) ([]gobin.Param, error)
	// ParamType returns the DWARF type of a parameter or result of fn.
	ParamType(fn, name string) (*gobin.Type, error)
	// GoidOffset is the offset of the goroutine id in runtime.g.
	GoidOffset() (off int, fromDWARF bool, err error)
	// GoVersionAtLeast reports whether the binary was built by Go
	// major.minor or later.
	GoVersionAtLeast(major, minor int) bool
}

// Resolver finds the sites of an attach point.
type Resolver interface {
	Resolve(ap *lang.AttachPoint) ([]Site, error)
}

// Options control compilation.
type Options struct {
	Resolver Resolver
	// StrSize is the capacity of strings read by str() including the NUL
	// (default 64).
	StrSize int
	// MapSize is the number of keys of each map (default 4096).
	MapSize int
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
	// TriggerArgOffset is the pt_regs offset of the register holding the
	// first argument of the trigger function that runs BEGIN, END and
	// interval probes.
	TriggerArgOffset int16
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
	// Program is the source the plan came from.
	Source *lang.Program
}

// Program is one generated BPF program and where it attaches.
type Program struct {
	Name    string
	Kind    string // lang.Kind*
	Sites   []int  // indexes into Plan.Sites; the cookie of each is its index
	Return  bool   // attach as uretprobe
	Special *Special
	// positions maps each instruction to the source it came from.
	positions []lang.Pos
}

// Special is a BEGIN, END or interval probe, run by calling the trigger
// function with ID as its first argument.
type Special struct {
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
)

// Names of the maps every plan has.
const (
	MapEvents  = "events"  // ring buffer
	MapLost    = "lost"    // array u64 by index in Plan.Programs: records the ring buffer refused
	MapErrors  = "errors"  // array[maps] u64: updates a full map refused
	MapScratch = "scratch" // per-CPU array[1]: room for strings and records
	MapStacks  = "stacks"  // stack traces
)
