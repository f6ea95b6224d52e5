package compile

import (
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// Number of log2 histogram buckets, in the layout output.Log2Bucket uses:
// negative, zero, then one per power of two.
const histBuckets = output.Log2Buckets

// lhistBuckets is the number of buckets of an lhist: below min, one per
// step, and at or above max.
func lhistBuckets(t *Type) int { return int((t.Max-t.Min)/t.Step) + 2 }

// buildKey evaluates a map element's keys into a new scratch region, in
// the map's key layout; it returns the region's offset.
func (g *gen) buildKey(me *lang.MapExpr, m *MapDesc) (int, error) {
	off, err := g.allocScratch(m.KeySize)
	if err != nil {
		return 0, g.wrap(me, err)
	}
	g.zeroScratch(off, m.KeySize)
	switch len(me.Keys) {
	case 0:
	case 1:
		err = g.store(me.Keys[0], m.Key, off)
	default:
		for i, k := range me.Keys {
			if err = g.store(k, m.KeyFields[i].Type, off+m.KeyFields[i].Offset); err != nil {
				break
			}
		}
	}
	return off, err
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

// assignMap compiles @m[k] = v, aggregations, and the atomic += and -=.
func (g *gen) assignMap(s *lang.AssignStmt, me *lang.MapExpr) error {
	m := g.c.maps[me.Name]
	if s.Op != "=" {
		return g.atomicAdd(s, me, m)
	}
	if m.Value.Kind == KindAgg {
		return g.aggregate(s.RHS.(*lang.Call), me, m)
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
	// A map of pointers moves by whole elements, as in C.
	g.scale(asm.R0, m.Value)
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
	if agg == AggTSeries {
		return g.tseries(call, m, keyOff, slot)
	}
	skip := g.label("aggskip")
	if err := g.lookupOrInit(m, keyOff, skip); err != nil {
		return g.wrap(call, err)
	}
	signed := true
	if agg != AggCount {
		signed = g.typ(call.Args[0]).Signed
		g.emit(asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord))
	}
	// The value layouts are output's (output.AggWord*).
	const (
		value = output.AggWordValue
		set   = output.AggWordSet
		count = output.AggWordCount
		sum   = output.AggWordSum
	)
	switch agg {
	case AggCount:
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, value, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, value, asm.R1, asm.DWord),
		)
	case AggSum:
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, value, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, value, asm.R2, asm.DWord),
		)
	case AggAvg, AggStats:
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, count, asm.DWord),
			asm.Add.Imm(asm.R2, 1),
			asm.StoreMem(asm.R0, count, asm.R2, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, sum, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.R0, sum, asm.R2, asm.DWord),
		)
	case AggMin, AggMax:
		first := g.label("mset")
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, set, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, first),
			asm.LoadMem(asm.R2, asm.R0, value, asm.DWord),
		)
		var keep asm.JumpOp
		if agg == AggMin {
			keep = pick(signed, asm.JSGE, asm.JGE) // keep current if v >= cur
		} else {
			keep = pick(signed, asm.JSLE, asm.JLE)
		}
		g.emit(keep.Reg(asm.R1, asm.R2, skip))
		g.emit(asm.StoreMem(asm.R0, value, asm.R1, asm.DWord).WithSymbol(first))
		g.emit(storeImm(asm.R0, set, 1, asm.DWord))
	case AggHist:
		if k := m.Value.HistBits; k > 0 {
			g.fineBucket(k)
			g.bumpBucket(output.HistBuckets(k))
			break
		}
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

