package resolve

import (
	"debug/dwarf"
	"sync"
)

// SourceFrame is one frame of an address's source view: the function and
// the file:line there. Inlined is set for a function inlined into the
// next frame (addr2line -i's extra lines).
type SourceFrame struct {
	Func    string
	File    string
	Line    int
	Inlined bool
}

// dwarfLines is an object's DWARF (its separate debug file's when there
// is one), opened on first use; pcs caches lookups.
type dwarfLines struct {
	once sync.Once
	d    *dwarf.Data
	mu   sync.Mutex
	pcs  map[uint64][]SourceFrame
}

// Source returns the source frames of address addr in process pid,
// innermost first: the functions inlined at addr, each at its line, then
// the function that holds them at the line of the outermost call. It is
// nil when the object has no DWARF line table for addr. ret marks a return
// address, looked up one byte back (in the call).
func (r *Resolver) Source(pid int, addr uint64, ret bool) []SourceFrame {
	o := r.processObjectAt(pid, addr)
	if o == nil {
		return nil
	}
	obj, err := r.symObject(o)
	if err != nil {
		return nil
	}
	pc := o.LinkAddr(addr)
	if ret {
		pc--
	}
	r.mu.Lock()
	if r.lines == nil {
		r.lines = map[*object]*dwarfLines{}
	}
	dl := r.lines[obj]
	if dl == nil {
		dl = &dwarfLines{pcs: map[uint64][]SourceFrame{}}
		r.lines[obj] = dl
	}
	r.mu.Unlock()
	dl.once.Do(func() {
		defer func() { _ = recover() }() // a damaged DWARF names no line
		f := obj.f
		if df := f.DebugFile(); df != nil {
			f = df
		}
		dl.d, _ = f.ELF().DWARF()
	})
	if dl.d == nil {
		return nil
	}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if fs, ok := dl.pcs[pc]; ok {
		return fs
	}
	fs := sourceFrames(dl.d, pc)
	dl.pcs[pc] = fs
	return fs
}

// sourceFrames does Source's lookup in d.
func sourceFrames(d *dwarf.Data, pc uint64) (out []SourceFrame) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	rd := d.Reader()
	cu, err := rd.SeekPC(pc)
	if err != nil || cu == nil {
		return nil
	}
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		return nil
	}
	var le dwarf.LineEntry
	if err := lr.SeekPC(pc, &le); err != nil || le.File == nil {
		// SeekPC misses sequences after the first one that is past pc
		// (a CU with .text and .text.startup): scan them all.
		if !scanLines(lr, pc, &le) {
			return nil
		}
	}
	files := lr.Files()
	// The chain of DIEs that contain pc: the subprogram, then each
	// inlined_subroutine inside it (through lexical blocks).
	type level struct {
		name           string
		callFile, line int
	}
	var chain []level
	// rd is at the CU's first child. Entries that do not contain pc are
	// skipped whole; the search goes down into the one that does.
	depth := 0
	for {
		e, err := rd.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 { // end of the children of the entry searched
			break
		}
		contains := false
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
			if rs, err := d.Ranges(e); err == nil {
				for _, r := range rs {
					if pc >= r[0] && pc < r[1] {
						contains = true
					}
				}
			}
		}
		if !contains {
			if e.Children {
				rd.SkipChildren()
			}
			continue
		}
		if e.Tag != dwarf.TagLexDwarfBlock {
			l := level{name: dieName(d, e)}
			if cf, ok := e.Val(dwarf.AttrCallFile).(int64); ok {
				l.callFile = int(cf)
			}
			if cl, ok := e.Val(dwarf.AttrCallLine).(int64); ok {
				l.line = int(cl)
			}
			chain = append(chain, l)
		}
		if !e.Children || depth > 64 {
			break
		}
		depth++
	}
	if len(chain) == 0 {
		return []SourceFrame{{File: le.File.Name, Line: le.Line}}
	}
	// Innermost first: the innermost function at pc's line; each outer
	// one at the call line of the function inlined into it.
	file, line := le.File.Name, le.Line
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, SourceFrame{Func: chain[i].name, File: file, Line: line, Inlined: i > 0})
		if i > 0 {
			cf := chain[i].callFile
			file, line = "", chain[i].line
			if cf >= 0 && cf < len(files) && files[cf] != nil {
				file = files[cf].Name
			}
		}
	}
	return out
}

// dieName is the name of a subprogram or inlined instance, following
// abstract_origin and specification.
func dieName(d *dwarf.Data, e *dwarf.Entry) string {
	for i := 0; i < 4 && e != nil; i++ {
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			return n
		}
		off, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			off, ok = e.Val(dwarf.AttrSpecification).(dwarf.Offset)
		}
		if !ok {
			return ""
		}
		r := d.Reader()
		r.Seek(off)
		e, _ = r.Next()
	}
	return ""
}

// scanLines finds the row of pc by reading every sequence of lr.
func scanLines(lr *dwarf.LineReader, pc uint64, out *dwarf.LineEntry) bool {
	lr.Reset()
	var prev dwarf.LineEntry
	have := false
	for {
		var e dwarf.LineEntry
		if err := lr.Next(&e); err != nil {
			return false
		}
		if have && prev.Address <= pc && pc < e.Address && prev.File != nil {
			*out = prev
			return true
		}
		prev, have = e, !e.EndSequence
	}
}
