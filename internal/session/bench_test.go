package session

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/resolve"
)

// benchSession compiles src (probes on libc, which needs no root to
// resolve) into a session that prints to w, without loading anything.
func benchSession(b testing.TB, src string, w io.Writer) *session {
	b.Helper()
	r := resolve.New(resolve.Options{})
	b.Cleanup(func() { r.Close() })
	plan, err := compile.Compile(mustParse(b, src), compile.Options{Resolver: r, Multi: true, TriggerArgOffset: triggerArgOffset})
	if err != nil {
		b.Fatal(err)
	}
	s := &session{plan: plan, resolver: r, out: newPrinter(w, false)}
	s.dec = newDecoder(s)
	return s
}

// BenchmarkDecodePrintf is the reader's work for one record of
// printf("%d %d\n", arg0, tid): decode, format, buffered write.
func BenchmarkDecodePrintf(b *testing.B) {
	lib := libc(b)
	s := benchSession(b, `uprobe:`+lib+`:getpid { printf("%d %d\n", arg0, tid); }`, io.Discard)
	pd := s.plan.Printfs[0]
	rec := make([]byte, pd.Size)
	binary.LittleEndian.PutUint64(rec, compile.RecPrintf<<32)
	binary.LittleEndian.PutUint64(rec[pd.Args[0].Offset:], 123456)
	binary.LittleEndian.PutUint64(rec[pd.Args[1].Offset:], 4242)
	loopRecords(b, s, rec)
}

// BenchmarkDecodePrintfString is the same for printf("%s %d\n", str, int).
func BenchmarkDecodePrintfString(b *testing.B) {
	lib := libc(b)
	s := benchSession(b, `uprobe:`+lib+`:getenv { printf("%s %d\n", str(arg0), tid); }`, io.Discard)
	pd := s.plan.Printfs[0]
	rec := make([]byte, pd.Size)
	binary.LittleEndian.PutUint64(rec, compile.RecPrintf<<32)
	copy(rec[pd.Args[0].Offset:], "LD_LIBRARY_PATH\x00")
	binary.LittleEndian.PutUint64(rec[pd.Args[1].Offset:], 4242)
	loopRecords(b, s, rec)
}

// loopRecords handles rec b.N times. Besides ns/op (wall time, which a
// shared machine inflates) it reports cpu-ns/op, the process's CPU time
// per record.
func loopRecords(b *testing.B, s *session, rec []byte) {
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		if err := s.handle(rec); err != nil {
			b.Fatal(err)
		}
	}
	s.out.flush()
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuNanos() int64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// The reader decodes and prints a printf record of integers and strings
// without allocating.
func TestDecodePrintfNoAlloc(t *testing.T) {
	lib := libc(t)
	var out bytes.Buffer
	s := benchSession(t, `uprobe:`+lib+`:getenv { printf("%s %d %x\n", str(arg0), tid, arg1); }`, &out)
	pd := s.plan.Printfs[0]
	rec := make([]byte, pd.Size)
	binary.LittleEndian.PutUint64(rec, compile.RecPrintf<<32)
	copy(rec[pd.Args[0].Offset:], "HOME\x00")
	binary.LittleEndian.PutUint64(rec[pd.Args[1].Offset:], 4242)
	binary.LittleEndian.PutUint64(rec[pd.Args[2].Offset:], 0xbeef)
	if err := s.handle(rec); err != nil { // grow the output buffer once
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _ = s.handle(rec) }); n != 0 {
		t.Errorf("handle allocates %.1f times per printf record", n)
	}
	s.out.flush()
	if got, want := out.String()[:len("HOME 4242 beef\n")], "HOME 4242 beef\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
