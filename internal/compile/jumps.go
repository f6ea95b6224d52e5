package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/uscope/uscope/internal/lang"
)

// longJumps makes every jump reach its label. A BPF jump's offset has 16
// bits, so a long body (an expression of thousands of terms, a big
// unroll) can put a label out of reach: an unconditional jump then becomes
// a gotol, whose offset has 32 bits (Linux 6.4), and a conditional one
// jumps to a gotol placed right after it:
//
//	jcc   L          jcc  tramp
//	                 ja   +1
//	         tramp:  gotol L
//
// Inserting instructions moves others out of reach, so it repeats until
// every jump fits. posOf keeps the source position of each instruction.
func longJumps(insns []instruction, posOf []lang.Pos) ([]instruction, []lang.Pos, error) {
	for round := 0; ; round++ {
		if round > 64 {
			return nil, nil, fmt.Errorf("program too long: its jumps cannot be made to reach")
		}
		offs := make([]int, len(insns)+1)
		labels := map[string]int{}
		for i, ins := range insns {
			offs[i+1] = offs[i] + int(ins.Size()/asm.InstructionSize)
			if s := ins.Symbol(); s != "" {
				labels[s] = i
			}
		}
		var out []instruction
		var pos []lang.Pos
		changed := false
		for i, ins := range insns {
			ref := ins.Reference()
			target, ok := labels[ref]
			op := ins.OpCode.JumpOp()
			if !ok || ins.OpCode.Class() != asm.JumpClass || op == asm.Call || op == asm.Exit {
				out, pos = append(out, ins), append(pos, posOf[i])
				continue
			}
			d := offs[target] - offs[i+1]
			if d >= -1<<15 && d < 1<<15 {
				out, pos = append(out, ins), append(pos, posOf[i])
				continue
			}
			changed = true
			sym := ins.Symbol()
			if op == asm.Ja {
				out, pos = append(out, asm.LongJump(ref).WithSymbol(sym)), append(pos, posOf[i])
				continue
			}
			tramp := fmt.Sprintf("long_%d_%d", round, i)
			skip := instruction{OpCode: asm.Ja.Op(asm.ImmSource), Offset: 1}
			out = append(out, ins.WithReference(tramp), skip, asm.LongJump(ref).WithSymbol(tramp))
			pos = append(pos, posOf[i], posOf[i], posOf[i])
		}
		insns, posOf = out, pos
		if !changed {
			return insns, posOf, nil
		}
	}
}

// dropUnreachable removes the instructions no path reaches, which the
// verifier refuses: what follows exit() or return in a block, the jump
// over an else after a then-block that ended the probe.
func dropUnreachable(insns []instruction, posOf []lang.Pos) ([]instruction, []lang.Pos) {
	labels := map[string]int{}
	for i, ins := range insns {
		if s := ins.Symbol(); s != "" {
			labels[s] = i
		}
	}
	seen := make([]bool, len(insns))
	work := []int{0}
	for _, ins := range insns {
		// Callbacks (loops over maps) are reached through their address.
		if ins.IsLoadOfFunctionPointer() {
			work = append(work, labels[ins.Reference()])
		}
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		if i >= len(insns) || seen[i] {
			continue
		}
		seen[i] = true
		ins := insns[i]
		class := ins.OpCode.Class()
		if class != asm.JumpClass && class != asm.Jump32Class {
			work = append(work, i+1)
			continue
		}
		switch op := ins.OpCode.JumpOp(); op {
		case asm.Exit:
		case asm.Call:
			work = append(work, i+1)
		default:
			if t, ok := labels[ins.Reference()]; ok {
				work = append(work, t)
			} else {
				work = append(work, i+1+int(ins.Offset))
			}
			if op != asm.Ja {
				work = append(work, i+1)
			}
		}
	}
	out, pos := insns[:0:0], posOf[:0:0]
	for i, ins := range insns {
		if seen[i] {
			out, pos = append(out, ins), append(pos, posOf[i])
		}
	}
	return out, pos
}
