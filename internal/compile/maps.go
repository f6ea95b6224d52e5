package compile

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// Number of log2 histogram buckets, in the layout output.Log2Bucket uses:
// negative, zero, then one per power of two.
const histBuckets = output.Log2Buckets

// inferMaps walks every probe in source order and fixes each map's key and
// value types from its assignments, before any code is generated (a map may
// be read in a probe that comes before the one that writes it).
func (c *compiler) inferMaps() error {
	var lastErr error
	for pass := 0; pass < 3; pass++ {
		before := len(c.plan.Maps)
		lastErr = nil
		for _, pr := range c.prog.Probes {
			sh := shape{}
			if len(pr.Points) > 0 {
				sh.kind = pr.Points[0].Kind
				sh.ret = sh.kind == lang.KindUretprobe
			}
			g := newGen(c, pr, "infer", sh, nil)
			g.inferring = true
			if err := g.inferBlock(pr.Body); err != nil {
				lastErr = err
			}
		}
		if len(c.plan.Maps) == before && pass > 0 {
			break
		}
	}
	// Type errors other than unknown maps are reported by code generation,
	// with the same messages; only a conflict between assignments is final.
	if e, ok := lastErr.(*mapConflict); ok {
		return e.err
	}
	return nil
}

type mapConflict struct{ err error }

func (m *mapConflict) Error() string { return m.err.Error() }

func (g *gen) inferBlock(b *lang.Block) error {
	if b == nil {
		return nil
	}
	var firstErr error
	note := func(err error) {
		if err == nil {
			return
		}
		if _, ok := err.(*mapConflict); ok || firstErr == nil {
			if _, isConflict := firstErr.(*mapConflict); !isConflict {
				firstErr = err
			}
		}
	}
	for _, s := range b.Stmts {
		switch s := s.(type) {
		case *lang.Block:
			note(g.inferBlock(s))
		case *lang.IfStmt:
			note(g.inferBlock(s.Then))
			for e := s.Else; e != nil; {
				switch x := e.(type) {
				case *lang.Block:
					note(g.inferBlock(x))
					e = nil
				case *lang.IfStmt:
					note(g.inferBlock(x.Then))
					e = x.Else
				default:
					e = nil
				}
			}
		case *lang.WhileStmt:
			note(g.inferBlock(s.Body))
		case *lang.UnrollStmt:
			note(g.inferBlock(s.Body))
		case *lang.AssignStmt:
			switch lhs := s.LHS.(type) {
			case *lang.Var:
				if _, ok := g.vars[lhs.Name]; !ok {
					t, err := g.typeOf(s.RHS)
					if err != nil {
						note(err)
						continue
					}
					g.vars[lhs.Name] = &variable{typ: t}
				}
			case *lang.MapExpr:
				_, err := g.defineMap(lhs, s)
				note(err)
			}
		case *lang.ExprStmt:
			if inc, ok := s.X.(*lang.IncDec); ok {
				if me, ok := inc.X.(*lang.MapExpr); ok {
					_, err := g.defineMap(me, &lang.AssignStmt{Pos: inc.Pos, Op: "+=", LHS: me, RHS: &lang.IntLit{Value: 1}})
					note(err)
				}
			}
		}
	}
	return firstErr
}

// defineMap finds or creates the map an assignment writes, checking that
// keys and values keep one type.
func (g *gen) defineMap(me *lang.MapExpr, s *lang.AssignStmt) (*MapDesc, error) {
	var keyT *Type
	if me.Keys != nil {
		var err error
		keyT, err = g.keyType(me)
		if err != nil {
			return nil, err
		}
	}
	var valT *Type
	if s.Op != "=" {
		valT = tS64
	} else {
		t, err := g.typeOf(s.RHS)
		if err != nil {
			return nil, err
		}
		if t.Kind == KindAgg {
			call := s.RHS.(*lang.Call)
			if err := g.checkAggArgs(call, t); err != nil {
				return nil, err
			}
		} else if t.Kind == KindVoid {
			return nil, g.c.errorf(s.RHS, "", "cannot store the result of %v in a map", t)
		} else if t.Kind == KindMapLen {
			return nil, g.c.errorf(s.RHS, lenHint, "len() cannot be stored in a map")
		}
		valT = t
	}
	m, ok := g.c.maps[me.Name]
	if !ok {
		m = g.c.newMap(me.Name, keyT, valT)
		return m, nil
	}
	if (m.Key == nil) != (keyT == nil) || (keyT != nil && !sameShape(m.Key, keyT)) {
		return nil, &mapConflict{g.c.errorf(me, "", "map @%s is used with keys %v here but %v elsewhere", me.Name, keyT, m.Key)}
	}
	if !sameShape(m.Value, valT) && !(m.Value.IsScalar() && valT.IsScalar()) {
		return nil, &mapConflict{g.c.errorf(s.RHS, "", "map @%s holds %v elsewhere; cannot store %v", me.Name, m.Value, valT)}
	}
	return m, nil
}

