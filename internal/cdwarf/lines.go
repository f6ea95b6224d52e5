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
	seen := map[uint64]bool{}
	fileSeen := map[string]bool{}
	known := map[string]bool{}
	r := f.d.Reader()
	for {
		cu, err := r.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit && cu.Tag != dwarf.TagPartialUnit {
			r.SkipChildren()
			continue
		}
		r.SkipChildren()
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
			match := le.Line == line && fileMatches(name, file)
			if match && le.IsStmt && !le.EndSequence && (prevEnd || prevLine != line || prevFile != name) && !seen[le.Address] {
				seen[le.Address] = true
				addrs = append(addrs, le.Address)
				if !fileSeen[name] {
					fileSeen[name] = true
					files = append(files, name)
				}
			}
			prevLine, prevFile, prevEnd = le.Line, name, le.EndSequence
		}
	}
	if len(addrs) == 0 {
		var names []string
		for n := range known {
			if n != "" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		if !known[filepath.Base(file)] {
			return nil, nil, fmt.Errorf("no source file %s in the line table (files: %s)", file, strings.Join(names, ", "))
		}
		return nil, nil, fmt.Errorf("no code for line %d of %s", line, file)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	return addrs, files, nil
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
	r := f.d.Reader()
	cu, err := r.SeekPC(pc)
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
