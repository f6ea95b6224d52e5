package tools

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/proc"
)

// Where uscope tls finds the TLS libraries to trace, and which
// implementation each file holds.

// tlsSonames are the libraries traced system-wide when no process is named.
var tlsSonames = []struct {
	soname string
	lib    TLSLibrary
}{
	{"libssl.so.3", OpenSSL},
	{"libssl.so.1.1", OpenSSL},
	{"libgnutls.so.30", GnuTLS},
	{"libnspr4.so", NSS},
	{"libcrypto.so.3", OpenSSLBIO},
	{"libcrypto.so.1.1", OpenSSLBIO},
}

// MaxTLSBytes is the largest capture of one read or write.
const MaxTLSBytes = 1024

// TLSFind says where FindTLSTargets looks.
type TLSFind struct {
	// Libs are --lib's paths or names; Addrs --addr's NAME=0xADDR, the
	// functions of the one stripped Lib.
	Libs, Addrs []string
	// PID is -p's process; Exe the first word of -c's command.
	PID int
	Exe string
}

// FindTLSTargets finds what uscope tls (and sslsniff) trace: --lib paths,
// or the objects of -p's process, or the libraries in ld.so.cache (and
// -c's executable); each file is classified by its symbols or pclntab.
// A Java program is refused unless Libs names what to trace.
func FindTLSTargets(f TLSFind) ([]TLSTarget, error) {
	out, err := tlsFindTargets(f)
	if err != nil {
		return nil, err
	}
	return tlsKeepBIO(out), nil
}

// tlsFindTargets finds the objects to trace, for tlsTargets.
func tlsFindTargets(f TLSFind) ([]TLSTarget, error) {
	var out []TLSTarget
	seen := map[string]bool{}
	add := func(path string, must bool) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		libs := tlsClassifyAll(path)
		if len(libs) == 0 {
			if must {
				return fmt.Errorf("%s holds none of the TLS functions uscope traces (SSL_write, gnutls_record_send, PR_Write, crypto/tls.(*Conn).Write)", path)
			}
			return nil
		}
		out = append(out, libs...)
		return nil
	}
	if err := tlsJavaCheck(f); err != nil {
		return nil, err
	}
	if len(f.Addrs) > 0 {
		return tlsAddrTarget(f)
	}
	for _, l := range f.Libs {
		path := l
		if !strings.ContainsRune(l, '/') {
			if c, err := proc.ReadLDCache(proc.DefaultLDCachePath); err == nil {
				if e, ok := c.Lookup(l); ok {
					path = e.Path
				}
			}
			if path == l {
				if p, err := proc.LookPath(l); err == nil {
					path = p
				}
			}
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--lib %s: %w", l, errors.Unwrap(err))
		}
		if err := add(path, true); err != nil {
			return nil, err
		}
	}
	if len(f.Libs) > 0 {
		return out, nil
	}
	if f.PID != 0 {
		objs, err := proc.Objects(f.PID)
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", f.PID, err)
		}
		for _, o := range objs {
			if o.Deleted || o.Memfd || !strings.HasPrefix(o.Path, "/") {
				continue
			}
			add(o.Path, false)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("process %d uses none of OpenSSL, GnuTLS, NSS or Go's crypto/tls (in its mappings or its executable); name the library with --lib", f.PID)
		}
		return out, nil
	}
	if f.Exe != "" {
		if p, err := proc.LookPath(f.Exe); err == nil {
			add(p, false)
		}
	}
	if c, err := proc.ReadLDCache(proc.DefaultLDCachePath); err == nil {
		for _, s := range tlsSonames {
			if e, ok := c.Lookup(s.soname); ok {
				add(e.Path, false)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("found no TLS library (libssl, libgnutls, libnspr4) in the dynamic loader's cache; name one with --lib")
	}
	return out, nil
}

// tlsAddrTarget is the target of --addr: the functions of a stripped
// library, by address, in the one file --lib names.
func tlsAddrTarget(f TLSFind) ([]TLSTarget, error) {
	if len(f.Libs) != 1 || !strings.ContainsRune(f.Libs[0], '/') {
		return nil, errors.New("--addr needs exactly one --lib with the path of the stripped library or program")
	}
	t := TLSTarget{Path: f.Libs[0], Addrs: map[string]uint64{}}
	if _, err := os.Stat(t.Path); err != nil {
		return nil, fmt.Errorf("--lib %s: %w", t.Path, errors.Unwrap(err))
	}
	for _, a := range f.Addrs {
		name, num, ok := strings.Cut(a, "=")
		addr, err := strconv.ParseUint(strings.TrimPrefix(num, "0x"), 16, 64)
		if !ok || err != nil || !strings.HasPrefix(num, "0x") {
			return nil, fmt.Errorf("--addr %q: give NAME=0xADDR, e.g. SSL_write=0x3a2f0", a)
		}
		lib, ok := TLSLibraryOf(name)
		if !ok {
			return nil, fmt.Errorf("--addr %q: %s is not a function uscope tls traces (%s, %s, %s)", a, name,
				strings.Join(TLSFunctions(OpenSSL), " "), strings.Join(TLSFunctions(GnuTLS), " "),
				strings.Join(TLSFunctions(NSS), " "))
		}
		if t.Library != "" && t.Library != lib {
			return nil, fmt.Errorf("--addr: %s is %s, but other functions given are %s", name, lib, t.Library)
		}
		t.Library = lib
		t.Addrs[name] = addr
	}
	return []TLSTarget{t}, nil
}

// tlsClassify says which TLS implementation the ELF file at path holds.
func tlsClassify(path string) (TLSLibrary, bool) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if b, err := gobin.OpenFile(path); err == nil {
		defer b.Close()
		if _, ok := b.FuncByName("crypto/tls.(*Conn).Write"); ok {
			return GoTLS, true
		}
		return "", false
	}
	f, err := elfx.Open(path, elfx.WithoutDebugFile())
	if err != nil {
		return "", false
	}
	defer f.Close()
	for _, c := range []struct {
		sym string
		lib TLSLibrary
	}{{"SSL_write", OpenSSL}, {"gnutls_record_send", GnuTLS}, {"PR_Write", NSS}} {
		if s, ok := f.Lookup(c.sym); ok && s.IsFunc() && s.Addr != 0 {
			return c.lib, true
		}
	}
	return "", false
}

