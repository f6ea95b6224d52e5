package compile

import (
	"fmt"
	"github.com/cilium/ebpf/asm"
	"net"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// callType checks a call against the builtins table and returns the type
// of its result (void for calls made for their effect, an aggregation for
// count() and the others).
func (k *checker) callType(e *lang.Call) (*Type, error) {
	b := lookupBuiltin(e.Name, true)
	if b == nil && kernelOnly[e.Name] {
		return nil, k.c.errorf(e, "uscope traces userspace; for the kernel use bpftrace", "%s() is kernel-only", e.Name)
	}
	if b == nil {
		hint := "functions here are " + builtinHint(true, k.where())
		if near := nearest(e.Name, builtinNames(true)); near != "" {
			hint = "did you mean " + near + "()?"
		}
		return nil, k.c.errorf(e, hint, "unknown function %s()", e.Name)
	}
	if len(e.Args) < b.minArgs || (b.maxArgs >= 0 && len(e.Args) > b.maxArgs) {
		switch {
		case b.minArgs == b.maxArgs:
			return nil, k.c.errorf(e, b.usage, "%s() takes %d argument(s), got %d", e.Name, b.minArgs, len(e.Args))
		case b.maxArgs < 0:
			return nil, k.c.errorf(e, b.usage, "%s() takes at least %d argument(s), got %d", e.Name, b.minArgs, len(e.Args))
		}
		return nil, k.c.errorf(e, b.usage, "%s() takes %d to %d arguments, got %d", e.Name, b.minArgs, b.maxArgs, len(e.Args))
	}
	if err := k.allowed(e, b); err != nil {
		return nil, err
	}
	if b.agg != AggNone {
		t := &Type{Kind: KindAgg, Agg: b.agg}
		return t, k.checkAggArgs(e, t)
	}
	return b.check(k, e)
}

func voidResult(*checker, lang.Expr) (*Type, error) { return tVoid, nil }

// nsecsClocks are nsecs()'s clocks and the helpers that read them.
var nsecsClocks = map[string]asm.BuiltinFunc{
	"monotonic": asm.FnKtimeGetNs, "boot": asm.FnKtimeGetBootNs,
	"tai": asm.FnKtimeGetTaiNs, "sw_tai": asm.FnKtimeGetTaiNs,
}

// pidNSType types pid([curr_ns|init]) and tid([curr_ns|init]).
func (k *checker) pidNSType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if len(e.Args) == 0 {
		return tU32, nil
	}
	if id, ok := e.Args[0].(*lang.Ident); ok && (id.Name == "curr_ns" || id.Name == "init") {
		return tU32, nil
	}
	return nil, k.c.errorf(e.Args[0], e.Name+"(curr_ns) or "+e.Name+"(init)", "unknown PID namespace %s", lang.FormatExpr(e.Args[0]))
}

func (k *checker) nsecsType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if len(e.Args) == 0 {
		return tU64, nil
	}
	if id, ok := e.Args[0].(*lang.Ident); ok {
		if _, ok := nsecsClocks[id.Name]; ok {
			return tU64, nil
		}
	}
	return nil, k.c.errorf(e.Args[0], "nsecs(monotonic), nsecs(boot) or nsecs(tai)", "unknown clock %s", lang.FormatExpr(e.Args[0]))
}

// ntopType types ntop([af, ] addr): an integer (IPv4), or 4 or 16 bytes
// (an array value, or a char array in user memory).
func (k *checker) ntopType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	addr := e.Args[len(e.Args)-1]
	if len(e.Args) == 2 {
		if _, err := k.scalarType(e.Args[0]); err != nil {
			return nil, err
		}
	}
	t, err := k.typeOf(addr)
	if err != nil {
		return nil, err
	}
	size := 0
	switch c := k.info.mem[addr]; {
	case t.IsScalar():
		size = 4
	case c != nil && c.kind == cArray && (c.size == 4 || c.size == 16):
		size = c.size
	case t.Kind == KindTuple && t.Array && (len(t.Elems) == 4 || len(t.Elems) == 16):
		size = len(t.Elems)
	default:
		return nil, k.c.errorf(addr, "an integer, or 4 or 16 bytes", "ntop() cannot take %v", t)
	}
	return &Type{Kind: KindBuf, Size: size, Builtin: "inet"}, nil
}