func (g *gen) keyType(me *lang.MapExpr) (*Type, error) {
	if len(me.Keys) == 1 {
		t, err := g.typeOf(me.Keys[0])
		if err != nil {
			return nil, err
		}
		if t.Kind == KindVoid || t.Kind == KindAgg || t.Kind == KindTuple || t.Kind == KindMapLen {
			return nil, g.c.errorf(me.Keys[0], "", "%v cannot be a map key", t)
		}
		return t, nil
	}
	return g.typeOf(&lang.Tuple{Pos: me.Pos, Elems: me.Keys})
}

func (g *gen) checkAggArgs(call *lang.Call, t *Type) error {
	want := 1
	switch t.Agg {
	case AggCount:
		want = 0
	case AggLhist:
		want = 4
	}
	if len(call.Args) != want {
		return g.c.errorf(call, "", "%s() takes %d argument(s), got %d", call.Name, want, len(call.Args))
	}
	if want > 0 {
		if _, err := g.scalarType(call.Args[0]); err != nil {
			return err
		}
	}
	if t.Agg == AggLhist {
		var v [3]int64
		for i, a := range call.Args[1:] {
			lit, ok := a.(*lang.IntLit)
			if !ok {
				if u, ok2 := a.(*lang.Unary); ok2 && u.Op == "-" {
					if l2, ok3 := u.X.(*lang.IntLit); ok3 {
						v[i] = -int64(l2.Value)
						continue
					}
				}
				return g.c.errorf(a, "lhist(x, 0, 100, 10)", "lhist()'s min, max and step must be numbers")
			}
			v[i] = int64(lit.Value)
		}
		if v[2] <= 0 || v[1] <= v[0] || (v[1]-v[0])/v[2] > 1000 {
			return g.c.errorf(call, "e.g. lhist(x, 0, 100, 10)", "lhist() needs min < max, step > 0 and at most 1000 buckets")
		}
		t.Min, t.Max, t.Step = v[0], v[1], v[2]
	}
	return nil
}

func (c *compiler) newMap(name string, key, val *Type) *MapDesc {
	m := &MapDesc{Name: name, Spec: fmt.Sprintf("m%d", len(c.plan.Maps)), Key: key, Value: val, Index: len(c.plan.Maps)}
	m.KeySize = 8
	if key != nil {
		m.KeySize = key.StorageSize()
		if key.Kind == KindTuple {
			off := 0
			for _, e := range key.Elems {
				m.KeyFields = append(m.KeyFields, Field{Type: e, Offset: off})
				off += e.StorageSize()
			}
		}
	}
	mt := ebpf.Hash
	if val.Kind == KindAgg {
		m.PerCPU = true
		mt = ebpf.PerCPUHash
		switch val.Agg {
		case AggCount, AggSum:
			m.ValueSize = 8
		case AggMin, AggMax, AggAvg, AggStats:
			m.ValueSize = 16
		case AggHist:
			m.ValueSize = 8 * histBuckets
		case AggLhist:
			m.ValueSize = 8 * lhistBuckets(val)
		}
	} else {
		m.ValueSize = val.StorageSize()
	}
	c.maps[name] = m
	c.plan.Maps = append(c.plan.Maps, m)
	c.plan.Spec.Maps[m.Spec] = &ebpf.MapSpec{
		Name: m.Spec, Type: mt, KeySize: uint32(m.KeySize), ValueSize: uint32(m.ValueSize),
		MaxEntries: uint32(c.opts.MapSize),
	}
	return m
}

// lenHint says what len(@m) is for: the number of keys is counted in
// userspace when the record that carries it is printed, so it can be printed
// but not computed with in a probe.
const lenHint = "len(@m) is counted when it is printed: use it in printf() or print()"

