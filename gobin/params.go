package gobin

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/uscope/uscope/arch"
)

// A ParamKind classifies a parameter's type.
type ParamKind int

// Parameter kinds. Maps, channels and funcs are pointer-sized, like
// pointers, but kept apart for printing.
const (
	KindOther ParamKind = iota
	KindInt
	KindUint
	KindBool
	KindPointer
	KindString
	KindSlice
	KindStruct
	KindInterface
	KindFloat
	KindArray
	KindComplex
	KindMap
	KindChan
	KindFunc
)

var kindNames = [...]string{"other", "int", "uint", "bool", "pointer", "string", "slice", "struct", "interface", "float", "array", "complex", "map", "chan", "func"}

// String returns the kind's name in lower case, e.g. "string".
func (k ParamKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ParamKind(%d)", int(k))
}

// A Param is a parameter or result of a Go function and where the calling
// convention places it at the function's entry (parameters) or at its RET
// instructions (results).
type Param struct {
	Name   string // as declared; unnamed results are "~r0", "~r1", ...
	Type   string // Go type name, e.g. "int8", "[]string", "*main.Server"
	Kind   ParamKind
	Size   int  // bytes
	Signed bool // for KindInt
	// Pieces say where the value's bytes are. A register-assigned value
	// has one piece per register, in the order of its components (a
	// string's pointer, then its length); Offset places each in the
	// value's memory layout. A stack-assigned value is one piece covering
	// the whole value. A zero-sized value has no pieces.
	Pieces []Piece
	Result bool // a result (DW_AT_variable_parameter), not an argument
}

// OnStack reports whether the value was assigned to the stack.
func (p Param) OnStack() bool { return len(p.Pieces) == 1 && p.Pieces[0].OnStack }

// Available reports whether a probe can read every piece of the value:
// floating-point registers are not in the registers a uprobe sees.
func (p Param) Available() bool {
	for _, pc := range p.Pieces {
		if pc.Float && !pc.OnStack {
			return false
		}
	}
	return true
}

// A Piece is a part of a parameter's value.
type Piece struct {
	// Reg is the integer register that holds the piece ("rax", "rbx",
	// ... on amd64; "x0", ... on arm64), or "" when it is on the stack or
	// in a floating-point register.
	Reg string
	// FloatReg names the floating-point register holding a Float piece
	// ("xmm0" on amd64, "f0" on arm64). Such pieces are unavailable
	// to uprobes, whose register set has no floating-point registers.
	FloatReg string
	// StackOffset is, for pieces on the stack, the offset from the stack
	// pointer at the function's entry; stack-assigned values start past
	// the return address (amd64) or the saved-LR slot (arm64), so the
	// first is at 8 on 64-bit targets. At a RET site the stack pointer
	// has the same value, so results are found at the same offset.
	StackOffset int
	OnStack     bool
	Size        int  // bytes
	Offset      int  // offset of the piece within the value
	Float       bool // a floating-point component
}

// abiSpec is an architecture's register sequences for ABIInternal.
type abiSpec struct {
	ints, floats []string
}

// The register sequences come from the architecture table.
var (
	amd64ABI = abiSpec{ints: arch.AMD64.GoIntArgs, floats: arch.AMD64.GoFloatArgs}
	arm64ABI = abiSpec{ints: arch.ARM64.GoIntArgs, floats: arch.ARM64.GoFloatArgs}
)

// abi returns the register sequences for the binary; none (everything on
// the stack, ABI0) before the register ABI reached the architecture.
func (b *Binary) abi() (abiSpec, error) {
	switch b.Machine {
	case elf.EM_X86_64:
		if v := arch.AMD64.GoRegABI; b.GoVersionAtLeast(v[0], v[1]) {
			return amd64ABI, nil
		}
		return abiSpec{}, nil
	case elf.EM_AARCH64:
		if v := arch.ARM64.GoRegABI; b.GoVersionAtLeast(v[0], v[1]) {
			return arm64ABI, nil
		}
		return abiSpec{}, nil
	case elf.EM_386, elf.EM_ARM:
		return abiSpec{}, nil
	}
	return abiSpec{}, fmt.Errorf("gobin: no calling convention known for %v", b.Machine)
}