// ptonType types pton("ADDR"): the address's bytes, checked now.
func (k *checker) ptonType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	lit, ok := e.Args[0].(*lang.StrLit)
	ip := net.ParseIP("")
	if ok {
		ip = net.ParseIP(lit.Value)
	}
	if ip == nil {
		return nil, k.c.errorf(e.Args[0], `pton("127.0.0.1") or pton("::1")`, "pton() takes an IPv4 or IPv6 address as a string literal")
	}
	size := 16
	if strings.Contains(lit.Value, ".") && !strings.Contains(lit.Value, ":") {
		size = 4
	}
	t := &Type{Kind: KindTuple, Array: true}
	for i := 0; i < size; i++ {
		t.Elems = append(t.Elems, intTypes["uint8"])
	}
	return t, nil
}

// macaddrType types macaddr(mac): a char[6] in user memory, or a pointer
// to 6 bytes.
func (k *checker) macaddrType(n lang.Expr) (*Type, error) {
	a := n.(*lang.Call).Args[0]
	t, err := k.typeOf(a)
	if err != nil {
		return nil, err
	}
	if c := k.info.mem[a]; !(c != nil && c.kind == cArray && c.size >= 6) && !t.IsScalar() {
		return nil, k.c.errorf(a, "a char[6] member or a pointer", "macaddr() cannot take %v", t)
	}
	return &Type{Kind: KindBuf, Size: 6, Builtin: "macaddr"}, nil
}

func (k *checker) strlenType(n lang.Expr) (*Type, error) {
	a := n.(*lang.Call).Args[0]
	t, err := k.typeOf(a)
	if err != nil {
		return nil, err
	}
	if t.Kind != KindString {
		return nil, k.c.errorf(a, "strlen(str(ptr))", "strlen() takes a string, not %v", t)
	}
	return tU64, nil
}

// getoptType is reached only by a getopt() lowering left alone: one whose
// name or default is not a literal.
func (k *checker) getoptType(n lang.Expr) (*Type, error) {
	return nil, k.c.errorf(n, `getopt("name", 10, "what it is")`, "getopt() takes a string literal name and a literal default")
}

// containerOfType is reached only by a container_of() the lower pass left
// alone: one whose type is not typeof(TYPE) or whose member is no name.
func (k *checker) containerOfType(n lang.Expr) (*Type, error) {
	return nil, k.c.errorf(n, "container_of($p, typeof(struct Foo), member)", "container_of() takes a pointer, typeof(a struct type) and a member name")
}

// assertType is reached only by an assert() used as a value: the lower
// pass rewrites the statement assert(cond, msg).
func (k *checker) assertType(n lang.Expr) (*Type, error) {
	return nil, k.c.errorf(n, `assert($x > 0, "x is positive");`, "assert() is a statement, not a value")
}

func (k *checker) configType(n lang.Expr) (*Type, error) {
	return nil, k.c.errorf(n, "config().max_strlen", "config() is read one variable at a time")
}

// exitType checks exit() and exit(code).
func (k *checker) exitType(n lang.Expr) (*Type, error) {
	if e := n.(*lang.Call); len(e.Args) == 1 {
		if _, err := k.scalarType(e.Args[0]); err != nil {
			return nil, err
		}
	}
	return tVoid, nil
}

func (k *checker) strType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if t, ok, err := k.goStrType(e); ok {
		return t, err
	}
	if t, err := k.typeOf(e.Args[0]); err == nil && t.Kind == KindString {
		if len(e.Args) == 1 {
			return t, nil // str() of a string is the string
		}
		// str(s, n): its first n characters.
		if _, err := k.scalarType(e.Args[1]); err != nil {
			return nil, err
		}
		if _, ok := constInt(e.Args[1]); !ok {
			return nil, k.c.errorf(e.Args[1], "e.g. str($1, 8)", "str() of a string takes a constant length")
		}
		return t, nil
	}
	if _, err := k.scalarType(e.Args[0]); err != nil {
		return nil, err
	}
	if len(e.Args) == 2 {
		if _, err := k.scalarType(e.Args[1]); err != nil {
			return nil, err
		}
		if n, ok := constInt(e.Args[1]); ok && n < 0 {
			return nil, k.c.errorf(e.Args[1], "give a length of 0 or more", "str()'s length cannot be negative")
		}
		if lit, ok := e.Args[1].(*lang.IntLit); ok && int(lit.Value)+1 > k.c.opts.StrSize && lit.Value < 4096 {
			return strType(int(lit.Value) + 1), nil
		}
	}
	return strType(k.c.opts.StrSize), nil
}

