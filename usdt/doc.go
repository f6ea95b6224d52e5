// Package usdt reads USDT (SystemTap SDT) probes from ELF objects: the call
// sites recorded in .note.stapsdt, the file offsets a uprobe attaches to,
// the semaphores (reference counters) that enable guarded probes, and the
// locations of each site's arguments, decoded from the argument-spec
// grammar of x86-64, i386 and arm64.
//
// The package works on a standard library *elf.File and knows nothing of
// BPF; what it returns plugs into any uprobe API. With cilium/ebpf, a
// probe's [Probe.Offsets] are the Addresses and RefCtrOffsets of
// link.UprobeMultiOptions, and each site's [Arg] tells a program generator
// where to load the value from.
//
// Damaged or hostile input never panics: a bad note or address is reported
// in its [Site], a bad argument in its [Arg], and the rest is still decoded.
package usdt
