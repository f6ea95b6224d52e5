package gobin_test

import (
	"fmt"
	"log"
	"os"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/uscope/uscope/gobin"
)

// open inspects the running test binary: go test links it without a
// symbol table (-s -w), so everything below comes from .gopclntab, as for
// any stripped Go binary.
func open() *gobin.Binary {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	b, err := gobin.OpenFile(exe)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// Build information of a Go executable.
func ExampleOpenFile() {
	b := open()
	defer b.Close()
	fmt.Println(b.GoVersion == runtime.Version(), b.GoVersionAtLeast(1, 17))
	// Output: true true
}

// Read a function from the pclntab and where a uprobe on it goes.
func ExampleBinary_FuncByName() {
	b := open()
	defer b.Close()
	fn, ok := b.FuncByName("github.com/uscope/uscope/gobin.OpenFile")
	if !ok {
		log.Fatal("not found")
	}
	off, err := b.FileOffset(fn.Entry)
	fmt.Println(fn.Size() > 0, err == nil && off > 0)
	// Output: true true
}

// Where entry and return probes of a Go function belong: after the stack
// check, and on every RET (Go never gets a kernel uretprobe).
func ExampleBinary_RetSites() {
	b := open()
	defer b.Close()
	fn, ok := b.FuncByName("github.com/uscope/uscope/gobin.OpenFile")
	if !ok {
		log.Fatal("not found")
	}
	entry, moved, err := b.PrologueEnd(fn)
	if err != nil {
		log.Fatal(err) // gobin.ErrUnsupportedArch off amd64
	}
	rets, err := b.RetSites(fn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(moved && entry > fn.Entry, len(rets) > 0)
	// Output: true true
}

// Every function of the binary, from its pclntab.
func ExampleBinary_Functions() {
	b := open()
	defer b.Close()
	funcs, err := b.Functions()
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for _, fn := range funcs {
		if fn.Name == "main.main" || fn.Name == "runtime.main" {
			n++
		}
	}
	fmt.Println(n)
	// Output: 2
}

// The dynamic type of an interface value: its first word points at the
// type descriptor (for an empty interface) whose name TypeName reads.
func ExampleBinary_TypeName() {
	b := open()
	defer b.Close()
	var v any = map[string][]int{}
	typ := (*[2]uintptr)(unsafe.Pointer(&v))[0]
	// Take off the load bias (zero unless the test binary is a PIE).
	fn, _ := b.FuncByName("github.com/uscope/uscope/gobin_test.ExampleBinary_TypeName")
	bias := uint64(reflect.ValueOf(ExampleBinary_TypeName).Pointer()) - fn.Entry
	name, err := b.TypeName(uint64(typ) - bias)
	fmt.Println(name, err)
	// Output: map[string][]int <nil>
}

// How deep a Go function's frame is at each instruction, from pclntab's SP
// table: a function that keeps a frame pointer pushes rbp first.
func ExampleBinary_SPDeltas() {
	b := open()
	defer b.Close()
	fn, ok := b.FuncByName("github.com/uscope/uscope/gobin.OpenFile")
	if !ok {
		log.Fatal("not found")
	}
	deltas, err := b.SPDeltas(fn)
	fmt.Println(err == nil, len(deltas) > 1, deltas[0].Delta, b.SavesFramePointer(fn))
	// Output: true true 0 true
}
