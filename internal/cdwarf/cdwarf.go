// Package cdwarf reads what uscope needs of C and C++ debugging
// information: a function's parameters with their types, its return type,
// and where each parameter's value is at an address (DWARF location
// expressions and location lists, DWARF 4 and 5).
//
// Parsing uses Go's debug/dwarf (which also inflates compressed sections);
// this package adds what it lacks: an index of functions by name and
// linkage name, the evaluation of location expressions and lists at a PC,
// the SysV x86-64 placement of parameters at a function's entry, and C
// spellings of types.
package cdwarf

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/uscope/uscope/elfx"
)

// ErrNoDWARF says that an object has no debugging information, neither in
// itself nor in a separate debug file.
var ErrNoDWARF = errors.New("no DWARF")

// ErrNoFunc says that a function has no DWARF entry.
var ErrNoFunc = errors.New("no DWARF entry for the function")

// File is the DWARF of one object.
type File struct {
	d     *dwarf.Data
	ef    *elf.File
	code  *elf.File // the object itself, whose code a debug file lacks
	close func()
	// Path is the file the DWARF was read from (the object or its debug file).
	Path string
	// frames are the objects whose call frame information gives the CFA
	// (cfa.go): the code object, then the debug file the DWARF is from.
	frames []*elfx.File

	once    sync.Once
	index   map[string][]dwarf.Offset // name and linkage name → subprogram DIEs
	byPC    map[uint64]dwarf.Offset   // low PC → subprogram (aliases: malloc is __libc_malloc)
	types   map[string]dwarf.Offset   // "struct Foo", "union U", "enum E", typedef names → definitions
	inlOnce sync.Once
	inlines map[string][]Inline // inlined instances by function name
	err     error
	// sections lacking in debug/dwarf's API, read on demand
	secOnce  sync.Once
	loc      []byte // .debug_loc (DWARF 4)
	loclists []byte // .debug_loclists (DWARF 5)
	addr     []byte // .debug_addr
	// Split DWARF (split.go): the .dwo files of the skeleton units; in a
	// File of a .dwo, its skeleton unit and the object's DWARF.
	splits   []*File
	skel     *dwarf.Entry
	skelData *dwarf.Data
}

// DebugDirs are directories searched for separate debug files after the
// standard places, as bpftrace's --debuginfo DIR: DIR/.build-id/xx/yyyy.debug,
// DIR/NAME.debug and DIR/NAME, with NAME the object's file name or its
// .gnu_debuglink name. A relative DIR is taken from the current directory,
// then from the object's. A file found there must have the object's
// build-id. The command line sets it before tracing starts.
var DebugDirs []string

// searchDebugDirs opens the first debug file of ef found in DebugDirs.
func searchDebugDirs(path string, ef *elfx.File) *File {
	id := ef.BuildID()
	names := []string{filepath.Base(path) + ".debug", filepath.Base(path)}
	if link, _, ok := ef.DebugLink(); ok {
		names = append([]string{link}, names...)
	}
	var dirs []string
	for _, dir := range DebugDirs {
		dirs = append(dirs, dir)
		if !filepath.IsAbs(dir) {
			dirs = append(dirs, filepath.Join(filepath.Dir(path), dir))
		}
	}
	for _, dir := range dirs {
		var cands []string
		if len(id) > 2 {
			cands = append(cands, filepath.Join(dir, ".build-id", id[:2], id[2:]+".debug"))
		}
		for _, n := range names {
			cands = append(cands, filepath.Join(dir, n))
		}
		for _, c := range cands {
			if abs, err := filepath.Abs(c); err == nil && abs == path {
				continue
			}
			if f, err := openDebug(c, ef); err == nil {
				return f
			}
		}
	}
	return nil
}

