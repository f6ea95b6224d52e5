package main

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/tools"
)

// traceBCCFlags are bcc trace's flags that uscope's trace did not have,
// with bcc's meaning (toolStyle's rule: bcc's short options, --cmd CMD).
type traceBCCFlags struct {
	cgroup, comm, msgFilter, format string
	output                          string // -o FILE
	uid                             int
	unix, addresses, self           bool
	// cpu is -C (a CPU column), aggregate -A (identical rows counted).
	cpu, aggregate bool
	bufferPages    int
	// Refused, each with one line saying why.
	kernelStack, binCmp bool
	includes, symFiles  []string
}

func (b *traceBCCFlags) register(c *cobra.Command, sf *sessionFlags) {
	// The session's flags, with --cmd in place of -c/--command, whose -c
	// is bcc's cgroup path here.
	scratch := &cobra.Command{}
	sf.register(scratch)
	scratch.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "command" {
			fl.Name, fl.Shorthand = "cmd", ""
		}
		if fl.Name == "cgroup" {
			fl.Shorthand = "c" // bcc's -c CGROUP_PATH
		}
		c.Flags().AddFlag(fl)
	})
	c.Flags().SetNormalizeFunc(cmdAlias)
	fs := c.Flags()
	fs.StringVarP(&b.comm, "name", "n", "", "only events of threads whose name contains `NAME`")
	fs.StringVarP(&b.msgFilter, "msg-filter", "f", "", "only rows whose message contains `MSG`")
	fs.IntVar(&b.uid, "uid", -1, "only events of user `UID`")
	fs.BoolVarP(&b.unix, "unix-timestamp", "u", false, "with -t, print Unix seconds")
	fs.BoolVarP(&b.addresses, "address", "a", false, "print each -U frame's address")
	fs.BoolVarP(&b.self, "include-self", "S", false, "also trace uscope itself (a static Go binary: no libc calls of its own to see)")
	fs.IntVarP(&b.bufferPages, "buffer-pages", "b", 0, "event buffer of `N` pages per CPU (bcc's perf buffer; a power of two)")
	fs.StringVar(&b.format, "format", "text", "output `FORMAT`: text or json (NDJSON, as --json)")
	fs.StringVarP(&b.output, "output", "o", "", "write the output to `FILE` instead of standard output")
	fs.BoolVarP(&b.kernelStack, "kernel-stack", "K", false, "kernel stacks (refused: uscope traces userspace)")
	fs.BoolVarP(&b.cpu, "print_cpu", "C", false, "print CPU id")
	fs.BoolVarP(&b.aggregate, "aggregate", "A", false, "aggregate amount of each trace: identical rows printed once at the end with -->COUNT N (needs -M)")
	fs.BoolVarP(&b.binCmp, "bin_cmp", "B", false, "STRCMP of byte strings (refused)")
	fs.StringArrayVarP(&b.includes, "include", "I", nil, "a C `header` (refused: types come from DWARF)")
	fs.StringSliceVarP(&b.symFiles, "sym_file_list", "s", nil, "build-id stacks from these `FILES` (refused)")
}

// apply adds the filters to prog's probes (-L TID, -n, --uid) and checks
// the refused flags.
func (b *traceBCCFlags) apply(prog *lang.Program, sf *sessionFlags, tid int) error {
	switch {
	case b.kernelStack:
		return errors.New("-K: kernel stacks are not traced; uscope traces userspace (-U prints the user stack)")
	case b.binCmp:
		return errors.New("-B: STRCMP compares strings here, not byte lists; write the string literal")
	case len(b.includes) > 0:
		return fmt.Errorf("-I %s: uscope reads types from the traced program's DWARF, not from C headers; drop -I", b.includes[0])
	case len(b.symFiles) > 0:
		return fmt.Errorf("-s %s: uscope names frames from the files the process maps, remembered while it runs; drop -s", b.symFiles[0])
	}
	if b.bufferPages > 0 {
		if bits.OnesCount(uint(b.bufferPages)) != 1 {
			return fmt.Errorf("-b %d: give a power of two", b.bufferPages)
		}
		size := uint64(b.bufferPages) * 4096 * uint64(runtime.NumCPU())
		// uscope has one ring buffer for every CPU, of a power of two.
		sf.ringBufSize = fmt.Sprint(uint64(1) << bits.Len64(size-1))
	}
	tools.TraceFilter{TID: tid, Comm: b.comm, UID: b.uid}.Apply(prog)
	return nil
}
