package tools

import (
	"fmt"
	"strconv"
	"strings"
)

// TLSLibrary names the TLS implementations `uscope tls` knows.
type TLSLibrary string

// The TLS implementations `uscope tls` traces.
const (
	OpenSSL TLSLibrary = "openssl" // SSL_read, SSL_write and their _ex forms
	GnuTLS  TLSLibrary = "gnutls"  // gnutls_record_recv, gnutls_record_send
	NSS     TLSLibrary = "nss"     // NSPR's PR_Read, PR_Write, PR_Recv, PR_Send
	GoTLS   TLSLibrary = "go"      // crypto/tls.(*Conn).Read and Write
	// OpenSSLBIO is libcrypto's BIO_read and BIO_write (and _ex) on SSL
	// BIOs (BIO_f_ssl), the path of programs that read and write through
	// a BIO chain, as openssl s_server -www does, and never call SSL_read
	// or SSL_write: the SSL BIO reaches libssl's internal functions.
	OpenSSLBIO TLSLibrary = "openssl-bio"
)

// BIOTypeSSL is OpenSSL's BIO_TYPE_SSL, the type of BIO_f_ssl's method.
const BIOTypeSSL = 7 | 0x0200

// TLSTarget is one object to trace: a library or an executable that holds
// one of the implementations (statically linked, or a Go program).
type TLSTarget struct {
	Library TLSLibrary
	Path    string
	// Addrs, for a stripped object, gives the link-time address of each
	// function to trace by name; only these are traced then.
	Addrs map[string]uint64
	// BIOMethodOffset is, for OpenSSLBIO, the offset of the method
	// pointer in a BIO (8 in OpenSSL 3, 0 in 1.1), found in the code of
	// BIO_method_type.
	BIOMethodOffset int
}

// tlsFunc is one traced function in the template programs/tls.bt.
type tlsFunc struct {
	ID     int
	Target string
	Name   string // the symbol
	Point  string // the function part of the attach point: "Name" or 0xADDR
	Label  string // the name printed
	Read   bool   // data flows in: captured at the return
	Buf    string // the buffer, at the entry
	Len    string // the length asked for, at the entry (writes)
	Ret    string // the length done, at the return
	LenPtr string // _ex functions: where the length done is stored
	Key    string // what pairs an entry with its return
	Cond   string // at the entry: only calls for which this holds
	// RetKey is Key as the return probe computes it (Key when empty).
	RetKey string
	// Done, for a handshake function, is true at a return that ends the
	// handshake; the time is taken from the first call on the connection
	// (arg0), as non-blocking programs call again until it is done.
	Done string
}

// TLSTag starts every record line of the tls program, so that the lines
// are told from anything else the session prints.
const TLSTag = "@uscope-tls"

// tlsFuncs lists the functions of a library, with how to read the buffer
// and the lengths in the C or Go calling convention.
func tlsFuncs(lib TLSLibrary) []tlsFunc {
	const tid = "tid"
	switch lib {
	case OpenSSL:
		return []tlsFunc{
			{Name: "SSL_write", Buf: "arg1", Len: "(int64)(int32)arg2", Ret: "(int64)(int32)retval", Key: tid},
			{Name: "SSL_read", Read: true, Buf: "arg1", Ret: "(int64)(int32)retval", Key: tid},
			{Name: "SSL_write_ex", Buf: "arg1", Len: "(int64)arg2", LenPtr: "arg3", Key: tid},
			{Name: "SSL_read_ex", Read: true, Buf: "arg1", LenPtr: "arg3", Key: tid},
			{Name: "SSL_do_handshake", Done: "(int32)retval >= 0"},
		}
	case GnuTLS:
		return []tlsFunc{
			{Name: "gnutls_record_send", Buf: "arg1", Len: "(int64)arg2", Ret: "(int64)retval", Key: tid},
			{Name: "gnutls_record_recv", Read: true, Buf: "arg1", Ret: "(int64)retval", Key: tid},
			{Name: "gnutls_handshake", Done: "(int32)retval != -28 && (int32)retval != -52"},
		}
	case NSS:
		return []tlsFunc{
			{Name: "PR_Write", Buf: "arg1", Len: "(int64)(int32)arg2", Ret: "(int64)(int32)retval", Key: tid},
			{Name: "PR_Send", Buf: "arg1", Len: "(int64)(int32)arg2", Ret: "(int64)(int32)retval", Key: tid},
			{Name: "PR_Read", Read: true, Buf: "arg1", Ret: "(int64)(int32)retval", Key: tid},
			{Name: "PR_Recv", Read: true, Buf: "arg1", Ret: "(int64)(int32)retval", Key: tid},
		}
	case OpenSSLBIO:
		// An SSL BIO's BIO_read calls BIO_read on the socket BIO below
		// it, on the same thread: pair by thread and stack pointer (at
		// the return it is 8 bytes above its value at the entry).
		const key, ret = `tid, reg("sp")`, `tid, reg("sp") - 8`
		return []tlsFunc{
			{Name: "BIO_write", Buf: "arg1", Len: "(int64)(int32)arg2", Ret: "(int64)(int32)retval", Key: key, RetKey: ret},
			{Name: "BIO_read", Read: true, Buf: "arg1", Ret: "(int64)(int32)retval", Key: key, RetKey: ret},
			{Name: "BIO_write_ex", Buf: "arg1", Len: "(int64)arg2", LenPtr: "arg3", Key: key, RetKey: ret},
			{Name: "BIO_read_ex", Read: true, Buf: "arg1", LenPtr: "arg3", Key: key, RetKey: ret},
		}
	case GoTLS:
		// func (c *Conn) Write(b []byte) (int, error): c in RAX, b in RBX
		// (ptr), RCX (len), RDI (cap); n in RAX at each RET. A goroutine
		// may move between threads while it blocks: pair by goroutine.
		const key = "pid, goid"
		return []tlsFunc{
			{Name: "crypto/tls.(*Conn).Write", Label: "Conn.Write", Buf: "goarg(1)", Len: "(int64)goarg(2)", Ret: "(int64)retval", Key: key},
			{Name: "crypto/tls.(*Conn).Read", Label: "Conn.Read", Read: true, Buf: "goarg(1)", Ret: "(int64)retval", Key: key},
		}
	}
	return nil
}

