package compile

import (
	"encoding/binary"
	"sort"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/testutil"
)

// TestSearchLast runs the binary search the unwinder emits (searchLast)
// in the kernel over sorted arrays, and checks it against sort.Search: it
// must count the elements at or below the key, duplicates, gaps and both
// ends included.
func TestSearchLast(t *testing.T) {
	testutil.RequireRoot(t)
	const maxElems = 16 // the search's 5 steps cover 2^5 > 16
	g := &gen{}
	fail := g.label("fail")
	g.emit(
		storeImm(asm.RFP, -8, 0, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference("arr"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, fail),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R8, asm.R7, 0, asm.DWord), // the key
		asm.LoadMem(asm.R4, asm.R7, 8, asm.DWord), // the length
		asm.Mov.Imm(asm.R3, 0),
	)
	capped := g.label("cap")
	g.emit(asm.JLE.Imm(asm.R4, maxElems, capped), asm.Mov.Imm(asm.R4, maxElems))
	g.mark(capped)
	g.searchLast("t", 5, asm.R3, asm.R4, asm.R5, asm.R8, func() {
		g.emit(
			asm.And.Imm(asm.R5, maxElems-1),
			asm.Mov.Reg(asm.R1, asm.R5),
			asm.LSh.Imm(asm.R1, 3),
			asm.Add.Reg(asm.R1, asm.R7),
			asm.LoadMem(asm.R0, asm.R1, 16, asm.DWord),
		)
	})
	g.emit(
		asm.Mov.Reg(asm.R0, asm.R3),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0xffff).WithSymbol(fail),
		asm.Return(),
	)
	spec := &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			"arr": {Name: "arr", Type: ebpf.Array, KeySize: 4, ValueSize: 16 + 8*maxElems, MaxEntries: 1},
		},
		Programs: map[string]*ebpf.ProgramSpec{
			"search": {Name: "search", Type: ebpf.SocketFilter, License: "GPL", Instructions: toAsm(g.insns)},
		},
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	arr, prog := coll.Maps["arr"], coll.Programs["search"]

	for _, elems := range [][]uint64{
		nil,
		{10},
		{10, 20},
		{10, 20, 20, 20, 30},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		{0, 100, 1 << 40, 1<<63 + 5},
		{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5},
	} {
		keys := []uint64{0, 1, 1<<64 - 1}
		for _, e := range elems {
			keys = append(keys, e-1, e, e+1)
		}
		for _, key := range keys {
			val := make([]byte, 16+8*maxElems)
			binary.LittleEndian.PutUint64(val, key)
			binary.LittleEndian.PutUint64(val[8:], uint64(len(elems)))
			for i, e := range elems {
				binary.LittleEndian.PutUint64(val[16+8*i:], e)
			}
			if err := arr.Put(uint32(0), val); err != nil {
				t.Fatal(err)
			}
			got, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, 14)})
			if err != nil {
				t.Fatal(err)
			}
			want := sort.Search(len(elems), func(i int) bool { return elems[i] > key })
			if int(got) != want {
				t.Errorf("elements %v, key %d: search gives %d, want %d", elems, key, got, want)
			}
		}
	}
}