// fineBucket turns the value in R1 into its bucket of hist(v, k) in R1,
// in output's finehist.go layout (bpftrace's log2(n, k)).
func (g *gen) fineBucket(k int) {
	mask := int32(1)<<k - 1
	neg, small, done := g.label("fneg"), g.label("fsmall"), g.label("fdone")
	g.emit(
		asm.JSLT.Imm(asm.R1, 0, neg),
		asm.JLE.Imm(asm.R1, mask, small),
		asm.Mov.Reg(asm.R4, asm.R1), // n0
		asm.Mov.Imm(asm.R3, 0),      // l: the highest bit's index
	)
	// Without branches, so that a loop around hist() does not multiply
	// the verifier's paths: n >= 2^(2^i) is the sign of n - 2^(2^i),
	// flipped (n < 2^63 here).
	for i := 5; i >= 0; i-- {
		g.emit(
			asm.LoadImm(asm.R5, int64(1)<<(1<<i), asm.DWord),
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.Sub.Reg(asm.R2, asm.R5),
			asm.RSh.Imm(asm.R2, 63),
			asm.Xor.Imm(asm.R2, 1),
			asm.LSh.Imm(asm.R2, int32(i)), // the shift: 2^i or 0
			asm.RSh.Reg(asm.R1, asm.R2),
			asm.Add.Reg(asm.R3, asm.R2),
		)
	}
	g.emit(
		asm.Sub.Imm(asm.R3, int32(k)),
		asm.RSh.Reg(asm.R4, asm.R3),
		asm.And.Imm(asm.R4, mask),
		asm.Add.Imm(asm.R3, 1),
		asm.LSh.Imm(asm.R3, int32(k)),
		asm.Add.Reg(asm.R3, asm.R4),
		asm.Add.Imm(asm.R3, 1),
		asm.Mov.Reg(asm.R1, asm.R3),
		asm.Ja.Label(done),
		asm.Mov.Imm(asm.R1, 0).WithSymbol(neg),
		asm.Ja.Label(done),
		asm.Add.Imm(asm.R1, 1).WithSymbol(small),
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
	if m.Value.Kind == KindAgg {
		if err := g.aggTotal(m, keyOff); err != nil {
			return g.wrap(me, err)
		}
		if off >= 0 {
			g.emit(asm.StoreMem(regScratch, int16(off), asm.R0, asm.DWord))
		}
		return nil
	}
	missing, done := g.label("miss"), g.label("mread")
	g.lookup(m, keyOff)
	g.emit(asm.JEq.Imm(asm.R0, 0, missing))
	warnMiss := func() error {
		if !g.c.opts.HelperErrors {
			return nil
		}
		// bpftrace's -k: a lookup that finds nothing is a failure of
		// map_lookup_elem with return code 0.
		return g.wrap(me, g.simpleRecord(RecRuntime, g.runtimeIndex(me, "", "map_lookup_elem"), nil))
	}
	if off < 0 {
		g.emit(asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord), asm.Ja.Label(done))
		if g.c.opts.HelperErrors {
			g.mark(missing)
			if err := warnMiss(); err != nil {
				return err
			}
			g.emit(asm.Mov.Imm(asm.R0, 0))
		} else {
			g.emit(asm.Mov.Imm(asm.R0, 0).WithSymbol(missing))
		}
		g.mark(done)
		return nil
	}
	n := m.Value.StorageSize()
	g.copyFrom(asm.R0, 0, off, n)
	g.emit(asm.Ja.Label(done))
	g.mark(missing)
	if err := warnMiss(); err != nil {
		return err
	}
	g.zeroScratch(off, n)
	g.mark(done)
	return nil
}

// deleteCall compiles delete(@m[k]).
func (g *gen) deleteCall(e lang.Expr) error {
	me := e.(*lang.Call).Args[0].(*lang.MapExpr)
	m := g.c.maps[me.Name]
	keyOff, err := g.buildKey(me, m)
	if err != nil {
		return err
	}
	g.emit(asm.LoadMapPtr(asm.R1, 0).WithReference(m.Spec))
	g.scratchPtr(asm.R2, keyOff)
	// The result: true when an element was deleted (the helper returns 0).
	deleted := g.label("deleted")
	g.emit(
		asm.FnMapDeleteElem.Call(),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Mov.Imm(asm.R0, 1),
		asm.JEq.Imm(asm.R1, 0, deleted),
		asm.Mov.Imm(asm.R0, 0),
	)
	g.mark(deleted)
	return nil
}

