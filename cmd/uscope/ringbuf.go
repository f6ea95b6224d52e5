package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// maxRingBufSize bounds --ringbuf-size: the kernel allows up to 4 GiB - 1
// page, but the BPF side compares fill levels as 32-bit immediates.
const maxRingBufSize = 1 << 30

// parseRingBufSize parses --ringbuf-size: bytes, or a number with a K, M
// or G suffix (powers of 1024); it must be a power of two of at least one
// page, as the kernel requires of a ring buffer.
func parseRingBufSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	if t != "" {
		switch strings.ToUpper(t[len(t)-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("--ringbuf-size %q: not a size; write bytes or a number with K, M or G, such as 64M", s)
	}
	if n > maxRingBufSize/uint64(mult) {
		return 0, fmt.Errorf("--ringbuf-size %q: larger than the limit of 1G", s)
	}
	size := int(n) * mult
	page := os.Getpagesize()
	if size < page || size&(size-1) != 0 {
		return 0, fmt.Errorf("--ringbuf-size %q: must be a power of two of at least %d bytes, such as 16M or 64M", s, page)
	}
	return size, nil
}
