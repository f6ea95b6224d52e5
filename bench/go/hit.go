// hit calls the noinline Go function main.hit N times (os.Args[1]) and
// prints the ns per call. hit has a stack-check prologue (it calls another
// function), so an entry probe can sit on its first instruction
// (cmp 0x10(%r14),%rsp, which the kernel single-steps) or after the check
// (push %rbp, which it emulates).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

//go:noinline
func leaf(n int) int { return n ^ 1 }

//go:noinline
func hit(n int) int { return leaf(n) + 1 }

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: hit CALLS")
		os.Exit(2)
	}
	sum := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		sum += hit(i)
	}
	el := time.Since(start)
	fmt.Printf("ns/call %.1f\n", float64(el.Nanoseconds())/float64(n))
	fmt.Fprintln(os.Stderr, "sum", sum)
}
