package cdwarf

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/testutil"
)

func buildParams(t *testing.T, flags ...string) string {
	src, err := os.ReadFile("testdata/params.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "params", string(src), flags...)
}

// The signatures are the source's declarations, spelled as bpftrace -lv
// spells them.
var wantSigs = map[string][]string{
	"ints":   {"int8_t a", "uint8_t b", "int16_t c", "uint16_t d", "int32_t e", "uint32_t f"},
	"wide":   {"int64_t g", "uint64_t h", "_Bool t", "enum color col", "char ch", "const char* s"},
	"byref":  {"struct req* r", "struct wrap* w"},
	"byval":  {"struct small s", "struct pair p", "struct big b", "cb_t fn"},
	"getreq": {"int id"},
	"main":   {"int argc", "char** argv"},
}

func TestParamsAndEntry(t *testing.T) {
	for _, opt := range [][]string{{"-O0", "-g"}, {"-O2", "-g"}, {"-O2", "-gdwarf-4"}, {"-O0", "-g", "-gz=zlib"}} {
		t.Run(strings.Join(opt, ""), func(t *testing.T) {
			bin := buildParams(t, opt...)
			f, err := Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for name, want := range wantSigs {
				fn, err := f.Func(name, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got := fn.Signature(); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: signature %q, want %q", name, got, want)
				}
				if fn.LowPC == 0 || fn.HighPC <= fn.LowPC {
					t.Errorf("%s: pc range %#x-%#x", name, fn.LowPC, fn.HighPC)
				}
			}
			// SysV placement at the entry.
			fn, _ := f.Func("byval", 0)
			locs, errs := fn.EntryLocations(arch.AMD64)
			want := []string{"%rdi", "%rsi:8 %rdx:8", "[%rsp+8]", "%rcx"}
			for i := range want {
				if errs[i] != nil || locs[i].String() != want[i] {
					t.Errorf("byval param %d: %v %v, want %s", i, locs[i], errs[i], want[i])
				}
			}
			ret, _ := f.Func("getreq", 0)
			if TypeName(ret.Return) != "struct req*" {
				t.Errorf("getreq returns %s", TypeName(ret.Return))
			}
			// At -O2 the DWARF location at the entry agrees with the ABI
			// for the parameters in registers.
			fw, _ := f.Func("wide", 0)
			elocs, _ := fw.EntryLocations(arch.AMD64)
			for i := range fw.Params {
				l, err := fw.Location(&fw.Params[i], fw.LowPC, true, arch.AMD64)
				if err != nil {
					t.Fatalf("%s: %v", fw.Params[i].Name, err)
				}
				if opt[0] == "-O2" && l.String() != elocs[i].String() {
					t.Errorf("%s at entry: DWARF %s, ABI %s", fw.Params[i].Name, l, elocs[i])
				}
				if opt[0] == "-O0" && !strings.HasPrefix(l.String(), "[%rsp") {
					t.Errorf("%s at -O0 entry: %s, want a slot in the frame", fw.Params[i].Name, l)
				}
			}
		})
	}
}

func TestEval(t *testing.T) {
	ctx := EvalContext{Arch: arch.AMD64, PC: 0x1000, AtEntry: true, FrameBase: []byte{opCallFrameCFA}}
	for _, c := range []struct {
		expr []byte
		want string
	}{
		{[]byte{opReg0 + 5}, "%rdi"},
		{[]byte{opBreg0 + 7, 0x10}, "[%rsp+16]"},
		{[]byte{opFbreg, 0x6c}, "[%rsp-12]"}, // CFA-20 = rsp+8-20
		{[]byte{opReg0 + 5, opPiece, 4, opReg0 + 4, opPiece, 4}, "%rdi:4 %rsi:4"},
		{[]byte{opEntryValue, 1, opReg0 + 5, opStackValue}, "%rdi+0"},
		{[]byte{opLit0 + 3, opStackValue}, "$3"},
		{[]byte{opBreg0 + 6, 0x78, opStackValue}, "%rbp-8"},
		{[]byte{opPiece, 8, opReg0 + 1, opPiece, 8}, "<optimized out>:8 %rdx:8"},
	} {
		l, err := Eval(c.expr, ctx)
		if err != nil || l.String() != c.want {
			t.Errorf("%x: %v %v, want %s", c.expr, l, err, c.want)
		}
	}
	notEntry := ctx
	notEntry.AtEntry = false
	if _, err := Eval([]byte{opEntryValue, 1, opReg0 + 5, opStackValue}, notEntry); err == nil {
		t.Error("entry value away from the entry: no error")
	}
	if _, err := Eval([]byte{opFbreg, 0x6c}, notEntry); err == nil {
		t.Error("CFA away from the entry: no error")
	}
}

func TestLocLists(t *testing.T) {
	// DWARF 5: base address, then two offset pairs.
	sec := []byte{lleBaseAddress, 0, 0x10, 0, 0, 0, 0, 0, 0,
		lleOffsetPair, 0, 4, 1, opReg0 + 5,
		lleOffsetPair, 4, 8, 1, opReg0 + 3,
		lleEndOfList}
	for pc, want := range map[uint64]byte{0x1000: opReg0 + 5, 0x1005: opReg0 + 3} {
		e, err := LocList5(sec, 0, pc, 0, nil)
		if err != nil || len(e) != 1 || e[0] != want {
			t.Errorf("pc %#x: %x %v", pc, e, err)
		}
	}
	if e, err := LocList5(sec, 0, 0x1009, 0, nil); e != nil || err != nil {
		t.Errorf("past the ranges: %x %v", e, err)
	}
	// DWARF 4: relative to the CU base.
	sec4 := []byte{0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, opReg0 + 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if e, err := LocList4(sec4, 0, 0x2002, 0x2000); err != nil || len(e) != 1 || e[0] != opReg0+4 {
		t.Errorf("DWARF 4: %x %v", e, err)
	}
}

func FuzzEval(f *testing.F) {
	f.Add([]byte{opFbreg, 0x6c}, true)
	f.Add([]byte{opReg0 + 5, opPiece, 4, opReg0 + 4, opPiece, 4}, false)
	f.Add([]byte{opEntryValue, 1, opReg0 + 5, opStackValue}, true)
	f.Add([]byte{lleBaseAddress, 0, 0x10, 0, 0, 0, 0, 0, 0, lleOffsetPair, 0, 4, 1, opReg0 + 5, lleEndOfList}, false)
	f.Fuzz(func(t *testing.T, b []byte, entry bool) {
		ctx := EvalContext{Arch: arch.AMD64, AtEntry: entry, FrameBase: b}
		_, _ = Eval(b, ctx)
		_, _ = LocList5(b, 0, 0x1000, 0, func(i uint64) (uint64, bool) { return i, i < 4 })
		_, _ = LocList4(b, 0, 0x1000, 0)
	})
}

// FuzzFile feeds damaged objects through everything that reads DWARF.
func FuzzFile(f *testing.F) {
	if _, err := exec.LookPath("gcc"); err == nil {
		dir := f.TempDir()
		bin := filepath.Join(dir, "p")
		if out, err := exec.Command("gcc", "-O2", "-g", "-o", bin, "testdata/params.c").CombinedOutput(); err == nil {
			b, _ := os.ReadFile(bin)
			f.Add(b)
		} else {
			f.Logf("gcc: %v %s", err, out)
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tm := time.AfterFunc(10*time.Second, func() { panic("FuzzFile: one input took over 10s") })
		defer tm.Stop()
		ef, err := elfx.OpenBytes("fuzz", b, elfx.WithoutDebugFile())
		if err != nil {
			return
		}
		defer ef.Close()
		file, err := Load(ef)
		if err != nil {
			return
		}
		names := file.Names()
		for i, n := range names {
			if i > 50 {
				break
			}
			fn, err := file.Func(n, 0)
			if err != nil {
				continue
			}
			_ = fn.Signature()
			fn.EntryLocations(arch.AMD64)
			for j := range fn.Params {
				_, _ = fn.Location(&fn.Params[j], fn.LowPC+1, false, arch.AMD64)
			}
			if sc, err := file.ScopeAt(fn.LowPC); err == nil {
				_ = sc.Names()
			}
		}
		_, _, _ = file.LineAddrs("params.c", 60)
		_, _ = file.Lines("params.c")
		_, _, _ = file.FuncLine("main")
		_ = file.loadSplits(t.TempDir())
		_, _ = file.Type("struct req")
	})
}
