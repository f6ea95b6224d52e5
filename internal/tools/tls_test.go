package tools

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

func TestParseTLSRecord(t *testing.T) {
	tests := []struct {
		name string
		line string
		ok   bool
		want TLSRecord
	}{
		{"read", TLSTag + "\tSSL_read\t12\t1\t2\t3\t0\t40\tcurl\t61 62 63", true,
			TLSRecord{Func: "SSL_read", Nsecs: 12, PID: 1, TID: 2, Len: 3, Latency: 40, Comm: "curl", Data: []byte("abc")}},
		{"write truncated", TLSTag + "\tgnutls_record_send\t1\t1\t1\t9\t9\t0\tgnutls-cli\t00 ff...", true,
			TLSRecord{Func: "gnutls_record_send", Write: true, Nsecs: 1, PID: 1, TID: 1, Len: 9, Asked: 9, Comm: "gnutls-cli", Data: []byte{0, 0xff}}},
		{"go write", TLSTag + "\tConn.Write\t1\t1\t1\t1\t4\t0\tapp\t7a", true,
			TLSRecord{Func: "Conn.Write", Write: true, Nsecs: 1, PID: 1, TID: 1, Len: 1, Asked: 4, Comm: "app", Data: []byte("z")}},
		{"failed write", TLSTag + "\tSSL_write\t1\t1\t1\t-1\t124\t5\tnode\t", true,
			TLSRecord{Func: "SSL_write", Write: true, Nsecs: 1, PID: 1, TID: 1, Len: -1, Asked: 124, Latency: 5, Comm: "node"}},
		{"comm with spaces", TLSTag + "\tPR_Recv\t1\t1\t1\t1\t0\t0\tWeb Content\t7a", true,
			TLSRecord{Func: "PR_Recv", Nsecs: 1, PID: 1, TID: 1, Len: 1, Comm: "Web Content", Data: []byte("z")}},
		{"other line", "Attached 4 probes", false, TLSRecord{}},
		{"bad number", TLSTag + "\tSSL_read\tx\t1\t2\t3\t0\t40\tcurl\t61", false, TLSRecord{}},
		{"bad hex", TLSTag + "\tSSL_read\t1\t1\t2\t3\t0\t40\tcurl\t6", false, TLSRecord{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseTLSRecord(tt.line)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if got.Func != tt.want.Func || got.Write != tt.want.Write || got.Nsecs != tt.want.Nsecs || got.PID != tt.want.PID ||
				got.TID != tt.want.TID || got.Len != tt.want.Len || got.Asked != tt.want.Asked || got.Latency != tt.want.Latency || got.Comm != tt.want.Comm ||
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
