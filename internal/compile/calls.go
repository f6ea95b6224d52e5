package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// callType is the type of a call's result.
func (g *gen) callType(e *lang.Call) (*Type, error) {
	nargs := func(min, max int) error {
		if len(e.Args) < min || len(e.Args) > max {
			if min == max {
				return g.c.errorf(e, "", "%s() takes %d argument(s), got %d", e.Name, min, len(e.Args))
			}
			return g.c.errorf(e, "", "%s() takes %d to %d arguments, got %d", e.Name, min, max, len(e.Args))
		}
		return nil
	}
	switch e.Name {
	case "goarg":
		return g.goargType(e)
	case "str":
		if t, ok, err := g.goStrType(e); ok {
			return t, err
		}
	case "len":
		if ok, err := g.goLenCall(e); ok {
			return tS64, err
		}
	}
	switch e.Name {
	case "str":
		if err := nargs(1, 2); err != nil {
			return nil, err
		}
		if _, err := g.scalarType(e.Args[0]); err != nil {
			return nil, err
		}
		if len(e.Args) == 2 {
			if _, err := g.scalarType(e.Args[1]); err != nil {
				return nil, err
			}
			if u, ok := e.Args[1].(*lang.Unary); ok && u.Op == "-" && isIntLit(u.X) { // issue 19
				return nil, g.c.errorf(u, "give a length of 0 or more", "str()'s length cannot be negative")
			}
			if lit, ok := e.Args[1].(*lang.IntLit); ok && int(lit.Value)+1 > g.c.opts.StrSize && lit.Value < 4096 {
				return strType(int(lit.Value) + 1), nil
			}
		}
		return strType(g.c.opts.StrSize), nil
	case "buf":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		n := g.c.opts.StrSize
		if lit, ok := e.Args[1].(*lang.IntLit); ok && lit.Value > 0 && lit.Value <= 1024 {
			n = int(lit.Value)
		}
		return &Type{Kind: KindBuf, Size: n}, nil
	case "usym":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		return tUsym, nil
	case "ustack":
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		g.c.plan.HasStacks = true
		if len(e.Args) == 1 {
			lit, ok := e.Args[0].(*lang.IntLit)
			if !ok || lit.Value < 1 || lit.Value > maxStackDeep {
				return nil, g.c.errorf(e, fmt.Sprintf("e.g. ustack(5); at most %d", maxStackDeep), "ustack() takes a constant number of frames")
			}
			// Max limits the frames printed; the kernel collects them all.
			return &Type{Kind: KindStack, Size: 16, Max: int64(lit.Value)}, nil
		}
		return tStack, nil
	case "reg":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		lit, ok := e.Args[0].(*lang.StrLit)
		if !ok {
			return nil, g.c.errorf(e, `reg("rdi")`, "reg() takes a register name as a string")
		}
		if _, ok := ptRegs[lit.Value]; !ok {
			return nil, g.c.errorf(e.Args[0], "x86-64 registers: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip", "unknown register %q", lit.Value)
		}
		return tU64, nil
	case "strncmp":
		if err := nargs(3, 3); err != nil {
			return nil, err
		}
		if _, ok := e.Args[2].(*lang.IntLit); !ok {
			return nil, g.c.errorf(e.Args[2], "", "strncmp() needs a constant length")
		}
		return tU64, nil
	case "strcontains":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		return tU64, nil
	case "has_key":
		if _, err := hasKeyElem(e); err != nil {
			return nil, g.c.errorf(e, "has_key(@m, key) or has_key(@m[key])", "%v", err)
		}
		return tU64, nil
	case "len":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if me, ok := e.Args[0].(*lang.MapExpr); !ok || me.Keys != nil {
			return nil, g.c.errorf(e, "e.g. printf(\"%d keys\\n\", len(@m))", "len() takes a whole map")
		}
		return tMapLen, nil
	case "printf", "print", "exit", "clear", "zero", "delete", "time", "join":
		return tVoid, nil
	}
	if agg, ok := aggNames[e.Name]; ok {
		return &Type{Kind: KindAgg, Agg: agg}, nil
	}
	return nil, g.c.errorf(e, "functions: printf str buf usym ustack reg strncmp strcontains has_key len print clear zero delete exit time, and count sum avg min max stats hist lhist", "unknown function %s()", e.Name)
}

