package compile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// TestEveryMistakeReported: check collects every mistake of a program, in
// source order, each with its own position.
func TestEveryMistakeReported(t *testing.T) {
	src := "uprobe:/bin/true:f {\n  printf(\"%d\\n\", nope);\n  $x = prinft();\n  @a = \"x\" + 1;\n}\nuprobe:/bin/true:g { @b = retval; }"
	prog, err := lang.Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(prog, Options{Resolver: fakeResolver{}})
	var list lang.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v (%T), want a list", err, err)
	}
	want := []string{
		`t:2:18: ERROR: unknown identifier "nope"`,
		`t:3:8: ERROR: unknown function prinft(); did you mean printf()?`,
		`t:4:12: ERROR: operator + needs integers`,
		`t:6:27: ERROR: retval is only available in uretprobe probes`,
	}
	if len(list) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(list[i].Error(), w) {
			t.Errorf("error %d: %q, want %q", i, list[i].Error(), w)
		}
	}
	if d := list.Detail(); strings.Count(d, "^") != 4 {
		t.Errorf("detail has %d carets, want 4:\n%s", strings.Count(d, "^"), d)
	}
	var one *lang.Error
	if !errors.As(err, &one) || one.Pos.Line != 2 {
		t.Errorf("errors.As finds %v, want the first mistake", one)
	}
}

// TestLower: the sugar is gone before check sees the program.
func TestLower(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`BEGIN { $x++; }`, `$x = $x + 1;`},
		{`BEGIN { $x *= 3; }`, `$x = $x * 3;`},
		{`BEGIN { @m[1] <<= 2; }`, `@m[1] = @m[1] << 2;`},
		{`BEGIN { @m[1] += 2; }`, `@m[1] += 2;`},
		{`BEGIN { @m[1]--; }`, `@m[1] -= 1;`},
		{`BEGIN { delete(@m, 1, 2); }`, `delete(@m[1, 2]);`},
		{`BEGIN { $y = has_key(@m, 1); }`, `$y = has_key(@m[1]);`},
		{`BEGIN { $y = $x++; }`, `$y = $x++;`},
	} {
		prog, err := lang.Parse("t", tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		_ = lower(prog, nil, nil, nil)
		if got := lang.Format(prog); !strings.Contains(got, tc.want) {
			t.Errorf("%s lowered to\n%s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// TestLongJumps: jumps past 32767 instructions are rewritten to reach, and
// the rewrite keeps every label's target.
func TestLongJumps(t *testing.T) {
	var insns []instruction
	insns = append(insns, asm.JEq.Imm(asm.R0, 0, "far"), asm.Ja.Label("far2"))
	for i := 0; i < 40000; i++ {
		insns = append(insns, asm.Mov.Imm(asm.R1, int32(i)))
	}
	insns = append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol("far"), asm.Mov.Imm(asm.R0, 1).WithSymbol("far2"), asm.Return())
	pos := make([]lang.Pos, len(insns))
	out, outPos, err := longJumps(insns, pos)
	if err != nil {
		t.Fatal(err)
	}
	if len(outPos) != len(out) {
		t.Fatalf("%d positions for %d instructions", len(outPos), len(out))
	}
	// jcc tramp; ja +1; tramp: gotol far; gotol far2 ...
	if out[0].Reference() == "far" || out[1].OpCode.JumpOp() != asm.Ja || out[1].Offset != 1 {
		t.Fatalf("conditional jump not sent through a trampoline: %v %v", out[0], out[1])
	}
	if out[2].OpCode.Class() != asm.Jump32Class || out[2].Reference() != "far" || out[2].Symbol() != out[0].Reference() {
		t.Fatalf("trampoline: %v", out[2])
	}
	if out[3].OpCode.Class() != asm.Jump32Class || out[3].Reference() != "far2" {
		t.Fatalf("unconditional jump not a gotol: %v", out[3])
	}
	if err := asm.Instructions(out).Marshal(new(strings.Builder), nativeEndian()); err != nil {
		t.Fatalf("marshal: %v", err)
	}
}

// TestDropUnreachable: code after exit() or return is removed, code that a
// jump reaches is kept.
func TestDropUnreachable(t *testing.T) {
	insns := []instruction{
		asm.JEq.Imm(asm.R0, 0, "else"),
		asm.Ja.Label("exit"),
		asm.Ja.Label("end"), // dead: the then-branch ended the probe
		asm.Mov.Imm(asm.R1, 1).WithSymbol("else"),
		asm.Mov.Imm(asm.R1, 2).WithSymbol("end"),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 9), // dead
	}
	out, pos := dropUnreachable(insns, make([]lang.Pos, len(insns)))
	if len(out) != 6 || len(pos) != 6 {
		t.Fatalf("%d instructions left, want 6: %v", len(out), out)
	}
	for _, ins := range out {
		if ins.Reference() == "end" || ins.Constant == 9 {
			t.Errorf("dead instruction kept: %v", ins)
		}
	}
}

// TestLongProgramCompiles: an expression of 5,000 terms compiles (its
// jumps to the exit are out of 16-bit range).
func TestLongProgramCompiles(t *testing.T) {
	terms := make([]string, 5000)
	for i := range terms {
		terms[i] = fmt.Sprint(i + 1)
	}
	src := fmt.Sprintf(`BEGIN { if (pid > 0) { $x = %s; printf("%%d\n", $x); } }`, strings.Join(terms, " + "))
	prog, err := lang.Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(prog, Options{Resolver: fakeResolver{}, TriggerArgOffset: 80})
	if err != nil {
		t.Fatal(err)
	}
	long := 0
	for _, ins := range plan.Spec.Programs["s0"].Instructions {
		if ins.OpCode.Class() == asm.Jump32Class {
			long++
		}
	}
	if long == 0 {
		t.Error("no gotol in a program longer than a 16-bit jump")
	}
}

func nativeEndian() binary.ByteOrder { return binary.LittleEndian }

// TestWarnings: the warnings pass reports, as bpftrace does, a declared
// map no probe uses and the first statement after one that leaves its
// block; a program without either has no warnings.
func TestWarnings(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want []string
	}{
		{"let @a = hash(10); let @b = hash(10); BEGIN { @b[1] = 1; exit(); }", []string{"t:1:5: WARNING: Unused map: @a"}},
		{"BEGIN { @x = 1; exit(); @x = 2; @x = 3; }", []string{"t:1:25: WARNING: Unreachable statement"}},
		{"BEGIN { while (1) { break; @x = 1; } if (1) { return; } exit(); }", []string{"t:1:28: WARNING: Unreachable statement"}},
		{"BEGIN { @x = 1; exit(); }", nil},
	} {
		prog, err := lang.Parse("t", tt.src)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Compile(prog, Options{Resolver: fakeResolver{}})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		var got []string
		for _, d := range plan.Diagnostics {
			if !d.Warning {
				t.Errorf("%s: diagnostic %v is not a warning", tt.src, d)
			}
			got = append(got, strings.SplitN(d.Error(), ";", 2)[0])
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: warnings %q, want %q", tt.src, got, tt.want)
		}
	}
}
