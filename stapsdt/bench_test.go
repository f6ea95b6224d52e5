//go:build linux && (amd64 || arm64)

package stapsdt

import "testing"

// benchProbe loads a provider with one (String, Int64) probe for a
// benchmark.
func benchProbe(b *testing.B) *Probe {
	b.Helper()
	p, err := NewProvider("bench")
	if err != nil {
		b.Fatal(err)
	}
	pr, err := p.AddProbe("hit", String, Int64)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Load(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Unload() })
	return pr
}

// BenchmarkFireDisabled is the cost a program pays for a probe nobody
// traces: building the arguments and one semaphore load.
func BenchmarkFireDisabled(b *testing.B) {
	pr := benchProbe(b)
	path := "/api/items/42"
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pr.Fire(path, int64(i))
	}
}

// BenchmarkEnabled is the semaphore check alone.
func BenchmarkEnabled(b *testing.B) {
	pr := benchProbe(b)
	n := 0
	for b.Loop() {
		if pr.Enabled() {
			n++
		}
	}
	if n != 0 {
		b.Fatal("probe enabled")
	}
}

// BenchmarkFireEnabledNoUprobe forces the semaphore on without a tracer:
// the cost of converting the arguments, copying the string and calling the
// site (nop5; ret), i.e. Fire's own share of a traced hit.
func BenchmarkFireEnabledNoUprobe(b *testing.B) {
	pr := benchProbe(b)
	setSemaphore(pr, 1)
	defer setSemaphore(pr, 0)
	path := "/api/items/42"
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pr.Fire(path, int64(i))
	}
}

// BenchmarkFireEnabledIntsNoUprobe is BenchmarkFireEnabledNoUprobe
// without a string argument.
func BenchmarkFireEnabledIntsNoUprobe(b *testing.B) {
	p, err := NewProvider("benchints")
	if err != nil {
		b.Fatal(err)
	}
	pr, err := p.AddProbe("hit", Int64, Int64)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Load(); err != nil {
		b.Fatal(err)
	}
	defer p.Unload()
	setSemaphore(pr, 1)
	defer setSemaphore(pr, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pr.Fire(int64(i), int64(-i))
	}
}
