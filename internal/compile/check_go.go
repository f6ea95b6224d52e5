package compile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
)

// The typing half of Go functions' values (see goargs.go for what the
// language offers there): where each args expression's value is at the
// probe (a goRef), how it prints (a goLayout), and its type. Both are
// recorded in the unit's Info for emission.

func (k *checker) goParamsOf(e lang.Node) ([]gobin.Param, *Site, error) {
	s := k.goSite()
	if s == nil {
		return nil, nil, k.c.errorf(e, "use argN and casts", "args is only available in probes on Go functions (with DWARF)")
	}
	if !s.GoEntry && !s.AtReturn {
		return nil, nil, k.c.errorf(e, "probe the function itself, or read registers with reg()",
			"args are known at the entry and the returns of %s, not at this offset", s.GoFunc)
	}
	if k.goParams == nil {
		all, err := s.Go.Params(s.GoFunc)
		gp := &goParams{err: err}
		for _, p := range all {
			if p.Result == s.AtReturn {
				gp.params = append(gp.params, p)
			}
		}
		k.goParams = gp
	}
	if err := k.goParams.err; err != nil {
		if errors.Is(err, gobin.ErrNoDWARF) {
			return nil, nil, k.c.errorf(e, goRegsHint+"; or trace an unstripped build",
				"args needs DWARF, but %s has none (built with -ldflags=-s -w, or stripped)", s.Target)
		}
		return nil, nil, k.c.errorf(e, "use goarg(N)", "parameters of %s: %v", s.GoFunc, err)
	}
	return k.goParams.params, s, nil
}

// goRefOf resolves an args expression to where its value is, once per
// expression (emission reads it from the Info).
func (k *checker) goRefOf(e lang.Expr) (*goRef, error) {
	if r, ok := k.info.goRefs[e]; ok {
		return r, nil
	}
	r, err := k.goRefOf1(e)
	if err == nil {
		k.info.goRefs[e] = r
	}
	return r, err
}

func (k *checker) goRefOf1(e lang.Expr) (*goRef, error) {
	switch x := e.(type) {
	case *lang.Ident:
		params, _, err := k.goParamsOf(x)
		if err != nil {
			return nil, err
		}
		return &goRef{path: "args", all: params}, nil
	case *lang.Field:
		if id, ok := x.X.(*lang.Ident); ok && id.Name == "args" {
			return k.goParam(x, id)
		}
		r, err := k.goRefOf(x.X)
		if err != nil {
			return nil, err
		}
		return k.goField(x, r, x.Name)
	case *lang.Unary:
		r, err := k.goRefOf(x.X)
		if err != nil {
			return nil, err
		}
		if r.all != nil || r.t.Kind != gobin.KindPointer {
			return nil, k.c.errorf(x, "", "cannot dereference %s (%s)", r.path, r.typeName())
		}
		return k.goDeref(x, r, "*"+r.path)
	case *lang.Index:
		r, err := k.goRefOf(x.X)
		if err != nil {
			return nil, err
		}
		return k.goIndex(x, r)
	}
	return nil, k.c.errorf(e, "", "not a Go value")
}

// goParam resolves args.NAME.
func (k *checker) goParam(f *lang.Field, args *lang.Ident) (*goRef, error) {
	params, s, err := k.goParamsOf(args)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range params {
		if paramName(p) != f.Name {
			names = append(names, paramName(p))
			continue
		}
		t, err := s.Go.ParamType(s.GoFunc, p.Name)
		if err != nil {
			return nil, k.c.errorf(f, "", "type of %s: %v", p.Name, err)
		}
		r := &goRef{t: t, path: "args." + f.Name}
		switch {
		case p.OnStack():
			r.base = "sp"
			r.ops = []goOp{{add: int64(p.Pieces[0].StackOffset)}}
		default:
			r.inRegs = true
			r.pieces = p.Pieces
		}
		return r, nil
	}
	what := "parameters"
	if s.AtReturn {
		what = "results"
	}
	hint := fmt.Sprintf("%s has no %s", s.GoFunc, what)
	if len(names) > 0 {
		hint = fmt.Sprintf("%s of %s: %s", what, s.GoFunc, strings.Join(names, ", "))
	}
	if !s.AtReturn && goHasResult(s, f.Name) {
		hint = f.Name + " is a result: read it in a uretprobe"
	}
	return nil, k.c.errorf(f, hint, "%s has no %s named %s", s.GoFunc, strings.TrimSuffix(what, "s"), f.Name)
}