// bufType types buf(p, n) (n bytes of user memory at p), buf(a[, n]) of a
// C array in user memory (its bytes) and buf(s[, n]) of a string value
// (its bytes, NUL included when n says so).
func (k *checker) bufType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	t, err := k.typeOf(e.Args[0])
	if err != nil {
		return nil, err
	}
	size := 0
	switch c := k.info.mem[e.Args[0]]; {
	case t.Kind == KindString:
		size = t.Size
	case c != nil && c.kind == cArray:
		size = c.size
	case len(e.Args) == 1:
		return nil, k.c.errorf(e, "buf(ptr, len)", "buf() of %v needs a length", t)
	default:
		if _, err := k.scalarType(e.Args[0]); err != nil {
			return nil, err
		}
		size = k.c.opts.StrSize
	}
	if len(e.Args) == 2 {
		if _, err := k.scalarType(e.Args[1]); err != nil {
			return nil, err
		}
		if lit, ok := e.Args[1].(*lang.IntLit); ok && lit.Value > 0 && lit.Value <= 1024 {
			if t.Kind == KindString || size == k.c.opts.StrSize || int(lit.Value) < size {
				size = int(lit.Value)
			}
		} else if t.Kind == KindString {
			return nil, k.c.errorf(e.Args[1], "e.g. buf(s, 8)", "buf() of a string takes a constant length")
		}
	}
	return &Type{Kind: KindBuf, Size: size}, nil
}

func (k *checker) usymType(n lang.Expr) (*Type, error) {
	if _, err := k.scalarType(n.(*lang.Call).Args[0]); err != nil {
		return nil, err
	}
	return tUsym, nil
}

func (k *checker) ustackType(n lang.Expr) (*Type, error) {
	e, ok := n.(*lang.Call)
	if !ok || len(e.Args) == 0 {
		return tStack, nil
	}
	mode, err := k.stackMode(e)
	if err != nil {
		return nil, err
	}
	if mode != "" && len(e.Args) == 1 {
		return &Type{Kind: KindStack, Size: 16, Format: mode}, nil
	}
	if mode != "" {
		e = &lang.Call{Name: e.Name, Args: e.Args[1:]}
	}
	lit, ok := e.Args[0].(*lang.IntLit)
	if !ok || lit.Value < 1 || lit.Value > maxStackDeep {
		return nil, k.c.errorf(e, fmt.Sprintf("e.g. ustack(5); at most %d", maxStackDeep), "ustack() takes a constant number of frames")
	}
	// Max limits the frames printed; the kernel collects them all.
	return &Type{Kind: KindStack, Size: 16, Max: int64(lit.Value), Format: mode}, nil
}

func (k *checker) regType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	lit, ok := e.Args[0].(*lang.StrLit)
	if !ok {
		return nil, k.c.errorf(e, `reg("rdi")`, "reg() takes a register name as a string")
	}
	if _, ok := ptRegs[lit.Value]; !ok {
		return nil, k.c.errorf(e.Args[0], "x86-64 registers: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip", "unknown register %q", lit.Value)
	}
	return tU64, nil
}

// firstTwo types a call's first two arguments, strings: a func or
// probe is typed as its name (asString).
func (k *checker) firstTwo(e *lang.Call) (*Type, *Type, error) {
	a, err := k.typeOf(e.Args[0])
	if err != nil {
		return nil, nil, err
	}
	b, err := k.typeOf(e.Args[1])
	if err != nil {
		return nil, nil, err
	}
	return k.asString(e.Args[0], a), k.asString(e.Args[1], b), nil
}

