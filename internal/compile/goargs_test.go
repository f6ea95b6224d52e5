package compile

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
)

// fakeGo is a Go binary with one function, main.f, laid out by hand:
//
//	func f(a int8, s string, sl []int, flag bool, p *Pair, x float64, arr [2]int16) (n int, msg string)
//
// where Pair is struct { A int32; B string; Next *Pair }.
type fakeGo struct{}

var (
	fgInt8  = &gobin.Type{Name: "int8", Kind: gobin.KindInt, Size: 1, Signed: true}
	fgInt16 = &gobin.Type{Name: "int16", Kind: gobin.KindInt, Size: 2, Signed: true}
	fgInt32 = &gobin.Type{Name: "int32", Kind: gobin.KindInt, Size: 4, Signed: true}
	fgInt   = &gobin.Type{Name: "int", Kind: gobin.KindInt, Size: 8, Signed: true}
	fgBool  = &gobin.Type{Name: "bool", Kind: gobin.KindBool, Size: 1}
	fgStr   = &gobin.Type{Name: "string", Kind: gobin.KindString, Size: 16}
	fgF64   = &gobin.Type{Name: "float64", Kind: gobin.KindFloat, Size: 8}
	fgPair  = func() *gobin.Type {
		p := &gobin.Type{Name: "main.Pair", Kind: gobin.KindStruct, Size: 32}
		p.Fields = []gobin.Field{{Name: "A", Offset: 0, Type: fgInt32}, {Name: "B", Offset: 8, Type: fgStr}, {Name: "Next", Offset: 24, Type: gobin.PointerTo(p)}}
		return p
	}()
	fgTypes = map[string]*gobin.Type{
		"a": fgInt8, "s": fgStr, "sl": gobin.SliceOf(fgInt), "flag": fgBool, "p": gobin.PointerTo(fgPair),
		"x": fgF64, "arr": gobin.ArrayOf(2, fgInt16), "n": fgInt, "msg": fgStr,
	}
)

func (fakeGo) Params(fn string) ([]gobin.Param, error) {
	if fn != "main.f" {
		return nil, gobin.ErrNoDWARF
	}
	reg := func(regs ...string) []gobin.Piece {
		var ps []gobin.Piece
		for i, r := range regs {
			ps = append(ps, gobin.Piece{Reg: r, Size: 8, Offset: 8 * i})
		}
		return ps
	}
	return []gobin.Param{
		{Name: "a", Kind: gobin.KindInt, Size: 1, Signed: true, Pieces: []gobin.Piece{{Reg: "rax", Size: 1}}},
		{Name: "s", Kind: gobin.KindString, Size: 16, Pieces: reg("rbx", "rcx")},
		{Name: "sl", Kind: gobin.KindSlice, Size: 24, Pieces: reg("rdi", "rsi", "r8")},
		{Name: "flag", Kind: gobin.KindBool, Size: 1, Pieces: []gobin.Piece{{Reg: "r9", Size: 1}}},
		{Name: "p", Kind: gobin.KindPointer, Size: 8, Pieces: reg("r10")},
		{Name: "x", Kind: gobin.KindFloat, Size: 8, Pieces: []gobin.Piece{{FloatReg: "xmm0", Float: true, Size: 8}}},
		{Name: "arr", Kind: gobin.KindArray, Size: 4, Pieces: []gobin.Piece{{OnStack: true, StackOffset: 8, Size: 4}}},
		{Name: "n", Kind: gobin.KindInt, Size: 8, Signed: true, Result: true, Pieces: reg("rax")},
		{Name: "msg", Kind: gobin.KindString, Size: 16, Result: true, Pieces: reg("rbx", "rcx")},
	}, nil
}

func (fakeGo) ParamType(fn, name string) (*gobin.Type, error) {
	if t, ok := fgTypes[name]; ok && fn == "main.f" {
		return t, nil
	}
	return nil, gobin.ErrNoDWARF
}

func (fakeGo) GoidOffset() (int, bool, error)         { return 152, false, nil }
func (fakeGo) GoVersionAtLeast(major, minor int) bool { return true }

// goSite makes the site of a Go function for the fake resolver.
func goSite(s Site, ap *lang.AttachPoint) Site {
	s.GoFunc, s.Go, s.GoBinary = ap.Func, fakeGo{}, true
	s.GoEntry = ap.Kind == lang.KindUprobe
	s.AtReturn = ap.Kind == lang.KindUretprobe
	return s
}