// Params returns the parameters (receiver first) and results of the function
// named fn, e.g. "main.(*Server).handle", from DWARF, each placed by the
// ABIInternal assignment algorithm (cmd/compile/abi-internal.md). It
// returns ErrNoDWARF for binaries without debug information.
//
// Shape-instantiated generic functions ("main.Map[go.shape.int]") take a
// hidden dictionary pointer before their first parameter, and methods of
// generic types ("main.(*Stack[go.shape.int]).Push") right after the
// receiver. Params accounts for the register it takes but does not list it;
// Go 1.27 declares it in DWARF as ".dict", earlier releases leave it out.
func (b *Binary) Params(fn string) ([]Param, error) {
	x, err := b.dwarfData()
	if err != nil {
		return nil, err
	}
	off, ok := x.funcs[fn]
	if !ok {
		if off, ok = x.abstract[fn]; !ok {
			return nil, fmt.Errorf("gobin: no DWARF for function %s", fn)
		}
	}
	spec, err := b.abi()
	if err != nil {
		return nil, err
	}
	tr := &typeReader{d: x.d, ptrSize: int64(b.PtrSize), cache: make(map[dwarf.Offset]*gtype)}
	decls, err := formalParams(x.d, off)
	if err != nil {
		return nil, fmt.Errorf("gobin: %s: %w", fn, err)
	}
	var args, results []abiValue
	dict := abiValue{t: &gtype{name: "*uint8", kind: KindPointer, size: int64(b.PtrSize), align: int64(b.PtrSize)}, hidden: true}
	dictAt := -1 // index in args before which the dictionary goes
	switch hasDictParam(fn) {
	case dictFirst:
		dictAt = 0
	case dictAfterReceiver:
		dictAt = 1
	}
	if slices.ContainsFunc(decls, func(d formal) bool { return d.name == dictParamName }) {
		// Go 1.27 declares the dictionary in DWARF: assign it where it
		// is declared, once, and do not list it.
		dictAt = -1
	}
	for _, d := range decls {
		if len(args) == dictAt {
			args = append(args, dict)
		}
		t, err := tr.typeAt(d.typ, 0)
		if err != nil {
			return nil, fmt.Errorf("gobin: %s: parameter %s: %w", fn, d.name, err)
		}
		v := abiValue{name: d.name, t: t, result: d.result, hidden: d.name == dictParamName}
		if d.result {
			results = append(results, v)
		} else {
			args = append(args, v)
		}
	}
	if len(args) == dictAt {
		args = append(args, dict)
	}
	return assign(spec, int64(b.PtrSize), args, results), nil
}

// dictParamName is the name Go 1.27 and later give the dictionary parameter
// of shape-instantiated functions in DWARF.
const dictParamName = ".dict"

// Where a shape-instantiated function takes its dictionary.
const (
	dictNone = iota
	dictFirst
	dictAfterReceiver
)

// hasDictParam reports whether and where a function, by its name, takes a
// generic dictionary: a shape instantiation of a generic function
// ("pkg.F[go.shape.int]") takes it first, of a method of a generic type
// ("pkg.(*T[go.shape.int]).M", "pkg.T[go.shape.int].M") after the receiver.
// Closures inside those (".func1"), and wrappers, capture it instead.
func hasDictParam(name string) int {
	i := strings.LastIndex(name, "]")
	if i < 0 || !strings.Contains(name[:i], "go.shape.") {
		return dictNone
	}
	rest := name[i+1:]
	if rest == "" {
		return dictFirst
	}
	rest = strings.TrimPrefix(rest, ")") // pkg.(*T[...]).M
	if rest == "" || rest[0] != '.' || strings.Contains(rest[1:], ".") {
		return dictNone
	}
	for _, p := range []string{"func", "gowrap", "deferwrap"} {
		if s, ok := strings.CutPrefix(rest[1:], p); ok && s != "" && strings.Trim(s, "0123456789") == "" {
			return dictNone
		}
	}
	return dictAfterReceiver
}

// A formal is a DW_TAG_formal_parameter.
type formal struct {
	name   string
	typ    dwarf.Offset
	result bool
}

