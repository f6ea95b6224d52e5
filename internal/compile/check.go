package compile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// Info is what the check pass learns about one unit (one program to
// generate): the type of every expression, the variables and where Go
// values are. Emission reads it and never types anything itself; the
// resources pass adds the record ids.
type Info struct {
	// Types holds the type of every expression of the unit's probe.
	Types map[lang.Expr]*Type
	// Vars are the $variables, by name, and the order they were first
	// assigned in.
	Vars     map[string]*Type
	VarOrder []string

	goRefs    map[lang.Expr]*goRef
	goLayouts map[lang.Expr]*goLayout
	// consts are the values check computed (sizeof).
	consts map[lang.Expr]int64
	// mem holds the expressions whose value is in the traced process's
	// memory with a C type the program defines (*p, p->f, a.x[i]).
	mem map[lang.Expr]*cType
	// elems holds the element an access selects in a value kept in a
	// record ($t.0, $s.m, $a[1]).
	elems map[lang.Expr]int
	// addrTaken holds the $variables whose address is taken (&$x): they
	// live in scratch.
	addrTaken map[string]bool
	// arrayInts holds the casts of arrays to integers, (uint32)a.
	arrayInts map[lang.Expr]bool
	// strIndex holds the indexes of string values ($s[i]).
	strIndex map[lang.Expr]bool
	// uaddrs holds what uaddr("sym") resolved to (uaddr.go).
	uaddrs map[lang.Expr]uaddrRef
	// recordOrder holds, for a record literal stored under another order
	// of its fields, where each field goes (recordByName).
	recordOrder map[lang.Expr][]int
	// loops is set when the unit has a for or while loop: the body is a
	// callback, which finds the variables in scratch.
	loops bool
	// cargs are the C values read through args and retval (cargs.go).
	cargs map[lang.Expr]*cArg
	// symNames holds the func and probe builtins used as strings, whose
	// names are read from their table (symnames.go).
	symNames map[lang.Expr]string

	// Record indexes (into Plan.Printfs, Plan.Times, Plan.Values) of the
	// calls that send records, set by resources.
	records map[*lang.Call]int
}

func newInfo() *Info {
	return &Info{
		Types: map[lang.Expr]*Type{}, Vars: map[string]*Type{},
		goRefs: map[lang.Expr]*goRef{}, goLayouts: map[lang.Expr]*goLayout{}, consts: map[lang.Expr]int64{},
		mem: map[lang.Expr]*cType{}, elems: map[lang.Expr]int{}, strIndex: map[lang.Expr]bool{}, uaddrs: map[lang.Expr]uaddrRef{}, recordOrder: map[lang.Expr][]int{}, arrayInts: map[lang.Expr]bool{}, addrTaken: map[string]bool{}, cargs: map[lang.Expr]*cArg{},
		symNames: map[lang.Expr]string{},
		records:  map[*lang.Call]int{},
	}
}

// mapType is what check knows of a @map: the types its first assignment
// gave it.
type mapType struct {
	name     string
	key, val *Type
}

// checker types one unit. Its methods are the language's typing rules;
// they record every type in the unit's Info and report mistakes to the
// compiler's error list.
type checker struct {
	*unit
	// goParams caches the parameters of the unit's Go function.
	goParams *goParams
	// loops counts the loops around the statement being checked.
	loops int
}

// check is the third pass: it types every unit and collects every
// mistake. Map types come from assignments anywhere in the program, and a
// map may be read in a probe that comes before the one that writes it, so
// the units are checked in rounds until no new map type appears (as
// bpftrace's semantic analyser does); only the last round's types and
// errors are kept.
func (c *compiler) check(units []*unit) error {
	for round := 0; ; round++ {
		before := len(c.mapOrder)
		c.errs = nil
		c.symNames = map[string]bool{}
		for _, u := range units {
			u.info = newInfo()
			k := &checker{unit: u}
			k.probe()
		}
		if len(c.mapOrder) == before || round > len(c.mapOrder)+1 {
			break
		}
	}
	return c.errList()
}

// report records a mistake; the same message at the same place (from two
// units of one probe) is reported once.
func (c *compiler) report(err error) {
	if err == nil {
		return
	}
	for _, e := range c.errs {
		if e.Error() == err.Error() {
			return
		}
	}
	c.errs = append(c.errs, err)
}