func (k *checker) strncmpType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	a, b, err := k.firstTwo(e)
	if err != nil {
		return nil, err
	}
	if a.Kind != KindString || b.Kind != KindString {
		return nil, k.c.errorf(e, `strncmp(str(arg0), "abc", 3)`, "strncmp() compares strings, got %v and %v", a, b)
	}
	if _, ok := e.Args[2].(*lang.IntLit); !ok {
		return nil, k.c.errorf(e.Args[2], "", "strncmp() needs a constant length")
	}
	return tU64, nil
}

// maxStrcontainsSteps bounds the comparisons of strcontains() with a
// needle that is not a literal: the verifier walks every one.
const maxStrcontainsSteps = 1 << 14

func (k *checker) strcontainsType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	a, b, err := k.firstTwo(e)
	if err != nil {
		return nil, err
	}
	if a.Kind != KindString || b.Kind != KindString {
		return nil, k.c.errorf(e, `strcontains(str(arg0), "needle")`, "strcontains() takes two strings, not %v and %v", a, b)
	}
	if lit, ok := e.Args[1].(*lang.StrLit); ok {
		k.info.Types[e.Args[1]] = strType(k.strLitSize(lit.Value))
	} else if a.Size*b.Size > maxStrcontainsSteps {
		return nil, k.c.errorf(e, "cut them with str(s, n)", "strcontains() of strings of %d and %d bytes is too long for a BPF program (at most %d byte pairs)", a.Size, b.Size, maxStrcontainsSteps)
	}
	return tBool, nil
}

// mapKeyed checks the map element a call takes (delete(@m[k]),
// has_key(@m[k])); lowering turned the two-argument forms into it.
func (k *checker) mapKeyed(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	me, ok := e.Args[0].(*lang.MapExpr)
	if ok && e.Name == "has_key" {
		if m := k.c.mapTypes[me.Name]; m != nil && m.key == nil {
			return nil, k.c.errorf(e, "has_key(@m, key) needs a map such as @m[k]", "call to has_key() expects a map with explicit keys (non-scalar map)")
		}
	}
	// delete(@scalar) deletes a map without keys (main's stdlib).
	scalar := ok && me.Keys == nil && e.Name == "delete" && k.c.mapTypes[me.Name] != nil && k.c.mapTypes[me.Name].key == nil
	if !ok || me.Keys == nil && !scalar || len(e.Args) != 1 {
		return nil, k.c.errorf(e, e.Name+"(@m[key]) or "+e.Name+"(@m, key)", "%s() takes a map and a key", e.Name)
	}
	if _, err := k.mapElem(me); err != nil {
		return nil, err
	}
	// Both are bools: whether the element exists, whether one was deleted.
	return tBool, nil
}

func (k *checker) lenType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if ok, err := k.goLenCall(e); ok {
		return tS64, err
	}
	if _, isMap := e.Args[0].(*lang.MapExpr); !isMap {
		if t, err := k.typeOf(e.Args[0]); err == nil && t.Kind == KindStack {
			return tS64, nil // len(ustack): its frames (ustack.go)
		}
	}
	m, err := k.mapArg(e)
	if err != nil {
		return nil, err
	}
	if m.key == nil {
		return nil, k.c.errorf(e, "len() counts the keys of a map such as @m[k]", "call to len() expects a map with explicit keys (non-scalar map)")
	}
	return tU64, nil
}

// mapArg checks a call that takes a whole map (clear, zero, len).
func (k *checker) mapArg(e *lang.Call) (*mapType, error) {
	me, ok := e.Args[0].(*lang.MapExpr)
	if !ok || me.Keys != nil {
		return nil, k.c.errorf(e, "e.g. "+e.Name+"(@m)", "%s() takes a whole map", e.Name)
	}
	m, ok := k.c.mapTypes[me.Name]
	if !ok {
		return nil, k.c.errorf(me, "assign it somewhere: @"+me.Name+"[...] = ...", "map @%s is never assigned", me.Name)
	}
	return m, nil
}

func (k *checker) wholeMap(n lang.Expr) (*Type, error) {
	_, err := k.mapArg(n.(*lang.Call))
	return tVoid, err
}

func (k *checker) timeType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if len(e.Args) == 1 {
		if _, ok := e.Args[0].(*lang.StrLit); !ok {
			return nil, k.c.errorf(e, `time("%H:%M:%S\n")`, "time() takes a format string")
		}
	}
	return tVoid, nil
}

