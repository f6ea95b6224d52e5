package compile

import (
	"fmt"
	"strings"

	"github.com/uscope/uscope/internal/output"
)

// Kind classifies the values of the language.
type Kind int

// The kinds of values. Integers are carried as 64-bit values everywhere (in
// registers, records and map keys); Size and Signed keep their C type for
// arithmetic, casts and printing.
const (
	KindVoid   Kind = iota
	KindInt         // integer of Size bytes; Pointee set for pointers
	KindString      // NUL-terminated bytes in a buffer of Size bytes
	KindBuf         // buf(): u64 length followed by Size bytes
	KindSym         // func / probe: a site id, printed as its name
	KindUsym        // usym(addr): an address, printed symbolized
	KindStack       // ustack: a stack id and pid, printed as frames
	KindTuple       // (a, b, ...)
	KindAgg         // a map value that is an aggregation (count(), hist() ...)
)

// AggKind is the aggregation a map holds: output's kinds, whose value
// layouts output declares (output.AggValueSize, output.MergeAgg).
type AggKind = output.AggKind

// Aggregations, and plain values (AggNone).
const (
	AggNone  = output.AggValue
	AggCount = output.AggCount
	AggSum   = output.AggSum
	AggMin   = output.AggMin
	AggMax   = output.AggMax
	AggAvg   = output.AggAvg
	AggStats = output.AggStats
	AggHist  = output.AggHist
	AggLhist = output.AggLHist
	// AggTSeries keeps its interval in Type.Step, the number of intervals
	// in Type.Max and the combining function in Type.Builtin.
	AggTSeries = output.AggTSeries
)

// Type is the type of an expression.
type Type struct {
	Kind    Kind
	Size    int // bytes of an integer (1, 2, 4, 8), or capacity of a string/buffer
	Signed  bool
	Pointee *Type   // for pointers: the type pointed to
	Elems   []*Type // tuple elements
	// Names are the names of a tuple's elements when it is a record (a Go
	// struct, args), printed as { .name = value, ... }; nil otherwise.
	Names []string
	Agg   AggKind
	// Lhist parameters.
	Min, Max, Step int64
	// HistBits is hist(n, k)'s k: 2^k buckets per power of two.
	HistBits int
	// Builtin names what a KindSym value identifies: "func" or "probe".
	Builtin string
	// Bool marks a bool (comparisons, !, &&, ||, true, false): an
	// integer 0 or 1 that prints as false or true.
	Bool bool
	// Array marks a tuple that is a C array, printed [a,b].
	Array bool
	// MultiKey marks the tuple of a map's keys when it has several
	// (@m[a, b]), which print as the map's keys, not as one tuple.
	MultiKey bool
	// Format is strftime()'s format, for a value that prints as a date.
	Format string
	// C is the layout of a value read from user memory through a type the
	// program defines (ctypes.go); nil for other values.
	C *cType
	// GoBinary is, for a Go interface's first word (Builtin "goitab", or
	// "goetype" for an empty interface), the binary whose type data
	// names the dynamic type.
	GoBinary string
	// Kernel marks a pointer into uscope's own BPF memory (&$var), read
	// with bpf_probe_read_kernel and in the layout of values, not C's.
	Kernel bool
	// Enum is the enum of an integer of an enum type, which prints as its
	// enumerator's name.
	Enum *EnumType
}

// Common types.
var (
	tVoid  = &Type{Kind: KindVoid}
	tU64   = &Type{Kind: KindInt, Size: 8}
	tS64   = &Type{Kind: KindInt, Size: 8, Signed: true}
	tU32   = &Type{Kind: KindInt, Size: 4}
	tBool  = &Type{Kind: KindInt, Size: 1, Bool: true}
	tFunc  = &Type{Kind: KindSym, Size: 8, Builtin: "func"}
	tProbe = &Type{Kind: KindSym, Size: 8, Builtin: "probe"}
	tUsym  = &Type{Kind: KindUsym, Size: 8}
	tStack = &Type{Kind: KindStack, Size: 16}
	// Integers that print as something else: a uid as its user name, an
	// errno as its message.
	tUsername = &Type{Kind: KindInt, Size: 8, Builtin: "username"}
	tStrerror = &Type{Kind: KindInt, Size: 8, Signed: true, Builtin: "strerror"}
	tSignal   = &Type{Kind: KindInt, Size: 8, Signed: true, Builtin: "signal_name"}
	// A cgroup id, printed as the cgroup's path (cgroup_path).
	tCgroupPath = &Type{Kind: KindInt, Size: 8, Builtin: "cgroup_path"}
	tCtx        = &Type{Kind: KindInt, Size: 8, Pointee: tU64, Kernel: true}
)

