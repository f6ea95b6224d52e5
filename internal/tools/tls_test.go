package tools

import (
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
)

// The formats of tls.bt's printfs (one per kind of record).
const (
	fmtRead      = TLSTag + "\tSSL_read\t%llu\t%d\t%d\t%d\t%lld\t0\t%llu\t%s\t%rh\n"
	fmtWrite     = TLSTag + "\tSSL_write\t%llu\t%d\t%d\t%d\t%lld\t%lld\t%llu\t%s\t%rh\n"
	fmtFailed    = TLSTag + "\tSSL_write\t%llu\t%d\t%d\t%d\t%lld\t%lld\t%llu\t%s\t\n"
	fmtHandshake = TLSTag + "\tSSL_do_handshake\t%llu\t%d\t%d\t%d\t0\t0\t%llu\t%s\t\n"
)

func buf(b string) output.Value { return output.Value{Kind: output.KindBuffer, Bytes: []byte(b)} }

func TestTLSRecordOf(t *testing.T) {
	tests := []struct {
		name   string
		format string
		args   []output.Value
		ok     bool
		want   TLSRecord
	}{
		{"read", fmtRead, []output.Value{num(12), num(1), num(2), num(1000), num(3), num(40), str("curl"), buf("abc")}, true,
			TLSRecord{Func: "SSL_read", Nsecs: 12, PID: 1, TID: 2, UID: 1000, Len: 3, Latency: 40, Comm: "curl", Data: []byte("abc")}},
		{"write truncated", strings.Replace(fmtWrite, "SSL_write", "gnutls_record_send", 1), []output.Value{num(1), num(1), num(1), num(0), num(9), num(9), num(0), str("gnutls-cli"), buf("\x00\xff")}, true,
			TLSRecord{Func: "gnutls_record_send", Write: true, Nsecs: 1, PID: 1, TID: 1, Len: 9, Asked: 9, Comm: "gnutls-cli", Data: []byte{0, 0xff}}},
		{"failed write", fmtFailed, []output.Value{num(1), num(1), num(1), num(0), num(-1), num(124), num(5), str("node")}, true,
			TLSRecord{Func: "SSL_write", Write: true, Nsecs: 1, PID: 1, TID: 1, Len: -1, Asked: 124, Latency: 5, Comm: "node"}},
		{"handshake", fmtHandshake, []output.Value{num(7), num(1), num(1), num(0), num(2500000), str("curl")}, true,
			TLSRecord{Func: "SSL_do_handshake", Handshake: true, Nsecs: 7, PID: 1, TID: 1, Latency: 2500000, Comm: "curl"}},
		{"another printf", "%d\n", []output.Value{num(1)}, false, TLSRecord{}},
		{"arguments missing", fmtRead, []output.Value{num(12), num(1)}, false, TLSRecord{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TLSRecordOf(tt.format, tt.args)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if got.Func != tt.want.Func || got.Write != tt.want.Write || got.Handshake != tt.want.Handshake || got.Nsecs != tt.want.Nsecs || got.PID != tt.want.PID ||
				got.TID != tt.want.TID || got.UID != tt.want.UID || got.Len != tt.want.Len || got.Asked != tt.want.Asked || got.Latency != tt.want.Latency || got.Comm != tt.want.Comm ||
				string(got.Data) != string(tt.want.Data) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.Truncated() != (int64(len(tt.want.Data)) < tt.want.Len) {
				t.Errorf("Truncated() = %v", got.Truncated())
			}
			if got.Failed() != (tt.want.Write && tt.want.Len <= 0) || got.Partial() != (tt.want.Len > 0 && tt.want.Len < tt.want.Asked) {
				t.Errorf("Failed() = %v, Partial() = %v", got.Failed(), got.Partial())
			}
		})
	}
}

