// Package stapsdt lets a Go program declare USDT probes at run time, without
// cgo, so that bpftrace, bcc, libbpf-based tools and uscope can trace it.
//
// Usage:
//
//	p, err := stapsdt.NewProvider("myapp")
//	req, err := p.AddProbe("request__start", stapsdt.String, stapsdt.Int64)
//	err = p.Load()
//	defer p.Unload()
//	...
//	if req.Enabled() { // optional: skip building expensive arguments
//		req.Fire(path, n)
//	}
//
// A tracer then attaches with, for example,
//
//	bpftrace -p PID -e 'usdt:/proc/PID/fd/N:myapp:request__start { printf("%s %d\n", str(arg0), arg1); }'
//
// where /proc/PID/fd/N is [Provider.Path].
//
// # How it works
//
// [Provider.Load] builds a small ELF64 shared object in memory: a .text
// section with one probe site per probe, a .probes section with one 2-byte
// semaphore per probe (each in its own 4-byte slot) on a page of its own, a
// one-byte .stapsdt.base section, a non-allocated .note.stapsdt section with
// one SystemTap v3 note per probe, and a .symtab naming each site
// (PROVIDER_PROBE) and semaphore (PROVIDER_PROBE_semaphore). The image goes
// into a memfd (or, where executable memfds are forbidden, a file in a
// temporary directory) that stays open while the provider is loaded, so that
// tracers can open it as /proc/PID/fd/N or resolve the "/memfd:" mapping.
//
// The text is mapped MAP_PRIVATE with PROT_READ|PROT_EXEC and the semaphore
// page MAP_PRIVATE with PROT_READ|PROT_WRITE, both from the same file: the
// kernel's uprobe reference counters (ref_ctr_offset) only work for a counter
// in a private writable mapping of the probed inode. A tracer that attaches
// with the semaphore's file offset makes the kernel increment the counter
// while its uprobe is installed, so [Probe.Enabled] is a single atomic load
// that is true exactly while some tracer is attached.
//
// # Probe sites and the red zone
//
// On amd64 each site is the 5-byte nop 0f 1f 44 00 00 followed by ret, in a
// 16-byte slot padded with int3. Linux 6.18 rewrites a uprobe on a 5-byte nop
// into a call to a uprobe trampoline (the "optimized uprobe"), avoiding the
// int3 trap after the first hit. That call pushes a return address below the
// stack pointer, which corrupts the caller's 128-byte red zone when the nop
// sits inside a leaf function; this is why libbpf's usdt.h stopped emitting
// nop5 sites. Here the nop5 is the first instruction of a dedicated function
// that the Go trampoline reaches with CALL: at the site, the stack pointer
// points at that CALL's return address and nothing live is stored below it
// (Go does not use a red zone, and signal handlers run on the signal stack),
// so the optimized path is safe. On arm64 a site is nop; ret.
//
// The argument specs in the notes name the registers the trampoline loads:
// the System V integer argument registers %rdi, %rsi, %rdx, %rcx, %r8, %r9
// on amd64 (with the alias matching the declared width, for example
// "-4@%esi" for an [Int32] second argument) and x0 to x5 on arm64 ("-4@x1").
// Values are sign- or zero-extended to 64 bits in the register, so a tracer
// reading the full register sees the same value.
//
// # Arguments
//
// [Probe.Fire] accepts the basic integer types, bool, uintptr,
// unsafe.Pointer, string and []byte. A string or []byte is passed as a
// pointer to a NUL-terminated copy, so that a tracer's str(argN) reads it;
// the copy lives on the stack when the strings are short and is only made
// when the probe is enabled. Values of other types, including named types
// such as time.Duration, are passed as 0: convert them to a basic type.
//
// # Tracers
//
// Tracers find the probes by scanning the process's mappings: bcc and
// bpftrace resolve the "/memfd:stapsdt-PROVIDER (deleted)" mapping through
// the process's open file descriptors, so they need the PID (bpftrace -p
// PID, with the probe written usdt:/proc/PID/fd/N:PROVIDER:NAME; bpftrace -p
// PID -l 'usdt:*' lists them). Tools that take a path can use Path. The
// kernel sets a probe's semaphore when it installs the uprobe, which can be
// a moment before the tracer's BPF program runs on hits: the first hits
// after Enabled turns true may go unseen.
//
// # Concurrency
//
// [Probe.Enabled] and [Probe.Fire] may be called from any number of
// goroutines. Before [Provider.Load] and after [Provider.Unload] they report
// false and do nothing. Unload must not run while other goroutines may still
// be inside Enabled or Fire of the provider's probes: like closing a file
// that is being read, it unmaps memory they use.
//
// # Platforms
//
// Probes work on linux/amd64 and linux/arm64. Elsewhere the package builds,
// Load returns an error wrapping [errors.ErrUnsupported], and probes stay
// disabled.
//
// API:
//
//   - [NewProvider] with [WithTempDir], [WithoutMemfd]: a [Provider];
//     [Provider.AddProbe] with [ArgType]s (at most [MaxArgs]),
//     [Provider.Load], [Provider.Unload], [Provider.Path], [Provider.Name].
//   - [Probe.Fire], [Probe.Enabled].
//   - Errors: [ErrLoaded], [ErrNotLoaded], [errors.ErrUnsupported]
//     (errors.Is).
//
// The argument registers of the notes come from the architecture table
// (package arch): the C integer argument registers of the machine.
package stapsdt
