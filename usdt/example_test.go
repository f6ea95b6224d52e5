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

// Decode a note's argument string: each argument's width, signedness and
// where its value lives.
func ExampleParseArgs() {
	for _, a := range usdt.ParseArgs("-4@-20(%rbp) 8@%rax 2@$5 -8@(%rdi,%rsi,8)", elf.EM_X86_64) {
		fmt.Printf("%v: %v, register %s at pt_regs+%d\n", a, a.Kind, a.Reg, a.Reg.PtRegsOffset)
	}
	// Output:
	// s32 -20(%rbp): mem, register rbp at pt_regs+32
	// u64 %rax: reg, register rax at pt_regs+80
	// u16 $5: const, register  at pt_regs+0
	// s64 (%rdi,%rsi,8): mem-index, register rdi at pt_regs+112
}

// List an object's USDT probes, one line per probe as uscope list prints
// them.
func ExampleReadSites() {
	sites, err := usdt.ReadSites("/usr/bin/python3.11")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range usdt.Probes(sites) {
		fmt.Printf("usdt:/usr/bin/python3.11:%s:%s (%d sites)\n", p.Provider, p.Name, len(p.Sites))
	}
}

// Group sites into probes and get what link.UprobeMultiOptions takes.
func ExampleProbe_Offsets() {
	sites := []usdt.Site{
		{Provider: "app", Name: "req", Addr: 0x1200, FileOffset: 0x200, SemaphoreOffset: 0x3010},
		{Provider: "app", Name: "done", Addr: 0x1300, FileOffset: 0x300},
		{Provider: "app", Name: "req", Addr: 0x1100, FileOffset: 0x100, SemaphoreOffset: 0x3010},
	}
	for _, p := range usdt.Probes(sites) {
		addrs, refs := p.Offsets()
		fmt.Printf("%s:%s addresses %#x ref_ctr %#x\n", p.Provider, p.Name, addrs, refs)
	}
	// Output:
	// app:done addresses [0x300] ref_ctr [0x0]
	// app:req addresses [0x100 0x200] ref_ctr [0x3010 0x3010]
}

// The arm64 forms of the grammar: the size and the register or memory
// operand in brackets.
func ExampleParseArg() {
	for _, s := range []string{"-4@[sp, 12]", "8@x3", "4@w1", "-8@[x0, x1]"} {
		a := usdt.ParseArg(s, elf.EM_AARCH64)
		fmt.Printf("%s: %v in %s (+%d), size %d, signed %v\n", s, a.Kind, a.Reg, a.Reg.PtRegsOffset, a.Size, a.Signed)
	}
	// Output:
	// -4@[sp, 12]: mem in sp (+248), size 4, signed true
	// 8@x3: reg in x3 (+24), size 8, signed false
	// 4@w1: reg in x1 (+8), size 4, signed false
	// -8@[x0, x1]: mem-index in x0 (+0), size 8, signed true
}