// Open reads the DWARF of the object at path, or of its separate debug file
// (.gnu_debuglink, /usr/lib/debug/.build-id, DebugDirs, debuginfod) when the
// object has none.
func Open(path string) (*File, error) {
	ef, err := elfx.Open(path)
	if err != nil {
		return nil, err
	}
	src := ef
	if ef.Section(".debug_info") == nil && ef.Section(".zdebug_info") == nil {
		if d := ef.DebugFile(); d != nil && d.Section(".debug_info") != nil {
			src = d
		} else if f := searchDebugDirs(path, ef); f != nil {
			return f, nil
		} else if dp, err := FetchDebugInfo(ef.BuildID()); err == nil && dp != "" {
			// From a debuginfod server (DEBUGINFOD_URLS).
			f, err := openDebug(dp, ef)
			if err != nil {
				ef.Close()
				return nil, fmt.Errorf("%s: debug file %s from debuginfod: %w", path, dp, err)
			}
			return f, nil
		} else {
			ef.Close()
			hint := "build with -g, install its debug file, or set DEBUGINFOD_URLS"
			if err != nil {
				hint = err.Error()
			}
			return nil, fmt.Errorf("%s: %w (%s)", path, ErrNoDWARF, hint)
		}
	}
	f, err := Load(src)
	if err != nil {
		ef.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	f.code = ef.ELF()
	if src != ef {
		f.Path = ef.DebugFilePath()
		f.frames = []*elfx.File{ef, src}
	}
	f.close = func() { ef.Close() }
	if err := f.loadSplits(path); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// openDebug reads the DWARF of the debug file at dp for the object ef.
func openDebug(dp string, ef *elfx.File) (*File, error) {
	d, err := elfx.Open(dp, elfx.WithoutDebugFile())
	if err != nil {
		return nil, err
	}
	if d.BuildID() != ef.BuildID() {
		d.Close()
		return nil, errors.New("its build-id does not match")
	}
	f, err := Load(d)
	if err != nil {
		d.Close()
		return nil, err
	}
	f.Path, f.code, f.frames = dp, ef.ELF(), []*elfx.File{ef, d}
	f.close = func() { d.Close(); ef.Close() }
	return f, nil
}

// Load reads the DWARF of an ELF file already open; the file must stay
// open while the File is used.
func Load(x *elfx.File) (*File, error) {
	ef := x.ELF()
	if ef.Section(".debug_info") == nil && ef.Section(".zdebug_info") == nil {
		return nil, ErrNoDWARF
	}
	d, err := ef.DWARF()
	if err != nil {
		return nil, fmt.Errorf("reading DWARF: %w", err)
	}
	return &File{d: d, ef: ef, code: ef, frames: []*elfx.File{x}}, nil
}

// Close releases the file (for a File from Open).
func (f *File) Close() error {
	for _, s := range f.splits {
		s.Close()
	}
	f.splits = nil
	if f.close != nil {
		f.close()
		f.close = nil
	}
	return nil
}

// Data is Go's view of the DWARF.
func (f *File) Data() *dwarf.Data { return f.d }

func (f *File) sections() {
	f.secOnce.Do(func() {
		read := func(name string) []byte {
			s := f.ef.Section(name)
			if s == nil {
				return nil
			}
			b, err := s.Data()
			if err != nil {
				return nil
			}
			return b
		}
		f.loc, f.loclists, f.addr = read(".debug_loc"), read(".debug_loclists"), read(".debug_addr")
	})
}

// buildIndex walks every compilation unit once, recording the subprograms
// that have code (a low PC or ranges) under their name and linkage name.
func (f *File) buildIndex() {
	f.index = map[string][]dwarf.Offset{}
	f.types = map[string]dwarf.Offset{}
	f.byPC = map[uint64]dwarf.Offset{}
	r := f.d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			f.err = fmt.Errorf("reading DWARF: %w", err)
			return
		}
		if e == nil {
			return
		}
		f.indexType(e)
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit, dwarf.TagNamespace, dwarf.TagStructType, dwarf.TagClassType:
			continue // look inside
		case dwarf.TagSubprogram:
			if e.Val(dwarf.AttrLowpc) != nil || e.Val(dwarf.AttrRanges) != nil {
				for _, n := range f.names(e) {
					f.index[n] = append(f.index[n], e.Offset)
				}
				if pc, ok := e.Val(dwarf.AttrLowpc).(uint64); ok && pc != 0 {
					if _, dup := f.byPC[pc]; !dup {
						f.byPC[pc] = e.Offset
					}
				}
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

// indexType records a named type definition, first one wins.
func (f *File) indexType(e *dwarf.Entry) {
	var prefix string
	switch e.Tag {
	case dwarf.TagStructType, dwarf.TagClassType:
		prefix = "struct "
	case dwarf.TagUnionType:
		prefix = "union "
	case dwarf.TagEnumerationType:
		prefix = "enum "
	case dwarf.TagTypedef:
	default:
		return
	}
	name, _ := e.Val(dwarf.AttrName).(string)
	if name == "" {
		return
	}
	if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); decl {
		return
	}
	if _, ok := f.types[prefix+name]; !ok {
		f.types[prefix+name] = e.Offset
	}
	if prefix == "struct " && e.Tag == dwarf.TagClassType {
		if _, ok := f.types["class "+name]; !ok {
			f.types["class "+name] = e.Offset
		}
	}
}

// Type returns the type named name: "struct Foo", "union U", "enum E", or a
// typedef's name.
func (f *File) Type(name string) (dwarf.Type, error) {
	f.once.Do(f.buildIndex)
	if f.err != nil {
		return nil, f.err
	}
	off, ok := f.types[name]
	if !ok {
		for _, s := range f.splits {
			if t, err := s.Type(name); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("no type %s in the DWARF", name)
	}
	return f.d.Type(off)
}

// names are the name and linkage name of a subprogram, following
// DW_AT_specification and DW_AT_abstract_origin.
func (f *File) names(e *dwarf.Entry) []string {
	var out []string
	for i := 0; e != nil && i < 4; i++ {
		for _, a := range []dwarf.Attr{dwarf.AttrName, dwarf.AttrLinkageName, 0x2007 /* MIPS_linkage_name */} {
			if s, ok := e.Val(a).(string); ok && s != "" {
				out = append(out, s)
			}
		}
		if len(out) > 0 {
			return out
		}
		e = f.ref(e)
	}
	return out
}

// ref follows DW_AT_specification or DW_AT_abstract_origin.
func (f *File) ref(e *dwarf.Entry) *dwarf.Entry {
	for _, a := range []dwarf.Attr{dwarf.AttrSpecification, dwarf.AttrAbstractOrigin} {
		if off, ok := e.Val(a).(dwarf.Offset); ok {
			r := f.d.Reader()
			r.Seek(off)
			if t, err := r.Next(); err == nil && t != nil && t.Offset != e.Offset {
				return t
			}
		}
	}
	return nil
}

// Func is a function with code, as DWARF describes it.
type Func struct {
	Name    string
	Linkage string
	LowPC   uint64
	HighPC  uint64
	// Return is the return type; nil for void.
	Return dwarf.Type
	Params []Param
	// Variadic marks a C function with "...".
	Variadic bool

	f         *File
	cu        *dwarf.Entry
	frameBase []byte
}

// Param is one formal parameter.
type Param struct {
	Name string
	Type dwarf.Type
	// Artificial marks a parameter the compiler added (C++'s this).
	Artificial bool
	loc        *dwarf.Field
}

// Func returns the function named name (its DWARF name or its linkage
// name, as ELF symbols spell C++ functions). When several functions share
// a name (static functions of different files), addr selects the one
// whose code contains it (0: the first).
func (f *File) Func(name string, addr uint64) (*Func, error) {
	f.once.Do(f.buildIndex)
	if f.err != nil {
		return nil, f.err
	}
	offs := f.index[name]
	if len(offs) == 0 {
		// An alias (a symbol DWARF does not name) at a function's address.
		if off, ok := f.byPC[addr]; ok && addr != 0 {
			return f.funcAt(off)
		}
		if s := f.splitAt(addr); s != nil {
			return s.Func(name, addr)
		}
		for _, s := range f.splits {
			if fn, err := s.Func(name, addr); err == nil {
				return fn, nil
			}
		}
		return nil, fmt.Errorf("%s: %w", name, ErrNoFunc)
	}
	var first *Func
	for _, off := range offs {
		fn, err := f.funcAt(off)
		if err != nil {
			return nil, err
		}
		if addr == 0 || (addr >= fn.LowPC && addr < fn.HighPC) {
			return fn, nil
		}
		if first == nil {
			first = fn
		}
	}
	return first, nil
}

// Names lists the names of the functions with code, sorted.
func (f *File) Names() []string {
	f.once.Do(f.buildIndex)
	if len(f.splits) == 0 {
		return slices.Sorted(maps.Keys(f.index))
	}
	all := maps.Clone(f.index)
	for _, s := range f.splits {
		for _, n := range s.Names() {
			all[n] = nil
		}
	}
	return slices.Sorted(maps.Keys(all))
}

func (f *File) funcAt(off dwarf.Offset) (*Func, error) {
	r := f.d.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil {
		return nil, fmt.Errorf("reading DWARF at %#x: %v", off, err)
	}
	fn := &Func{f: f}
	names := f.names(e)
	if len(names) > 0 {
		fn.Name = names[0]
	}
	for d := e; d != nil; d = f.ref(d) {
		if s, ok := d.Val(dwarf.AttrLinkageName).(string); ok && fn.Linkage == "" {
			fn.Linkage = s
		}
		if fn.Return == nil {
			if to, ok := d.Val(dwarf.AttrType).(dwarf.Offset); ok {
				if t, err := f.d.Type(to); err == nil {
					fn.Return = t
				}
			}
		}
		if d.Offset == e.Offset {
			continue
		}
		break
	}
	if rs, err := f.d.Ranges(e); err == nil && len(rs) > 0 {
		fn.LowPC, fn.HighPC = rs[0][0], rs[0][1]
	}
	if b, ok := e.Val(dwarf.AttrFrameBase).([]byte); ok {
		fn.frameBase = b
	}
	// The compilation unit, for the base address of location lists.
	cr := f.d.Reader()
	cr.Seek(off)
	if cu, err := cr.SeekPC(fn.LowPC); err == nil {
		fn.cu = cu
	} else if f.skel != nil {
		fn.cu = f.skel // a split unit: the skeleton has the base address
	}
	if !e.Children {
		return fn, nil
	}
	for {
		c, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF of %s: %v", fn.Name, err)
		}
		if c == nil || c.Tag == 0 {
			break
		}
		switch c.Tag {
		case dwarf.TagFormalParameter:
			p := f.varOf(c)
			if p.Type == nil {
				return nil, fmt.Errorf("parameter %d of %s has no type", len(fn.Params), fn.Name)
			}
			fn.Params = append(fn.Params, p)
		case dwarf.TagUnspecifiedParameters:
			fn.Variadic = true
		}
		if c.Children {
			r.SkipChildren()
		}
	}
	// A definition without parameter children (rare) takes them from its
	// declaration.
	if len(fn.Params) == 0 {
		if d := f.ref(e); d != nil && d.Children {
			if g, err := f.declParams(d); err == nil {
				fn.Params = g
			}
		}
	}
	return fn, nil
}

func (f *File) declParams(d *dwarf.Entry) ([]Param, error) {
	r := f.d.Reader()
	r.Seek(d.Offset)
	if _, err := r.Next(); err != nil {
		return nil, err
	}
	var out []Param
	for {
		c, err := r.Next()
		if err != nil || c == nil || c.Tag == 0 {
			return out, err
		}
		if c.Tag == dwarf.TagFormalParameter {
			p := Param{}
			p.Name, _ = c.Val(dwarf.AttrName).(string)
			p.Artificial, _ = c.Val(dwarf.AttrArtificial).(bool)
			if to, ok := c.Val(dwarf.AttrType).(dwarf.Offset); ok {
				if p.Type, err = f.d.Type(to); err != nil {
					return nil, err
				}
			}
			out = append(out, p)
		}
		if c.Children {
			r.SkipChildren()
		}
	}
}

// varOf reads a parameter or variable DIE, its name, type and artificial
// flag possibly on its abstract origin (inlined and out-of-line copies).
func (f *File) varOf(e *dwarf.Entry) Param {
	p := Param{loc: e.AttrField(dwarf.AttrLocation)}
	src := e
	for i := 0; src != nil && i < 4; i++ {
		if s, ok := src.Val(dwarf.AttrName).(string); ok && p.Name == "" {
			p.Name = s
		}
		if a, ok := src.Val(dwarf.AttrArtificial).(bool); ok && a {
			p.Artificial = true
		}
		if to, ok := src.Val(dwarf.AttrType).(dwarf.Offset); ok && p.Type == nil {
			p.Type, _ = f.d.Type(to)
		}
		if p.Name != "" && p.Type != nil {
			break
		}
		src = f.ref(src)
	}
	return p
}

// Param returns the parameter named name.
func (fn *Func) Param(name string) (*Param, bool) {
	for i := range fn.Params {
		if fn.Params[i].Name == name {
			return &fn.Params[i], true
		}
	}
	return nil, false
}

// ParamNames lists the names of the parameters, for hints.
func (fn *Func) ParamNames() string {
	var n []string
	for _, p := range fn.Params {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}

// Signature is the parameter list as bpftrace's -lv prints it: one
// "TYPE NAME" per parameter.
func (fn *Func) Signature() []string {
	var out []string
	for _, p := range fn.Params {
		s := TypeName(p.Type)
		if p.Name != "" {
			s += " " + p.Name
		}
		out = append(out, s)
	}
	return out
}