// lhistBuckets is the number of buckets of an lhist: below min, one per
// step, and at or above max.
func lhistBuckets(t *Type) int { return int((t.Max-t.Min)/t.Step) + 2 }

// buildKey evaluates a map's key into a new scratch region; it returns the
// region's offset.
func (g *gen) buildKey(me *lang.MapExpr, m *MapDesc) (int, error) {
	off, err := g.allocScratch(m.KeySize)
	if err != nil {
		return 0, g.wrap(me, err)
	}
	g.zeroScratch(off, m.KeySize)
	if me.Keys == nil {
		if m.Key != nil {
			return 0, g.c.errorf(me, "", "map @%s needs keys: @%s[...]", me.Name, me.Name)
		}
		return off, nil
	}
	if m.Key == nil {
		return 0, g.c.errorf(me, "", "map @%s has no keys; write @%s", me.Name, me.Name)
	}
	var keyExpr lang.Expr = &lang.Tuple{Pos: me.Pos, Elems: me.Keys}
	if len(me.Keys) == 1 {
		keyExpr = me.Keys[0]
	}
	kt, err := g.typeOf(keyExpr)
	if err != nil {
		return 0, err
	}
	if !sameShape(kt, m.Key) {
		return 0, g.c.errorf(me, "", "map @%s has keys of type %v, not %v", me.Name, m.Key, kt)
	}
	if err := g.store(keyExpr, kt, off); err != nil {
		return 0, err
	}
	return off, nil
}

// lookup leaves a pointer to the map's value for the key at keyOff in R0
// (NULL when absent).
func (g *gen) lookup(m *MapDesc, keyOff int) {
	g.emit(asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec))
	g.scratchPtr(asm.R2, keyOff)
	g.emit(asm.FnMapLookupElem.Call())
}

// update stores the value at valOff under the key at keyOff; a refused
// update (a full map) is counted.
func (g *gen) update(m *MapDesc, keyOff, valOff int, flags int32) {
	ok := g.label("upd")
	g.emit(asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec))
	g.scratchPtr(asm.R2, keyOff)
	g.scratchPtr(asm.R3, valOff)
	g.emit(
		asm.Mov.Imm(asm.R4, flags),
		asm.FnMapUpdateElem.Call(),
		asm.JSGE.Imm(asm.R0, 0, ok),
		asm.JEq.Imm(asm.R0, -17, ok), // EEXIST: another CPU created it first
	)
	g.countIn(MapErrors, m.Index)
	g.mark(ok)
}

// lookupOrInit leaves a pointer to the value in R0, creating a zeroed value
// first; it jumps to skip when the map is full.
func (g *gen) lookupOrInit(m *MapDesc, keyOff int, skip string) error {
	found := g.label("found")
	g.lookup(m, keyOff)
	g.emit(asm.JNE.Imm(asm.R0, 0, found))
	valOff, err := g.allocScratch(m.ValueSize)
	if err != nil {
		return err
	}
	g.zeroScratch(valOff, m.ValueSize)
	g.update(m, keyOff, valOff, 1) // BPF_NOEXIST
	g.lookup(m, keyOff)
	g.emit(asm.JEq.Imm(asm.R0, 0, skip))
	g.mark(found)
	return nil
}

// assignMap compiles @m[k] = v, aggregations, and compound assignments.
func (g *gen) assignMap(s *lang.AssignStmt, me *lang.MapExpr) error {
	m, ok := g.c.maps[me.Name]
	if !ok {
		var err error
		if m, err = g.defineMap(me, s); err != nil {
			return err
		}
	}
	if s.Op != "=" {
		if m.Value.Kind != KindInt {
			return g.c.errorf(s, "", "%s needs a map of integers; @%s holds %v", s.Op, me.Name, m.Value)
		}
		if s.Op == "+=" || s.Op == "-=" {
			return g.atomicAdd(s, me, m)
		}
		return g.assignMap(&lang.AssignStmt{Pos: s.Pos, Op: "=", LHS: me,
			RHS: &lang.Binary{Pos: s.Pos, Op: compoundOps[s.Op], X: me, Y: s.RHS}}, me)
	}
	rt, err := g.typeOf(s.RHS)
	if err != nil {
		return err
	}
	if m.Value.Kind == KindAgg {
		if rt.Kind != KindAgg || rt.Agg != m.Value.Agg {
			return g.c.errorf(s.RHS, "", "map @%s holds %s(); cannot store %v", me.Name, m.Value.Agg, rt)
		}
		return g.aggregate(s.RHS.(*lang.Call), me, m)
	}
	if rt.Kind == KindAgg {
		return g.c.errorf(s.RHS, "", "map @%s holds %v; cannot store %s()", me.Name, m.Value, rt.Agg)
	}
	valOff, err := g.allocScratch(m.ValueSize)
	if err != nil {
		return g.wrap(s, err)
	}
	g.zeroScratch(valOff, m.ValueSize)
	if err := g.store(s.RHS, m.Value, valOff); err != nil {
		return err
	}
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	g.update(m, keyOff, valOff, 0)
	return nil
}