// TestGoTypes checks the types of Go values in probes.
func TestGoTypes(t *testing.T) {
	cases := []struct{ kind, expr, want string }{
		{"uprobe", "args.a", "int8"},
		{"uprobe", "args.s", "string[64]"},
		{"uprobe", "str(args.s)", "string[64]"},
		{"uprobe", "args.s.len", "int64"},
		{"uprobe", "args.sl", "(int64*, int64, int64)"},
		{"uprobe", "args.sl[2]", "int64"},
		{"uprobe", "len(args.sl)", "int64"},
		{"uprobe", "args.flag", "uint8"},
		{"uprobe", "args.p", "uint8*"},
		{"uprobe", "args.p.A", "int32"},
		{"uprobe", "args.p.Next.Next.B", "string[64]"},
		{"uprobe", "*args.p", "(int32, string[64], uint8*)"},
		{"uprobe", "args.arr", "(int16, int16)"},
		{"uprobe", "args.arr[1]", "int16"},
		{"uprobe", "args", "(int8, string[64], (int64*, int64, int64), uint8, uint8*, string[30], (int16, int16))"},
		{"uprobe", "goarg(8)", "uint64"},
		{"uprobe", "arg3", "uint64"},
		{"uprobe", "goid", "uint64"},
		{"uretprobe", "args.n", "int64"},
		{"uretprobe", "args.msg", "string[64]"},
		{"uretprobe", "retval", "int64"},
		{"uretprobe", "goarg(1)", "uint64"},
	}
	for _, tc := range cases {
		src := tc.kind + ":/bin/app:main.f { print(" + tc.expr + "); }"
		prog, err := lang.Parse("t", src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		plan, err := Compile(prog, Options{Resolver: fakeResolver{}})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := plan.Values[0].String(); got != tc.want {
			t.Errorf("%s: type %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// TestGoReturnSites checks that return probes of Go functions are attached
// as plain uprobes.
func TestGoReturnSites(t *testing.T) {
	prog, err := lang.Parse("t", `uretprobe:/bin/app:main.f { @[args.msg] = count(); } uretprobe:/bin/true:g { @r = count(); }`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(prog, Options{Resolver: fakeResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Programs) != 2 || plan.Programs[0].Return || !plan.Programs[1].Return {
		t.Fatalf("programs %+v %+v: want the Go one attached as a uprobe, the C one as a uretprobe", plan.Programs[0], plan.Programs[1])
	}
}

// TestGoCompileErrors checks the messages for Go values that cannot be read.
func TestGoCompileErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`uprobe:/bin/app:main.f { printf("%d\n", args.x); }`, "args.x is unavailable (float in XMM register xmm0)"},
		{`uprobe:/bin/app:main.f { printf("%d\n", args.nope); }`, "main.f has no parameter named nope"},
		{`uprobe:/bin/app:main.f { printf("%d\n", args.n); }`, "n is a result: read it in a uretprobe"},
		{`uretprobe:/bin/app:main.f { printf("%d\n", args.a); }`, "main.f has no result named a"},
		{`uprobe:/bin/app:main.f { printf("%d\n", args.p.Z); }`, "args.p (main.Pair) has no field Z"},
		{`uprobe:/bin/app:main.f { printf("%d\n", args.a.b); }`, "args.a is a int8, which has no fields"},
		{`uprobe:/bin/app:main.f { printf("%d\n", arg9); }`, "Go passes at most 9 integer words in registers"},
		{`uprobe:/bin/app:main.f { printf("%d\n", goarg(9)); }`, "goarg() takes a constant from 0 to 8"},
		{`uprobe:/bin/app:main.g { print(args); }`, "args needs DWARF"},
		{`uprobe:/bin/true:f { printf("%d\n", goid); }`, "goid is only available in probes on Go functions"},
		{`uprobe:/bin/true:f { printf("%d\n", goarg(0)); }`, "only in probes on Go functions"},
		{`uprobe:/bin/true:f { printf("%d\n", args.x); }`, "args needs DWARF, but /bin/true has none"},
		{`uretprobe:/bin/app:main.f { printf("%d\n", arg0); }`, "arg0 is not available in a uretprobe"},
	}
	for _, tc := range cases {
		prog, err := lang.Parse("t", tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		_, err = Compile(prog, Options{Resolver: fakeResolver{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
}
