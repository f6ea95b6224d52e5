package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// sniffEvent is one entry of sslsniff's output: the row and its data.
type sniffEvent struct {
	fn, time, comm       string
	pid, len             int
	uid, tid, lat        string
	data                 string
	hasData, hasTrailing bool
	lost                 int
}

var (
	sniffRow = regexp.MustCompile(`^(WRITE/SEND|READ/RECV|HANDSHAKE) +(\d+\.\d{9}) +(\S+) +(\d+) +(-?\d+)(.*)$`)
	sniffEnd = regexp.MustCompile(`^----- END DATA(?: \(TRUNCATED, (\d+) bytes lost\))? -----$`)
)

// sniffEvents parses sslsniff's output (bcc's layout: a row, then its data
// between the DATA marks and an empty line).
func sniffEvents(t *testing.T, out string, extra, latency bool) []sniffEvent {
	t.Helper()
	lines := stdoutLines(out)
	var es []sniffEvent
	for i := 0; i < len(lines); i++ {
		m := sniffRow.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		e := sniffEvent{fn: m[1], time: m[2], comm: m[3]}
		e.pid, _ = strconv.Atoi(m[4])
		e.len, _ = strconv.Atoi(m[5])
		rest := strings.Fields(m[6])
		if extra && len(rest) >= 2 {
			e.uid, e.tid, rest = rest[0], rest[1], rest[2:]
		}
		if latency && len(rest) >= 1 {
			e.lat = rest[0]
		}
		if i+1 < len(lines) && lines[i+1] == "----- DATA -----" {
			e.hasData = true
			var data []string
			for i += 2; i < len(lines); i++ {
				if em := sniffEnd.FindStringSubmatch(lines[i]); em != nil {
					e.lost, _ = strconv.Atoi(em[1])
					break
				}
				data = append(data, lines[i])
			}
			e.data = strings.Join(data, "\n")
			e.hasTrailing = i+1 < len(lines) && lines[i+1] == ""
		}
		es = append(es, e)
	}
	return es
}

// TestBCCSslsniff runs sslsniff_example.txt's lines, and its usage's flags,
// on curl fetching a page from openssl s_server: a system-wide line gets
// --cmd, the docker path of --extra-lib is Debian's libssl.
func TestBCCSslsniff(t *testing.T) {
	testutil.RequireRoot(t)
	curl := testutil.RequireTool(t, "curl")
	port, body := startTLSServer(t)
	fetch := fmt.Sprintf("%s -sk --http1.1 -o /dev/null https://127.0.0.1:%d/index.html", curl, port)
	request := "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:" + strconv.Itoa(port) + "\r\n"
	response := "HTTP/1.0 200 ok\r\n"
	header := fmt.Sprintf("%-12s %-18s %-16s %-7s %-7s", "FUNC", "TIME(s)", "COMM", "PID", "LEN")
	libssl := ""
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3"} {
		if _, err := os.Stat(p); err == nil {
			libssl = p
			break
		}
	}
	for _, ex := range []struct {
		line          string
		args          []string
		extra, lat    bool
		hex, noEvents bool
		lost          bool
	}{
		{line: "sslsniff.py"},
		{line: "sslsniff.py --hexdump", args: []string{"--hexdump"}, hex: true},
		{line: "sslsniff.py -l --handshake", args: []string{"-l", "--handshake"}, lat: true},
		{line: "sslsniff.py --extra-lib openssl:/var/lib/docker/overlay2/l/S4EMHE/lib/libssl.so.1.1", args: []string{"--extra-lib", "openssl:" + libssl}},
		{line: "-x", args: []string{"-x"}, extra: true},
		{line: "-c COMM", args: []string{"-c", "curl"}},
		{line: "-c another COMM", args: []string{"-c", "wget"}, noEvents: true},
		{line: "-u UID", args: []string{"-u", "4242"}, noEvents: true},
		{line: "-o", args: []string{"-o"}, noEvents: true},
		{line: "--max-buffer-size", args: []string{"--max-buffer-size", "16"}, lost: true},
	} {
		t.Run(ex.line, func(t *testing.T) {
			if strings.Contains(ex.line, "extra-lib") && libssl == "" {
				t.Skip("no libssl.so.3")
			}
			res := runUscope(t, append([]string{"sslsniff", "--cmd", fetch}, ex.args...)...)
			if res.code != 0 {
				t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
			}
			out := res.stdout
			want := header
			if ex.extra {
				want += fmt.Sprintf(" %-7s %-7s", "UID", "TID")
			}
			if ex.lat {
				want += fmt.Sprintf(" %-7s", "LAT(ms)")
			}
			if ls := stdoutLines(out); len(ls) == 0 || ls[0] != want {
				t.Errorf("first line is not %q\n%s", want, out)
			}
			es := sniffEvents(t, out, ex.extra, ex.lat)
			if ex.noEvents {
				if len(es) != 0 {
					t.Errorf("%d events, want none\n%s", len(es), out)
				}
				return
			}
			if len(es) == 0 || es[0].time != "0.000000000" {
				t.Fatalf("no events, or the first not at 0.000000000\n%s", out)
			}
			var written, read string
			handshakes := 0
			for _, e := range es {
				if e.comm != "curl" {
					t.Errorf("an event of %s", e.comm)
				}
				data := e.data
				if ex.hex {
					for _, l := range strings.Split(data, "\n") {
						if len(l) > 32 {
							t.Errorf("hexdump line %q longer than 32", l)
						}
					}
					b, err := hex.DecodeString(strings.ReplaceAll(data, "\n", ""))
					if err != nil {
						t.Errorf("hexdump %q: %v", data, err)
					}
					data = string(b)
				}
				if e.fn == "HANDSHAKE" {
					handshakes++
					if e.len != 0 || e.hasData {
						t.Errorf("handshake row %+v: want LEN 0 and no data", e)
					}
				} else if !e.hasData || !e.hasTrailing || len(data)+e.lost != e.len || (e.lost > 0) != ex.lost {
					t.Errorf("row %+v: want its LEN of data between the DATA marks (truncated only with --max-buffer-size), then an empty line\n%s", e, out)
				}
				if ex.lat && !regexp.MustCompile(`^\d+\.\d{3}$`).MatchString(e.lat) {
					t.Errorf("row %+v: LAT(ms) is not a number of milliseconds", e)
				}
				if ex.extra && (e.uid != "0" || e.tid == "") {
					t.Errorf("row %+v: want UID 0 (the test runs as root) and a TID", e)
				}
				switch e.fn {
				case "WRITE/SEND":
					written += data
				case "READ/RECV":
					read += data
				}
			}
			if ex.lost {
				if !strings.HasPrefix(request, written[:min(len(written), 16)]) || !strings.HasPrefix(read, response[:16]) {
					t.Errorf("the first 16 bytes: written %q, read %q", written, read)
				}
			} else if !strings.HasPrefix(written, request) || !strings.HasPrefix(read, response) || !strings.HasSuffix(read, body) {
				t.Errorf("written %q, read %q; want the request and the response with its body", written, read)
			}
			if want := map[bool]int{true: 1, false: 0}[ex.lat]; handshakes != want {
				t.Errorf("%d HANDSHAKE rows, want %d\n%s", handshakes, want, out)
			}
		})
	}
}