// atomicAdd compiles @m[k] += v and -= v with an atomic add, so that counts
// kept in plain maps are exact across CPUs.
func (g *gen) atomicAdd(s *lang.AssignStmt, me *lang.MapExpr, m *MapDesc) error {
	if _, err := g.expr(s.RHS); err != nil {
		return err
	}
	if s.Op == "-=" {
		g.emit(asm.Neg.Imm(asm.R0, 0))
	}
	slot, err := g.spill()
	if err != nil {
		return g.wrap(s, err)
	}
	defer g.popStack(8)
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	skip := g.label("addskip")
	if err := g.lookupOrInit(m, keyOff, skip); err != nil {
		return g.wrap(s, err)
	}
	g.emit(
		asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
	)
	g.mark(skip)
	return nil
}

// aggregate updates a per-CPU aggregation in place.
func (g *gen) aggregate(call *lang.Call, me *lang.MapExpr, m *MapDesc) error {
	agg := m.Value.Agg
	var slot int16
	if agg != AggCount {
		if _, err := g.expr(call.Args[0]); err != nil {
			return err
		}
		var err error
		if slot, err = g.spill(); err != nil {
			return g.wrap(call, err)
		}
		defer g.popStack(8)
	}
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	skip := g.label("aggskip")
	if err := g.lookupOrInit(m, keyOff, skip); err != nil {
		return g.wrap(call, err)
	}
	signed := true
	if agg != AggCount {
		at, _ := g.typeOf(call.Args[0])
		signed = at.Signed
		g.emit(asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord))
	}
	switch agg {
	case AggCount:
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		)
	case AggSum:
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		)
	case AggAvg, AggStats:
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, 8, asm.R2, asm.DWord),
		)
	case AggMin, AggMax:
		// Layout: value, then a flag that says the value is set.
		set := g.label("mset")
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, set),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		)
		var keep asm.JumpOp
		if agg == AggMin {
			keep = pick(signed, asm.JSGE, asm.JGE) // keep current if v >= cur
		} else {
			keep = pick(signed, asm.JSLE, asm.JLE)
		}
		g.emit(keep.Reg(asm.R1, asm.R2, skip))
		g.emit(asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord).WithSymbol(set))
		g.emit(storeImm(asm.R0, 8, 1, asm.DWord))
	case AggHist:
		g.log2Bucket()
		g.bumpBucket(histBuckets)
	case AggLhist:
		t := m.Value
		nb := lhistBuckets(t)
		below, above, done := g.label("lbelow"), g.label("labove"), g.label("ldone")
		// R1 = value; index = (v - min) / step + 1, clamped.
		g.emit(
			asm.LoadImm(asm.R2, t.Min, asm.DWord),
			asm.JSLT.Reg(asm.R1, asm.R2, below),
			asm.LoadImm(asm.R2, t.Max, asm.DWord),
			asm.JSGE.Reg(asm.R1, asm.R2, above),
			asm.LoadImm(asm.R2, t.Min, asm.DWord),
			asm.Sub.Reg(asm.R1, asm.R2),
			asm.LoadImm(asm.R2, t.Step, asm.DWord),
			asm.Div.Reg(asm.R1, asm.R2),
			asm.Add.Imm(asm.R1, 1),
			asm.Ja.Label(done),
			asm.Mov.Imm(asm.R1, 0).WithSymbol(below),
			asm.Ja.Label(done),
			asm.Mov.Imm(asm.R1, int32(nb-1)).WithSymbol(above),
		)
		g.mark(done)
		g.bumpBucket(nb)
	}
	g.mark(skip)
	return nil
}