// goField resolves r.NAME, following a pointer first as Go does.
func (k *checker) goField(f *lang.Field, r *goRef, name string) (*goRef, error) {
	if r.all != nil {
		return nil, k.c.errorf(f, "", "args has no field %s", name)
	}
	path := r.path + "." + name
	if r.t.Kind == gobin.KindPointer {
		d, err := k.goDeref(f, r, r.path)
		if err != nil {
			return nil, err
		}
		r = d
	}
	fields := goFields(r.t)
	for _, fl := range fields {
		if fl.Name == name {
			return r.sub(fl.Type, fl.Offset, path), nil
		}
	}
	if len(fields) == 0 {
		return nil, k.c.errorf(f, "", "%s is a %s, which has no fields", r.path, r.t.Name)
	}
	var names []string
	for _, fl := range fields {
		names = append(names, fl.Name)
	}
	return nil, k.c.errorf(f, "fields: "+strings.Join(names, ", "), "%s (%s) has no field %s", r.path, r.t.Name, name)
}

// goDeref resolves what pointer r points to.
func (k *checker) goDeref(n lang.Node, r *goRef, path string) (*goRef, error) {
	elem, err := r.t.Elem()
	if err != nil {
		return nil, k.c.errorf(n, "", "cannot follow %s: %v", r.path, err)
	}
	d := &goRef{t: elem, path: path}
	if r.inRegs {
		if len(r.pieces) != 1 || r.pieces[0].Reg == "" {
			return nil, k.c.errorf(n, "", "%s is not in a register", r.path)
		}
		d.base = r.pieces[0].Reg
		return d, nil
	}
	d.base = r.base
	d.ops = append(append([]goOp(nil), r.ops...), goOp{deref: true})
	return d, nil
}

// goIndex resolves r[i] for slices, arrays, strings and pointers.
func (k *checker) goIndex(x *lang.Index, r *goRef) (*goRef, error) {
	if r.all != nil {
		return nil, k.c.errorf(x, "", "args cannot be indexed")
	}
	if _, err := k.scalarType(x.Index); err != nil {
		return nil, err
	}
	path := r.path + "[" + lang.FormatExpr(x.Index) + "]"
	var base *goRef
	var elem *gobin.Type
	switch r.t.Kind {
	case gobin.KindSlice, gobin.KindString, gobin.KindPointer:
		ptr := r
		if r.t.Kind != gobin.KindPointer {
			ptr = r.sub(goFields(r.t)[0].Type, 0, r.path+".ptr")
		}
		d, err := k.goDeref(x, ptr, path)
		if err != nil {
			return nil, err
		}
		base, elem = d, d.t
	case gobin.KindArray:
		e, err := r.t.Elem()
		if err != nil {
			return nil, k.c.errorf(x, "", "%v", err)
		}
		base, elem = r, e
		if r.inRegs {
			// Only arrays of one element are passed in registers.
			lit, ok := x.Index.(*lang.IntLit)
			if !ok || int(lit.Value) >= r.t.Len {
				return nil, k.c.errorf(x, "", "%s has %d element(s) in registers; index it with a constant below %d", r.path, r.t.Len, r.t.Len)
			}
			return r.sub(e, int(lit.Value)*e.Size, path), nil
		}
	default:
		return nil, k.c.errorf(x, "", "cannot index %s (%s)", r.path, r.t.Name)
	}
	n := &goRef{t: elem, path: path, base: base.base}
	n.ops = append([]goOp(nil), base.ops...)
	if lit, ok := x.Index.(*lang.IntLit); ok {
		n.ops = append(n.ops, goOp{add: int64(lit.Value) * int64(elem.Size)})
	} else {
		n.ops = append(n.ops, goOp{index: x.Index, scale: int64(elem.Size)})
	}
	if r.t.Kind == gobin.KindString {
		n.t = tGoByte
	}
	return n, nil
}

// goLayoutOf lays out the value of r. Parts of aggregates that cannot be
// read become placeholders; the value itself (depth 0) is an error then.
func (k *checker) goLayoutOf(n lang.Node, r *goRef, depth int) (*goLayout, error) {
	l, err := k.goLayoutTry(n, r, depth)
	if err != nil && depth > 0 && r.t != nil {
		// Room for the terminator and one more byte, so that it does not
		// print as truncated.
		text := r.placeholder()
		return &goLayout{t: strType(len(text) + 2), ref: r, text: text}, nil
	}
	return l, err
}

