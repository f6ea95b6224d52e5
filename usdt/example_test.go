package usdt_test

import (
	"debug/elf"
	"fmt"
	"log"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/uscope/uscope/usdt"
)

// This example attaches one BPF program to every call site of a USDT probe
// with plain cilium/ebpf: the sites' file offsets become the uprobe
// addresses, their semaphores' file offsets the kernel reference counters
// (so *_ENABLED() guards turn on, in running and future processes), and a
// cookie per site tells the program which argument layout applies.
func ExampleSites() {
	const path = "/usr/bin/python3.11"
	f, err := elf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sites, err := usdt.Sites(f, nil) // nil: resolve symbols from f itself
	if err != nil {
		log.Fatal(err)
	}

	var probe usdt.Probe
	for _, p := range usdt.Probes(sites) {
		if p.Provider == "python" && p.Name == "function__entry" {
			probe = p
		}
	}
	var opts link.UprobeMultiOptions
	for i, s := range probe.Sites {
		if s.Err != nil {
			log.Printf("skipping %s:%s at %#x: %v", s.Provider, s.Name, s.Addr, s.Err)
			continue
		}
		opts.Addresses = append(opts.Addresses, s.FileOffset)
		opts.RefCtrOffsets = append(opts.RefCtrOffsets, s.SemaphoreOffset)
		opts.Cookies = append(opts.Cookies, uint64(i))
		for n, a := range s.Args {
			// a.Kind, a.Reg.PtRegsOffset, a.Offset, a.Size and a.Signed say
			// how site i's program code loads argument n.
			fmt.Printf("site %d arg%d: %v\n", i, n, a)
		}
	}
	// (Probe.Offsets gives the same two slices without the cookies.)

	var prog *ebpf.Program // Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceUprobeMulti
	ex, err := link.OpenExecutable(path)
	if err != nil {
		log.Fatal(err)
	}
	l, err := ex.UprobeMulti(nil, prog, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
}