// TLSHas reports whether the target defines the function name.
func TLSHas(t TLSTarget, name string) bool {
	if t.Library == GoTLS {
		b, err := gobin.OpenFile(t.Path)
		if err != nil {
			return false
		}
		defer b.Close()
		_, ok := b.FuncByName(name)
		return ok
	}
	f, err := elfx.Open(t.Path, elfx.WithoutDebugFile())
	if err != nil {
		return false
	}
	defer f.Close()
	s, ok := f.Lookup(name)
	return ok && s.IsFunc() && s.Addr != 0
}

// errJavaTLS is the one line `uscope tls` gives for a Java program: JSSE,
// Java's TLS, is Java code run by the JVM, with no native function that sees
// the plaintext.
func errJavaTLS(what string) error {
	return fmt.Errorf("%s is a Java program: its TLS (JSSE) is Java code compiled by the JVM, with no native function to probe; uscope tls does not support it (use -Djavax.net.debug=ssl:record:plaintext, or give --lib for a native library such as netty-tcnative's libssl)", what)
}

// tlsJavaCheck refuses, whatever else is asked, a -p process or -c command
// that is a Java program, unless --lib names what to trace: such a program
// may map libssl for other reasons, and tracing it would print nothing of
// its TLS traffic.
func tlsJavaCheck(f TLSFind) error {
	if len(f.Libs) > 0 {
		return nil
	}
	if f.PID != 0 {
		if objs, err := proc.Objects(f.PID); err == nil {
			for _, o := range objs {
				if filepath.Base(o.Path) == "libjvm.so" {
					return errJavaTLS(fmt.Sprintf("process %d", f.PID))
				}
			}
		}
		return nil
	}
	if f.Exe != "" {
		p, err := proc.LookPath(f.Exe)
		if err != nil {
			return nil
		}
		if isJavaLauncher(p) {
			return errJavaTLS(fmt.Sprintf("command %s", f.Exe))
		}
	}
	return nil
}

// isJavaLauncher reports whether the executable at path is a JVM launcher
// (java, or a jpackage'd application): it links the JDK's libjli.so.
func isJavaLauncher(path string) bool {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, l := range libs {
		if l == "libjli.so" {
			return true
		}
	}
	return false
}

// tlsClassifyAll returns the TLS implementations the object at path holds:
// a library or program with SSL_write may also hold libcrypto's BIO
// functions (statically linked OpenSSL); libcrypto holds only those.
func tlsClassifyAll(path string) []TLSTarget {
	var out []TLSTarget
	if lib, ok := tlsClassify(path); ok {
		out = append(out, TLSTarget{Library: lib, Path: path})
		if lib != OpenSSL {
			return out
		}
	}
	if off, ok := bioMethodOffset(path); ok {
		out = append(out, TLSTarget{Library: OpenSSLBIO, Path: path, BIOMethodOffset: off})
	}
	return out
}

// tlsKeepBIO drops the BIO targets when no OpenSSL target is traced: SSL
// BIOs come from libssl, so without it there are none to see.
func tlsKeepBIO(ts []TLSTarget) []TLSTarget {
	for _, t := range ts {
		if t.Library == OpenSSL {
			return ts
		}
	}
	var out []TLSTarget
	for _, t := range ts {
		if t.Library != OpenSSLBIO {
			out = append(out, t)
		}
	}
	return out
}

// bioMethodOffset finds, in the object at path, the offset of the method
// pointer in OpenSSL's struct bio_st from the code of BIO_method_type,
// which is "return b->method->type;": on amd64
//
//	mov OFF(%rdi),%rax
//	mov (%rax),%eax
//
// ok is false when the object has no BIO_write or the code is not that.
func bioMethodOffset(path string) (int, bool) {
	f, err := elfx.Open(path, elfx.WithoutDebugFile())
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if f.Machine() != elf.EM_X86_64 {
		return 0, false
	}
	if s, ok := f.Lookup("BIO_write"); !ok || !s.IsFunc() || s.Addr == 0 {
		return 0, false
	}
	s, ok := f.Lookup("BIO_method_type")
	if !ok || !s.IsFunc() || s.Addr == 0 {
		return 0, false
	}
	code := make([]byte, 32)
	n, _ := f.ReadAtAddr(code, s.Addr)
	code = code[:n]
	off := 0
	if len(code) >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa {
		off = 4 // endbr64
	}
	first, err := x86asm.Decode(code[off:], 64)
	if err != nil || first.Op != x86asm.MOV {
		return 0, false
	}
	dst, ok1 := first.Args[0].(x86asm.Reg)
	src, ok2 := first.Args[1].(x86asm.Mem)
	if !ok1 || !ok2 || src.Base != x86asm.RDI || src.Index != 0 || src.Disp < 0 || src.Disp > 256 || first.DataSize != 64 {
		return 0, false
	}
	second, err := x86asm.Decode(code[off+first.Len:], 64)
	if err != nil || second.Op != x86asm.MOV {
		return 0, false
	}
	if m, ok := second.Args[1].(x86asm.Mem); !ok || m.Base != dst || m.Disp != 0 || m.Index != 0 {
		return 0, false
	}
	return int(src.Disp), true
}
