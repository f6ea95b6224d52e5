package proc_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/uscope/uscope/proc"
)

// Resolve a library short name the way the dynamic loader does, from
// /etc/ld.so.cache.
func ExampleLDCache_Lookup() {
	c, err := proc.ReadLDCache(proc.DefaultLDCachePath)
	if err != nil {
		log.Fatal(err)
	}
	e, ok := c.Lookup("libc.so.6")
	fmt.Println(ok, filepath.Base(e.Path))
	// Output: true libc.so.6
}

// Parse one line of /proc/PID/maps.
func ExampleParseMapsLine() {
	m, err := proc.ParseMapsLine("7f3a1c000000-7f3a1c028000 r-xp 00028000 fe:01 1234 /usr/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%#x-%#x %v offset %#x inode %d %s\n", m.Start, m.End, m.Perms, m.Offset, m.Inode, m.Path)
	// Output: 0x7f3a1c000000-0x7f3a1c028000 r-xp offset 0x28000 inode 1234 /usr/lib/x86_64-linux-gnu/libc.so.6
}

// List the ELF objects a process maps executable, with the paths to attach
// uprobes through and their load bias.
func ExampleObjects() {
	objs, err := proc.Objects(os.Getpid())
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range objs {
		if o.Exe {
			fmt.Println("executable found; attach through", filepath.Dir(filepath.Dir(o.OpenPath)) != "")
		}
	}
	// Output: executable found; attach through true
}

// Find a program on PATH, as a shell would.
func ExampleLookPath() {
	p, err := proc.LookPath("sh")
	fmt.Println(err == nil && filepath.IsAbs(p))
	// Output: true
}
