package gobin

// vexLen returns the length of the VEX- or EVEX-encoded (AVX, AVX2,
// AVX-512) instruction at the start of b in 64-bit mode, or 0 when b does not
// start with one or is too short. The x86asm decoder knows few of these and
// mis-measures some; since none of them is a branch, the walkers only need
// their length.
func vexLen(b []byte) int {
	i := 0
	// Address-size and segment prefixes may precede a VEX prefix.
	for i < len(b) && i < 4 {
		switch b[i] {
		case 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65:
			i++
			continue
		}
		break
	}
	if i >= len(b) {
		return 0
	}
	var vmap byte
	switch b[i] {
	case 0xc5: // two-byte VEX: C5 [R vvvv L pp]; map 0F
		if i+2 > len(b) {
			return 0
		}
		vmap = 1
		i += 2
	case 0xc4: // three-byte VEX: C4 [RXB mmmmm] [W vvvv L pp]
		if i+3 > len(b) {
			return 0
		}
		vmap = b[i+1] & 0x1f
		i += 3
	case 0x62: // EVEX: 62 [RXBR' 0 mmm] [W vvvv 1 pp] [z L'L b V' aaa]
		if i+4 > len(b) {
			return 0
		}
		vmap = b[i+1] & 0x07
		i += 4
	default:
		return 0
	}
	if i >= len(b) {
		return 0
	}
	op := b[i]
	i++
	if vmap == 1 && op == 0x77 {
		return i // vzeroupper, vzeroall: no ModRM
	}
	n := modrmLen(b[i:])
	if n == 0 {
		return 0
	}
	i += n
	if hasImm8(vmap, op) {
		i++
	}
	if i > len(b) {
		return 0
	}
	return i
}

// hasImm8 reports whether a VEX/EVEX opcode in the given opcode map takes an
// 8-bit immediate.
func hasImm8(vmap, op byte) bool {
	switch vmap {
	case 3: // 0F3A: all take imm8
		return true
	case 1: // 0F: shuffles, shifts by immediate, compares, inserts, extracts
		switch op {
		case 0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6:
			return true
		}
	}
	return false
}

// modrmLen returns the length of a ModRM byte with its SIB byte and
// displacement, or 0 when b is too short.
func modrmLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	modrm := b[0]
	mod, rm := modrm>>6, modrm&7
	n := 1
	if mod == 3 {
		return n
	}
	if rm == 4 {
		if len(b) < 2 {
			return 0
		}
		n++ // SIB
		if mod == 0 && b[1]&7 == 5 {
			n += 4 // no base: disp32
		}
	} else if mod == 0 && rm == 5 {
		n += 4 // RIP-relative disp32
	}
	switch mod {
	case 1:
		n++
	case 2:
		n += 4
	}
	if n > len(b) {
		return 0
	}
	return n
}

// VEXLen returns the length of the VEX- or EVEX-encoded (AVX) instruction
// at the start of b, which x86asm cannot decode, or 0 when b does not start
// with one. Walkers of C code use it as RetSites does.
func VEXLen(b []byte) int { return vexLen(b) }
