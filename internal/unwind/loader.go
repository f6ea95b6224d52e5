package unwind

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/proc"
)

// The process map's value (one per traced process, keyed by its pid):
//
//	0   u32 the number of mappings that follow (at most MaxMappings)
//	4   u32 flags (ProcFramePointers)
//	8   MaxMappings × {u64 start, u64 end, u64 bias (runtime address
//	    minus link-time address), u32 first row, u32 row count}
//
// sorted by start; only executable mappings of ELF objects are listed.
const (
	MaxMappings       = 128
	MappingSize       = 32
	ProcValueSize     = 8 + MaxMappings*MappingSize
	ProcFramePointers = 1 // every object keeps frame pointers: the kernel's walk is right
)

// Offsets in a mapping entry, for the BPF walker.
const (
	MapStart    = 0
	MapEnd      = 8
	MapBias     = 16
	MapRowStart = 24
	MapRowCount = 28
)

// objKey identifies a file across processes.
type objKey struct {
	major, minor uint32
	inode        uint64
	path         string
}

// loaded is an object's table in the rows map.
type loaded struct {
	start, count uint32
	fp           bool
}

// A Loader keeps the tables of the objects traced processes map in two
// BPF maps: Rows (an array of rows, every object's table contiguous) and
// Procs (per process, its executable mappings and where their tables
// are). Objects shared by processes are loaded once.
type Loader struct {
	rows, procs *ebpf.Map
	capacity    uint32
	warn        func(string)

	mu     sync.Mutex
	next   uint32
	objs   map[objKey]loaded
	seen   map[int]string // pid: the executable mappings last written
	warned bool
}

// NewLoader returns a loader writing to the rows and procs maps; warn
// reports, once, that the rows map is full.
func NewLoader(rows, procs *ebpf.Map, warn func(string)) *Loader {
	return &Loader{rows: rows, procs: procs, capacity: rows.MaxEntries(), warn: warn,
		objs: map[objKey]loaded{}, seen: map[int]string{}}
}

