package usdtbpf_test

import (
	"debug/elf"
	"fmt"
	"log"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/usdt"
	"github.com/uscope/uscope/usdt/usdtbpf"
)

// Attach a libbpf-style C program (compiled with clang -target bpf, using
// BPF_USDT from <bpf/usdt.bpf.h>) to CPython's gc__start probe.
func ExampleAttach() {
	spec, err := usdtbpf.LoadCollectionSpec("gc.bpf.o")
	if err != nil {
		log.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		log.Fatal(err)
	}
	defer coll.Close()
	specs, err := usdtbpf.NewSpecs(coll)
	if err != nil {
		log.Fatal(err)
	}
	l, err := usdtbpf.Attach(coll.Programs["gc_start"], usdtbpf.Target{Path: "/usr/bin/python3.11"},
		"python", "gc__start", &usdtbpf.Options{Specs: specs})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println("attached to", len(l.Sites()), "sites")
}

// The instructions that read an argument spilled to the stack, as a
// program generator emits them (R6 holds the context).
func ExampleFetchArg() {
	arg := usdt.ParseArgs("-4@-20(%rbp)", elf.EM_X86_64)[0]
	insns, err := usdtbpf.FetchArg(arg, 0x1139, asm.R6, -8)
	if err != nil {
		log.Fatal(err)
	}
	for _, ins := range insns {
		fmt.Println(ins)
	}
	// Output:
	// LdXMemDW dst: r0 src: r6 off: 32 imm: 0
	// AddImm dst: r0 imm: -20
	// StMemDW dst: rfp src: r0 off: -8 imm: 0
	// MovReg dst: r3 src: r0
	// MovReg dst: r1 src: rfp
	// AddImm dst: r1 imm: -8
	// MovImm dst: r2 imm: 4
	// Call FnProbeReadUser
	// LdXMemW dst: r0 src: rfp off: -8 imm: 0
	// LShImm dst: r0 imm: 32
	// ArShImm dst: r0 imm: 32
}

// One site's struct __bpf_usdt_spec, as Attach writes it for libbpf's
// bpf_usdt_arg.
func ExampleEncodeSpec() {
	site := usdt.Site{Provider: "app", Name: "req", Args: usdt.ParseArgs("8@%rdi -4@%esi", elf.EM_X86_64)}
	b, err := usdtbpf.EncodeSpec(site, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes; arg0 reg_off %d; arg1 reg_off %d signed %d bitshift %d\n", len(b), b[12], b[16+12], b[16+14], b[16+15])
	// Output: 208 bytes; arg0 reg_off 112; arg1 reg_off 104 signed 1 bitshift 32
}
