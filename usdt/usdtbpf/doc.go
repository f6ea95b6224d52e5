// Package usdtbpf attaches cilium/ebpf programs to USDT probes: libbpf's
// bpf_program__attach_usdt for Go.
//
// The common path, for a BPF program written in C with libbpf's
// <bpf/usdt.bpf.h> (BPF_USDT(), bpf_usdt_arg(), bpf_usdt_cookie()):
//
//	spec, err := usdtbpf.LoadCollectionSpec("prog.bpf.o")
//	coll, err := ebpf.NewCollection(spec)
//	specs, err := usdtbpf.NewSpecs(coll) // libbpf's __bpf_usdt_specs maps
//	l, err := usdtbpf.Attach(coll.Programs["handler"],
//		usdtbpf.Target{Path: "/usr/bin/python3.11"}, "python", "gc__start",
//		&usdtbpf.Options{Specs: specs})
//	defer l.Close()
//
// Attach finds every call site of the probe in the target (a file, or every
// object a process maps), writes each site's argument locations to libbpf's
// spec maps in usdt.bpf.h's format, and attaches the program with
// uprobe_multi (one perf-event uprobe per site on kernels before 6.6), with
// the site's spec id as the attach cookie and its semaphore raised through
// the kernel's ref_ctr_offset. The C program reads its arguments unchanged.
//
// For programs generated in Go with cilium/ebpf's asm package, as uscope's
// compiler does, [FetchArg] turns one argument of one site into
// instructions; [Lookup] lists the sites and Attach without Specs numbers
// their cookies in the same order.
//
// API:
//
//   - [LoadCollectionSpec], [Prepare]: read a libbpf USDT object so that
//     cilium/ebpf loads it (weak symbols, hidden functions, the
//     LINUX_HAS_BPF_COOKIE kconfig extern, the attach type).
//   - [NewSpecs], [Specs]: libbpf's maps in a loaded collection.
//   - [Attach], [Target], [Options], [Link]: attach and detach.
//   - [Lookup]: the sites Attach would use.
//   - [FetchArg], [ReadUser]: argument fetch as asm instructions.
//   - [EncodeSpec]: one site's struct __bpf_usdt_spec.
//   - Errors: [ErrNotFound], [ErrCannotFetch], [ErrSpecFormat] (errors.Is);
//     attach failures name the site and the fix.
//
// Limits of libbpf's format: an argument that no reader of usdt.bpf.h can
// fetch (a vector register, a memory operand without base register) and,
// with libbpf before 1.5, a base+index*scale operand make bpf_usdt_arg()
// return -EINVAL for that argument only; [FetchArg] reads them all.
package usdtbpf