// TLSFunctions returns the names of the functions traced in lib.
func TLSFunctions(lib TLSLibrary) []string {
	var names []string
	for _, f := range tlsFuncs(lib) {
		names = append(names, f.Name)
	}
	return names
}

// TLSOptions configure `uscope tls`.
type TLSOptions struct {
	// Targets are the objects to trace, with the implementation each holds.
	Targets []TLSTarget
	// Latency is kept for callers; every record is made at the return
	// now, with the time the call took.
	Latency bool
	// Has reports whether a target defines a function; functions it lacks
	// (SSL_read_ex in OpenSSL 1.1.0) are left out. Nil: all are traced.
	Has func(t TLSTarget, name string) bool
	// Options: with Top set (--top N), the tool keeps, instead of
	// records, a summary in the kernel (calls and bytes by process and
	// function) and prints its Top rows each Interval.
	Options
}

// TLS builds the program of `uscope tls`: one printf per read or write
// (TLSTag first), whose arguments TLSRecordOf turns into a record.
func TLS(o TLSOptions) (*Tool, error) {
	var funcs []tlsFunc
	for _, t := range o.Targets {
		for _, f := range tlsFuncs(t.Library) {
			f.Point = strconv.Quote(f.Name)
			if t.Addrs != nil {
				addr, ok := t.Addrs[f.Name]
				if !ok {
					continue
				}
				f.Point = fmt.Sprintf("0x%x", addr)
			} else if o.Has != nil && !o.Has(t, f.Name) {
				continue
			}
			f.ID = len(funcs)
			f.Target = t.Path
			if f.RetKey == "" {
				f.RetKey = f.Key
			}
			if t.Library == OpenSSLBIO {
				f.Cond = fmt.Sprintf("arg0 != 0 && *(int32 *)*(uint64 *)(arg0 + %d) == %d", t.BIOMethodOffset, BIOTypeSSL)
			}
			if f.Label == "" {
				f.Label = f.Name
			}
			funcs = append(funcs, f)
		}
	}
	if len(funcs) == 0 {
		return nil, fmt.Errorf("no TLS functions to trace")
	}
	prog, err := render("tls", struct {
		Tag      string
		Latency  bool
		Funcs    []tlsFunc
		Summary  bool
		Interval intervalData
	}{TLSTag, o.Latency, funcs, o.Top > 0, o.data("tls")})
	if err != nil {
		return nil, err
	}
	if o.Top == 0 {
		return &Tool{Program: prog}, nil
	}
	return o.jsonTool(&Tool{
		Program:  prog,
		Attached: func(int) {},
		Report: o.topReport("@tls", func(rows []statsRow) string {
			var sb strings.Builder
			fmt.Fprintf(&sb, "%-16s %-8s %-20s %8s %12s\n", "COMM", "PID", "FUNC", "CALLS", "BYTES")
			for _, r := range rows {
				if len(r.key) != 3 {
					continue
				}
				fmt.Fprintf(&sb, "%-16s %-8s %-20s %8d %12d\n", r.key[0], r.key[1], r.key[2], r.count, r.sum)
			}
			return sb.String()
		}, nil),
	}, "@tls"), nil
}

// TLSRecord is one read or write of plaintext.
type TLSRecord struct {
	Func      string
	Write     bool
	Handshake bool   // a handshake ended (Len 0, Latency since it started)
	Nsecs     uint64 // CLOCK_MONOTONIC at the probe
	PID       int
	TID       int
	UID       int
	Len       int64  // the length read or written: the call's result, <= 0 for a failed write
	Asked     int64  // for a write, the length it was given
	Latency   uint64 // nanoseconds the call took
	Comm      string
	Data      []byte // at most the capture size: Truncated when < Len
}

// Truncated reports whether the data captured is shorter than the call's.
func (r *TLSRecord) Truncated() bool { return r.Len > 0 && int64(len(r.Data)) < r.Len }

// Failed reports a write that wrote nothing (it returned 0 or an error).
func (r *TLSRecord) Failed() bool { return r.Write && !r.Handshake && r.Len <= 0 }

// Partial reports a write that wrote less than it was given.
func (r *TLSRecord) Partial() bool { return r.Write && r.Len > 0 && r.Len < r.Asked }

// TLSLibraryOf returns the TLS implementation a C function name belongs to
// (SSL_* OpenSSL, gnutls_* GnuTLS, PR_* NSS), for functions given by address.
func TLSLibraryOf(name string) (TLSLibrary, bool) {
	for _, lib := range []TLSLibrary{OpenSSL, GnuTLS, NSS, OpenSSLBIO} {
		for _, f := range tlsFuncs(lib) {
			if f.Name == name {
				return lib, true
			}
		}
	}
	return "", false
}
