package usdt

import (
	"cmp"
	"slices"
)

// Probe is one named probe of an object with all its call sites.
type Probe struct {
	Provider, Name string
	// Sites are the probe's call sites, ordered by address.
	Sites []Site
}

// Probes groups sites by provider and name. The probes are sorted by
// provider, then name; the sites of each by address (then file offset),
// keeping note order among equals. The sites are copied, not shared.
func Probes(sites []Site) []Probe {
	index := make(map[[2]string]int)
	var probes []Probe
	for _, s := range sites {
		k := [2]string{s.Provider, s.Name}
		i, ok := index[k]
		if !ok {
			i = len(probes)
			index[k] = i
			probes = append(probes, Probe{Provider: s.Provider, Name: s.Name})
		}
		probes[i].Sites = append(probes[i].Sites, s)
	}
	slices.SortFunc(probes, func(a, b Probe) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Name, b.Name))
	})
	for _, p := range probes {
		slices.SortStableFunc(p.Sites, func(a, b Site) int {
			return cmp.Or(cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.FileOffset, b.FileOffset))
		})
	}
	return probes
}

// Offsets returns the file offsets of the probe's usable sites (those
// without Err) and, index for index, their semaphores' file offsets (0 for
// none): the Addresses and RefCtrOffsets of cilium/ebpf's
// link.UprobeMultiOptions. Skipped sites are the caller's to report.
func (p Probe) Offsets() (addrs, refCtrOffsets []uint64) {
	for _, s := range p.Sites {
		if s.Err != nil {
			continue
		}
		addrs = append(addrs, s.FileOffset)
		refCtrOffsets = append(refCtrOffsets, s.SemaphoreOffset)
	}
	return addrs, refCtrOffsets
}
