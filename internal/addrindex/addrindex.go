// Package addrindex indexes items by address: elfx's and resolve's
// address-to-symbol lookups.
package addrindex

import (
	"slices"
	"sort"
)

// Build sorts n items by address (radix sort of their indexes; no item
// moves) and keeps, of the items that share an address, the one prefer
// ranks first. It returns the indexes in address order.
func Build(n int, addr func(i int) uint64, prefer func(a, b int) bool) []int32 {
	keys := make([]addrKey, n)
	for i := range keys {
		keys[i] = addrKey{addr(i), int32(i)}
	}
	keys = radixSort(keys)
	out := make([]int32, 0, n)
	for i := 0; i < len(keys); {
		best := keys[i].i
		j := i + 1
		for ; j < len(keys) && keys[j].addr == keys[i].addr; j++ {
			if prefer(int(keys[j].i), int(best)) {
				best = keys[j].i
			}
		}
		out = append(out, best)
		i = j
	}
	return slices.Clip(out)
}

// Containing searches an index made by Build for the item that contains
// addr: the last one starting at or before addr whose span (start, size)
// covers it, walking back a little over nested symbols; a zero-sized item
// contains the addresses up to the next item. It returns the item's index.
func Containing(idx []int32, addr uint64, span func(i int) (start, size uint64)) (int, bool) {
	i := sort.Search(len(idx), func(i int) bool { start, _ := span(int(idx[i])); return start > addr }) - 1
	for k := i; k >= 0 && k > i-32; k-- {
		start, size := span(int(idx[k]))
		if addr-start < size || (size == 0 && k == i) {
			return int(idx[k]), true
		}
	}
	return 0, false
}

type addrKey struct {
	addr uint64
	i    int32
}

// radixSort sorts keys by address, stably, one byte at a time, skipping the
// bytes on which all keys agree. It returns the sorted slice (keys or a
// scratch buffer).
func radixSort(keys []addrKey) []addrKey {
	if len(keys) < 64 {
		slices.SortStableFunc(keys, func(a, b addrKey) int {
			switch {
			case a.addr < b.addr:
				return -1
			case a.addr > b.addr:
				return 1
			}
			return 0
		})
		return keys
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range keys {
		or |= k.addr
		and &= k.addr
	}
	diff := or ^ and
	buf := make([]addrKey, len(keys))
	src, dst := keys, buf
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xff == 0 {
			continue
		}
		var count [257]int
		for _, k := range src {
			count[(k.addr>>shift)&0xff+1]++
		}
		for i := 1; i < 257; i++ {
			count[i] += count[i-1]
		}
		for _, k := range src {
			b := (k.addr >> shift) & 0xff
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}
