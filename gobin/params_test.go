package gobin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fmtParam renders a Param compactly: "name type kind/size[s][r] pieces",
// where a piece is a register, "xmm3!" for a float register (unavailable),
// or "sp+N" for the stack, with "@offset" when there are several.
func fmtParam(p Param) string {
	var pcs []string
	for _, pc := range p.Pieces {
		var s string
		switch {
		case pc.OnStack:
			s = fmt.Sprintf("sp+%d", pc.StackOffset)
		case pc.Float:
			s = pc.FloatReg + "!"
		default:
			s = pc.Reg
		}
		if len(p.Pieces) > 1 {
			s += fmt.Sprintf("@%d:%d", pc.Offset, pc.Size)
		}
		pcs = append(pcs, s)
	}
	flags := ""
	if p.Signed {
		flags += "s"
	}
	if p.Result {
		flags += "r"
	}
	return fmt.Sprintf("%s %s %v/%d%s [%s]", p.Name, p.Type, p.Kind, p.Size, flags, strings.Join(pcs, " "))
}

// TestParams checks the placement of every parameter of the test program's
// functions, written out from the ABI specification.
func TestParams(t *testing.T) {
	t.Parallel()
	b := openBinary(t, testBinary(t, "plain"))
	for fn, want := range map[string][]string{
		"main.mixed": {
			"a int8 int/1s [rax]",
			"s string string/16 [rbx@0:8 rcx@8:8]",
			"b int64 int/8s [rdi]",
			"~r0 int64 int/8sr [rax]",
		},
		"main.widths": {
			"a int8 int/1s [rax]", "b int16 int/2s [rbx]", "c int32 int/4s [rcx]", "d int64 int/8s [rdi]",
			"e uint8 uint/1 [rsi]", "f uint16 uint/2 [r8]", "g uint32 uint/4 [r9]", "h uint64 uint/8 [r10]",
			"s string string/16 [sp+8]", // one register left: a string needs two
			"sl []int slice/24 [sp+24]",
			"p main.Pair struct/16 [sp+48]",
			"ptr *main.Server pointer/8 [r11]", // the register left over
			"fn func(int) int func/8 [sp+64]",
			"~r0 int int/8sr [rax]",
		},
		"main.rewind": {
			"a int int/8s [rax]", "b int int/8s [rbx]", "c int int/8s [rcx]", "d int int/8s [rdi]",
			"e int int/8s [rsi]", "f int int/8s [r8]", "g int int/8s [r9]", "h int int/8s [r10]",
			"s string string/16 [sp+8]",
			"z int8 int/1s [r11]",
			"~r0 int int/8sr [rax]",
		},
		"main.many": {
			"a int int/8s [rax]", "b int int/8s [rbx]", "c int int/8s [rcx]", "d int int/8s [rdi]",
			"e int int/8s [rsi]", "f int int/8s [r8]", "g int int/8s [r9]", "h int int/8s [r10]",
			"i int int/8s [r11]", "j int int/8s [sp+8]", "k int int/8s [sp+16]",
			"s string string/16 [sp+24]", "z int8 int/1s [sp+40]",
			"~r0 int int/8sr [rax]", "~r1 string string/16r [rbx@0:8 rcx@8:8]",
		},
		"main.floats": {
			"x float64 float/8 [xmm0!]", "y float32 float/4 [xmm1!]", "n int int/8s [rax]",
			"c complex128 complex/16 [xmm2!@0:8 xmm3!@8:8]",
			"m main.Mixed struct/16 [xmm4!@0:8 rbx@8:4]",
			"~r0 float64 float/8r [xmm0!]",
		},
		"main.arrays": {
			"one [1]int array/8 [rax]", "two [2]int array/16 [sp+8]",
			"none [0]int array/0 []", "e struct {} struct/0 []",
			"last uint16 uint/2 [rbx]",
			"~r0 int int/8sr [rax]",
		},
		"main.kinds": {
			"err error interface/16 [rax@0:8 rbx@8:8]", "m map[string]int map/8 [rcx]",
			"ch chan int chan/8 [rdi]", "up unsafe.Pointer pointer/8 [rsi]", "ok bool bool/1 [r8]",
			"u uintptr uint/8 [r9]", "i int int/8s [r10]", "ui uint uint/8 [r11]",
			"~r0 bool bool/1r [rax]", "~r1 error interface/16r [rbx@0:8 rcx@8:8]",
		},
		"main.blank": {
			"~p0 int int/8s [rax]", "x int int/8s [rbx]", "~p2 string string/16 [rcx@0:8 rdi@8:8]",
			"unused float64 float/8 [xmm0!]", "~r0 int int/8sr [rax]",
		},
		"main.bigResults": {
			"a int int/8s [rax]",
			"r1 int int/8sr [rax]", "r2 int int/8sr [rbx]", "r3 int int/8sr [rcx]", "r4 int int/8sr [rdi]",
			"r5 int int/8sr [rsi]", "r6 int int/8sr [r8]", "r7 int int/8sr [r9]", "r8 int int/8sr [r10]",
			"r9 int int/8sr [r11]", "r10 int int/8sr [sp+8]",
		},
		"main.(*Server).handle": {"s *main.Server pointer/8 [rax]", "x int int/8s [rbx]", "~r0 int int/8sr [rax]"},
		"main.Server.value":     {"s main.Server struct/8 [rax]", "x int int/8s [rbx]", "~r0 int int/8sr [rax]"},
		// Generic shapes: the dictionary takes a register, unlisted.
		"main.(*Stack[go.shape.int]).Push": {"s *main.Stack[go.shape.int] pointer/8 [rax]", "x go.shape.int int/8s [rcx]"},
		"main.Stack[go.shape.int].Len": {
			"s main.Stack[go.shape.int] struct/24 [rax@0:8 rbx@8:8 rcx@16:8]",
			"extra int int/8s [rsi]", "~r0 int int/8sr [rax]",
		},
		"main.Map[go.shape.int]": {
			"xs []go.shape.int slice/24 [rbx@0:8 rcx@8:8 rdi@16:8]",
			"f func(go.shape.int) go.shape.int func/8 [rsi]",
			"~r0 []go.shape.int slice/24r [rax@0:8 rbx@8:8 rcx@16:8]",
		},
		"main.Adder[go.shape.float64]":       {"x go.shape.float64 float/8 [xmm0!]", "~r0 func(int) int func/8r [rax]"},
		"main.Adder[go.shape.float64].func1": {"n int int/8s [rax]", "~r0 int int/8sr [rax]"},
	} {
		t.Run(fn, func(t *testing.T) {
			ps, err := b.Params(fn)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, fmtParam(p))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Params(%s):\n%s\nwant:\n%s", fn, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestParamsAgainstDWARFLocations checks, for every parameter of every main
// function that the compiler gave a complete location at the function's
// entry, that Params puts it in the same place: the compiler's own account
// of the calling convention. It runs on the amd64 and the arm64 builds.
func TestParamsAgainstDWARFLocations(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"plain", "arm64"} {
		t.Run(variant, func(t *testing.T) {
			b := openBinary(t, testBinary(t, variant))
			compared := 0
			for _, f := range mainFuncs(t, b) {
				ps, err := b.Params(f.Name)
				if err != nil {
					t.Errorf("%s: %v", f.Name, err)
					continue
				}
				locs, err := entryLocations(b.f, f.Name)
				if err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				for _, p := range ps {
					l, ok := locs[p.Name]
					if !ok || p.Result || !complete(l) {
						continue
					}
					compared++
					mine := pieceLocs(p)
					if p.OnStack() {
						// DWARF splits a stack value into its parts.
						if l[0].where != mine[0].where {
							t.Errorf("%s: %s: ours %s, DWARF %s", f.Name, p.Name, locString(mine), locString(l))
						}
						continue
					}
					if locString(mine) != locString(l) {
						t.Errorf("%s: %s: ours %s, DWARF %s", f.Name, p.Name, locString(mine), locString(l))
					}
				}
			}
			if compared < 40 {
				t.Errorf("only %d parameters compared", compared)
			}
		})
	}
}

// complete reports whether a DWARF location names every piece.
func complete(l []entryLoc) bool {
	if len(l) == 0 {
		return false
	}
	for _, e := range l {
		if e.where == "" || strings.HasPrefix(e.where, "?") || strings.HasPrefix(e.where, "dwarf") {
			return false
		}
	}
	return true
}

func TestParamsErrors(t *testing.T) {
	t.Parallel()
	stripped := openBinary(t, testBinary(t, "stripped"))
	if _, err := stripped.Params("main.mixed"); !errors.Is(err, ErrNoDWARF) {
		t.Errorf("Params on a stripped binary: %v, want ErrNoDWARF", err)
	}
	plain := openBinary(t, testBinary(t, "plain"))
	if _, err := plain.Params("main.noSuchFunction"); err == nil {
		t.Error("Params of a missing function succeeded")
	}
	ps, err := plain.Params("main.main")
	if err != nil || len(ps) != 0 {
		t.Errorf("Params(main.main) = %v, %v", ps, err)
	}
}

func TestHasDictParam(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want int
	}{
		{"main.Map[go.shape.int]", dictFirst},
		{"main.Map[go.shape.struct { A int }]", dictFirst},
		{"main.(*Stack[go.shape.int]).Push", dictAfterReceiver},
		{"main.Stack[go.shape.int].Len", dictAfterReceiver},
		{"main.Map[go.shape.int].func1", dictNone},
		{"main.Map[go.shape.int].func1.2", dictNone},
		{"main.Map[go.shape.int].gowrap1", dictNone},
		{"main.Map[...]", dictNone},
		{"main.main", dictNone},
		{"main.(*Server).handle", dictNone},
		{"main.Map[int]", dictNone},
		{"]", dictNone},
	} {
		if got := hasDictParam(tc.name); got != tc.want {
			t.Errorf("hasDictParam(%q) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestAssign runs the assignment algorithm on synthetic types, for cases the
// test program does not reach.
func TestAssign(t *testing.T) {
	t.Parallel()
	i64 := &gtype{name: "int64", kind: KindInt, size: 8, align: 8, signed: true}
	i8 := &gtype{name: "int8", kind: KindInt, size: 1, align: 1, signed: true}
	i16 := &gtype{name: "int16", kind: KindInt, size: 2, align: 2, signed: true}
	f64 := &gtype{name: "float64", kind: KindFloat, size: 8, align: 8}
	str := &gtype{name: "string", kind: KindString, size: 16, align: 8}
	arr2 := &gtype{name: "[2]int8", kind: KindArray, size: 2, align: 1, elem: i8, count: 2}
	nested := &gtype{name: "N", kind: KindStruct, size: 24, align: 8, fields: []gfield{{0, i8}, {8, &gtype{name: "S", kind: KindStruct, size: 16, align: 8, fields: []gfield{{0, f64}, {8, i16}}}}}}
	withArr := &gtype{name: "W", kind: KindStruct, size: 3, align: 1, fields: []gfield{{0, i8}, {1, arr2}}}
	wide := &gtype{name: "int128", kind: KindInt, size: 16, align: 8, signed: true}
	vals := func(ts ...*gtype) []abiValue {
		var out []abiValue
		for i, t := range ts {
			out = append(out, abiValue{name: fmt.Sprintf("p%d", i), t: t})
		}
		return out
	}
	res := func(ts ...*gtype) []abiValue {
		out := vals(ts...)
		for i := range out {
			out[i].name = fmt.Sprintf("r%d", i)
			out[i].result = true
		}
		return out
	}
	many := func(t *gtype, n int) []*gtype {
		var out []*gtype
		for range n {
			out = append(out, t)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		spec          abiSpec
		args, results []abiValue
		want          []string
	}{
		{"nested-struct", amd64ABI, vals(nested), nil,
			[]string{"p0 N struct/24 [rax@0:1 xmm0!@8:8 rbx@16:2]"}},
		{"struct-with-array-on-stack", amd64ABI, vals(i8, withArr, i8), nil,
			[]string{"p0 int8 int/1s [rax]", "p1 W struct/3 [sp+8]", "p2 int8 int/1s [rbx]"}},
		{"float-registers-run-out", amd64ABI, vals(append(many(f64, 16), i64)...), nil,
			append(func() []string {
				var s []string
				for i := range 15 {
					s = append(s, fmt.Sprintf("p%d float64 float/8 [xmm%d!]", i, i))
				}
				return s
			}(), "p15 float64 float/8 [sp+8]", "p16 int64 int/8s [rax]")},
		{"wide-int-on-stack", amd64ABI, vals(wide), nil, []string{"p0 int128 int/16s [sp+8]"}},
		{"stack-results-after-aligned-args", amd64ABI, vals(append(many(i64, 9), i8)...), res(append(many(i64, 9), i16)...),
			append(append(func() []string {
				var s []string
				for i, r := range amd64ABI.ints {
					s = append(s, fmt.Sprintf("p%d int64 int/8s [%s]", i, r))
				}
				return s
			}(), "p9 int8 int/1s [sp+8]"), func() []string {
				var s []string
				for i, r := range amd64ABI.ints {
					s = append(s, fmt.Sprintf("r%d int64 int/8sr [%s]", i, r))
				}
				return append(s, "r9 int16 int/2sr [sp+16]")
			}()...)},
		{"abi0-all-on-stack", abiSpec{}, vals(i8, i64, i16, str), res(i8),
			[]string{"p0 int8 int/1s [sp+8]", "p1 int64 int/8s [sp+16]", "p2 int16 int/2s [sp+24]",
				"p3 string string/16 [sp+32]", "r0 int8 int/1sr [sp+48]"}},
		{"arm64", arm64ABI, vals(str, f64, i64), res(str),
			[]string{"p0 string string/16 [x0@0:8 x1@8:8]", "p1 float64 float/8 [f0!]", "p2 int64 int/8s [x2]",
				"r0 string string/16r [x0@0:8 x1@8:8]"}},
		{"hidden", amd64ABI, append([]abiValue{{t: i64, hidden: true}}, vals(i64)...), nil,
			[]string{"p0 int64 int/8s [rbx]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range assign(tc.spec, 8, tc.args, tc.results) {
				got = append(got, fmtParam(p))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParamAvailable(t *testing.T) {
	t.Parallel()
	b := openBinary(t, testBinary(t, "plain"))
	ps, err := b.Params("main.floats")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		want := p.Kind == KindInt // n; the rest are (partly) in XMM registers
		if p.Available() != want {
			t.Errorf("%s: Available = %v", p.Name, p.Available())
		}
	}
	if KindString.String() != "string" || ParamKind(99).String() != "ParamKind(99)" {
		t.Error("ParamKind.String")
	}
}
