// Package output turns values decoded from BPF records and maps into text.
// It holds no BPF code: everything here is pure formatting, so that the
// formats can be tested byte for byte against their references.
//
// The package covers:
//
//   - printf with C semantics (ParseFormat, Format.Sprintf), checked when the
//     program is compiled and formatted in userspace;
//   - bpftrace 0.17's text output of maps and aggregations (PrintMap, Hist,
//     LHist, PrintValue) and its NDJSON output (-f json) through Writer;
//   - bcc trace.py's rows (TraceHeader, TraceRow);
//   - user stacks in bpftrace's layout (Stack) and folded stacks for flame
//     graphs (Folded);
//   - strftime for time() (Strftime).
//
// Where bpftrace 0.17 has an output bug, the package documents whether it
// copies it (to stay byte-compatible) or fixes it; see the comments of
// PrintMap, Writer and Hist.
package output
