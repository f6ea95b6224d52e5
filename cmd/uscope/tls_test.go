package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/internal/tools"
)

// tlsEntries reads the JSON entries of `uscope tls --json` output.
func tlsEntries(out string) []tools.TLSEntry {
	var es []tools.TLSEntry
	for _, l := range strings.Split(out, "\n") {
		var obj struct {
			Type string
			Data tools.TLSEntry
		}
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &obj) == nil && obj.Type == "tls" {
			es = append(es, obj.Data)
		}
	}
	return es
}

// tlsData joins the data of the entries of comm in one direction.
func tlsData(es []tools.TLSEntry, comm, dir string) string {
	var b strings.Builder
	for _, e := range es {
		if e.Comm == comm && e.Direction == dir {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

// startTLSServer starts `openssl s_server -WWW` on a loopback port with a
// self-signed certificate made for the test; it serves index.html, whose
// content it returns.
func startTLSServer(t *testing.T) (port int, body string) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	dir, key, cert := selfSignedCert(t, openssl)
	body = fmt.Sprintf("hello from s_server %d\n", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	port = freePort(t)
	srv := exec.Command(openssl, "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port), "-cert", cert, "-key", key, "-WWW", "-quiet")
	srv.Dir = dir
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	waitListening(t, port, "openssl s_server")
	return port, body
}

// runClient runs a TLS client with stdin and returns its standard output.
func runClient(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// TestTLSClients traces C clients system-wide (they start after uscope) as
// they fetch a page from openssl s_server: the request they write and the
// response they read appear in plaintext.
func TestTLSClients(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name, tool, comm, fn string
		handshake            string                    // the handshake function, if traced
		lib                  bool                      // trace the client itself with --lib
		build                func(t *testing.T) string // builds the client (else tool is on PATH)
		args                 func(port int) []string
		stdin                string
		request              func(port int) (prefix, suffix string)
	}{
		{
			name: "openssl curl", tool: "curl", comm: "curl", fn: "SSL_", handshake: "SSL_do_handshake",
			args: func(port int) []string {
				return []string{"-sk", fmt.Sprintf("https://127.0.0.1:%d/index.html", port)}
			},
			request: func(port int) (string, string) {
				return fmt.Sprintf("GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", port), "Accept: */*\r\n\r\n"
			},
		},
		{
			name: "gnutls gnutls-cli", tool: "gnutls-cli", comm: "gnutls-cli", fn: "gnutls_", handshake: "gnutls_handshake",
			args: func(port int) []string {
				return []string{"--insecure", "--logfile=/dev/null", "-p", fmt.Sprint(port), "127.0.0.1"}
			},
			stdin: "GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
			request: func(port int) (string, string) {
				return "GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", ""
			},
		},
		{
			name: "openssl static", comm: "sslget", fn: "SSL_", handshake: "SSL_do_handshake", lib: true,
			build: func(t *testing.T) string {
				testutil.RequireFile(t, "/usr/lib/x86_64-linux-gnu/libssl.a")
				src, err := os.ReadFile("testdata/tls/sslget.c")
				if err != nil {
					t.Fatal(err)
				}
				return testutil.BuildC(t, "sslget", string(src), "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic")
			},
			args: func(port int) []string { return []string{fmt.Sprint(port), "/index.html"} },
			request: func(port int) (string, string) {
				return "GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", ""
			},
		},
		{
			name: "nss", comm: "nssget", fn: "PR_",
			build: func(t *testing.T) string {
				testutil.RequireFile(t, "/usr/include/nss/ssl.h")
				src, err := os.ReadFile("testdata/tls/nssget.c")
				if err != nil {
					t.Fatal(err)
				}
				return testutil.BuildC(t, "nssget", string(src), "-I/usr/include/nss", "-I/usr/include/nspr", "-lssl3", "-lnss3", "-lnspr4")
			},
			args: func(port int) []string { return []string{fmt.Sprint(port), "/index.html"} },
			request: func(port int) (string, string) {
				return "GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var client string
			if tt.build != nil {
				client = tt.build(t)
			} else {
				client = testutil.RequireTool(t, tt.tool)
			}
			port, body := startTLSServer(t)
			args := []string{"tls", "--json", "--max-bytes", "1024", "--comm", tt.comm}
			if tt.lib {
				args = append(args, "--lib", client)
			}
			tr := startUscope(t, args...)
			out := runClient(t, tt.stdin, client, tt.args(port)...)
			if !strings.Contains(out, body) {
				t.Fatalf("%s printed %q, want the body %q", tt.tool, out, body)
			}
			tr.waitLine(strings.TrimSuffix(body, "\n"))
			es := tlsEntries(tr.stop())
			handshakes := 0
			for _, e := range es {
				if !strings.HasPrefix(e.Func, tt.fn) || e.Truncated || int64(len(e.Data)) != e.Len {
					t.Errorf("entry %+v: want a whole capture of %s*", e, tt.fn)
				}
				if e.Direction == "handshake" {
					handshakes++
					if e.Func != tt.handshake || e.LatencyNS == 0 {
						t.Errorf("entry %+v: want %s with its duration", e, tt.handshake)
					}
				}
			}
			if want := min(len(tt.handshake), 1); handshakes != want {
				t.Errorf("%d handshakes, want %d", handshakes, want)
			}
			prefix, suffix := tt.request(port)
			if w := tlsData(es, tt.comm, "write"); !strings.HasPrefix(w, prefix) || !strings.HasSuffix(w, suffix) {
				t.Errorf("written: %q, want %q ... %q", w, prefix, suffix)
			}
			r := tlsData(es, tt.comm, "read")
			if !strings.HasPrefix(r, "HTTP/1.0 200 ok\r\n") || !strings.HasSuffix(r, "\r\n\r\n"+body) {
				t.Errorf("read: %q, want the response with body %q", r, body)
			}
		})
	}
}

// gotlsProgram is an HTTPS server and client in one Go program, on loopback.
const gotlsProgram = `package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
)

func main() {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "pong-%s", body)
	}))
	defer ts.Close()
	resp, err := ts.Client().Post(ts.URL+"/echo", "text/plain", strings.NewReader("ping-uscope-42"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("status %d body %s\n", resp.StatusCode, b)
}
`

// TestTLSGo traces crypto/tls in a Go program that is its own HTTPS server
// and client, plain and stripped: the request and the response appear as
// written and as read, and the program's output is unchanged.
func TestTLSGo(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name      string
		flags     []string
		toolchain string
	}{
		{"plain", nil, ""},
		{"stripped", []string{"-ldflags=-s -w"}, ""},
		// No DWARF and no version table entry: goid from the code.
		{"go1.27-stripped", []string{"-ldflags=-s -w"}, "go1.27.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"CGO_ENABLED=0"}
			if tt.toolchain != "" {
				requireMatrixToolchain(t, tt.toolchain)
				env = append(env, "GOTOOLCHAIN="+tt.toolchain)
			}
			bin := testutil.BuildGo(t, "gotls", gotlsProgram, env, tt.flags...)
			r := runUscope(t, "tls", "--json", "-l", "--lib", bin, "-c", bin)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			wantLines(t, r.stdout, "status 200 body pong-ping-uscope-42")
			es := tlsEntries(r.stdout)
			w, rd := tlsData(es, "gotls", "write"), tlsData(es, "gotls", "read")
			req := "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:"
			for _, d := range []struct{ dir, data string }{{"write", w}, {"read", rd}} {
				if !strings.Contains(d.data, req) || !strings.Contains(d.data, "\r\n\r\nping-uscope-42") {
					t.Errorf("%s: %q, want the request with body ping-uscope-42", d.dir, d.data)
				}
				// With -l, a write is printed when it returns, which may be
				// after the peer has answered: check content, not order.
				if !strings.Contains(d.data, "HTTP/1.1 200 OK\r\n") || !strings.Contains(d.data, "\r\n\r\npong-ping-uscope-42") {
					t.Errorf("%s: %q, want the response with body pong-ping-uscope-42", d.dir, d.data)
				}
			}
			for _, e := range es {
				if e.Func != "Conn.Write" && e.Func != "Conn.Read" || e.LatencyNS == 0 {
					t.Errorf("entry %+v: want Conn.Write or Conn.Read with a latency", e)
				}
			}
		})
	}
}

// TestTLSTruncated: data longer than --max-bytes is cut there, and the
// entry keeps the whole length.
func TestTLSTruncated(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.BuildGo(t, "gotls", gotlsProgram, []string{"CGO_ENABLED=0"})
	r := runUscope(t, "tls", "--json", "--max-bytes", "16", "--lib", bin, "-c", bin)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	es := tlsEntries(r.stdout)
	if len(es) == 0 {
		t.Fatalf("no entries\n%s", r.stdout)
	}
	for _, e := range es {
		if e.Len > 16 && (!e.Truncated || len(e.Data) != 16) || e.Len <= 16 && (e.Truncated || int64(len(e.Data)) != e.Len) {
			t.Errorf("entry %+v: want at most 16 bytes, truncated when longer", e)
		}
		if e.Func == "Conn.Write" && strings.HasPrefix(e.Data, "POST") && e.Data != "POST /echo HTTP/" {
			t.Errorf("request cut to %q, want %q", e.Data, "POST /echo HTTP/")
		}
	}
}

func TestTLSBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tls", "--max-bytes", "0"}, "--max-bytes 0: it must be 1 to 1024 bytes"},
		{[]string{"tls", "--lib", "/bin/true"}, "/bin/true holds none of the TLS functions"},
		{[]string{"tls", "--lib", "/nonexistent/libssl.so"}, "--lib /nonexistent/libssl.so: no such file or directory"},
	}
	for _, tt := range tests {
		r := runUscope(t, tt.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("uscope %q: exit %d, stderr %q; want exit 1 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// goServerProgram is an HTTPS server on a loopback port (the first
// argument, the certificate and key files next) that exits after one
// request, or after a minute.
const goServerProgram = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	done := make(chan bool, 1)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", body)
		done <- true
	})
	go func() {
		fmt.Println(http.ListenAndServeTLS("127.0.0.1:"+os.Args[1], os.Args[2], os.Args[3], nil))
		os.Exit(1)
	}()
	select {
	case <-done:
		time.Sleep(100 * time.Millisecond)
	case <-time.After(time.Minute):
	}
}
`

// startGoTLSServer starts goServerProgram (HTTPS, HTTP/2 included, on a
// loopback port, with a certificate made for the test), which ends after
// one request; it returns the port and the server's process id.
func startGoTLSServer(t *testing.T) (port, pid int) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	bin := testutil.BuildGo(t, "goserver", goServerProgram, []string{"CGO_ENABLED=0"})
	_, key, cert := selfSignedCert(t, openssl)
	port = freePort(t)
	srv := exec.Command(bin, fmt.Sprint(port), cert, key)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	waitListening(t, port, "the Go server")
	return port, srv.Process.Pid
}

// TestTLSGoServerPID finds crypto/tls in a running Go server from its
// mappings (-p) and prints the request it reads and the response it writes.
func TestTLSGoServerPID(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, pid := startGoTLSServer(t)
	tr := startUscope(t, "tls", "--json", "-p", fmt.Sprint(pid))
	out := runClient(t, "", curl, "-sk", "--http1.1", "--data-binary", "hello-over-tls", fmt.Sprintf("https://127.0.0.1:%d/x", port))
	if out != "got hello-over-tls" {
		t.Fatalf("curl printed %q", out)
	}
	tr.waitLine("got hello-over-tls")
	es := tlsEntries(tr.stop())
	r, w := tlsData(es, "goserver", "read"), tlsData(es, "goserver", "write")
	if !strings.HasPrefix(r, "POST /x HTTP/1.1\r\nHost: 127.0.0.1:") || !strings.HasSuffix(r, "\r\n\r\nhello-over-tls") {
		t.Errorf("read: %q, want the request", r)
	}
	if !strings.HasPrefix(w, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(w, "\r\n\r\ngot hello-over-tls") {
		t.Errorf("written: %q, want the response", w)
	}
}

// TestTLSStrippedByAddress traces a statically linked OpenSSL client whose
// symbols were stripped: the functions are given by address (--addr), as a
// disassembler would find them, and the plaintext still appears.
func TestTLSStrippedByAddress(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireFile(t, "/usr/lib/x86_64-linux-gnu/libssl.a")
	src, err := os.ReadFile("testdata/tls/sslget.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.BuildC(t, "sslget", string(src), "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic")
	write, read := testutil.SymbolValue(t, bin, "SSL_write"), testutil.SymbolValue(t, bin, "SSL_read")
	stripped := filepath.Join(t.TempDir(), "sslget")
	if out, err := exec.Command(testutil.RequireTool(t, "strip"), "-s", "-o", stripped, bin).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v\n%s", err, out)
	}
	port, body := startTLSServer(t)
	tr := startUscope(t, "tls", "--json", "--max-bytes", "1024", "--lib", stripped,
		"--addr", fmt.Sprintf("SSL_write=0x%x", write), "--addr", fmt.Sprintf("SSL_read=0x%x", read))
	out := runClient(t, "", stripped, fmt.Sprint(port), "/index.html")
	if !strings.Contains(out, body) {
		t.Fatalf("client printed %q, want the body %q", out, body)
	}
	tr.waitLine(strings.TrimSuffix(body, "\n"))
	es := tlsEntries(tr.stop())
	if w := tlsData(es, "sslget", "write"); !strings.HasPrefix(w, "GET /index.html HTTP/1.0\r\n") {
		t.Errorf("written: %q, want the request", w)
	}
	if r := tlsData(es, "sslget", "read"); !strings.HasSuffix(r, "\r\n\r\n"+body) {
		t.Errorf("read: %q, want the response with body %q", r, body)
	}
	for _, e := range es {
		if e.Func != "SSL_write" && e.Func != "SSL_read" {
			t.Errorf("unexpected entry %+v", e)
		}
	}
}

// selfSignedCert makes a key and a self-signed certificate for 127.0.0.1 in
// a temporary directory.
func selfSignedCert(t *testing.T, openssl string) (dir, key, cert string) {
	t.Helper()
	dir = t.TempDir()
	key, cert = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if b, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "1", "-subj", "/CN=127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, b)
	}
	return dir, key, cert
}

// waitListening waits until a server accepts connections on a loopback
// port (at most 10 s), failing the test otherwise.
func waitListening(t *testing.T, port int, what string) {
	t.Helper()
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if i == 200 {
			t.Fatalf("%s does not listen on port %d: %v", what, port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