func (k *checker) goLayoutTry(n lang.Node, r *goRef, depth int) (*goLayout, error) {
	l := &goLayout{ref: r}
	tuple := func(names []string, parts []*goRef) (*goLayout, error) {
		l.t = &Type{Kind: KindTuple, Names: names}
		for _, p := range parts {
			pl, err := k.goLayoutOf(n, p, depth+1)
			if err != nil {
				return nil, err
			}
			l.parts = append(l.parts, pl)
			l.t.Elems = append(l.t.Elems, pl.t)
		}
		return l, nil
	}
	if r.all != nil {
		names := []string{}
		var parts []*goRef
		args := &lang.Ident{Pos: n.Position(), Name: "args"}
		for _, p := range r.all {
			pr, err := k.goParam(&lang.Field{Pos: n.Position(), X: args, Name: paramName(p)}, args)
			if err != nil {
				return nil, err
			}
			names = append(names, paramName(p))
			parts = append(parts, pr)
		}
		return tuple(names, parts)
	}
	if msg := r.unavailable(); msg != "" {
		return nil, k.c.errorf(n, "", "%s", msg)
	}
	t := r.t
	if t == tGoItab || t == tGoEType {
		// The dynamic type: the session names it from the binary's
		// type data (gobin.Binary.InterfaceTypeName).
		kind := "goitab"
		if t == tGoEType {
			kind = "goetype"
		}
		l.t = &Type{Kind: KindInt, Size: 8, Builtin: kind, GoBinary: k.goSite().AttachPath}
		return l, k.loadable(n, r)
	}
	if it := goIntType(t); it != nil {
		l.t = it
		return l, k.loadable(n, r)
	}
	switch t.Kind {
	case gobin.KindPointer, gobin.KindMap, gobin.KindChan, gobin.KindFunc:
		l.t = goPointer(t)
		return l, k.loadable(n, r)
	case gobin.KindString:
		l.t = strType(k.c.opts.StrSize)
		return l, nil
	}
	if depth >= maxGoDepth {
		return nil, k.c.errorf(n, "select a field", "%s is nested too deeply to print whole", r.path)
	}
	switch t.Kind {
	case gobin.KindSlice, gobin.KindInterface, gobin.KindStruct:
		fields := goFields(t)
		if len(fields) > maxGoFields {
			return nil, k.c.errorf(n, "select fields: "+r.path+".NAME", "%s (%s) has %d fields, too many to print whole", r.path, t.Name, len(fields))
		}
		names := []string{}
		var parts []*goRef
		for _, f := range fields {
			names = append(names, f.Name)
			parts = append(parts, r.sub(f.Type, f.Offset, r.path+"."+f.Name))
		}
		return tuple(names, parts)
	case gobin.KindArray:
		if t.Len > maxGoArray {
			return nil, k.c.errorf(n, "index it: "+r.path+"[i]", "%s has %d elements, too many to print whole", r.path, t.Len)
		}
		e, err := t.Elem()
		if err != nil {
			return nil, k.c.errorf(n, "", "%v", err)
		}
		var parts []*goRef
		for i := 0; i < t.Len; i++ {
			parts = append(parts, r.sub(e, i*e.Size, fmt.Sprintf("%s[%d]", r.path, i)))
		}
		return tuple(nil, parts)
	}
	return nil, k.c.errorf(n, "", "%s has type %s, which uscope cannot read", r.path, t.Name)
}

// goType is the type of an args expression.
func (k *checker) goType(e lang.Expr) (*Type, error) {
	r, err := k.goRefOf(e)
	if err != nil {
		return nil, err
	}
	l, err := k.goLayoutOf(e, r, 0)
	if err != nil {
		return nil, err
	}
	k.info.goLayouts[e] = l
	return l.t, nil
}

// goStrType handles str(x) on a Go string: it reads exactly the string's
// length. ok is false for other arguments.
func (k *checker) goStrType(e *lang.Call) (t *Type, ok bool, err error) {
	if e.Name != "str" || len(e.Args) != 1 || !k.goArgs(e.Args[0]) {
		return nil, false, nil
	}
	at, err := k.typeOf(e.Args[0])
	if err != nil {
		return nil, true, err
	}
	if at.Kind == KindString {
		return at, true, nil
	}
	return nil, false, nil
}

