// Command firer is a test and benchmark target for package stapsdt: a
// CGO_ENABLED=0 program that declares USDT probes at run time and fires them
// with known values, so tests can check what tracers read.
//
// Build it with
//
//	CGO_ENABLED=0 go build -o firer github.com/uscope/uscope/stapsdt/internal/firer
//
// It loads provider "myapp" and prints one line per event on stdout:
//
//	ready pid=PID path=/proc/PID/fd/N    after Load; PATH is the ELF tracers open
//	enabled PROBE true|false             whenever a probe's Enabled() changes
//	unloaded                             after Unload, just before exiting
//
// It exits when stdin reaches EOF or on SIGINT/SIGTERM. Probes, fired every
// -interval:
//
//	request__start(String path, Int64 n)   n = 1, 2, 3 ...; path = "/api/items/<n>"
//	types(Int8, Uint8, Int16, Uint16, Int32, Uint32)
//	                                       always -8, 200, -1600, 60000, -320000, 4000000000
//	wide(Int64, Uint64, Pointer, String, Int32, Uint8)
//	                                       always -1099511627776, 9223372036854775813,
//	                                       0xdeadbeef, 300 x "w" (longer than Fire's stack
//	                                       buffer), -7, 1 (passed as bool true)
//
// Package stapsdttest holds these values and helpers to build and drive the
// program from tests.
//
// With -bench N it instead declares bench:hit(String, Int64), prints "ready",
// waits until the probe is enabled (unless -untraced) and then for -settle,
// fires it N times in a tight loop with ("bench", i), prints "ns/op F", and
// exits at the next line or EOF on stdin.
//
// With -late N it prints "started pid=PID", waits -after (or, with -gate,
// for a line on stdin), only then declares and loads myapp with
// request__start, fires it N times whether traced or not (printing "fired
// PATH N" after each) and exits: a provider created after a tracer started.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/uscope/uscope/stapsdt"
	"github.com/uscope/uscope/stapsdt/stapsdttest"
)

func main() {
	interval := flag.Duration("interval", time.Millisecond, "time between rounds of fires")
	bench := flag.Int("bench", 0, "fire bench:hit N times in a loop and print ns/op")
	untraced := flag.Bool("untraced", false, "with -bench: do not wait for a tracer")
	settle := flag.Duration("settle", time.Second, "with -bench: pause between the tracer's attach and the loop")
	late := flag.Int("late", 0, "create the provider late and fire request__start this many times")
	after := flag.Duration("after", time.Second, "with -late: wait this long before creating the provider")
	gate := flag.Bool("gate", false, "with -late: wait for a line on stdin instead of -after")
	flag.Parse()
	var err error
	if *late > 0 {
		err = runLate(*late, *after, *gate)
	} else if *bench > 0 {
		err = runBench(*bench, *untraced, *settle)
	} else {
		err = run(*interval)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "firer:", err)
		os.Exit(1)
	}
}

// newProvider declares provider myapp with its request__start probe.
func newProvider() (*stapsdt.Provider, *stapsdt.Probe, error) {
	p, err := stapsdt.NewProvider(stapsdttest.Provider)
	if err != nil {
		return nil, nil, err
	}
	req, err := p.AddProbe(stapsdttest.ProbeRequestStart, stapsdt.String, stapsdt.Int64)
	return p, req, err
}

func run(interval time.Duration) error {
	p, req, err := newProvider()
	if err != nil {
		return err
	}
	types, err := p.AddProbe(stapsdttest.ProbeTypes, stapsdt.Int8, stapsdt.Uint8, stapsdt.Int16, stapsdt.Uint16, stapsdt.Int32, stapsdt.Uint32)
	if err != nil {
		return err
	}
	wide, err := p.AddProbe(stapsdttest.ProbeWide, stapsdt.Int64, stapsdt.Uint64, stapsdt.Pointer, stapsdt.String, stapsdt.Int32, stapsdt.Uint8)
	if err != nil {
		return err
	}
	if err := p.Load(); err != nil {
		return err
	}
	fmt.Printf("ready pid=%d path=%s\n", os.Getpid(), p.Path())

	stop := make(chan struct{})
	go func() { // EOF on stdin
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)

	probes := []*stapsdt.Probe{req, types, wide}
	enabled := make([]bool, len(probes))
	ta := stapsdttest.TypesArgs
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := int64(1); ; n++ {
		for i, pr := range probes {
			if e := pr.Enabled(); e != enabled[i] {
				enabled[i] = e
				fmt.Printf("enabled %s %v\n", pr.Name(), e)
			}
		}
		if req.Enabled() {
			req.Fire(stapsdttest.RequestPathPrefix+strconv.FormatInt(n, 10), n)
		}
		// Each argument has its declared type here, except the last two
		// of wide, which Fire converts (int64 to Int32, bool to Uint8).
		types.Fire(int8(ta[0]), uint8(ta[1]), int16(ta[2]), uint16(ta[3]), int32(ta[4]), uint32(ta[5]))
		wide.Fire(stapsdttest.WideInt64, stapsdttest.WideUint64, stapsdttest.WidePointer,
			stapsdttest.WideString, stapsdttest.WideInt32, true)
		select {
		case <-tick.C:
		case <-stop:
			return unload(p)
		case <-sig:
			return unload(p)
		}
	}
}

func unload(p *stapsdt.Provider) error {
	if err := p.Unload(); err != nil {
		return err
	}
	fmt.Println("unloaded")
	return nil
}

// runLate prints "started", waits (for after, or for a line on stdin), then
// declares and loads provider myapp with request__start, fires it n times
// whether or not it is enabled, printing "fired PATH N" for each, and
// exits.
func runLate(n int, after time.Duration, gate bool) error {
	fmt.Printf("started pid=%d\n", os.Getpid())
	if gate {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // a line or EOF
	} else {
		time.Sleep(after)
	}
	p, req, err := newProvider()
	if err != nil {
		return err
	}
	if err := p.Load(); err != nil {
		return err
	}
	for i := int64(1); i <= int64(n); i++ {
		path := stapsdttest.RequestPathPrefix + strconv.FormatInt(i, 10)
		req.Fire(path, i)
		fmt.Printf("fired %s %d\n", path, i)
	}
	return p.Unload()
}

func runBench(n int, untraced bool, settle time.Duration) error {
	p, err := stapsdt.NewProvider("bench")
	if err != nil {
		return err
	}
	hit, err := p.AddProbe("hit", stapsdt.String, stapsdt.Int64)
	if err != nil {
		return err
	}
	if err := p.Load(); err != nil {
		return err
	}
	defer p.Unload()
	fmt.Printf("ready pid=%d path=%s\n", os.Getpid(), p.Path())
	if !untraced {
		for !hit.Enabled() {
			time.Sleep(time.Millisecond)
		}
		fmt.Println("attached")
		// The kernel sets the semaphore when it installs the uprobe,
		// before the tracer attaches its BPF program: hits right after
		// the semaphore flips can be missed. Let the tracer settle.
		time.Sleep(settle)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		hit.Fire("bench", int64(i))
	}
	d := time.Since(start)
	fmt.Printf("ns/op %.2f\n", float64(d.Nanoseconds())/float64(n))
	// Keep the provider loaded until the driver has read the result, so a
	// tracer does not see the probes vanish mid-run.
	bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}