// call generates a call. asStmt is set when its value is unused.
func (g *gen) call(e *lang.Call, asStmt bool) (*Type, error) {
	t, err := g.callType(e)
	if err != nil {
		return nil, err
	}
	if t.Kind == KindAgg {
		return nil, g.c.errorf(e, "assign it to a map: @x = "+e.Name+"(...)", "%s() must be assigned to a map", e.Name)
	}
	if !asStmt && t.Kind == KindVoid {
		return nil, g.c.errorf(e, "", "%s() has no value", e.Name)
	}
	switch e.Name {
	case "goarg":
		return t, g.goarg(e)
	case "len":
		if ok, _ := g.goLenCall(e); ok {
			return t, g.goLen(e)
		}
	case "printf":
		return t, g.printf(e)
	case "print":
		return t, g.print(e)
	case "exit":
		return t, g.wrap(e, g.simpleRecord(RecExit, 0, nil))
	case "time":
		f := "%H:%M:%S\n"
		if len(e.Args) > 0 {
			lit, ok := e.Args[0].(*lang.StrLit)
			if !ok {
				return nil, g.c.errorf(e, "", "time() takes a format string")
			}
			f = lit.Value
		}
		g.c.plan.Times = append(g.c.plan.Times, f)
		return t, g.wrap(e, g.simpleRecord(RecTime, len(g.c.plan.Times)-1, nil))
	case "clear", "zero":
		m, err := g.mapArg(e)
		if err != nil {
			return nil, err
		}
		kind := RecClear
		if e.Name == "zero" {
			kind = RecZero
		}
		return t, g.wrap(e, g.simpleRecord(kind, m.Index, nil))
	case "delete":
		return t, g.deleteCall(e)
	case "has_key":
		me, _ := hasKeyElem(e)
		return t, g.hasKey(me)
	case "reg":
		name := e.Args[0].(*lang.StrLit).Value
		g.emit(asm.LoadMem(asm.R0, regCtx, ptRegs[name], asm.DWord))
		if name == "ip" || name == "rip" {
			g.unmoveIP()
		}
		return t, nil
	case "strncmp":
		return t, g.strncmp(e)
	case "strcontains":
		return t, g.strcontains(e)
	case "usym":
		_, err := g.expr(e.Args[0])
		return t, err
	}
	return nil, g.c.errorf(e, "", "%s() cannot be used here", e.Name)
}

// hasKeyElem returns the map element has_key() asks about: bpftrace's
// has_key(@m, k1, k2...) or the element form has_key(@m[k1, k2]).
func hasKeyElem(e *lang.Call) (*lang.MapExpr, error) {
	if len(e.Args) == 0 {
		return nil, errorString("has_key() takes a map and a key")
	}
	me, ok := e.Args[0].(*lang.MapExpr)
	if !ok {
		return nil, errorString("has_key()'s first argument must be a map")
	}
	if len(e.Args) == 1 {
		if me.Keys == nil {
			return nil, errorString("has_key() needs a key")
		}
		return me, nil
	}
	if me.Keys != nil {
		return nil, errorString("give the key once: has_key(@m, key)")
	}
	return &lang.MapExpr{Pos: me.Pos, Name: me.Name, Keys: e.Args[1:]}, nil
}

func (g *gen) mapArg(e *lang.Call) (*MapDesc, error) {
	if len(e.Args) < 1 {
		return nil, g.c.errorf(e, "", "%s() takes a map", e.Name)
	}
	me, ok := e.Args[0].(*lang.MapExpr)
	if !ok || me.Keys != nil {
		return nil, g.c.errorf(e, "e.g. "+e.Name+"(@m)", "%s() takes a whole map", e.Name)
	}
	m, ok := g.c.maps[me.Name]
	if !ok {
		return nil, g.c.errorf(me, "", "map @%s is never assigned", me.Name)
	}
	return m, nil
}

