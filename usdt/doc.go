// Package usdt reads USDT (SystemTap SDT) probes from ELF objects: the call
// sites recorded in .note.stapsdt, the file offsets a uprobe attaches to,
// the semaphores (reference counters) that enable guarded probes, and the
// locations of each site's arguments, decoded from the argument-spec
// grammar of x86-64, i386 and arm64.
//
// The common path: list an object's probes, then attach to one.
//
//	sites, err := usdt.ReadSites("/usr/bin/python3.11")
//	for _, p := range usdt.Probes(sites) {
//		fmt.Println(p.Provider, p.Name, len(p.Sites))
//	}
//
// To attach a cilium/ebpf program, C with libbpf's BPF_USDT() or generated
// in Go, use the subpackage usdtbpf, which does the rest (semaphores,
// cookies, libbpf's spec maps, argument fetch instructions). This package
// itself knows nothing of BPF; what it returns plugs into any uprobe API:
// a probe's [Probe.Offsets] are the Addresses and RefCtrOffsets of
// cilium/ebpf's link.UprobeMultiOptions, and each site's [Arg] tells a
// program generator where to load the value from (register offsets come
// from the architecture table, package arch).
//
// API:
//
//   - [ReadSites] (a path), [Sites] (an *elf.File and a symbol lookup):
//     every call site, with [Site.FileOffset], [Site.SemaphoreOffset] and
//     the decoded [Site.Args].
//   - [Probes], [Probe.Offsets]: sites grouped by provider and name.
//   - [ParseArgs], [ParseArg], [Arg], [ArgKind], [Reg]: the argument-spec
//     grammar.
//   - Errors: [ErrSyntax], [ErrUnsupported], [ErrUnresolved] in an Arg's
//     Err, [ErrMalformedNote] and the others in a Site's Err, all for
//     errors.Is.
//
// Damaged or hostile input never panics: a bad note or address is reported
// in its [Site], a bad argument in its [Arg], and the rest is still decoded.
package usdt
