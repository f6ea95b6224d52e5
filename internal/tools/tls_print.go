package tools

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/uscope/uscope/internal/output"
)

// The printer of the tls program's records (tls.bt): uscope tls's text
// and JSON, and bcc's sslsniff layout. Records arrive as the arguments of
// the program's printfs (session.Config.Printf), never as text.

// TLSRecordOf reads one record from a printf of the tls program: its
// format's tab-separated fields are TAG FUNC TIME PID TID UID LEN ASKED
// LATENCY COMM DATA, each a literal or a directive that takes the next
// argument. ok is false for any other printf.
func TLSRecordOf(format string, args []output.Value) (r TLSRecord, ok bool) {
	f := strings.Split(strings.TrimSuffix(format, "\n"), "\t")
	if len(f) != 11 || f[0] != TLSTag {
		return r, false
	}
	r.Func = f[1]
	r.Handshake = strings.Contains(f[1], "handshake")
	r.Write = strings.Contains(f[1], "Write") || strings.Contains(f[1], "write") || strings.Contains(f[1], "send") || strings.Contains(f[1], "Send")
	next, short := 0, false
	field := func(i int) (output.Value, bool) {
		if !strings.HasPrefix(f[i], "%") {
			return output.Value{}, false
		}
		if next >= len(args) {
			short = true
			return output.Value{}, false
		}
		next++
		return args[next-1], true
	}
	num := func(i int) int64 {
		if v, ok := field(i); ok {
			return ValueInt(v)
		}
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return n
	}
	r.Nsecs = uint64(num(2))
	r.PID, r.TID, r.UID = int(num(3)), int(num(4)), int(num(5))
	r.Len, r.Asked, r.Latency = num(6), num(7), uint64(num(8))
	if v, ok := field(9); ok {
		r.Comm = v.Str
	}
	if v, ok := field(10); ok {
		r.Data = append([]byte(nil), v.Bytes...)
	}
	return r, !short && next == len(args)
}

// TLSPrinter prints the records of the tls program.
type TLSPrinter struct {
	Out io.Writer
	// Comm keeps only the processes of that name; UID (when not negative)
	// only that user's.
	Comm string
	UID  int
	// Hex prints the data as a hex dump; Latency each call's time; JSON one
	// object per record.
	Hex, Latency, JSON bool
	// BCC prints bcc's sslsniff layout; Extra adds its UID and TID columns
	// (-x), Handshake its HANDSHAKE rows (with Latency); MaxBuffer is
	// sslsniff's --max-buffer-size.
	BCC, Extra, Handshake bool
	MaxBuffer             int
	// Start (CLOCK_MONOTONIC, ns) and Wall are when tracing began.
	Start uint64
	Wall  time.Time

	mu    sync.Mutex
	first uint64 // sslsniff: the first record's time
}

// Header prints the column header.
func (p *TLSPrinter) Header() {
	if p.JSON {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.BCC {
		h := fmt.Sprintf("%-12s %-18s %-16s %-7s %-7s", "FUNC", "TIME(s)", "COMM", "PID", "LEN")
		if p.Extra {
			h += fmt.Sprintf(" %-7s %-7s", "UID", "TID")
		}
		if p.Latency {
			h += fmt.Sprintf(" %-7s", "LAT(ms)")
		}
		fmt.Fprintln(p.Out, h)
		return
	}
	lat := ""
	if p.Latency {
		lat = fmt.Sprintf(" %10s", "LAT(us)")
	}
	fmt.Fprintf(p.Out, "%-12s %-18s %-16s %7s %7s %7s%s\n", "TIME(s)", "FUNC", "COMM", "PID", "TID", "LEN", lat)
}

// TLSEntry is the data of one object of tls --json, {"type": "tls",
// "data": ENTRY}.
type TLSEntry struct {
	Time      string `json:"time"`
	Func      string `json:"func"`
	Direction string `json:"direction"`
	PID       int    `json:"pid"`
	TID       int    `json:"tid"`
	Comm      string `json:"comm"`
	Len       int64  `json:"len"`
	Asked     int64  `json:"asked,omitempty"`
	Failed    bool   `json:"failed,omitempty"`
	Partial   bool   `json:"partial,omitempty"`
	LatencyNS uint64 `json:"latency_ns,omitempty"`
	Truncated bool   `json:"truncated"`
	Data      string `json:"data"`
	Hex       string `json:"hex,omitempty"`
}

// Printf is the session's Printf hook; a printf that is not a record is
// printed as it is.
func (p *TLSPrinter) Printf(format string, args []output.Value) {
	r, ok := TLSRecordOf(format, args)
	if !ok {
		if f, err := output.ParseFormat(format); err == nil {
			f.CInt()
			p.mu.Lock()
			fmt.Fprint(p.Out, f.Sprintf(args))
			p.mu.Unlock()
		}
		return
	}
	p.Print(r)
}

// Print prints one record.
func (p *TLSPrinter) Print(r TLSRecord) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Comm != "" && r.Comm != p.Comm {
		return
	}
	if p.BCC && p.UID >= 0 && r.UID != p.UID {
		return
	}
	switch {
	case p.JSON:
		p.json(r)
	case p.BCC:
		p.sslsniff(r)
	default:
		p.text(r)
	}
}