// printf builds a record: the id, then each argument at its storage size.
func (g *gen) printf(e *lang.Call) error {
	if len(e.Args) == 0 {
		return g.c.errorf(e, `printf("pid %d\n", pid)`, "printf() needs a format string")
	}
	lit, ok := e.Args[0].(*lang.StrLit)
	if !ok {
		return g.c.errorf(e.Args[0], "", "printf()'s format must be a string literal")
	}
	f, err := output.ParseFormat(lit.Value)
	if err != nil {
		return g.c.prog.Errorf(lit, len(lit.Value)+2, "", "bad format: %v", err)
	}
	args := e.Args[1:]
	dirs := f.Directives()
	if len(dirs) != len(args) {
		return g.c.errorf(e, "", "format has %d directive(s) but %d argument(s) follow", len(dirs), len(args))
	}
	desc := &PrintfDesc{Format: lit.Value, Pos: e.Pos}
	size := 8
	if g.c.plan.Trace {
		size += g.c.traceHeaderSize()
	}
	var types []*Type
	for i, a := range args {
		t, err := g.typeOf(a)
		if err != nil {
			return err
		}
		if err := checkDirective(dirs[i].Arg, t); err != nil {
			return g.c.errorf(a, "", "argument %d: %v", i+1, err)
		}
		types = append(types, t)
		desc.Args = append(desc.Args, Field{Type: t, Offset: size})
		size += t.StorageSize()
	}
	desc.Size = size
	off, err := g.allocScratch(size)
	if err != nil {
		return g.wrap(e, err)
	}
	for i, a := range args {
		if err := g.store(a, types[i], off+desc.Args[i].Offset); err != nil {
			return err
		}
	}
	g.c.plan.Printfs = append(g.c.plan.Printfs, desc)
	g.emit(
		asm.LoadImm(asm.R1, int64(RecPrintf<<32|uint64(len(g.c.plan.Printfs)-1)), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	if g.c.plan.Trace {
		g.traceHeader(off + 8)
	}
	g.emitRecord(off, size)
	return nil
}

// traceHeaderSize is the size of the fields a bcc trace row carries before
// the printf arguments: time, pid_tgid, comm, cookie, and with -U the user
// stack id and pid.
func (c *compiler) traceHeaderSize() int {
	if c.opts.TraceUserStack {
		return TraceHeaderSize + 16
	}
	return TraceHeaderSize
}

// TraceHeaderSize is the size of a trace row's fixed fields.
const TraceHeaderSize = 8 + 8 + 16 + 8

func (g *gen) traceHeader(off int) {
	g.emit(asm.FnKtimeGetNs.Call(), asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
	g.emit(asm.FnGetCurrentPidTgid.Call(), asm.StoreMem(regScratch, int16(off+8), asm.R0, asm.DWord))
	g.scratchPtr(asm.R1, off+16)
	g.emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call())
	if g.special == nil {
		g.emit(asm.Mov.Reg(asm.R1, regCtx), asm.FnGetAttachCookie.Call())
	} else {
		g.emit(asm.Mov.Imm(asm.R0, -1))
	}
	g.emit(asm.StoreMem(regScratch, int16(off+32), asm.R0, asm.DWord))
	if g.c.opts.TraceUserStack {
		g.placeStack(off + TraceHeaderSize)
	}
}

// checkDirective checks that a printf argument fits its directive.
func checkDirective(d output.ArgKind, t *Type) error {
	switch d {
	case output.ArgString:
		switch t.Kind {
		case KindString, KindSym, KindUsym, KindStack, KindInt, KindBuf:
			return nil
		}
	case output.ArgBuffer:
		if t.Kind == KindBuf || t.Kind == KindString {
			return nil
		}
	default:
		if t.IsScalar() || t.Kind == KindMapLen {
			return nil
		}
		return errorString("this directive needs an integer; use %s to print " + t.String())
	}
	return errorString("cannot print " + t.String() + " with this directive")
}

type errorString string

func (e errorString) Error() string { return string(e) }

// store evaluates e (of type t) into the scratch area at off, at t's
// storage size.
func (g *gen) store(e lang.Expr, t *Type, off int) error {
	if t.IsScalar() {
		if _, err := g.expr(e); err != nil {
			return err
		}
		g.emit(asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
		return nil
	}
	return g.place(e, off)
}

// print sends a print record: a whole map, or a value.
func (g *gen) print(e *lang.Call) error {
	if len(e.Args) == 0 {
		return g.c.errorf(e, "print(@map) or print(value)", "print() needs an argument")
	}
	if me, ok := e.Args[0].(*lang.MapExpr); ok && me.Keys == nil {
		m, ok := g.c.maps[me.Name]
		if !ok {
			return g.c.errorf(me, "", "map @%s is never assigned", me.Name)
		}
		var extra [2]int64
		for i, a := range e.Args[1:] {
			if i >= 2 {
				return g.c.errorf(a, "print(@m, top, div)", "print() takes at most a map, a top count and a divisor")
			}
			lit, ok := a.(*lang.IntLit)
			if !ok {
				return g.c.errorf(a, "", "print()'s top and divisor must be numbers")
			}
			extra[i] = int64(lit.Value)
		}
		packed := extra[0]<<32 | extra[1]&0xffffffff
		return g.wrap(e, g.simpleRecord(RecPrint, m.Index, &packed))
	}
	if len(e.Args) != 1 {
		return g.c.errorf(e, "", "print() of a value takes one argument")
	}
	t, err := g.typeOf(e.Args[0])
	if err != nil {
		return err
	}
	size := 8 + t.StorageSize()
	off, err := g.allocScratch(size)
	if err != nil {
		return g.wrap(e, err)
	}
	if err := g.store(e.Args[0], t, off+8); err != nil {
		return err
	}
	g.c.plan.Values = append(g.c.plan.Values, t)
	g.emit(
		asm.LoadImm(asm.R1, int64(RecValue<<32|uint64(len(g.c.plan.Values)-1)), asm.DWord),
		asm.StoreMem(regScratch, int16(off), asm.R1, asm.DWord),
	)
	g.emitRecord(off, size)
	return nil
}

func isIntLit(e lang.Expr) bool { _, ok := e.(*lang.IntLit); return ok }