// Sync loads the tables of what pid maps now, unless its executable
// mappings are those written last time.
func (l *Loader) Sync(pid int) error {
	maps, err := proc.Maps(pid)
	if err != nil {
		return err
	}
	var sig strings.Builder
	for _, m := range maps {
		if m.Perms.Exec && m.IsFile() {
			fmt.Fprintf(&sig, "%x-%x %d %s\n", m.Start, m.End, m.Inode, m.Path)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[pid] == sig.String() {
		return nil
	}
	objs, err := proc.Objects(pid)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return nil // an exiting process shows no mappings
	}
	type entry struct {
		start, end, bias uint64
		t                loaded
	}
	var entries []entry
	allFP := true
	for i := range objs {
		o := &objs[i]
		t := l.object(o)
		allFP = allFP && t.fp
		for _, m := range o.Mappings {
			if m.Perms.Exec {
				entries = append(entries, entry{m.Start, m.End, o.Bias, t})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].start < entries[j].start })
	if len(entries) > MaxMappings {
		entries = entries[:MaxMappings]
	}
	v := make([]byte, ProcValueSize)
	le := binary.LittleEndian
	le.PutUint32(v[0:], uint32(len(entries)))
	if allFP {
		le.PutUint32(v[4:], ProcFramePointers)
	}
	for i, e := range entries {
		b := v[8+i*MappingSize:]
		le.PutUint64(b[MapStart:], e.start)
		le.PutUint64(b[MapEnd:], e.end)
		le.PutUint64(b[MapBias:], e.bias)
		le.PutUint32(b[MapRowStart:], e.t.start)
		le.PutUint32(b[MapRowCount:], e.t.count)
	}
	if err := l.procs.Put(uint32(pid), v); err != nil {
		return fmt.Errorf("unwind tables of process %d: %w", pid, err)
	}
	l.seen[pid] = sig.String()
	return nil
}

// object returns the object's table, building and loading it the first
// time. An object that cannot be read, or that does not fit, has no rows:
// the walker uses its frame pointers.
func (l *Loader) object(o *proc.Object) loaded {
	k := objKey{o.Major, o.Minor, o.Inode, o.Path}
	if t, ok := l.objs[k]; ok {
		return t
	}
	t := l.build(o)
	l.objs[k] = t
	return t
}

func (l *Loader) build(o *proc.Object) loaded {
	f, err := elfx.Open(o.OpenPath, elfx.WithoutDebugFile())
	if err != nil || f.Machine() != elf.EM_X86_64 {
		if f != nil {
			f.Close()
		}
		return loaded{}
	}
	defer f.Close()
	tab, err := Build(f)
	if err != nil {
		return loaded{}
	}
	goFP := false
	if isGo(f) {
		if ranges, ok := goFrameless(o.OpenPath); ok {
			tab.AddFrameless(ranges)
			// Go keeps frame pointers; only its C code (cgo) may not.
			goFP = tab.FDEs == 0 || tab.FramePointers
		}
	}
	n := uint32(len(tab.Rows))
	if n == 0 {
		return loaded{fp: tab.FramePointers || goFP}
	}
	if l.next+n > l.capacity || l.next+n < l.next {
		if !l.warned && l.warn != nil {
			l.warned = true
			l.warn(fmt.Sprintf("the unwind tables are full (%d rows): stacks through %s use frame pointers only", l.capacity, o.Path))
		}
		return loaded{fp: tab.FramePointers || goFP}
	}
	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = l.next + uint32(i)
	}
	if _, err := l.rows.BatchUpdate(keys, tab.Rows, nil); err != nil {
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return loaded{fp: tab.FramePointers || goFP}
		}
		for i, k := range keys {
			if err := l.rows.Put(k, tab.Rows[i]); err != nil {
				return loaded{fp: tab.FramePointers || goFP}
			}
		}
	}
	t := loaded{start: l.next, count: n, fp: tab.FramePointers || goFP}
	l.next += n
	return t
}

// goFrameless returns the Go functions of a Go binary that keep no frame
// pointer (leaves without a frame, NOFRAME assembly such as crosscall2 and
// asmcgocall), with their stack depth at each instruction from pclntab's
// SP table; the walker follows frame pointers in every other Go function.
func goFrameless(path string) ([]FramelessRange, bool) {
	b, err := gobin.OpenFile(path)
	if err != nil {
		return nil, false
	}
	defer b.Close()
	fns, err := b.Functions()
	if err != nil {
		return nil, false
	}
	var out []FramelessRange
	for _, fn := range fns {
		slot := uint8(0)
		if b.SavesFramePointer(fn) {
			if !relinksFrame(b, fn) {
				continue
			}
			// crosscall2 links a second frame inside its own: the
			// chain's next "return address" would be the saved rbp.
			// Its SP table finds the real one; rbp is at CFA-16.
			slot = 2
		}
		deltas, err := b.SPDeltas(fn)
		if err != nil {
			continue
		}
		for _, d := range deltas {
			s := uint8(0)
			if d.Delta >= 8 {
				s = slot
			}
			out = append(out, FramelessRange{Start: d.Start, End: d.End, Depth: d.Delta, RBPSlot: s})
		}
	}
	return out, true
}

// relinksFrame reports whether fn, after push %rbp; mov %rsp,%rbp, points
// rbp into its frame again (lea N(%rsp),%rbp): Go's crosscall2 does, to
// give its register save area a frame of its own.
func relinksFrame(b *gobin.Binary, fn gobin.Func) bool {
	code, err := b.Code(fn)
	if err != nil || len(code) < 4 || !bytes.HasPrefix(code, []byte{0x55, 0x48, 0x89, 0xe5}) {
		return false
	}
	code = code[4:min(len(code), 64)]
	return bytes.Contains(code, []byte{0x48, 0x8d, 0x6c, 0x24}) || bytes.Contains(code, []byte{0x48, 0x8d, 0xac, 0x24})
}
