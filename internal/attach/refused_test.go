package attach

import "testing"

func TestRefusedInsn(t *testing.T) {
	cases := []struct {
		code []byte
		want bool
	}{
		{[]byte{0x55}, false},                               // push %rbp
		{[]byte{0xf3, 0x0f, 0x1e, 0xfa}, false},             // endbr64
		{[]byte{0x48, 0x89, 0xe5}, false},                   // mov %rsp,%rbp
		{[]byte{0xf0, 0xff, 0x0f}, true},                    // lock decl (%rdi)
		{[]byte{0x66, 0xf0, 0x0f, 0xb1, 0x0a}, true},        // data16 lock cmpxchg
		{[]byte{0x2e, 0xff, 0x24, 0x25}, true},              // cs jmp
		{[]byte{0x3e, 0xff, 0xe0}, true},                    // notrack jmp *%rax
		{[]byte{0x64, 0x48, 0x8b, 0x04, 0x25}, false},       // mov %fs:0,%rax
		{[]byte{0xc5, 0xf9, 0x6e, 0xc6}, true},              // vmovd %esi,%xmm0
		{[]byte{0xc4, 0xe2, 0x7d, 0x58, 0xc0}, true},        // vpbroadcastd
		{[]byte{0x62, 0xb2, 0x7d, 0x48, 0x7a, 0xc6}, false}, // EVEX: accepted
		{nil, false},
	}
	for _, c := range cases {
		if got := refusedInsn(c.code); got != c.want {
			t.Errorf("refusedInsn(% x) = %v, want %v", c.code, got, c.want)
		}
	}
}