func (p *TLSPrinter) json(r TLSRecord) {
	dir := "read"
	switch {
	case r.Write:
		dir = "write"
	case r.Handshake:
		dir = "handshake"
	}
	j := TLSEntry{
		Time: p.Wall.Add(time.Duration(int64(r.Nsecs - p.Start))).UTC().Format(time.RFC3339Nano),
		Func: r.Func, Direction: dir, PID: r.PID, TID: r.TID, Comm: r.Comm, Len: r.Len,
		Asked: r.Asked, Failed: r.Failed(), Partial: r.Partial(),
		LatencyNS: r.Latency, Truncated: r.Truncated(), Data: string(r.Data),
	}
	if p.Hex {
		j.Hex = hex.EncodeToString(r.Data)
	}
	// run -f json's shape: {"type": KIND, "data": ...}.
	b, _ := json.Marshal(j)
	fmt.Fprintf(p.Out, "{\"type\": \"tls\", \"data\": %s}\n", b)
}

func (p *TLSPrinter) text(r TLSRecord) {
	secs := float64(int64(r.Nsecs-p.Start)) / 1e9
	lat := ""
	if p.Latency {
		lat = fmt.Sprintf(" %10.3f", float64(r.Latency)/1e3)
	}
	fmt.Fprintf(p.Out, "%-12.6f %-18s %-16s %7d %7d %7d%s\n", secs, r.Func, r.Comm, r.PID, r.TID, r.Len, lat)
	switch {
	case r.Handshake:
		fmt.Fprintf(p.Out, "    (handshake done after %.3f ms)\n", float64(r.Latency)/1e6)
	case r.Failed():
		fmt.Fprintf(p.Out, "    [failed: returned %d; none of %d bytes written]\n", r.Len, r.Asked)
		return
	case p.Hex:
		io.WriteString(p.Out, indentDump(r.Data))
	default:
		if preface, frames, ok := h2Frames(r.Data, r.Truncated()); ok {
			io.WriteString(p.Out, h2Text(preface, frames))
		} else {
			io.WriteString(p.Out, tlsText(r.Data))
		}
	}
	if r.Truncated() {
		fmt.Fprintf(p.Out, "    [truncated: %d of %d bytes shown]\n", len(r.Data), r.Len)
	}
	if r.Partial() {
		fmt.Fprintf(p.Out, "    [partial: %d of %d bytes written]\n", r.Len, r.Asked)
	}
}

// sslsniff prints bcc's layout: FUNC TIME(s) COMM PID LEN [UID TID]
// [LAT(ms)], the time since the first record, and the data between DATA
// marks (decoded as UTF-8, or --hexdump's 32 hex digits a line).
func (p *TLSPrinter) sslsniff(r TLSRecord) {
	fn := "READ/RECV"
	switch {
	case r.Handshake:
		if !p.Handshake || !p.Latency {
			return
		}
		fn = "HANDSHAKE"
	case r.Write:
		fn = "WRITE/SEND"
	}
	if p.first == 0 {
		p.first = r.Nsecs
	}
	line := fmt.Sprintf("%-12s %-18.9f %-16s %-7d %-6d", fn, float64(r.Nsecs-p.first)/1e9, r.Comm, r.PID, r.Len)
	if p.Extra {
		line += fmt.Sprintf(" %-7d %-7d", r.UID, r.TID)
	}
	if p.Latency {
		lat := "N/A"
		if r.Latency != 0 {
			lat = fmt.Sprintf("%.3f", float64(r.Latency)/1e6)
		}
		line += fmt.Sprintf(" %-7s", lat)
	}
	data := r.Data
	if p.MaxBuffer > 0 && len(data) > p.MaxBuffer {
		data = data[:p.MaxBuffer]
	}
	if len(data) == 0 || r.Len <= 0 {
		fmt.Fprintln(p.Out, line)
		return
	}
	var text string
	if p.Hex {
		h := hex.EncodeToString(data)
		var b strings.Builder
		for i := 0; i < len(h); i += 32 {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(h[i:min(i+32, len(h))])
		}
		text = b.String()
	} else {
		text = strings.ToValidUTF8(string(data), string(utf8.RuneError))
	}
	end := "----- END DATA -----"
	if lost := r.Len - int64(len(data)); lost > 0 {
		end = fmt.Sprintf("----- END DATA (TRUNCATED, %d bytes lost) -----", lost)
	}
	fmt.Fprintf(p.Out, "%s\n----- DATA -----\n%s\n%s\n\n", line, text, end)
}

// tlsText prints data as text, each line indented: printable bytes, tabs
// and line ends as they are, other bytes as \xNN.
func tlsText(data []byte) string {
	var b strings.Builder
	b.WriteString("    ")
	for i, c := range data {
		switch {
		case c == '\n':
			b.WriteByte('\n')
			if i < len(data)-1 {
				b.WriteString("    ")
			}
		case c == '\r' && i+1 < len(data) && data[i+1] == '\n':
		case c == '\t' || (c >= 32 && c < 127):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
	return b.String()
}

// indentDump is a hex dump with each line indented.
func indentDump(data []byte) string {
	d := hex.Dump(data)
	return "    " + strings.ReplaceAll(strings.TrimSuffix(d, "\n"), "\n", "\n    ") + "\n"
}
