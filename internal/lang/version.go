package lang

// BpftraceVersion is the bpftrace release whose language this package
// parses: bpftrace's main branch after v0.26.0-rc0 (commit e1b7c39), whose
// runtime suite judges it (bench/compat). `uscope run --version` names it
// in bpftrace's form, for scripts that check bpftrace's version.
const BpftraceVersion = "v0.26.0-rc0"