// goLenCall handles len(x) on a Go string, slice or array.
func (k *checker) goLenCall(e *lang.Call) (bool, error) {
	if e.Name != "len" || len(e.Args) != 1 || !k.goArgs(e.Args[0]) {
		return false, nil
	}
	r, err := k.goRefOf(e.Args[0])
	if err != nil {
		return true, err
	}
	if r.all != nil {
		return true, k.c.errorf(e, "", "len() takes a string, slice or array, not args")
	}
	switch r.t.Kind {
	case gobin.KindString, gobin.KindSlice:
		return true, nil
	case gobin.KindArray:
		return true, nil
	}
	return true, k.c.errorf(e, "", "len() of %s (%s): it is not a string, slice or array", r.path, r.t.Name)
}

// goidType types goid: the goroutine id, read through the g register.
func (k *checker) goidType(n lang.Expr) (*Type, error) {
	s := k.goSite()
	if s == nil {
		return nil, k.c.errorf(n, "", "goid is only available in probes on Go functions")
	}
	if s.GoAsm {
		return nil, k.c.errorf(n, "", "goid is not available in %s: it is written in assembly, where R14 does not hold the goroutine", s.GoFunc)
	}
	if !s.Go.GoVersionAtLeast(1, 17) {
		return nil, k.c.errorf(n, "", "goid needs a binary built by Go 1.17 or later (the goroutine is in R14 since then)")
	}
	if _, _, err := s.Go.GoidOffset(); err != nil {
		return nil, k.c.errorf(n, "", "goid: %v", err)
	}
	return tU64, nil
}

// argsType types args itself (print(args)).
func (k *checker) argsType(n lang.Expr) (*Type, error) { return k.goType(n) }

// argType types argN: the N-th argument by the site's calling convention
// (SysV for C, Go's register ABI in Go functions) or its USDT spec.
func (k *checker) argType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Ident)
	i, _ := argIndex(e.Name)
	if k.shape.ret {
		return nil, k.c.errorf(e, "save it at entry: uprobe:...{ @a[tid] = "+e.Name+"; }", "%s is not available in a uretprobe", e.Name)
	}
	if k.special != nil {
		return nil, k.c.errorf(e, "", "%s is only available in uprobe and usdt probes", e.Name)
	}
	if k.shape.kind == lang.KindUSDT {
		return k.usdtArgType(e, i)
	}
	if s := k.goSite(); s != nil {
		if s.GoAsm {
			return nil, k.c.errorf(e, "read them from the stack: *(uint64*)(reg(\"sp\") + 8)",
				"%s is written in assembly: its arguments are on the stack, not in registers", s.GoFunc)
		}
		if i >= len(goIntRegs) {
			return nil, k.c.errorf(e, "with DWARF use args.NAME; else read *(uint64*)(reg(\"sp\") + 8*K)",
				"Go passes at most %d integer words in registers; %s is on the stack", len(goIntRegs), e.Name)
		}
	}
	return tU64, nil
}

// goargType types goarg(N).
func (k *checker) goargType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	lit, ok := e.Args[0].(*lang.IntLit)
	if !ok || lit.Value >= uint64(len(goIntRegs)) {
		return nil, k.c.errorf(e, goRegsHint, "goarg() takes a constant from 0 to %d", len(goIntRegs)-1)
	}
	s := k.goSite()
	if s == nil {
		return nil, k.c.errorf(e, "use argN for C functions", "goarg() reads Go's register ABI: only in probes on Go functions")
	}
	if s.GoAsm {
		return nil, k.c.errorf(e, "read them from the stack: *(uint64*)(reg(\"sp\") + 8)",
			"%s is written in assembly: its arguments are on the stack, not in registers", s.GoFunc)
	}
	return tU64, nil
}

// goSite returns the first site of the program when it is in a Go
// function (all sites of a program share what matters), else nil.
func (u *unit) goSite() *Site {
	if len(u.sites) == 0 || u.special != nil {
		return nil
	}
	s := &u.c.plan.Sites[u.sites[0]]
	if s.GoFunc == "" || s.Go == nil {
		return nil
	}
	return s
}

// loadable checks that a scalar Go value can be loaded: from memory, or
// from one integer register.
func (k *checker) loadable(n lang.Node, r *goRef) error {
	if !r.inRegs || len(r.pieces) == 0 {
		return nil
	}
	if _, ok := ptRegs[r.pieces[0].Reg]; len(r.pieces) != 1 || !ok {
		return k.c.errorf(n, "", "%s is not in one integer register", r.path)
	}
	return nil
}