// log2Bucket turns the value in R1 into its histogram bucket index in R1:
// 0 for negative values, 1 for zero, 2+floor(log2(v)) otherwise.
func (g *gen) log2Bucket() {
	neg, zero, done := g.label("hneg"), g.label("hzero"), g.label("hdone")
	g.emit(
		asm.JSLT.Imm(asm.R1, 0, neg),
		asm.JEq.Imm(asm.R1, 0, zero),
		asm.Mov.Imm(asm.R3, 2),
	)
	for _, shift := range []int32{32, 16, 8, 4, 2, 1} {
		next := g.label("hbit")
		g.emit(
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.RSh.Imm(asm.R2, shift),
			asm.JEq.Imm(asm.R2, 0, next),
			asm.Add.Imm(asm.R3, shift),
			asm.Mov.Reg(asm.R1, asm.R2),
		)
		g.mark(next)
	}
	g.emit(
		asm.Mov.Reg(asm.R1, asm.R3),
		asm.Ja.Label(done),
		asm.Mov.Imm(asm.R1, 0).WithSymbol(neg),
		asm.Ja.Label(done),
		asm.Mov.Imm(asm.R1, 1).WithSymbol(zero),
	)
	g.mark(done)
}

// bumpBucket adds one to bucket R1 (clamped below n) of the value at R0.
func (g *gen) bumpBucket(n int) {
	ok := g.label("bok")
	g.emit(
		asm.JLT.Imm(asm.R1, int32(n), ok),
		asm.Mov.Imm(asm.R1, int32(n-1)),
	)
	g.mark(ok)
	g.emit(
		asm.LSh.Imm(asm.R1, 3),
		asm.Add.Reg(asm.R0, asm.R1),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R2, 1),
		asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
	)
}

// mapRead reads @m[k]: a scalar into R0 (off < 0), or a value into the
// scratch area at off. A missing key reads as zero.
func (g *gen) mapRead(me *lang.MapExpr, off int) error {
	m := g.c.maps[me.Name]
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	missing, done := g.label("miss"), g.label("mread")
	g.lookup(m, keyOff)
	g.emit(asm.JEq.Imm(asm.R0, 0, missing))
	if off < 0 {
		g.emit(asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord), asm.Ja.Label(done))
		g.emit(asm.Mov.Imm(asm.R0, 0).WithSymbol(missing))
		g.mark(done)
		return nil
	}
	n := m.Value.StorageSize()
	g.emit(asm.Mov.Reg(asm.R3, asm.R0))
	for i := 0; i < n; i += 8 {
		g.emit(
			asm.LoadMem(asm.R1, asm.R3, int16(i), asm.DWord),
			asm.StoreMem(regScratch, int16(off+i), asm.R1, asm.DWord),
		)
	}
	g.emit(asm.Ja.Label(done))
	g.mark(missing)
	g.zeroScratch(off, n)
	g.mark(done)
	return nil
}

// deleteCall compiles delete(@m[k]) and delete(@m, k).
func (g *gen) deleteCall(e *lang.Call) error {
	if len(e.Args) == 0 {
		return g.c.errorf(e, "delete(@m[key])", "delete() needs a map element")
	}
	me, ok := e.Args[0].(*lang.MapExpr)
	if !ok {
		return g.c.errorf(e, "delete(@m[key])", "delete() needs a map element")
	}
	if len(e.Args) > 1 {
		me = &lang.MapExpr{Pos: me.Pos, Name: me.Name, Keys: e.Args[1:]}
	}
	m, ok := g.c.maps[me.Name]
	if !ok {
		return g.c.errorf(me, "", "map @%s is never assigned", me.Name)
	}
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	g.emit(asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec))
	g.scratchPtr(asm.R2, keyOff)
	g.emit(asm.FnMapDeleteElem.Call())
	return nil
}

func (g *gen) hasKey(me *lang.MapExpr) error {
	m, ok := g.c.maps[me.Name]
	if !ok {
		return g.c.errorf(me, "", "map @%s is never assigned", me.Name)
	}
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	yes := g.label("has")
	g.lookup(m, keyOff)
	g.emit(
		asm.JEq.Imm(asm.R0, 0, yes),
		asm.Mov.Imm(asm.R0, 1),
	)
	g.mark(yes)
	return nil
}
