package resolve

import (
	"bufio"
	"io"
	"os"
	"testing"
)

const libjvmPath = "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"

// BenchmarkListLibjvm lists every function and USDT probe of libjvm.so the
// way `uscope list` does, from opening the file to writing the lines.
func BenchmarkListLibjvm(b *testing.B) {
	if _, err := os.Stat(libjvmPath); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		r := New(Options{})
		ts, err := r.Targets(libjvmPath)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(io.Discard, 256<<10)
		var line []byte
		n := 0
		err = r.List(ts, ListOptions{}, func(l *Listing) error {
			line = append(l.AppendProbe(line[:0]), '\n')
			w.Write(line)
			n++
			return nil
		})
		if err != nil || n < 40000 {
			b.Fatalf("%d lines, %v", n, err)
		}
		w.Flush()
		r.Close()
	}
}

// BenchmarkResolveLibjvm resolves one function of libjvm.so to its site,
// from a cold Resolver.
func BenchmarkResolveLibjvm(b *testing.B) {
	if _, err := os.Stat(libjvmPath); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		r := New(Options{})
		sites, err := r.Resolve(apFor("uprobe", libjvmPath, "JVM_GC"))
		if err != nil || len(sites) != 1 {
			b.Fatal(sites, err)
		}
		r.Close()
	}
}

// BenchmarkResolveLibjvmAll resolves `uprobe:libjvm.so:*`, every function of
// libjvm.so, from a cold Resolver: symbol tables, demangling, entry
// placement and the sites handed to the attacher (issue 22's scale case).
func BenchmarkResolveLibjvmAll(b *testing.B) {
	if _, err := os.Stat(libjvmPath); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := New(Options{})
		sites, err := r.Resolve(apFor("uprobe", libjvmPath, "*"))
		if err != nil || len(sites) < 40000 {
			b.Fatal(len(sites), err)
		}
		r.Close()
	}
}