func (k *checker) printfType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	lit, ok := e.Args[0].(*lang.StrLit)
	if !ok {
		return nil, k.c.errorf(e.Args[0], "", "printf()'s format must be a string literal")
	}
	f, err := output.ParseFormat(lit.Value)
	if err != nil {
		return nil, k.c.prog.Errorf(lit, len(lit.Value)+2, "", "bad format: %v", err)
	}
	args := e.Args[1:]
	dirs := f.Directives()
	if len(dirs) != len(args) {
		return nil, k.c.errorf(e, "", "format has %d directive(s) but %d argument(s) follow", len(dirs), len(args))
	}
	for i, a := range args {
		t, err := k.typeOf(a)
		if err != nil {
			return nil, err
		}
		if err := checkDirective(dirs[i].Arg, t); err != nil {
			return nil, k.c.errorf(a, "", "argument %d: %v", i+1, err)
		}
	}
	return tVoid, nil
}

func (k *checker) printType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if me, ok := e.Args[0].(*lang.MapExpr); ok && me.Keys == nil {
		if _, ok := k.c.mapTypes[me.Name]; !ok {
			return nil, k.c.errorf(me, "assign it somewhere: @"+me.Name+"[...] = ...", "map @%s is never assigned", me.Name)
		}
		for i, a := range e.Args[1:] {
			if i >= 2 {
				return nil, k.c.errorf(a, "print(@m, top, div)", "print() takes at most a map, a top count and a divisor")
			}
			if _, ok := a.(*lang.IntLit); !ok {
				return nil, k.c.errorf(a, "", "print()'s top and divisor must be numbers")
			}
		}
		return tVoid, nil
	}
	if len(e.Args) != 1 {
		return nil, k.c.errorf(e, "", "print() of a value takes one argument")
	}
	if _, err := k.typeOf(e.Args[0]); err != nil {
		return nil, err
	}
	return tVoid, nil
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
		if t.IsScalar() {
			return nil
		}
		return errorString("this directive needs an integer; use %s to print " + t.String())
	}
	return errorString("cannot print " + t.String() + " with this directive")
}

type errorString string

func (e errorString) Error() string { return string(e) }

// checkAggArgs checks the arguments of an aggregation; lhist's bounds are
// kept in its type.
func (k *checker) checkAggArgs(call *lang.Call, t *Type) error {
	if len(call.Args) > 0 {
		if _, err := k.scalarType(call.Args[0]); err != nil {
			return err
		}
	}
	if t.Agg == AggTSeries {
		return k.tseriesArgs(call, t)
	}
	if t.Agg == AggHist && len(call.Args) == 2 {
		n, ok := constInt(call.Args[1])
		if !ok || n < 0 || n > output.MaxHistBits {
			return k.c.errorf(call.Args[1], "hist(x, 2): 4 buckets per power of two", "hist()'s second argument is a number from 0 to %d", output.MaxHistBits)
		}
		t.HistBits = int(n)
		return nil
	}
	if t.Agg != AggLhist {
		return nil
	}
	var v [3]int64
	for i, a := range call.Args[1:] {
		n, ok := constInt(a)
		if !ok {
			return k.c.errorf(a, "lhist(x, 0, 100, 10)", "lhist()'s min, max and step must be numbers")
		}
		v[i] = n
	}
	if v[2] <= 0 || v[1] <= v[0] || (v[1]-v[0])/v[2] > 1000 {
		return k.c.errorf(call, "e.g. lhist(x, 0, 100, 10)", "lhist() needs min < max, step > 0 and at most 1000 buckets")
	}
	t.Min, t.Max, t.Step = v[0], v[1], v[2]
	return nil
}