func TestTLSText(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "    GET / HTTP/1.1\n    Host: a\n    \n"},
		{"no newline", "    no newline\n"},
		{"a\x00\xffb\tc", "    a\\x00\\xffb\tc\n"},
		{"", "    \n"},
	}
	for _, tt := range tests {
		if got := tlsText([]byte(tt.in)); got != tt.want {
			t.Errorf("tlsText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTLSPrinter(t *testing.T) {
	read := func(ns, n, lat int64, data string) []output.Value {
		return []output.Value{num(ns), num(10), num(11), num(0), num(n), num(lat), str("curl"), buf(data)}
	}
	write := func(n, asked int64, data string) []output.Value {
		return []output.Value{num(1_000_000_000), num(10), num(11), num(0), num(n), num(asked), num(0), str("node"), buf(data)}
	}
	failed := []output.Value{num(1_000_000_000), num(10), num(11), num(0), num(-1), num(124), num(0), str("node")}
	hs := []output.Value{num(1_000_000_000), num(10), num(11), num(0), num(2500000), str("curl")}
	tests := []struct {
		name   string
		p      *TLSPrinter
		format string
		args   []output.Value
		want   string
	}{
		{"text", &TLSPrinter{}, fmtRead, read(2_500_000_000, 3, 0, "abc"),
			"2.500000     SSL_read           curl                  10      11       3\n    abc\n"},
		{"truncated", &TLSPrinter{}, fmtRead, read(1_000_000_000, 9, 0, "ab"),
			"1.000000     SSL_read           curl                  10      11       9\n    ab\n    [truncated: 2 of 9 bytes shown]\n"},
		{"latency", &TLSPrinter{Latency: true}, fmtRead, read(1_000_000_000, 1, 1500, "z"),
			"1.000000     SSL_read           curl                  10      11       1      1.500\n    z\n"},
		{"hex", &TLSPrinter{Hex: true}, fmtRead, read(1_000_000_000, 2, 0, "\x00A"),
			"1.000000     SSL_read           curl                  10      11       2\n    00000000  00 41                                             |.A|\n"},
		{"handshake", &TLSPrinter{}, fmtHandshake, hs,
			"1.000000     SSL_do_handshake   curl                  10      11       0\n    (handshake done after 2.500 ms)\n"},
		{"failed write", &TLSPrinter{}, fmtFailed, failed,
			"1.000000     SSL_write          node                  10      11      -1\n    [failed: returned -1; none of 124 bytes written]\n"},
		{"partial write", &TLSPrinter{}, fmtWrite, write(2, 5, "ab"),
			"1.000000     SSL_write          node                  10      11       2\n    ab\n    [partial: 2 of 5 bytes written]\n"},
		{"failed write json", &TLSPrinter{JSON: true}, fmtFailed, failed,
			`{"type": "tls", "data": {"time":"2000-01-01T00:00:01Z","func":"SSL_write","direction":"write","pid":10,"tid":11,"comm":"node","len":-1,"asked":124,"failed":true,"truncated":false,"data":""}}` + "\n"},
		{"comm filtered", &TLSPrinter{Comm: "wget"}, fmtRead, read(1, 1, 0, "z"), ""},
		{"other printfs pass", &TLSPrinter{}, "warning: %s\n", []output.Value{str("something")}, "warning: something\n"},
		{"json", &TLSPrinter{JSON: true}, fmtRead, read(1_000_000_000, 5, 7, "hi"),
			`{"type": "tls", "data": {"time":"2000-01-01T00:00:01Z","func":"SSL_read","direction":"read","pid":10,"tid":11,"comm":"curl","len":5,"latency_ns":7,"truncated":true,"data":"hi"}}` + "\n"},
		// bcc's sslsniff, as sslsniff_example.txt shows it.
		{"sslsniff", &TLSPrinter{BCC: true, UID: -1}, fmtWrite, write(3, 3, "GET"),
			"WRITE/SEND   0.000000000        node             10      3     \n----- DATA -----\nGET\n----- END DATA -----\n\n"},
		{"sslsniff truncated", &TLSPrinter{BCC: true, UID: -1}, fmtRead, read(5, 9, 0, "ab"),
			"READ/RECV    0.000000000        curl             10      9     \n----- DATA -----\nab\n----- END DATA (TRUNCATED, 7 bytes lost) -----\n\n"},
		{"sslsniff hexdump -x -l", &TLSPrinter{BCC: true, UID: -1, Hex: true, Extra: true, Latency: true}, fmtRead, read(5, 17, 1500000, "0123456789abcdefg"),
			"READ/RECV    0.000000000        curl             10      17     0       11      1.500  \n----- DATA -----\n30313233343536373839616263646566\n67\n----- END DATA -----\n\n"},
		{"sslsniff failed write", &TLSPrinter{BCC: true, UID: -1}, fmtFailed, failed,
			"WRITE/SEND   0.000000000        node             10      -1    \n"},
		{"sslsniff handshake -l --handshake", &TLSPrinter{BCC: true, UID: -1, Latency: true, Handshake: true}, fmtHandshake, hs,
			"HANDSHAKE    0.000000000        curl             10      0      2.500  \n"},
		{"sslsniff handshake without --handshake", &TLSPrinter{BCC: true, UID: -1, Latency: true}, fmtHandshake, hs, ""},
		{"sslsniff -u", &TLSPrinter{BCC: true, UID: 5}, fmtRead, read(5, 1, 0, "z"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			p := tt.p
			p.Out, p.Wall = &b, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
			p.Printf(tt.format, tt.args)
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
	// The header of sslsniff -x -l.
	var b strings.Builder
	(&TLSPrinter{Out: &b, BCC: true, Extra: true, Latency: true}).Header()
	if want := "FUNC         TIME(s)            COMM             PID     LEN     UID     TID     LAT(ms)\n"; b.String() != want {
		t.Errorf("sslsniff header %q, want %q", b.String(), want)
	}
}

func TestTLSProgram(t *testing.T) {
	targets := []TLSTarget{
		{Library: OpenSSL, Path: "/lib/libssl.so.3"},
		{Library: GnuTLS, Path: "/lib/libgnutls.so.30"},
		{Library: NSS, Path: "/lib/libnspr4.so"},
		{Library: GoTLS, Path: "/srv/app"},
	}
	tests := []struct {
		name    string
		opts    TLSOptions
		want    []string
		notWant []string
	}{
		{"writes at their return", TLSOptions{Targets: targets},
			[]string{
				`uprobe:/lib/libssl.so.3:SSL_write {`,
				`@asked0[tid] = (int64)(int32)arg2;`,
				`uretprobe:/lib/libssl.so.3:SSL_write {`,
				`$n = (int64)(int32)retval;`,
				`buf(@buf0[tid], $n)`,
				`uretprobe:/lib/libssl.so.3:SSL_read {`,
				`$n = (int64)*(uint64 *)@lenp3[tid];`,
				`uprobe:/lib/libgnutls.so.30:gnutls_record_send {`,
				`if ((int32)retval >= 0) {`,
				`uretprobe:/lib/libgnutls.so.30:gnutls_handshake {`,
				`uretprobe:/lib/libnspr4.so:PR_Recv {`,
				`uprobe:/srv/app:"crypto/tls.(*Conn).Write" {`,
				`@asked12[pid, goid] = (int64)goarg(2);`,
				`uretprobe:/srv/app:"crypto/tls.(*Conn).Read" {`,
				`@buf13[pid, goid] = goarg(1);`,
			},
			[]string{`buf(arg1, $n)`, `buf(goarg(1), $n)`}},
		{"latency of every call", TLSOptions{Targets: targets[:1], Latency: true},
			[]string{`uretprobe:/lib/libssl.so.3:SSL_write {`, `nsecs - @start0[tid]`}, nil},
		{"missing functions left out", TLSOptions{Targets: targets[:1], Has: func(_ TLSTarget, name string) bool { return !strings.HasSuffix(name, "_ex") }},
			[]string{`SSL_read`}, []string{`SSL_read_ex`, `SSL_write_ex`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool, err := TLS(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			src := lang.Format(tool.Program)
			for _, w := range tt.want {
				if !strings.Contains(src, w) {
					t.Errorf("program lacks %q:\n%s", w, src)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(src, w) {
					t.Errorf("program has %q:\n%s", w, src)
				}
			}
		})
	}
	if _, err := TLS(TLSOptions{}); err == nil {
		t.Error("TLS with no targets: no error")
	}
}
