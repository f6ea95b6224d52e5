package main

import (
	"strings"
	"testing"
)

func TestParseRingBufSize(t *testing.T) {
	for in, want := range map[string]int{"4096": 4096, "64K": 64 << 10, "16M": 16 << 20, "16m": 16 << 20, "1G": 1 << 30, "32MiB": 0} {
		got, err := parseRingBufSize(in)
		if want == 0 {
			if err == nil {
				t.Errorf("%q: got %d, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "3000", "100K", "2G", "0", "-4096", "1024"} {
		_, err := parseRingBufSize(in)
		if err == nil || !strings.Contains(err.Error(), "--ringbuf-size") {
			t.Errorf("%q: got %v, want an error naming the flag", in, err)
		}
	}
}