// tseriesArgs checks tseries(x, interval, n[, fn]) and keeps its constants
// in t.
func (k *checker) tseriesArgs(call *lang.Call, t *Type) error {
	interval, ok1 := constInt(call.Args[1])
	n, ok2 := constInt(call.Args[2])
	if !ok1 || !ok2 || interval <= 0 || n < 1 || n > 1000 {
		return k.c.errorf(call, `e.g. tseries(x, 1s, 10) or tseries(x, 100ms, 20, "max")`, "tseries() needs a constant interval above 0 and 1 to 1000 intervals")
	}
	fn := ""
	if len(call.Args) == 4 {
		lit, ok := call.Args[3].(*lang.StrLit)
		if !ok || (lit.Value != "avg" && lit.Value != "max" && lit.Value != "min" && lit.Value != "sum") {
			return k.c.errorf(call.Args[3], `"avg", "max", "min" or "sum"`, "tseries()'s fourth argument names how values combine")
		}
		fn = lit.Value
	}
	t.Step, t.Max, t.Builtin = interval, n, fn
	return nil
}

// constInt is the value of an integer literal or a negated one.
func constInt(e lang.Expr) (int64, bool) {
	switch x := e.(type) {
	case *lang.IntLit:
		return int64(x.Value), true
	case *lang.Unary:
		if lit, ok := x.X.(*lang.IntLit); ok && x.Op == "-" {
			return -int64(lit.Value), true
		}
	}
	return 0, false
}

// foldInt is the value of an integer expression made of literals and the
// arithmetic operators, as main folds them (1 + 1, -2 * 3, 1 << 4).
func foldInt(e lang.Expr) (int64, bool) {
	switch x := e.(type) {
	case *lang.IntLit:
		return int64(x.Value), true
	case *lang.Unary:
		v, ok := foldInt(x.X)
		switch {
		case !ok:
		case x.Op == "-":
			return -v, true
		case x.Op == "~":
			return ^v, true
		case x.Op == "+":
			return v, true
		}
	case *lang.Binary:
		a, ok1 := foldInt(x.X)
		b, ok2 := foldInt(x.Y)
		if !ok1 || !ok2 {
			return 0, false
		}
		switch x.Op {
		case "+":
			return a + b, true
		case "-":
			return a - b, true
		case "*":
			return a * b, true
		case "/":
			if b != 0 {
				return a / b, true
			}
		case "%":
			if b != 0 {
				return a % b, true
			}
		case "<<":
			if b >= 0 && b < 64 {
				return a << b, true
			}
		case ">>":
			if b >= 0 && b < 64 {
				return a >> b, true
			}
		case "&":
			return a & b, true
		case "|":
			return a | b, true
		case "^":
			return a ^ b, true
		}
	}
	return 0, false
}

// assignMap checks @m[k] = v, @m[k] = count() and the atomic @m[k] += v.
func (k *checker) assignMap(s *lang.AssignStmt, me *lang.MapExpr) error {
	if s.Op != "=" {
		if _, err := k.scalarType(s.RHS); err != nil {
			return err
		}
		m, err := k.defineMap(me, tS64)
		if err != nil {
			return err
		}
		if m.val.Kind != KindInt {
			return k.c.errorf(s, "", "%s needs a map of integers; @%s holds %v", s.Op, me.Name, m.val)
		}
		return k.keysOf(me, m)
	}
	var t *Type
	var err error
	if call, ok := s.RHS.(*lang.Call); ok {
		if t, err = k.callType(call); err == nil {
			k.info.Types[call] = t
		}
	} else {
		t, err = k.typeOf(s.RHS)
	}
	if err != nil {
		return err
	}
	switch t.Kind {
	case KindVoid:
		return k.c.errorf(s.RHS, "", "cannot store the result of %v in a map", t)
	}
	m, err := k.defineMap(me, t)
	if err != nil {
		return err
	}
	return k.keysOf(me, m)
}

// defineMap finds or creates the map an assignment writes, checking that
// keys and values keep one type.
func (k *checker) defineMap(me *lang.MapExpr, val *Type) (*mapType, error) {
	key, err := k.keyType(me)
	if err != nil {
		return nil, err
	}
	m, ok := k.c.mapTypes[me.Name]
	if !ok {
		m = &mapType{name: me.Name, key: key, val: val}
		k.c.mapTypes[me.Name] = m
		k.c.mapOrder = append(k.c.mapOrder, me.Name)
		return m, nil
	}
	if (m.key == nil) != (key == nil) || (key != nil && !sameShape(m.key, key)) {
		return nil, k.c.errorf(me, "", "map @%s is used with keys %v here but %v elsewhere", me.Name, key, m.key)
	}
	if !sameShape(m.val, val) && !(m.val.IsScalar() && val.IsScalar()) {
		return nil, k.c.errorf(me, "", "map @%s holds %v elsewhere; cannot store %v", me.Name, m.val, val)
	}
	return m, nil
}

