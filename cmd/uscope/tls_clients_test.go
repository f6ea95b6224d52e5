package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

// TestTLSNode traces node (Debian's nodejs, OpenSSL linked in or shared)
// fetching a page from openssl s_server. node's SSL_write returns -1 while
// the socket would block and it then writes again: the request must appear
// once, with exactly the bytes node wrote, and the failed calls as failed
// entries without data.
func TestTLSNode(t *testing.T) {
	testutil.RequireRoot(t)
	node := testutil.RequireTool(t, "node")
	port, body := startTLSServer(t)
	script, err := filepath.Abs("testdata/tls/client.js")
	if err != nil {
		t.Fatal(err)
	}
	r := runUscope(t, "tls", "--json", "--max-bytes", "1024", "-c", fmt.Sprintf("%s %s %d /index.html", node, script, port))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var req, gotBody string
	for _, l := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "request "); ok {
			json.Unmarshal([]byte(v), &req)
		}
		if v, ok := strings.CutPrefix(l, "body "); ok {
			json.Unmarshal([]byte(v), &gotBody)
		}
	}
	if req == "" || gotBody != body {
		t.Fatalf("node printed request %q body %q, want body %q\n%s\n%s", req, gotBody, body, r.stdout, r.stderr)
	}
	es := tlsEntries(r.stdout)
	written := 0
	for _, e := range es {
		if e.Comm != "node" || e.Direction != "write" {
			continue
		}
		switch {
		case e.Failed:
			if e.Data != "" || e.Len > 0 || e.Asked <= 0 {
				t.Errorf("failed write %+v: want no data, a result <= 0 and the length asked", e)
			}
		case e.Len != int64(len(e.Data)) || e.Len > e.Asked:
			t.Errorf("write %+v: want the bytes written, at most those asked", e)
		default:
			written += int(e.Len)
		}
	}
	if w := tlsData(es, "node", "write"); w != req {
		t.Errorf("written %q (%d bytes), want the request once, %q (%d bytes)", w, written, req, len(req))
	}
	if rd := tlsData(es, "node", "read"); rd != "HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n"+body {
		t.Errorf("read %q, want the response with body %q", rd, body)
	}
}

// TestTLSServerBIO traces openssl s_server -www, which reads and writes
// through an SSL BIO (BIO_f_ssl under a buffering BIO) and never calls
// SSL_read or SSL_write: with -p, the request it reads and the status page
// it writes appear from libcrypto's BIO_read and BIO_write.
func TestTLSServerBIO(t *testing.T) {
	testutil.RequireRoot(t)
	openssl := testutil.RequireTool(t, "openssl")
	curl := testutil.RequireTool(t, "curl")
	_, key, cert := selfSignedCert(t, openssl)
	port := freePort(t)
	srv := exec.Command(openssl, "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port), "-cert", cert, "-key", key, "-www", "-quiet")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	waitListening(t, port, "openssl s_server -www")
	tr := startUscope(t, "tls", "--json", "--max-bytes", "1024", "-p", fmt.Sprint(srv.Process.Pid))
	out := runClient(t, "", curl, "-sk", "--http1.1", fmt.Sprintf("https://127.0.0.1:%d/", port))
	if !strings.Contains(out, "<HTML>") {
		t.Fatalf("curl printed %q", out)
	}
	tr.waitLine(`"func":"BIO_write"`)
	es := tlsEntries(tr.stop())
	rd, w := tlsData(es, "openssl", "read"), tlsData(es, "openssl", "write")
	if want := fmt.Sprintf("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", port); !strings.HasPrefix(rd, want) || !strings.HasSuffix(rd, "\r\n\r\n") {
		t.Errorf("read %q, want curl's request %q...", rd, want)
	}
	if want := "HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<HTML><BODY"; !strings.HasPrefix(w, want) {
		t.Errorf("written %q, want the status page %q...", w, want)
	}
	for _, e := range es {
		if e.Func != "BIO_read" && e.Func != "BIO_write" {
			t.Errorf("entry %+v: s_server -www calls only BIO_read and BIO_write on its SSL BIO", e)
		}
	}
}

// TestTLSCurlHTTP2 traces curl --http2 posting to a Go net/http server
// (which speaks HTTP/2 over TLS): curl's writes and reads print frame by
// frame, the client preface, SETTINGS, HEADERS and the DATA of the request
// and the response readable.
func TestTLSCurlHTTP2(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, _ := startGoTLSServer(t)
	r := runUscope(t, "tls", "--comm", "curl", "--max-bytes", "1024", "-c",
		fmt.Sprintf("%s -sk --http2 --data-binary hello-h2 https://127.0.0.1:%d/x", curl, port))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{
		"    [HTTP/2 client preface]",
		"      hello-h2",
		"      got hello-h2",
	} {
		if !strings.Contains(r.stdout, "\n"+w+"\n") {
			t.Errorf("output lacks the line %q\n%s", w, r.stdout)
		}
	}
	for _, w := range []string{
		"    [HTTP/2 SETTINGS stream 0, ",
		"    [HTTP/2 HEADERS stream 1, ",
		"    [HTTP/2 DATA stream 1, 8 bytes",
		"    [HTTP/2 DATA stream 1, 12 bytes",
	} {
		if !strings.Contains(r.stdout, "\n"+w) {
			t.Errorf("output lacks a frame %q...\n%s", w, r.stdout)
		}
	}
}

// TestTLSJava: Java's TLS (JSSE) is Java code, which uscope cannot probe.
// Tracing a Java client, started with -c or running (-p), is refused in one
// line with exit status 1, with and without other flags.
func TestTLSJava(t *testing.T) {
	testutil.RequireRoot(t)
	java := testutil.RequireTool(t, "java")
	src, err := filepath.Abs("testdata/tls/Fetch.java")
	if err != nil {
		t.Fatal(err)
	}
	client := exec.Command(java, src, "60", "https://127.0.0.1:1/")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait() })
	// Wait for the JVM to be mapped (at most 30 s).
	maps := fmt.Sprintf("/proc/%d/maps", client.Process.Pid)
	for i := 0; ; i++ {
		if b, err := os.ReadFile(maps); err == nil && strings.Contains(string(b), "/libjvm.so") {
			break
		}
		if i == 300 {
			t.Fatal("the Java client does not map libjvm.so")
		}
		time.Sleep(100 * time.Millisecond)
	}
	pid := fmt.Sprint(client.Process.Pid)
	cmdline := fmt.Sprintf("%s %s 0 https://127.0.0.1:1/", java, src)
	for _, args := range [][]string{
		{"-p", pid}, {"-p", pid, "-l", "--json"},
		{"-c", cmdline}, {"-c", cmdline, "--hex"},
	} {
		r := runUscope(t, append([]string{"tls"}, args...)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "Java program") || !strings.Contains(lines[0], "JSSE") || r.stdout != "" {
			t.Errorf("uscope tls %q: exit %d, stdout %q, stderr %q; want exit 1 and one line about Java's JSSE", args, r.code, r.stdout, r.stderr)
		}
	}
}