func strType(n int) *Type { return &Type{Kind: KindString, Size: n} }

// StorageSize is how many bytes a value of t takes in a record or a map key.
func (t *Type) StorageSize() int {
	switch t.Kind {
	case KindInt, KindSym, KindUsym:
		return 8
	case KindString:
		return align8(t.Size)
	case KindBuf:
		return 8 + align8(t.Size)
	case KindStack:
		return 16
	case KindTuple:
		n := 0
		for _, e := range t.Elems {
			n += e.StorageSize()
		}
		return n
	}
	return 0
}

// IsScalar reports whether values of t live in a register.
func (t *Type) IsScalar() bool {
	return t.Kind == KindInt || t.Kind == KindSym || t.Kind == KindUsym
}

func (t *Type) String() string {
	switch t.Kind {
	case KindVoid:
		return "void"
	case KindInt:
		if t.Pointee != nil {
			return t.Pointee.String() + "*"
		}
		if t.Bool {
			return "bool"
		}
		if t.Enum != nil {
			return t.Enum.Name
		}
		if t.Signed {
			return fmt.Sprintf("int%d", t.Size*8)
		}
		return fmt.Sprintf("uint%d", t.Size*8)
	case KindString:
		return fmt.Sprintf("string[%d]", t.Size)
	case KindBuf:
		return fmt.Sprintf("buffer[%d]", t.Size)
	case KindSym:
		return "symbol"
	case KindUsym:
		return "usym"
	case KindStack:
		return "ustack"
	case KindTuple:
		var parts []string
		for _, e := range t.Elems {
			parts = append(parts, e.String())
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case KindAgg:
		return t.Agg.String() + "()"
	}
	return "?"
}

// sameShape reports whether values of a and b can be stored in the same map
// slot (keys or values).
func sameShape(a, b *Type) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindTuple:
		if len(a.Elems) != len(b.Elems) {
			return false
		}
		for i := range a.Elems {
			if !sameShape(a.Elems[i], b.Elems[i]) {
				return false
			}
		}
	case KindString, KindBuf:
		return a.Size == b.Size
	case KindAgg:
		return a.Agg == b.Agg
	}
	return true
}

func align8(n int) int { return (n + 7) &^ 7 }

// intTypes maps the cast and declaration names the language accepts.
var intTypes = map[string]*Type{
	"int8": {Kind: KindInt, Size: 1, Signed: true}, "uint8": {Kind: KindInt, Size: 1},
	"int16": {Kind: KindInt, Size: 2, Signed: true}, "uint16": {Kind: KindInt, Size: 2},
	"int32": {Kind: KindInt, Size: 4, Signed: true}, "uint32": {Kind: KindInt, Size: 4},
	"int64": {Kind: KindInt, Size: 8, Signed: true}, "uint64": {Kind: KindInt, Size: 8},
	"char": {Kind: KindInt, Size: 1, Signed: true}, "uchar": {Kind: KindInt, Size: 1},
	"short": {Kind: KindInt, Size: 2, Signed: true}, "ushort": {Kind: KindInt, Size: 2},
	"int": {Kind: KindInt, Size: 4, Signed: true}, "uint": {Kind: KindInt, Size: 4},
	"unsigned": {Kind: KindInt, Size: 4},
	"long":     {Kind: KindInt, Size: 8, Signed: true}, "ulong": {Kind: KindInt, Size: 8},
	"bool": {Kind: KindInt, Size: 1, Bool: true}, "size_t": {Kind: KindInt, Size: 8},
	"ssize_t": {Kind: KindInt, Size: 8, Signed: true}, "uintptr": {Kind: KindInt, Size: 8},
	"pid_t": {Kind: KindInt, Size: 4, Signed: true}, "void": {Kind: KindInt, Size: 1},
}