// keyType is the type of a map element's keys: one key's own type, or a
// tuple of several; nil without keys.
func (k *checker) keyType(me *lang.MapExpr) (*Type, error) {
	if me.Keys == nil {
		return nil, nil
	}
	var elems []*Type
	for _, x := range me.Keys {
		t, err := k.typeOf(x)
		if err != nil {
			return nil, err
		}
		if t.Kind == KindVoid || t.Kind == KindAgg {
			return nil, k.c.errorf(x, "", "%v cannot be a map key", t)
		}
		elems = append(elems, t)
	}
	if len(elems) == 1 {
		return elems[0], nil
	}
	return &Type{Kind: KindTuple, Elems: elems, MultiKey: true}, nil
}

// keysOf checks that an element's keys fit the map.
func (k *checker) keysOf(me *lang.MapExpr, m *mapType) error {
	switch {
	case me.Keys == nil && m.key != nil:
		return k.c.errorf(me, "", "map @%s needs keys: @%s[...]", me.Name, me.Name)
	case me.Keys != nil && m.key == nil:
		return k.c.errorf(me, "", "map @%s has no keys; write @%s", me.Name, me.Name)
	}
	kt, err := k.keyType(me)
	if err != nil {
		return err
	}
	if kt != nil && !sameShape(kt, m.key) {
		return k.c.errorf(me, "", "map @%s has keys of type %v, not %v", me.Name, m.key, kt)
	}
	return nil
}

// mapElem checks a map element that is read (or deleted, or asked about).
func (k *checker) mapElem(me *lang.MapExpr) (*mapType, error) {
	m, ok := k.c.mapTypes[me.Name]
	if !ok {
		return nil, k.c.errorf(me, "assign it somewhere: @"+me.Name+"[...] = ...", "map @%s is never assigned", me.Name)
	}
	return m, k.keysOf(me, m)
}

// mapRead types @m[k] as a value.
func (k *checker) mapRead(me *lang.MapExpr) (*Type, error) {
	m, err := k.mapElem(me)
	if err != nil {
		return nil, err
	}
	if m.val.Kind == KindAgg {
		return k.aggValue(me, m)
	}
	return m.val, nil
}

func (k *checker) bswapType(n lang.Expr) (*Type, error) {
	t, err := k.scalarType(n.(*lang.Call).Args[0])
	if err != nil {
		return nil, err
	}
	if t.Size == 1 || t.Pointee != nil {
		return t, nil
	}
	return &Type{Kind: KindInt, Size: t.Size}, nil
}

// cgroupPathType types cgroup_path(id) and cgroup_path(id, "unified"):
// uscope reads cgroup v2, bpftrace's "unified" hierarchy.
func (k *checker) cgroupPathType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if _, err := k.scalarType(e.Args[0]); err != nil {
		return nil, err
	}
	if len(e.Args) == 2 {
		if s, ok := e.Args[1].(*lang.StrLit); !ok || s.Value != "unified" {
			return nil, k.c.errorf(e.Args[1], `cgroup_path(cgroup, "unified")`, "uscope reads cgroup v2 only: its filter is \"unified\"")
		}
	}
	return tCgroupPath, nil
}

func (k *checker) strerrorType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	if _, err := k.scalarType(e.Args[0]); err != nil {
		return nil, err
	}
	if e.Name == "signal_name" {
		return tSignal, nil
	}
	return tStrerror, nil
}

// sizeofType types sizeof(T) and sizeof(expr): a constant, kept in the
// Info for emission.
// typeNameSize is the size of a type sizeof names: an integer, a struct,
// a string, a pointer, or an array of one of them; ok is false for
// another type.
func (k *checker) typeNameSize(ty lang.TypeName) (int, bool) {
	n := max(ty.Array, 1)
	switch {
	case ty.Ptr > 0:
		return 8 * n, true
	case intTypes[ty.Name] != nil:
		return intTypes[ty.Name].Size * n, true
	case k.c.structs[ty.Name] != nil:
		return k.c.structs[ty.Name].size * n, true
	case ty.Name == "string":
		return k.c.opts.StrSize * n, true
	}
	return 0, false
}