func (g *gen) hasKey(e lang.Expr) error {
	me := e.(*lang.Call).Args[0].(*lang.MapExpr)
	m := g.c.maps[me.Name]
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

// tseries records the value in the stack slot in its interval: the time
// (tai, or the dummy map's value) gives the epoch, time / interval, whose
// slot epoch % n is the last part of the key; a slot still holding an
// older epoch starts over. The layout is output's (AggWordTS*).
func (g *gen) tseries(call *lang.Call, m *MapDesc, keyOff int, slot int16) error {
	t := m.Value
	ts, err := g.pushStack(16) // [ts] the time, [ts+8] the epoch
	if err != nil {
		return g.wrap(call, err)
	}
	defer g.popStack(16)
	if dm := g.c.maps[g.c.opts.DummyTSMap]; dm != nil && dm.Key == nil && dm.Value.IsScalar() {
		if err := g.mapRead(&lang.MapExpr{Pos: call.Pos, Name: dm.Name}, -1); err != nil {
			return err
		}
	} else {
		g.emit(asm.FnKtimeGetTaiNs.Call())
	}
	g.emit(
		asm.StoreMem(asm.RFP, ts, asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, t.Step, asm.DWord),
		asm.Div.Reg(asm.R0, asm.R1),
		asm.StoreMem(asm.RFP, ts+8, asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, t.Max, asm.DWord),
		asm.Mod.Reg(asm.R0, asm.R1),
		asm.StoreMem(regScratch, int16(keyOff+m.BucketOff), asm.R0, asm.DWord),
	)
	skip, fresh, done := g.label("tsskip"), g.label("tsnew"), g.label("tsdone")
	if err := g.lookupOrInit(m, keyOff, skip); err != nil {
		return g.wrap(call, err)
	}
	const (
		value = output.AggWordTSValue
		meta  = output.AggWordTSMeta
		epoch = output.AggWordTSEpoch
	)
	g.emit(
		asm.LoadMem(asm.R1, asm.RFP, slot, asm.DWord), // the value
		asm.LoadMem(asm.R2, asm.RFP, ts+8, asm.DWord), // the epoch
		asm.LoadMem(asm.R3, asm.R0, epoch, asm.DWord),
		asm.JNE.Reg(asm.R3, asm.R2, fresh),
	)
	switch t.Builtin {
	case "":
		g.emit(
			asm.StoreMem(asm.R0, value, asm.R1, asm.DWord),
			asm.LoadMem(asm.R3, asm.RFP, ts, asm.DWord),
			asm.StoreMem(asm.R0, meta, asm.R3, asm.DWord),
		)
	case "sum", "avg":
		g.emit(
			asm.LoadMem(asm.R3, asm.R0, value, asm.DWord),
			asm.Add.Reg(asm.R3, asm.R1),
			asm.StoreMem(asm.R0, value, asm.R3, asm.DWord),
		)
		if t.Builtin == "avg" {
			g.emit(
				asm.LoadMem(asm.R3, asm.R0, meta, asm.DWord),
				asm.Add.Imm(asm.R3, 1),
				asm.StoreMem(asm.R0, meta, asm.R3, asm.DWord),
			)
		}
	case "min", "max":
		keep := asm.JSGE // min: keep the current when v >= it
		if t.Builtin == "max" {
			keep = asm.JSLE
		}
		g.emit(
			asm.LoadMem(asm.R3, asm.R0, value, asm.DWord),
			keep.Reg(asm.R1, asm.R3, done),
			asm.StoreMem(asm.R0, value, asm.R1, asm.DWord),
		)
	}
	g.emit(asm.Ja.Label(done))
	// A new epoch in the slot: the value alone.
	g.mark(fresh)
	g.emit(
		asm.StoreMem(asm.R0, value, asm.R1, asm.DWord),
		asm.StoreMem(asm.R0, epoch, asm.R2, asm.DWord),
	)
	if t.Builtin == "avg" {
		g.emit(storeImm(asm.R0, meta, 1, asm.DWord))
	} else {
		g.emit(
			asm.LoadMem(asm.R3, asm.RFP, ts, asm.DWord),
			asm.StoreMem(asm.R0, meta, asm.R3, asm.DWord),
		)
	}
	g.mark(done)
	g.mark(skip)
	return nil
}
