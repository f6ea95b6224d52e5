package tools

import (
	"strings"
	"testing"
)

func TestH2Frames(t *testing.T) {
	settings := "\x00\x00\x0c\x04\x00\x00\x00\x00\x00" + "\x00\x03\x00\x00\x00\x64" + "\x00\x04\x00\x01\x00\x00"
	data := "\x00\x00\x05\x00\x01\x00\x00\x00\x01hello"
	win := "\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x10\x00"
	for _, tc := range []struct {
		name      string
		in        string
		truncated bool
		ok        bool
		want      string
	}{
		{"preface and settings", h2Preface + settings, false, true,
			"    [HTTP/2 client preface]\n    [HTTP/2 SETTINGS stream 0, 12 bytes]\n      MAX_CONCURRENT_STREAMS = 100\n      INITIAL_WINDOW_SIZE = 65536\n"},
		{"data and window update", data + win, false, true,
			"    [HTTP/2 DATA stream 1, 5 bytes, END_STREAM]\n      hello\n    [HTTP/2 WINDOW_UPDATE stream 0, 4 bytes]\n      increment 4096\n"},
		{"cut short", data[:12], true, true, "    [HTTP/2 DATA stream 1, 5 bytes, END_STREAM, 3 captured]\n      hel\n"},
		{"cut short but not truncated", data[:12], false, false, ""},
		{"text", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, false, ""},
		{"unknown type", "\x00\x00\x00\x0a\x00\x00\x00\x00\x00", false, false, ""},
		{"empty", "", false, false, ""},
		{"short header", "\x00\x00", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			preface, frames, ok := h2Frames([]byte(tc.in), tc.truncated)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if got := h2Text(preface, frames); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func FuzzH2Frames(f *testing.F) {
	f.Add([]byte(h2Preface+"\x00\x00\x00\x04\x01\x00\x00\x00\x00"), false)
	f.Add([]byte("\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02"), true)
	f.Fuzz(func(t *testing.T, data []byte, truncated bool) {
		preface, frames, ok := h2Frames(data, truncated)
		if ok {
			if s := h2Text(preface, frames); !strings.HasPrefix(s, "    [HTTP/2 ") {
				t.Fatalf("h2Text = %q", s)
			}
		}
	})
}
