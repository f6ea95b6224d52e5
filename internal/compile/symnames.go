package compile

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// func and probe are site ids (KindSym): records and map keys carry 8
// bytes, and userspace prints the name. Where a program needs the name
// itself in the kernel, as a string (strcontains(probe, "x"),
// func == "main", strncmp(probe, ...)), check types that use as a string
// and the program reads the name from a table of every site's and special
// probe's name, an array map indexed by the id, made only for the builtins
// so used.

// SymName is the name a func or probe value (builtin "func" or "probe")
// with site id id prints as.
func (p *Plan) SymName(builtin string, id uint64) string {
	if id >= uint64(len(p.Sites)) {
		// BEGIN, END, interval and profile probes are numbered past the
		// sites.
		if sp := id - uint64(len(p.Sites)); sp < uint64(len(p.Specials)) {
			return p.Specials[sp].Name
		}
		return builtin
	}
	if builtin == "probe" {
		return p.Sites[id].Probe
	}
	return p.Sites[id].Name()
}

// symNamesMap is the name of the table of builtin's names.
func symNamesMap(builtin string) string { return "names_" + builtin }

// asString types e, of type t, as a string where a string is needed: a
// func or probe builtin, or a $variable holding one, becomes the name of
// its site (read from the names table); any other t is returned as is,
// for the caller to check.
func (k *checker) asString(e lang.Expr, t *Type) *Type {
	if t.Kind != KindSym || (t.Builtin != "func" && t.Builtin != "probe") {
		return t
	}
	switch e.(type) {
	case *lang.Ident, *lang.Var:
	default:
		return t
	}
	_, size := k.c.symNameTable(t.Builtin)
	s := strType(size)
	k.info.Types[e] = s
	k.info.symNames[e] = t.Builtin
	k.c.symNames[t.Builtin] = true
	return s
}

// maxSymName bounds the names in a table (a longer one is cut): C++
// names can be long, and the program copies the whole entry.
const maxSymName = 1024

// symNameTable is builtin's name of every id (Plan.SymName), made once
// (a C++ site's name is demangled to make it), with the size of the names
// as strings: the longest and its NUL, at least the string size, at most
// maxSymName.
func (c *compiler) symNameTable(builtin string) ([]string, int) {
	if t, ok := c.symTables[builtin]; ok {
		return t.names, t.size
	}
	names := make([]string, len(c.plan.Sites)+len(c.plan.Specials))
	size := c.opts.StrSize
	for i := range names {
		names[i] = c.plan.SymName(builtin, uint64(i))
		size = max(size, len(names[i])+1)
	}
	size = min(size, maxSymName)
	if c.symTables == nil {
		c.symTables = map[string]symTable{}
	}
	c.symTables[builtin] = symTable{names, size}
	return names, size
}

// symTable is what symNameTable returns.
type symTable struct {
	names []string
	size  int
}

// addSymNames makes the names tables the program reads: key u32 id,
// value the name, NUL-padded to the names' string size.
func (c *compiler) addSymNames() {
	for _, b := range []string{"func", "probe"} {
		if !c.symNames[b] {
			continue
		}
		names, strSize := c.symNameTable(b)
		if len(names) == 0 {
			continue
		}
		size := align8(strSize)
		spec := &ebpf.MapSpec{Name: symNamesMap(b), Type: ebpf.Array, KeySize: 4, ValueSize: uint32(size),
			MaxEntries: uint32(len(names))}
		for i, name := range names {
			v := make([]byte, size)
			copy(v[:size-1], name)
			spec.Contents = append(spec.Contents, ebpf.MapKV{Key: binary.LittleEndian.AppendUint32(nil, uint32(i)), Value: v})
		}
		c.plan.Spec.Maps[spec.Name] = spec
	}
}

// placeSymName writes the name of the func or probe e (the builtin, or a
// $variable holding it) into the scratch area at off: the site id, then
// its entry of the names table.
func (g *gen) placeSymName(e lang.Expr, t *Type, off int) error {
	builtin := g.info.symNames[e]
	switch x := e.(type) {
	case *lang.Var:
		g.loadVar(asm.R0, x.Name)
	case *lang.Ident:
		b := lookupBuiltin(x.Name, false)
		if b == nil || b.emit == nil {
			return fmt.Errorf("compile: %s has no site id", x.Name)
		}
		if err := b.emit(g, e); err != nil {
			return err
		}
	}
	size := t.StorageSize()
	key, err := g.pushStack(8)
	if err != nil {
		return err
	}
	defer g.popStack(8)
	missing, end := g.label("noname"), g.label("name")
	g.emit(
		asm.StoreMem(asm.RFP, key, asm.R0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(symNamesMap(builtin)),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, missing),
	)
	g.copyFrom(asm.R0, 0, off, size)
	g.emit(asm.Ja.Label(end))
	g.mark(missing)
	g.zeroScratch(off, size)
	g.mark(end)
	return nil
}