// formalParams lists the formal parameters of the subprogram at off, in
// declaration order (receiver, parameters, results), as the Go compiler
// emits them.
func formalParams(d *dwarf.Data, off dwarf.Offset) ([]formal, error) {
	r := d.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, err
	}
	if e == nil || e.Tag != dwarf.TagSubprogram {
		return nil, fmt.Errorf("no subprogram at DWARF offset %#x", off)
	}
	if !e.Children {
		return nil, nil
	}
	var out []formal
	for {
		c, err := r.Next()
		if err != nil {
			return nil, err
		}
		if c == nil || c.Tag == 0 {
			break
		}
		if c.Tag == dwarf.TagFormalParameter {
			name, _ := c.Val(dwarf.AttrName).(string)
			typ, ok := c.Val(dwarf.AttrType).(dwarf.Offset)
			if !ok {
				return nil, fmt.Errorf("parameter %q has no type", name)
			}
			result, _ := c.Val(dwarf.AttrVarParam).(bool)
			out = append(out, formal{name, typ, result})
		}
		if c.Children {
			r.SkipChildren()
		}
	}
	return out, nil
}

// An abiValue is a receiver, argument or result to assign.
type abiValue struct {
	name   string
	t      *gtype
	result bool
	hidden bool
}

// A comp is a base component of a value: an integer or floating-point part
// that takes one register.
type comp struct {
	off, size int64
	float     bool
}

// components breaks t into register-sized components, appending to out; ok
// is false when t cannot go in registers (an array of more than one
// element, or an integer wider than a register).
func components(t *gtype, base, ptrSize int64, out []comp) ([]comp, bool) {
	switch t.kind {
	case KindBool, KindInt, KindUint:
		if t.size > ptrSize {
			return out, false
		}
		return append(out, comp{base, t.size, false}), true
	case KindPointer, KindMap, KindChan, KindFunc:
		return append(out, comp{base, ptrSize, false}), true
	case KindFloat:
		return append(out, comp{base, t.size, true}), true
	case KindComplex:
		h := t.size / 2
		return append(out, comp{base, h, true}, comp{base + h, h, true}), true
	case KindString, KindInterface:
		return append(out, comp{base, ptrSize, false}, comp{base + ptrSize, ptrSize, false}), true
	case KindSlice:
		return append(out, comp{base, ptrSize, false}, comp{base + ptrSize, ptrSize, false}, comp{base + 2*ptrSize, ptrSize, false}), true
	case KindStruct:
		for _, f := range t.fields {
			var ok bool
			if out, ok = components(f.t, base+f.off, ptrSize, out); !ok {
				return out, false
			}
		}
		return out, true
	case KindArray:
		switch t.count {
		case 0:
			return out, true
		case 1:
			return components(t.elem, base, ptrSize, out)
		}
	}
	return out, false
}

// assign runs the ABIInternal assignment algorithm over the arguments
// (receiver first) and results, and returns them as Params, hidden values
// left out.
func assign(spec abiSpec, ptrSize int64, args, results []abiValue) []Param {
	var out []Param
	var stack int64 // offset in the stack-assigned area
	alignTo := func(n, a int64) int64 {
		if a <= 1 {
			return n
		}
		return (n + a - 1) / a * a
	}
	i, fp := 0, 0
	place := func(v abiValue) {
		p := Param{Name: v.name, Type: v.t.name, Kind: v.t.kind, Size: int(v.t.size), Signed: v.t.signed, Result: v.result}
		if v.t.size > 0 {
			comps, ok := components(v.t, 0, ptrSize, nil)
			ni, nf := 0, 0
			for _, c := range comps {
				if c.float {
					nf++
				} else {
					ni++
				}
			}
			if ok && i+ni <= len(spec.ints) && fp+nf <= len(spec.floats) {
				for _, c := range comps {
					pc := Piece{Size: int(c.size), Offset: int(c.off), Float: c.float}
					if c.float {
						pc.FloatReg = spec.floats[fp]
						fp++
					} else {
						pc.Reg = spec.ints[i]
						i++
					}
					p.Pieces = append(p.Pieces, pc)
				}
				if !v.hidden {
					out = append(out, p)
				}
				return
			}
		}
		// Zero-sized, or does not fit: the stack.
		stack = alignTo(stack, v.t.align)
		if v.t.size > 0 {
			p.Pieces = []Piece{{OnStack: true, StackOffset: int(ptrSize + stack), Size: int(v.t.size), Float: v.t.kind == KindFloat || v.t.kind == KindComplex}}
		}
		stack += v.t.size
		if !v.hidden {
			out = append(out, p)
		}
	}
	for _, v := range args {
		place(v)
	}
	stack = alignTo(stack, ptrSize)
	i, fp = 0, 0
	for _, v := range results {
		place(v)
	}
	return out
}