func (k *checker) sizeofType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	size := 0
	arg := e.Args[0]
	// The type sizeof names: a type argument of a macro, typeof(TYPE)
	// (typeof(x) is x's size), t[N] of one, or the parser's type string.
	ty, isType := lang.TypeArg(arg)
	if isType && ty.Typeof != nil && ty.Ptr == 0 {
		arg, isType = ty.Typeof, false
	}
	if ix, ok := arg.(*lang.Index); ok && !isType {
		t, ok := lang.TypeArg(ix.X)
		if n, isLen := ix.Index.(*lang.IntLit); ok && isLen && t.Array == 0 && t.Typeof == nil {
			t.Array = int(n.Value)
			ty, isType = t, true
		}
	}
	if id, ok := arg.(*lang.Ident); ok && !isType {
		if ty, isType = lang.ParseTypeString(id.Name); !isType {
			ty, isType = lang.TypeName{Name: id.Name}, k.c.structs[id.Name] != nil // a struct typedef'd as a plain name
		}
	}
	if n, ok := k.typeNameSize(ty); isType && ok {
		k.info.consts[e] = int64(n)
		return tU64, nil
	}
	switch a := arg.(type) {
	case *lang.Ident:
		t, err := k.typeOf(a)
		if err != nil {
			return nil, err
		}
		size = sizeOfValue(t)
	case *lang.Cast:
		// sizeof(type *) parses as a cast of nothing; not reached.
		return nil, k.c.errorf(a, "", "sizeof takes a type or an expression")
	default:
		t, err := k.typeOf(a)
		if err != nil {
			return nil, err
		}
		size = sizeOfValue(t)
		if c := k.info.mem[a]; c != nil {
			size = c.size
		}
	}
	k.info.consts[e] = int64(size)
	return tU64, nil
}

// sizeOfValue is the size bpftrace gives a value of type t: an integer's
// width, a string's capacity, a tuple's packed fields.
func sizeOfValue(t *Type) int {
	switch t.Kind {
	case KindInt:
		if t.Pointee != nil {
			return 8
		}
		return t.Size
	case KindString:
		return t.Size
	case KindTuple:
		// Laid out as a C struct of its elements, as bpftrace sizes it.
		n, align := 0, 1
		for _, e := range t.Elems {
			a := alignOfValue(e)
			n = (n + a - 1) / a * a
			n += sizeOfValue(e)
			align = max(align, a)
		}
		return (n + align - 1) / align * align
	}
	return t.StorageSize()
}

// alignOfValue is the alignment of a value of t in sizeOfValue's layout.
func alignOfValue(t *Type) int {
	switch t.Kind {
	case KindInt:
		if t.C != nil && t.C.align > 0 {
			return t.C.align
		}
		if t.Pointee != nil {
			return 8
		}
		return max(t.Size, 1)
	case KindString:
		return 1
	case KindTuple:
		if t.C != nil && t.C.align > 0 {
			return t.C.align
		}
		a := 1
		for _, e := range t.Elems {
			a = max(a, alignOfValue(e))
		}
		return a
	}
	return 8
}

func (k *checker) systemType(n lang.Expr) (*Type, error) {
	if !k.c.opts.Unsafe {
		return nil, k.c.errorf(n, "run with --unsafe to allow it", "system() runs commands: it needs --unsafe")
	}
	return k.printfType(n)
}

// strftimeType types strftime(FMT, nsecs): an integer that prints as a
// date with the format.
func (k *checker) strftimeType(n lang.Expr) (*Type, error) {
	e := n.(*lang.Call)
	lit, ok := e.Args[0].(*lang.StrLit)
	if !ok {
		return nil, k.c.errorf(e.Args[0], `strftime("%H:%M:%S", nsecs)`, "strftime()'s format must be a string literal")
	}
	if _, err := k.scalarType(e.Args[1]); err != nil {
		return nil, err
	}
	return &Type{Kind: KindInt, Size: 8, Builtin: "strftime", Format: lit.Value}, nil
}
