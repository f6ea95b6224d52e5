package placement

import (
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// TestClassifyPush: the decoder-free path for push gives what the decoder
// says (a PUSH of that length), whatever follows.
func TestClassifyPush(t *testing.T) {
	var k Kernel
	for _, code := range [][]byte{{0x55}, {0x50, 0x48}, {0x57, 0x0f, 0x0b}, {0x41, 0x54}, {0x41, 0x57, 0x41, 0x56}, {0x41, 0x50, 0xc3}} {
		cls, n, ok := classify(code, k)
		inst, err := x86asm.Decode(code, 64)
		if err != nil || inst.Op != x86asm.PUSH {
			t.Fatalf("% x: the decoder says %v, %v", code, inst, err)
		}
		if !ok || cls != "push" || n != inst.Len {
			t.Errorf("% x: classify = %q, %d, %v; the decoder: push, %d", code, cls, n, ok, inst.Len)
		}
	}
}
