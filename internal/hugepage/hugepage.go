// Package hugepage asks the kernel for transparent huge pages under the
// backing array of a large slice that is about to be filled.
//
// The first touch of every fresh 4 KiB page of the Go heap is a page fault,
// and on virtual machines a fault costs 10-20 µs (bench/pipeline/pagefault.c):
// the 40,000 sites of a wildcard over a large library take 12 MB, 3,000
// faults. With the system's THP mode "madvise" (Debian's default), a range
// advised MADV_HUGEPAGE is faulted in 2 MiB at a time. The Go runtime does
// not advise its heap, so callers that allocate such slices do.
package hugepage

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeSize is the size of a transparent huge page on amd64 and arm64 (4 KiB
// base pages).
const hugeSize = 2 << 20

// Advise advises the whole 2 MiB-aligned pages inside the backing array of
// s, up to its capacity, MADV_HUGEPAGE, and reports whether it advised any:
// nothing under 4 MiB, and nothing where the kernel refuses (THP disabled
// or unsupported). Pages already touched stay as they are; the advice
// only changes how the untouched ones are faulted in. It never changes the
// slice's contents.
func Advise[T any](s []T) bool {
	if cap(s) == 0 {
		return false
	}
	var zero T
	size := uintptr(cap(s)) * unsafe.Sizeof(zero)
	if size < 2*hugeSize {
		return false
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(p)
	lo := (start + hugeSize - 1) &^ (hugeSize - 1)
	hi := (start + size) &^ (hugeSize - 1)
	if hi <= lo {
		return false
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo)
	return unix.Madvise(b, unix.MADV_HUGEPAGE) == nil
}