// errList returns the collected mistakes, in source order.
func (c *compiler) errList() error {
	if len(c.errs) == 0 {
		return nil
	}
	var list lang.ErrorList
	for _, err := range c.errs {
		le, ok := err.(*lang.Error)
		if !ok {
			return err
		}
		list = append(list, le)
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].Pos, list[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	if len(list) == 1 {
		return list[0]
	}
	return list
}

func (k *checker) probe() {
	if k.special == nil && k.c.opts.Resolver == nil {
		return
	}
	if pr := k.unit.probe.Pred; pr != nil {
		if _, err := k.typeOf(pr); err != nil {
			k.c.report(err)
		} else if t := k.typ(pr); !t.IsScalar() {
			k.c.report(k.c.errorf(pr, "compare it, e.g. /str(arg0) == \"x\"/", "predicate must be an integer, not %v", t))
		}
	}
	k.block(k.unit.probe.Body)
}

// typ returns the recorded type of an expression already checked.
func (k *checker) typ(e lang.Expr) *Type { return k.info.Types[e] }

func (k *checker) block(b *lang.Block) {
	if b == nil {
		return
	}
	for _, s := range b.Stmts {
		k.c.report(k.stmt(s))
	}
}

func (k *checker) stmt(s lang.Stmt) error {
	switch s := s.(type) {
	case *lang.Block:
		k.block(s)
	case *lang.ExprStmt:
		return k.exprStmt(s.X)
	case *lang.AssignStmt:
		return k.assign(s)
	case *lang.IfStmt:
		if err := k.cond(s.Cond, "condition"); err != nil {
			k.c.report(err)
		}
		k.block(s.Then)
		if s.Else != nil {
			k.c.report(k.stmt(s.Else))
		}
	case *lang.WhileStmt:
		if err := k.cond(s.Cond, "loop condition"); err != nil {
			k.c.report(err)
		}
		k.info.loops = true // a callback (gen.whileLoop): scalars in scratch
		k.loops++
		k.block(s.Body)
		k.loops--
	case *lang.UnrollStmt:
		switch lit, ok := s.Count.(*lang.IntLit); {
		case !ok:
			k.c.report(k.c.errorf(s.Count, "use a number from 1 to 100", "unroll needs a constant count"))
		case lit.Value < 1:
			k.c.report(k.c.errorf(s.Count, "use a number from 1 to 100", "unroll minimum value is 1"))
		case lit.Value > 100:
			k.c.report(k.c.errorf(s.Count, "use a number from 1 to 100, or a while loop", "unroll maximum value is 100"))
		}
		k.block(s.Body)
	case *lang.ReturnStmt:
	case *lang.BreakStmt, *lang.ContinueStmt:
		if k.loops == 0 {
			return k.c.errorf(s, "use it inside while or for", "%s outside a loop", lang.FormatStmt(s))
		}
	case *lang.LetStmt:
		return k.let(s)
	case *lang.ForStmt:
		return k.forStmt(s)
	default:
		return fmt.Errorf("unknown statement %T", s)
	}
	return nil
}

// let declares a variable, with a type, a value, both or neither (then its
// first assignment gives its type).
func (k *checker) let(s *lang.LetStmt) error {
	var t *Type
	fromValue := false // the declared type is completed by the value assigned
	if s.Type != nil && s.Type.Typeof != nil {
		// let $y: typeof(x): x's type, with the pointers written.
		xt, err := k.typeOf(s.Type.Typeof)
		if err != nil {
			return err
		}
		t = xt
		for i := 0; i < s.Type.Ptr; i++ {
			t = &Type{Kind: KindInt, Size: 8, Pointee: t}
		}
	} else if s.Type != nil {
		base, isInt := intTypes[s.Type.Name]
		_, isStruct := k.c.structs[s.Type.Name]
		switch {
		case s.Type.Name == "string" && s.Type.Ptr == 0 && s.Type.Array == 0:
			t = strType(k.c.opts.StrSize)
		case completedByValue(s.Type, isStruct):
			if !isStruct && !isInt && !strings.Contains(s.Type.Name, " ") {
				return k.c.errorf(s.Var, "use int8..int64, uint8..uint64, bool, string or a struct", "unknown type %q", s.Type.Name)
			}
			fromValue = true
		case isStruct:
			pt, err := k.castType1(&lang.Cast{Pos: s.Pos, Type: *s.Type, X: &lang.IntLit{Pos: s.Pos}})
			if err != nil {
				return err
			}
			t = pt
		case !isInt:
			return k.c.errorf(s.Var, "use int8..int64, uint8..uint64, bool or string", "unknown type %q", s.Type.Name)
		default:
			t = base
			for i := 0; i < s.Type.Ptr; i++ {
				t = &Type{Kind: KindInt, Size: 8, Pointee: t}
			}
		}
	}
	if s.Init != nil {
		it, err := k.typeOf(s.Init)
		if err != nil {
			return err
		}
		if t == nil {
			t = it
		} else if !sameShape(t, it) && !(t.IsScalar() && it.IsScalar()) {
			return k.c.errorf(s.Init, "", "$%s is %v; cannot assign %v", displayVar(s.Var.Name), t, it)
		}
	}
	if fromValue && s.Init == nil {
		return nil // its first assignment declares it
	}
	if t == nil {
		// let $x; read before it is assigned: a zero of the type its first
		// assignment gives, an integer unless that is a string literal.
		t = tS64
		lang.Inspect(k.unit.probe.Body, func(n lang.Node) bool {
			if a, ok := n.(*lang.AssignStmt); ok && t == tS64 {
				if v, ok := a.LHS.(*lang.Var); ok && v.Name == s.Var.Name {
					if lit, ok := a.RHS.(*lang.StrLit); ok {
						t = strType(k.strLitSize(lit.Value))
					}
					return false
				}
			}
			return true
		})
	}
	return k.declare(s.Var, t)
}

// completedByValue reports whether a let's declared type is one the value
// assigned completes, as the declaration says it: a C array, a struct or
// union value, or a pointer to a struct only DWARF knows (isStruct: the
// program defines it).
func completedByValue(t *lang.TypeName, isStruct bool) bool {
	if t.Array != 0 {
		return true
	}
	record := strings.HasPrefix(t.Name, "struct ") || strings.HasPrefix(t.Name, "union ")
	return record && (t.Ptr == 0 || !isStruct)
}

// declare gives a variable its type at its first assignment, or checks
// that a later one keeps it.
func (k *checker) declare(v *lang.Var, t *Type) error {
	old, ok := k.info.Vars[v.Name]
	if !ok {
		k.info.Vars[v.Name] = t
		k.info.VarOrder = append(k.info.VarOrder, v.Name)
		k.info.Types[v] = t
		return nil
	}
	if !sameShape(old, t) {
		return k.c.errorf(v, "", "$%s holds %v; cannot assign %v", displayVar(v.Name), old, t)
	}
	k.info.Types[v] = old
	return nil
}

// recordByName lets a record literal with the fields of a record variable
// in another order be assigned to it: the fields are still evaluated in
// the order written, and each is stored under its name (main's
// record.record evaluation order).
func (k *checker) recordByName(rhs lang.Expr, t, old *Type) bool {
	lit, ok := rhs.(*lang.Tuple)
	if !ok || t.Names == nil || old.Names == nil || len(t.Names) != len(old.Names) || slices.Equal(t.Names, old.Names) {
		return false
	}
	perm := make([]int, len(t.Names))
	for i, n := range t.Names {
		j := slices.Index(old.Names, n)
		if j < 0 || !sameShape(t.Elems[i], old.Elems[j]) {
			return false
		}
		perm[i] = j
	}
	k.info.Types[lit] = old
	k.info.recordOrder[lit] = perm
	return true
}

// forEnd names the hidden variable that holds a range loop's start, which
// is evaluated once.
func forEnd(s *lang.ForStmt) string { return fmt.Sprintf("for.end.%d", s.Pos.Offset) }

// forStmt checks for ($i : lo..hi): the variable counts from lo up to hi,
// not included.
func (k *checker) forStmt(s *lang.ForStmt) error {
	if s.Map != nil {
		return k.forMap(s)
	}
	for _, e := range []lang.Expr{s.Lo, s.Hi} {
		if _, err := k.scalarType(e); err != nil {
			return err
		}
	}
	if err := k.declare(s.Var, tS64); err != nil {
		return err
	}
	end := forEnd(s)
	k.info.Vars[end] = tS64
	k.info.VarOrder = append(k.info.VarOrder, end)
	k.info.loops = true
	k.loops++
	k.block(s.Body)
	k.loops--
	return nil
}

// forMap checks for ($kv : @m): $kv is the tuple (key, value) of each
// element, the keys of a map with several being a tuple of their own, an
// aggregation's value its total over the CPUs.
func (k *checker) forMap(s *lang.ForStmt) error {
	m, ok := k.c.mapTypes[s.Map.Name]
	if !ok {
		return k.c.errorf(s.Map, "assign it somewhere: @"+s.Map.Name+"[...] = ...", "map @%s is never assigned", s.Map.Name)
	}
	if len(s.Map.Keys) > 0 {
		return k.c.errorf(s.Map, "for ($kv : @"+s.Map.Name+")", "a for loop iterates a whole map, without keys")
	}
	key := m.key
	if key == nil {
		key = tS64 // a map without keys has the one key 0
	} else if key.MultiKey {
		kt := *key
		kt.MultiKey = false
		key = &kt
	}
	val := m.val
	if val.Kind == KindAgg {
		var err error
		if val, err = k.aggValue(s.Map, m); err != nil {
			return err
		}
	}
	if err := k.declare(s.Var, &Type{Kind: KindTuple, Elems: []*Type{key, val}}); err != nil {
		return err
	}
	k.info.loops = true
	k.loops++
	k.block(s.Body)
	k.loops--
	return nil
}

// aggValue is the type of an aggregation's value read in a probe: its
// total over the CPUs, as bpftrace reads it.
func (k *checker) aggValue(me *lang.MapExpr, m *mapType) (*Type, error) {
	switch m.val.Agg {
	case AggCount:
		return tU64, nil
	case AggSum, AggMin, AggMax, AggAvg:
		return tS64, nil
	}
	return nil, k.c.errorf(me, "print it: print(@"+me.Name+")", "the value of %s() map @%s cannot be read in a probe", m.val.Agg, me.Name)
}

func (k *checker) cond(e lang.Expr, what string) error {
	t, err := k.typeOf(e)
	if err != nil {
		return err
	}
	if !t.IsScalar() {
		return k.c.errorf(e, "", "%s must be an integer, not %v", what, t)
	}
	return nil
}

// exprStmt checks an expression evaluated for its effect: calls without a
// value are allowed there, aggregations are not.
func (k *checker) exprStmt(e lang.Expr) error {
	if call, ok := e.(*lang.Call); ok {
		t, err := k.callType(call)
		if err != nil {
			return err
		}
		if t.Kind == KindAgg {
			return k.c.errorf(call, "assign it to a map: @x = "+call.Name+"(...)", "%s() must be assigned to a map", call.Name)
		}
		k.info.Types[call] = t
		return nil
	}
	_, err := k.typeOf(e)
	return err
}

// assign checks $x = v and @m[k] = v (compound forms are lowered, except
// the atomic @m[k] += v and -= v).
func (k *checker) assign(s *lang.AssignStmt) error {
	switch lhs := s.LHS.(type) {
	case *lang.Var:
		t, err := k.typeOf(s.RHS)
		if err != nil {
			return err
		}
		if t.Kind == KindVoid || t.Kind == KindAgg {
			return k.c.errorf(s.RHS, "aggregations belong in maps: @x = count()", "cannot assign %v to $%s", t, displayVar(lhs.Name))
		}
		if old := k.info.Vars[lhs.Name]; old != nil && k.recordByName(s.RHS, t, old) {
			t = old
		}
		return k.declare(lhs, t)
	case *lang.MapExpr:
		return k.assignMap(s, lhs)
	}
	return k.c.errorf(s.LHS, "assign to a $variable or a @map", "cannot assign to this expression")
}

// typeOf returns the type of an expression, checking it (and everything
// in it) on first sight and recording the result in the side table.
func (k *checker) typeOf(e lang.Expr) (*Type, error) {
	if t, ok := k.info.Types[e]; ok {
		return t, nil
	}
	t, err := k.typeOf1(e)
	if err != nil {
		return nil, err
	}
	k.info.Types[e] = t
	return t, nil
}

func (k *checker) typeOf1(e lang.Expr) (*Type, error) {
	if t, ok, err := k.cArgsType(e); ok {
		return t, err
	}
	if k.goArgs(e) {
		return k.goType(e)
	}
	switch e := e.(type) {
	case *lang.IntLit:
		if e.Text == "true" || e.Text == "false" {
			return tBool, nil
		}
		if e.Value > 1<<63-1 {
			// Above INT64_MAX a literal is a uint64, as in bpftrace.
			return tU64, nil
		}
		return tS64, nil
	case *lang.StrLit:
		return strType(k.strLitSize(e.Value)), nil
	case *lang.Positional:
		return nil, k.c.errorf(e, "", "positional parameter $%d was not given on the command line", e.N)
	case *lang.Var:
		t, ok := k.info.Vars[e.Name]
		if !ok {
			return nil, k.c.errorf(e, "assign it first: $"+displayVar(e.Name)+" = ...", "$%s is used before it is assigned", displayVar(e.Name))
		}
		return t, nil
	case *lang.MapExpr:
		return k.mapRead(e)
	case *lang.Ident:
		return k.identType(e)
	case *lang.Call:
		t, err := k.callType(e)
		if err != nil {
			return nil, err
		}
		switch t.Kind {
		case KindAgg:
			return nil, k.c.errorf(e, "assign it to a map: @x = "+e.Name+"(...)", "%s() must be assigned to a map", e.Name)
		case KindVoid:
			return nil, k.c.errorf(e, "", "%s() has no value", e.Name)
		}
		return t, nil
	case *lang.Unary:
		switch e.Op {
		case "*":
			t, err := k.typeOf(e.X)
			if err != nil {
				return nil, err
			}
			if t.Kind != KindInt || t.Pointee == nil {
				return nil, k.c.errorf(e, "cast it to a pointer first: *(uint64*)(...)", "cannot dereference %v", t)
			}
			if c := t.Pointee.C; c != nil && c.kind != cInt && c.kind != cPtr {
				k.info.mem[e] = c // a struct or array in memory (see gen.inKernel)
			}
			return t.Pointee, nil
		case "&":
			v, ok := e.X.(*lang.Var)
			if !ok {
				return nil, k.c.errorf(e, "take the address of a $variable: &$x", "cannot take the address of %s", lang.FormatExpr(e.X))
			}
			vt, err := k.typeOf(v)
			if err != nil {
				return nil, err
			}
			k.info.addrTaken[v.Name] = true
			return &Type{Kind: KindInt, Size: 8, Pointee: vt, Kernel: true}, nil
		}
		t, err := k.scalarType(e.X)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "!":
			return tBool, nil
		case "-":
			return tS64, nil
		case "~":
			return t, nil
		}
		return nil, k.c.errorf(e, "", "unknown operator %s", e.Op)
	case *lang.IncDec:
		return k.incDecType(e)
	case *lang.Binary:
		return k.binaryType(e)
	case *lang.Ternary:
		if err := k.cond(e.Cond, "condition of ?:"); err != nil {
			return nil, err
		}
		then := e.Then
		if then == nil {
			then = e.Cond // cond ?: else
			if t := k.typ(e.Cond); !t.IsScalar() {
				return nil, k.c.errorf(e, "write cond ? a : b", "?: without a middle operand needs an integer, not %v", t)
			}
		}
		a, err := k.typeOf(then)
		if err != nil {
			return nil, err
		}
		b, err := k.typeOf(e.Else)
		if err != nil {
			return nil, err
		}
		if a.IsScalar() && b.IsScalar() {
			return promote(a, b), nil
		}
		if !sameShape(a, b) {
			if a.Kind == KindString && b.Kind == KindString {
				return strType(max(a.Size, b.Size)), nil
			}
			if a.Kind == KindBuf && b.Kind == KindBuf {
				return &Type{Kind: KindBuf, Size: max(a.Size, b.Size)}, nil
			}
			return nil, k.c.errorf(e, "", "the branches of ?: have different types: %v and %v", a, b)
		}
		return a, nil
	case *lang.Cast:
		return k.castType(e)
	case *lang.Index:
		t, err := k.typeOf(e.X)
		if err != nil {
			return nil, err
		}
		if et, ok, err := k.aggIndex(e, t); ok {
			return et, err
		}
		if t.Kind != KindInt || t.Pointee == nil {
			return nil, k.c.errorf(e, "cast it to a pointer first: ((int32*)p)[i]", "cannot index %v", t)
		}
		if _, err := k.scalarType(e.Index); err != nil {
			return nil, err
		}
		return t.Pointee, nil
	case *lang.Tuple:
		tt := &Type{Kind: KindTuple, Names: e.Names}
		for _, x := range e.Elems {
			t, err := k.typeOf(x)
			if err != nil {
				return nil, err
			}
			if t.Kind == KindVoid || t.Kind == KindAgg {
				return nil, k.c.errorf(x, "", "a tuple cannot hold %v", t)
			}
			tt.Elems = append(tt.Elems, t)
		}
		return tt, nil
	case *lang.Field:
		return k.fieldType(e)
	case *lang.BlockExpr:
		for _, st := range e.Stmts {
			k.c.report(k.stmt(st))
		}
		switch v := e.Value.(type) {
		case nil:
			return tVoid, nil
		case *lang.Call:
			t, err := k.callType(v) // a block may end in printf()
			if err == nil {
				k.info.Types[v] = t
			}
			return t, err
		}
		return k.typeOf(e.Value)
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

// incDecType types x++ and x-- used as a value: x is a variable or a map
// element holding an integer.
func (k *checker) incDecType(e *lang.IncDec) (*Type, error) {
	switch x := e.X.(type) {
	case *lang.Var:
		t, err := k.scalarType(x)
		if err != nil {
			return nil, err
		}
		return t, nil
	case *lang.MapExpr:
		if _, err := k.defineMap(x, tS64); err != nil {
			return nil, err
		}
		t, err := k.typeOf(x)
		if err != nil {
			return nil, err
		}
		if t.Kind != KindInt {
			return nil, k.c.errorf(e, "", "%s needs a map of integers; @%s holds %v", e.Op, x.Name, t)
		}
		return t, nil
	}
	return nil, k.c.errorf(e, "", "%s needs a $variable or a @map element", e.Op)
}

func (k *checker) scalarType(e lang.Expr) (*Type, error) {
	t, err := k.typeOf(e)
	if err != nil {
		return nil, err
	}
	if !t.IsScalar() {
		return nil, k.c.errorf(e, "", "expected an integer, got %v", t)
	}
	return t, nil
}

func (k *checker) strLitSize(s string) int {
	n := len(s) + 1
	if n < k.c.opts.StrSize {
		n = k.c.opts.StrSize
	}
	return n
}

// promote applies C's usual arithmetic conversions to two 64-bit operands:
// the result is signed only when both are.
func promote(a, b *Type) *Type {
	if a.Bool && b.Bool {
		return tBool
	}
	if a.Signed && b.Signed {
		return tS64
	}
	return tU64
}

func (k *checker) binaryType(e *lang.Binary) (*Type, error) {
	a, err := k.typeOf(e.X)
	if err != nil {
		return nil, err
	}
	b, err := k.typeOf(e.Y)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "==", "!=":
		if a.Kind == KindString || b.Kind == KindString {
			a, b = k.asString(e.X, a), k.asString(e.Y, b)
		}
		if a.Kind == KindString && b.Kind == KindString {
			return tBool, nil
		}
		if a.Kind == KindBuf && b.Kind == KindBuf || a.Kind == KindTuple && sameShape(a, b) {
			return tBool, nil // compared byte by byte
		}
	case "&&", "||":
		if !a.IsScalar() || !b.IsScalar() {
			return nil, k.c.errorf(e, "", "%s needs integers, got %v and %v", e.Op, a, b)
		}
		return tBool, nil
	}
	if !a.IsScalar() || !b.IsScalar() {
		return nil, k.c.errorf(e, "compare strings with == or strncmp()", "operator %s needs integers, got %v and %v", e.Op, a, b)
	}
	switch e.Op {
	case "==", "!=", "<", "<=", ">", ">=":
		return tBool, nil
	case "+", "-":
		if a.Pointee != nil && b.Pointee == nil {
			return a, nil
		}
	case "*", "/", "%", "&", "|", "^", "<<", ">>":
	default:
		return nil, k.c.errorf(e, "", "unknown operator %s", e.Op)
	}
	return promote(a, b), nil
}

func (k *checker) castType(e *lang.Cast) (*Type, error) {
	t, err := k.castType1(e)
	if err == nil && t.Pointee != nil {
		// A pointer into the kernel's memory (ctx, &$x) stays one when
		// cast to another pointer type: it is read with probe_read_kernel.
		if xt := k.info.Types[e.X]; xt != nil && xt.Kernel && !t.Kernel {
			kt := *t
			kt.Kernel = true
			t = &kt
		}
	}
	return t, err
}

func (k *checker) castType1(e *lang.Cast) (*Type, error) {
	if e.Type.Typeof != nil {
		// (typeof(x))v, a macro's (t)v with t = typeof(x): x's integer
		// type, written as its name.
		xt, err := k.typeOf(e.Type.Typeof)
		if err != nil {
			return nil, err
		}
		if xt.Kind != KindInt || xt.Pointee != nil || xt.Bool || xt.Size < 1 || xt.Size > 8 {
			return nil, k.c.errorf(e, "cast to an integer type: (uint32)x", "cannot cast to typeof(%s), a %v", lang.FormatExpr(e.Type.Typeof), xt)
		}
		name := fmt.Sprintf("int%d", 8*xt.Size)
		if !xt.Signed {
			name = "u" + name
		}
		e.Type = lang.TypeName{Pos: e.Type.Pos, Name: name, Ptr: e.Type.Ptr}
	}
	if e.Type.Array != 0 {
		return k.arrayCast(e)
	}
	if xt, err := k.typeOf(e.X); err == nil && xt.Kind == KindTuple && xt.Array && e.Type.Ptr == 0 {
		return k.arrayToInt(e, xt)
	}
	base, ok := intTypes[e.Type.Name]
	if et, isEnum := k.c.enums[e.Type.Name]; isEnum && e.Type.Ptr == 0 {
		base, ok = et, true
	}
	if st, isStruct := k.c.structs[e.Type.Name]; !ok && isStruct {
		if e.Type.Ptr == 0 {
			return nil, k.c.errorf(e, "cast to a pointer: (struct Foo *)arg0", "cannot cast a number to %s", e.Type.Name)
		}
		if _, err := k.scalarType(e.X); err != nil {
			return nil, err
		}
		var t *Type = k.c.valueType(&cType{kind: cStructKind, size: st.size, align: st.align, st: st})
		for i := 0; i < e.Type.Ptr; i++ {
			t = &Type{Kind: KindInt, Size: 8, Pointee: t}
		}
		t.Kernel = k.typ(e.X).Kernel // a pointer into uscope's memory stays one
		return t, nil
	}
	if t, isDWARF, err := k.dwarfCast(e); !ok && isDWARF {
		return t, err
	}
	if !ok {
		return nil, k.c.errorf(e, "use int8..int64, uint8..uint64, char, int, long or a pointer to one", "unknown type %q", e.Type.Name)
	}
	if e.Type.Ptr == 0 && e.Type.Name == "void" {
		return nil, k.c.errorf(e, "", "cannot cast to void")
	}
	if _, err := k.scalarType(e.X); err != nil {
		return nil, err
	}
	t := base
	for i := 0; i < e.Type.Ptr; i++ {
		t = &Type{Kind: KindInt, Size: 8, Pointee: t}
	}
	if xt := k.typ(e.X); xt != nil && xt.Kernel && t.Pointee != nil {
		t.Kernel = true // still a pointer into uscope's memory
	}
	return t, nil
}

// arrayCast types (T[N])x: the bytes of the integer x as an array of N
// integers of type T (N*sizeof(T) must be x's size; (T[])x takes N from
// it), as in bpftrace.
func (k *checker) arrayCast(e *lang.Cast) (*Type, error) {
	et, ok := intTypes[e.Type.Name]
	if !ok || e.Type.Name == "void" {
		return nil, k.c.errorf(e, "e.g. (uint8[8])x", "an array cast needs an integer element type, not %q", e.Type.Name)
	}
	if lit, isLit := e.X.(*lang.StrLit); isLit {
		// (int8[])"hello": the literal's bytes and its NUL, one element
		// each, as bpftrace's.
		n := len(lit.Value) + 1
		if et.Size != 1 || e.Type.Array > 0 && e.Type.Array != n {
			return nil, k.c.errorf(e, fmt.Sprintf("use (%s[])", e.Type.Name), "cannot cast a string of %d bytes to %s[%d]; a string is an array of 1-byte integers", n, e.Type.Name, e.Type.Array)
		}
		t := &Type{Kind: KindTuple, Array: true}
		for i := 0; i < n; i++ {
			t.Elems = append(t.Elems, et)
		}
		return t, nil
	}
	xt, err := k.scalarType(e.X)
	if err != nil {
		return nil, err
	}
	n := e.Type.Array
	if n < 0 {
		n = xt.Size / et.Size
	}
	if n*et.Size != xt.Size {
		return nil, k.c.errorf(e, fmt.Sprintf("use (%s[%d])", e.Type.Name, xt.Size/et.Size), "cannot cast %v (%d bytes) to %s[%d] (%d bytes)", xt, xt.Size, e.Type.Name, n, n*et.Size)
	}
	t := &Type{Kind: KindTuple, Array: true}
	for i := 0; i < n; i++ {
		t.Elems = append(t.Elems, et)
	}
	return t, nil
}

// arrayToInt types (T)a of an array a of integers: its bytes as one
// integer of type T, of the array's size.
func (k *checker) arrayToInt(e *lang.Cast, xt *Type) (*Type, error) {
	t, ok := intTypes[e.Type.Name]
	size := 0
	for _, el := range xt.Elems {
		if el.Kind != KindInt {
			ok = false
		}
		size += el.Size
	}
	if !ok || t.Size != size {
		return nil, k.c.errorf(e, "", "cannot cast %v (%d bytes) to %s", xt, size, e.Type.Name)
	}
	k.info.arrayInts[e] = true
	return t, nil
}

// identType types a builtin identifier, from the builtins table.
func (k *checker) identType(e *lang.Ident) (*Type, error) {
	if en, ok := k.c.enumerators[e.Name]; ok {
		k.info.consts[e] = en.value
		return en.typ, nil
	}
	b := lookupBuiltin(e.Name, false)
	if b == nil && kernelOnly[e.Name] {
		return nil, k.c.errorf(e, "uscope traces userspace; for the kernel use bpftrace", "%s is kernel-only", e.Name)
	}
	if b == nil {
		hint := "builtins here are " + builtinHint(false, k.where())
		if near := nearest(e.Name, builtinNames(false)); near != "" {
			hint = "did you mean " + near + "?"
		}
		return nil, k.c.errorf(e, hint, "unknown identifier %q", e.Name)
	}
	if err := k.allowed(e, b); err != nil {
		return nil, err
	}
	return b.check(k, e)
}

// kernelOnly are bpftrace's builtins that read the kernel, which uscope
// does not trace.
var kernelOnly = map[string]bool{
	"kstack": true, "curtask": true, "kptr": true, "kaddr": true, "ksym": true, "pcomm": true,
	"path": true, "skboutput": true, "socket_cookie": true,
	"percpu_kaddr": true, "kfunc": true, "kprobe": true, "tracepoint": true,
}

// where is the probe kind of the unit, as the builtins table names it.
func (k *checker) where() probeKind {
	switch {
	case k.special != nil:
		return inSpecial
	case k.shape.ret:
		return inUretprobe
	case k.shape.kind == lang.KindUSDT:
		return inUSDT
	}
	return inUprobe
}

// allowed reports a builtin used in a probe kind that does not have it.
func (k *checker) allowed(n lang.Node, b *builtin) error {
	if b.where&k.where() != 0 {
		return nil
	}
	name := b.name
	switch n := n.(type) {
	case *lang.Ident:
		name = n.Name
	case *lang.Call:
		name = n.Name + "()"
	}
	return k.c.errorf(n, b.whereHint, "%s is only available in %s", name, b.where)
}
