package usdtbpf

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/usdt"
)

// TestEncodeSpec checks the bytes against struct __bpf_usdt_spec of
// usdt.bpf.h: 12 arg specs of {u64 val_off; arg_type (low byte; SIB adds
// idx_reg_off in bits 8-19 and scale_bitshift in 20-23); short reg_off;
// bool arg_signed; char arg_bitshift}, then u64 usdt_cookie and short
// arg_cnt.
func TestEncodeSpec(t *testing.T) {
	site := usdt.Site{Provider: "p", Name: "n", Addr: 0x1000,
		Args: usdt.ParseArgs("-4@%edi 8@-8(%rbp) 2@(%rax,%rbx,8) -1@$-3 8@%xmm0", elf.EM_X86_64)}
	site.Args = append(site.Args, usdt.Arg{Size: 4, Kind: usdt.ArgRIP, Reg: usdt.Reg{Name: "rip", PtRegsOffset: 128}, Symbol: "g", SymbolAddr: 0x3010, Resolved: true})
	b, err := EncodeSpec(site, 0xabcdef)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 208 {
		t.Fatalf("spec is %d bytes, want 208 (sizeof struct __bpf_usdt_spec)", len(b))
	}
	le := binary.LittleEndian
	want := []struct {
		valOff uint64
		typ    uint32
		regOff int16
		signed byte
		bitsh  byte
	}{
		{0, argReg, 112, 1, 32},                             // %edi: rdi's slot
		{uint64(0xfffffffffffffff8), argRegDeref, 32, 0, 0}, // -8(%rbp)
		{0, argSIB | 40<<8 | 3<<20, 80, 0, 48},              // (%rax,%rbx,8)
		{uint64(0xfffffffffffffffd), argConst, 0, 1, 56},    // $-3
		{0, argInvalid, 0, 0, 0},                            // %xmm0
		{0x2010, argRegDeref, 128, 0, 32},                   // g(%rip): ip - site + symbol
	}
	for i, w := range want {
		a := b[16*i:]
		if got := le.Uint64(a); got != w.valOff {
			t.Errorf("arg %d val_off %#x, want %#x", i, got, w.valOff)
		}
		if got := le.Uint32(a[8:]); got != w.typ {
			t.Errorf("arg %d type word %#x, want %#x", i, got, w.typ)
		}
		if got := int16(le.Uint16(a[12:])); got != w.regOff {
			t.Errorf("arg %d reg_off %d, want %d", i, got, w.regOff)
		}
		if a[14] != w.signed || a[15] != w.bitsh {
			t.Errorf("arg %d signed %d bitshift %d, want %d %d", i, a[14], a[15], w.signed, w.bitsh)
		}
	}
	if le.Uint64(b[192:]) != 0xabcdef || le.Uint16(b[200:]) != 6 {
		t.Errorf("cookie %#x arg_cnt %d", le.Uint64(b[192:]), le.Uint16(b[200:]))
	}
	site.Args = make([]usdt.Arg, 13)
	if _, err := EncodeSpec(site, 0); err == nil {
		t.Errorf("13 arguments encoded")
	}
}

func TestFetchArgErrors(t *testing.T) {
	args := usdt.ParseArgs("8@%xmm0", elf.EM_X86_64)
	if _, err := FetchArg(args[0], 0, asm.R6, -8); !errors.Is(err, ErrCannotFetch) || !errors.Is(err, usdt.ErrUnsupported) {
		t.Errorf("xmm0: %v", err)
	}
	unres := usdt.Arg{Size: 4, Kind: usdt.ArgRIP, Symbol: "nope"}
	if _, err := FetchArg(unres, 0, asm.R6, -8); !errors.Is(err, ErrCannotFetch) {
		t.Errorf("unresolved: %v", err)
	}
	if _, err := Attach(nil, Target{Path: "/bin/true"}, "", "x", nil); err == nil {
		t.Errorf("nil program accepted")
	}
	if _, err := Lookup(Target{Path: "/bin/true"}, "", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup: %v", err)
	}
	if _, err := Lookup(Target{}, "", "x"); err == nil {
		t.Errorf("empty target accepted")
	}
}

// FuzzBindMapsGlobal: any input is refused or rewritten, never a panic.
func FuzzBindMapsGlobal(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = bindMapsGlobal(b)
	})
}
