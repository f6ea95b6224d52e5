// Package attach is the one place where uscope asks the kernel for probes.
//
// A [Set] holds everything one session attached: uprobe_multi links (one per
// object file, Linux 6.6+) or, where those are missing or not wanted, one
// perf-event uprobe per site. USDT semaphores are enabled by the kernel
// through each site's ref_ctr_offset, so they count in processes that exist
// at attach time and in those started later, and drop back when the Set is
// closed.
//
// The package also starts a command held before its first instruction
// ([StartHeld], for -c) so probes are in place before it runs, and watches a
// process for its exit ([WaitExit], for -p).
//
// Failures the kernel reports come back as [*Error], one line naming the
// probe site, the cause and what to try; the CLI maps them to exit code 2.
package attach
