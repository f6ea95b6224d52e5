package elfx_test

import (
	"fmt"
	"log"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/proc"
)

// libc returns the path of the C library, found as the dynamic loader
// finds it.
func libc() string {
	c, err := proc.ReadLDCache(proc.DefaultLDCachePath)
	if err != nil {
		log.Fatal(err)
	}
	e, ok := c.Lookup("libc.so.6")
	if !ok {
		log.Fatal("no libc.so.6 in ld.so.cache")
	}
	return e.Path
}

// Open an object, look up a function by name and find the file offset a
// uprobe on it takes.
func ExampleFile_Lookup() {
	f, err := elfx.Open(libc(), elfx.WithoutDebugFile())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, ok := f.Lookup("malloc")
	if !ok {
		log.Fatal("no malloc")
	}
	off, err := f.AddrToOffset(s.Addr)
	fmt.Println(s.Name, s.IsFunc(), err == nil && off <= s.Addr)
	// Output: malloc true true
}

// Name the function an address is in: symbolization of a stack frame.
func ExampleFile_FuncAt() {
	f, err := elfx.Open(libc(), elfx.WithoutDebugFile())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, _ := f.Lookup("getpid")
	fn, off, ok := f.FuncAt(s.Addr + 4)
	fmt.Println(fn.Addr == s.Addr, off, ok)
	// Output: true 4 true
}

// Demangle C++ symbol names the way c++filt does.
func ExampleDemangle() {
	for _, n := range []string{"_ZN3foo3barEv", "_ZNSt6vectorIiSaIiEE9push_backERKi", "main"} {
		fmt.Println(elfx.IsMangled(n), elfx.Demangle(n))
	}
	// Output:
	// true foo::bar()
	// true std::vector<int, std::allocator<int> >::push_back(int const&)
	// false main
}

// Decode a function's code where it is mapped, without copying it, then
// give back the pages that made resident.
func ExampleFile_ViewAtAddr() {
	f, err := elfx.Open(libc(), elfx.WithoutDebugFile())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, _ := f.Lookup("getpid")
	var first [4]byte
	var n int
	err = f.ViewAtAddr(s.Addr, s.Size, func(code []byte) {
		n = copy(first[:], code) // fn must not keep code itself
	})
	f.ReleasePages()
	fmt.Println(err, n == len(first) || uint64(n) == s.Size)
	// Output: <nil> true
}

// ExampleFile_FrameRows counts the rows of libc's call frame information
// whose CFA is the stack pointer plus an offset (code without a frame
// pointer).
func ExampleFile_FrameRows() {
	f, err := elfx.Open("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		return
	}
	defer f.Close()
	bySP := 0
	_ = f.FrameRows(func(r elfx.FrameRow) bool {
		if r.CFA.Kind == elfx.RuleCFA && r.CFA.Reg == 7 {
			bySP++
		}
		return true
	})
	fmt.Println(bySP > 0)
}

// Find where a function's caller frame is at its first instruction: the
// CFA is the stack pointer (DWARF register 7 on x86-64) plus 8, the
// return address is saved at CFA-8.
func ExampleFile_FrameRowAt() {
	f, err := elfx.Open(libc(), elfx.WithoutDebugFile())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, ok := f.Lookup("getpid")
	if !ok {
		log.Fatal("no getpid")
	}
	r, ok, err := f.FrameRowAt(s.Addr)
	if err != nil || !ok {
		log.Fatal("no call frame information for getpid: ", err)
	}
	fmt.Println(r.CFA.Kind == elfx.RuleCFA, r.CFA.Reg, r.CFA.Offset, r.RA.Kind == elfx.RuleOffset, r.RA.Offset)
	// Output: true 7 8 true -8
}
