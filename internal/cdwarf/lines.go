package cdwarf

import (
	"debug/dwarf"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// LineAddrs returns the addresses where source line line of file begins:
// every is_stmt row of the line table for it that follows a row of another
// line, so that a line the optimizer duplicated is found everywhere and a
// line run once is entered once. file matches a row's file by its whole
// path, a path suffix, or its base name. files are the files matched.
func (f *File) LineAddrs(file string, line int) (addrs []uint64, files []string, err error) {
	fileSeen := map[string]bool{}
	known, err := f.lineStarts(file, func(name string, l int, addr uint64) {
		if l != line {
			return
		}
		addrs = append(addrs, addr)
		if !fileSeen[name] {
			fileSeen[name] = true
			files = append(files, name)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if len(addrs) == 0 {
		if err := noFile(file, known); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("no code for line %d of %s", line, file)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	return addrs, files, nil
}

// lineStarts calls fn for each address where a line of file begins (the
// rule of LineAddrs), each line and address once; known are the base names of the
// files the line table has.
func (f *File) lineStarts(file string, fn func(name string, line int, addr uint64)) (known map[string]bool, err error) {
	seen := map[[2]uint64]bool{} // line, address
	known = map[string]bool{}
	r := f.d.Reader()
	for {
		cu, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if cu == nil {
			return known, nil
		}
		r.SkipChildren()
		if cu.Tag != dwarf.TagCompileUnit && cu.Tag != dwarf.TagPartialUnit && cu.Tag != dwarf.TagSkeletonUnit {
			continue
		}
		lr, err := f.d.LineReader(cu)
		if err != nil || lr == nil {
			continue
		}
		var le dwarf.LineEntry
		prevLine, prevFile, prevEnd := -1, "", true
		for lr.Next(&le) == nil {
			name := ""
			if le.File != nil {
				name = le.File.Name
			}
			known[filepath.Base(name)] = true
			if le.IsStmt && !le.EndSequence && le.Line > 0 && (prevEnd || prevLine != le.Line || prevFile != name) && !seen[[2]uint64{uint64(le.Line), le.Address}] && fileMatches(name, file) {
				seen[[2]uint64{uint64(le.Line), le.Address}] = true
				fn(name, le.Line, le.Address)
			}
			prevLine, prevFile, prevEnd = le.Line, name, le.EndSequence
		}
	}
}

// noFile is the error for a file the line table does not have, nil when
// it has it.
func noFile(file string, known map[string]bool) error {
	if known[filepath.Base(file)] {
		return nil
	}
	var names []string
	for n := range known {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return fmt.Errorf("no source file %s in the line table (files: %s)", file, strings.Join(names, ", "))
}

func fileMatches(name, want string) bool {
	if name == want || filepath.Clean(name) == filepath.Clean(want) {
		return true
	}
	if strings.Contains(want, "/") {
		return strings.HasSuffix(name, "/"+strings.TrimPrefix(want, "./"))
	}
	return filepath.Base(name) == want
}

// Scope is what DWARF says is visible at an address: the function that
// contains it and its variables and parameters there, innermost first.
type Scope struct {
	Func *Func
	Vars []Param
}

// ScopeAt returns the function containing pc and the variables of the
// lexical blocks around pc (not those of functions inlined there).
func (f *File) ScopeAt(pc uint64) (*Scope, error) {
	if s := f.splitAt(pc); s != nil {
		return s.ScopeAt(pc)
	}
	r := f.d.Reader()
	cu, err := r.SeekPC(pc)
	if f.skel != nil {
		// A split unit has no ranges of its own: its skeleton covers pc.
		r.Seek(0)
		cu, err = r.Next()
	}
	if err != nil || cu == nil {
		return nil, fmt.Errorf("no DWARF for address %#x", pc)
	}
	// Walk the unit: the subprogram containing pc, then its blocks.
	var stack [][]Param // variables per open scope
	var fnOff dwarf.Offset
	depth := 0
	inside := []bool{} // per depth: the entry contains pc
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			if depth < 0 {
				break
			}
			inside = inside[:depth]
			if depth == 0 && fnOff != 0 {
				break // past the function
			}
			continue
		}
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagLexDwarfBlock:
			rs, _ := f.d.Ranges(e)
			in := false
			for _, rg := range rs {
				if pc >= rg[0] && pc < rg[1] {
					in = true
				}
			}
			if !in {
				if e.Children {
					r.SkipChildren()
				}
				continue
			}
			if e.Tag == dwarf.TagSubprogram {
				fnOff = e.Offset
			}
			stack = append(stack, nil)
			if e.Children {
				depth++
				inside = append(inside, true)
			}
			continue
		case dwarf.TagVariable, dwarf.TagFormalParameter:
			if fnOff != 0 && depth > 0 && len(stack) > 0 {
				p := f.varOf(e)
				if p.Name != "" && p.Type != nil {
					stack[len(stack)-1] = append(stack[len(stack)-1], p)
				}
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	if fnOff == 0 {
		return nil, fmt.Errorf("no function contains %#x", pc)
	}
	fn, err := f.funcAt(fnOff)
	if err != nil {
		return nil, err
	}
	sc := &Scope{Func: fn}
	for i := len(stack) - 1; i >= 0; i-- {
		sc.Vars = append(sc.Vars, stack[i]...)
	}
	return sc, nil
}

// Var returns the innermost variable or parameter named name.
func (s *Scope) Var(name string) (*Param, bool) {
	for i := range s.Vars {
		if s.Vars[i].Name == name {
			return &s.Vars[i], true
		}
	}
	return nil, false
}

// Names lists the variables' names, for hints.
func (s *Scope) Names() string {
	var n []string
	seen := map[string]bool{}
	for _, v := range s.Vars {
		if !seen[v.Name] {
			seen[v.Name] = true
			n = append(n, v.Name)
		}
	}
	return strings.Join(n, ", ")
}

// FuncLine returns the source file and line where the function named name
// is declared (DW_AT_decl_file, DW_AT_decl_line of its definition or of
// the declaration it completes): the line perf probe's FUNC:N counts from.
func (f *File) FuncLine(name string) (file string, line int, err error) {
	f.once.Do(f.buildIndex)
	if f.err != nil {
		return "", 0, f.err
	}
	offs := f.index[name]
	if len(offs) == 0 {
		for _, s := range f.splits {
			if file, line, err := s.FuncLine(name); err == nil {
				return file, line, nil
			}
		}
		return "", 0, fmt.Errorf("%s: %w", name, ErrNoFunc)
	}
	r := f.d.Reader()
	r.Seek(offs[0])
	e, err := r.Next()
	if err != nil || e == nil {
		return "", 0, fmt.Errorf("reading DWARF of %s: %v", name, err)
	}
	var fileIdx int64 = -1
	for d, i := e, 0; d != nil && i < 4; d, i = f.ref(d), i+1 {
		if l, ok := d.Val(dwarf.AttrDeclLine).(int64); ok && line == 0 {
			line = int(l)
		}
		if fi, ok := d.Val(dwarf.AttrDeclFile).(int64); ok && fileIdx < 0 {
			fileIdx = fi
		}
		if line != 0 && fileIdx >= 0 {
			break
		}
	}
	if line == 0 || fileIdx < 0 {
		return "", 0, fmt.Errorf("DWARF gives %s no source line", name)
	}
	// The file index is into the line table of the unit holding the DIE.
	cr := f.d.Reader()
	cr.Seek(0)
	var cu *dwarf.Entry
	for {
		c, err := cr.Next()
		if err != nil || c == nil {
			break
		}
		if c.Offset > offs[0] {
			break
		}
		cu = c
		cr.SkipChildren()
	}
	if cu == nil {
		return "", 0, fmt.Errorf("no compilation unit holds %s", name)
	}
	lr, err := f.d.LineReader(cu)
	if f.skel != nil {
		lr, err = f.skelData.LineReader(f.skel) // a split unit's is its skeleton's
	}
	if err != nil || lr == nil {
		return "", 0, fmt.Errorf("%s: no line table", name)
	}
	files := lr.Files()
	if fileIdx >= int64(len(files)) || files[fileIdx] == nil {
		return "", 0, fmt.Errorf("%s: file index %d not in the line table", name, fileIdx)
	}
	return files[fileIdx].Name, line, nil
}

// Line is one probeable source line: where it begins (LineAddrs's rule)
// and the function each address is in.
type Line struct {
	File  string
	Line  int
	Addrs []uint64
}

// Lines returns the probeable lines of file (matched as LineAddrs does),
// by line number: each line with the addresses a probe on it attaches to,
// leaving out lines that begin only where an earlier line begins.
func (f *File) Lines(file string) ([]Line, error) {
	byLine := map[int]*Line{}
	owner := map[uint64]int{} // the first line that begins at an address
	known, err := f.lineStarts(file, func(name string, line int, addr uint64) {
		if _, ok := owner[addr]; !ok {
			owner[addr] = line
		}
		l := byLine[line]
		if l == nil {
			l = &Line{File: name, Line: line}
			byLine[line] = l
		}
		l.Addrs = append(l.Addrs, addr)
	})
	if err != nil {
		return nil, err
	}
	if len(byLine) == 0 {
		if err := noFile(file, known); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no code for any line of %s", file)
	}
	// A line all of whose addresses begin an earlier line of the table
	// too is not listed, as perf probe -L leaves it out: a probe there is
	// one on the earlier line (it is still probed if named).
	out := make([]Line, 0, len(byLine))
	for _, l := range byLine {
		own := false
		for _, a := range l.Addrs {
			own = own || owner[a] == l.Line
		}
		if !own {
			continue
		}
		sort.Slice(l.Addrs, func(i, j int) bool { return l.Addrs[i] < l.Addrs[j] })
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out, nil
}
