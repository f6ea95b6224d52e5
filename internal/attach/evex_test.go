package attach

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEVEXInsn(t *testing.T) {
	cases := []struct {
		code []byte
		want bool
	}{
		{[]byte{0x62, 0xe2, 0x7d, 0x28, 0x7a, 0xce}, true}, // vpbroadcastb %esi,%ymm17 (glibc __strchr_evex)
		{[]byte{0x66, 0x62, 0xf1}, true},                   // behind a legacy prefix
		{[]byte{0xc5, 0xfd, 0x6f, 0x06}, false},            // VEX vmovdqa: refused by the kernel, not by this check
		{[]byte{0x55}, false},                              // push %rbp
		{[]byte{0x48, 0x62}, false},                        // REX then 62: not EVEX in a valid stream
		{nil, false},
	}
	for _, tc := range cases {
		if got := evexInsn(tc.code); got != tc.want {
			t.Errorf("evexInsn(% x) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestEVEXSiteRefused checks that a lone site on an EVEX instruction is an
// error and that, with SkipRefused, it is left out of a batch — before the
// kernel sees it, so no BPF is needed.
func TestEVEXSiteRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "code")
	code := make([]byte, 64)
	copy(code[16:], []byte{0x62, 0xe2, 0x7d, 0x28, 0x7a, 0xce})
	code[32] = 0x55
	if err := os.WriteFile(path, code, 0o644); err != nil {
		t.Fatal(err)
	}
	evex, push := Site{Path: path, Offset: 16}, Site{Path: path, Offset: 32}
	if _, _, err := prefilter([]Site{evex}, Options{}); err == nil || !strings.Contains(err.Error(), "EVEX") {
		t.Fatalf("lone EVEX site: err = %v", err)
	}
	if _, _, err := prefilter([]Site{evex, push}, Options{}); err == nil {
		t.Fatal("EVEX site in a batch without SkipRefused was accepted")
	}
	keep, refused, err := prefilter([]Site{evex, push}, Options{SkipRefused: true})
	if err != nil || len(keep) != 1 || keep[0] != push || len(refused) != 1 || refused[0].Site != evex {
		t.Fatalf("SkipRefused: keep %v, refused %v, err %v", keep, refused, err)
	}
}
