package tools

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HTTP/2 (RFC 9113) frames as `uscope tls` prints them: what HTTP/2 clients
// and servers (curl --http2, Go's net/http) hand to the TLS library is a
// sequence of binary frames, which print as one line per frame (type,
// flags, stream, length) with the payload beneath: DATA as text, SETTINGS
// and WINDOW_UPDATE decoded, HEADERS and others (HPACK-compressed header
// blocks) escaped.

// h2Preface starts every HTTP/2 connection, from the client.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

var h2Types = []string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"}

var h2Settings = map[uint16]string{1: "HEADER_TABLE_SIZE", 2: "ENABLE_PUSH", 3: "MAX_CONCURRENT_STREAMS", 4: "INITIAL_WINDOW_SIZE", 5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE", 8: "ENABLE_CONNECT_PROTOCOL"}

// maxH2Frame is the largest frame payload (2^24-1 is the format's limit;
// SETTINGS_MAX_FRAME_SIZE tops out there too).
const maxH2Frame = 1<<24 - 1

// h2Frame is a frame header and its payload (cut short when the data
// captured is).
type h2Frame struct {
	length       int
	typ, flags   byte
	stream       uint32
	payload      []byte
	payloadShort bool
}

// h2Frames splits data into HTTP/2 frames, after the client preface when
// data starts with it. ok is false unless data is entirely frames of known
// types, the last possibly cut short when truncated (the capture is shorter
// than the call's length) so that text and other protocols are left alone.
func h2Frames(data []byte, truncated bool) (preface bool, frames []h2Frame, ok bool) {
	if strings.HasPrefix(string(data), h2Preface) {
		preface = true
		data = data[len(h2Preface):]
	}
	for len(data) > 0 {
		if len(data) < 9 {
			return preface, frames, truncated && (preface || len(frames) > 0)
		}
		n := int(data[0])<<16 | int(data[1])<<8 | int(data[2])
		fr := h2Frame{length: n, typ: data[3], flags: data[4], stream: binary.BigEndian.Uint32(data[5:9]) &^ (1 << 31)}
		if int(fr.typ) >= len(h2Types) || n > maxH2Frame {
			return false, nil, false
		}
		data = data[9:]
		if n > len(data) {
			if !truncated {
				return false, nil, false
			}
			fr.payload, fr.payloadShort = data, true
			data = nil
		} else {
			fr.payload, data = data[:n], data[n:]
		}
		frames = append(frames, fr)
	}
	return preface, frames, preface || len(frames) > 0
}

// h2Flags names a frame's flags.
func h2Flags(typ, flags byte) string {
	var names []string
	add := func(bit byte, name string) {
		if flags&bit != 0 {
			names = append(names, name)
			flags &^= bit
		}
	}
	switch typ {
	case 0: // DATA
		add(0x1, "END_STREAM")
		add(0x8, "PADDED")
	case 1: // HEADERS
		add(0x1, "END_STREAM")
		add(0x4, "END_HEADERS")
		add(0x8, "PADDED")
		add(0x20, "PRIORITY")
	case 4, 6: // SETTINGS, PING
		add(0x1, "ACK")
	case 5, 9: // PUSH_PROMISE, CONTINUATION
		add(0x4, "END_HEADERS")
		add(0x8, "PADDED")
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(names, "|")
}

// h2Text prints frames, indented as tlsText prints data.
func h2Text(preface bool, frames []h2Frame) string {
	var b strings.Builder
	if preface {
		b.WriteString("    [HTTP/2 client preface]\n")
	}
	for _, fr := range frames {
		fmt.Fprintf(&b, "    [HTTP/2 %s stream %d, %d bytes", h2Types[fr.typ], fr.stream, fr.length)
		if fl := h2Flags(fr.typ, fr.flags); fl != "" {
			fmt.Fprintf(&b, ", %s", fl)
		}
		if fr.payloadShort {
			fmt.Fprintf(&b, ", %d captured", len(fr.payload))
		}
		b.WriteString("]\n")
		p := fr.payload
		switch fr.typ {
		case 4: // SETTINGS: 6-byte id, value pairs
			for len(p) >= 6 {
				id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
				name := h2Settings[id]
				if name == "" {
					name = fmt.Sprintf("SETTING_%#x", id)
				}
				fmt.Fprintf(&b, "      %s = %d\n", name, v)
				p = p[6:]
			}
		case 8: // WINDOW_UPDATE
			if len(p) >= 4 {
				fmt.Fprintf(&b, "      increment %d\n", binary.BigEndian.Uint32(p)&^(1<<31))
			}
		case 3: // RST_STREAM
			if len(p) >= 4 {
				fmt.Fprintf(&b, "      error code %d\n", binary.BigEndian.Uint32(p))
			}
		case 7: // GOAWAY
			if len(p) >= 8 {
				fmt.Fprintf(&b, "      last stream %d, error code %d\n", binary.BigEndian.Uint32(p)&^(1<<31), binary.BigEndian.Uint32(p[4:]))
				if len(p) > 8 {
					b.WriteString("  " + tlsText(p[8:]))
				}
			}
		default:
			if len(p) > 0 {
				b.WriteString("  " + strings.ReplaceAll(strings.TrimSuffix(tlsText(p), "\n"), "\n", "\n  ") + "\n")
			}
		}
	}
	return b.String()
}
