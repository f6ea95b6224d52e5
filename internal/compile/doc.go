// Package compile turns a parsed program into BPF: a chain of passes, each
// a function with one job, in the order bpftrace's and go/types' own:
//
//	lower      lower.go      the language's sugar rewritten once on the AST
//	                         (x++ as a statement, compound assignments,
//	                         delete(@m, k), has_key(@m, k)), before any typing
//	expand     expand.go     attach points to sites (Resolver), grouped into
//	                         units: one program per probe shape (USDT
//	                         argument specs and Go functions decide types)
//	check      check*.go     every unit typed into its Info, a side table
//	                         node → type plus the variables and where Go
//	                         values are; every mistake collected, none raised
//	                         later; map types from assignments anywhere
//	resources  resources.go  maps and their key/value layouts, printf/time/
//	                         print record ids and layouts, the stack map
//	emit       emit.go       instructions with cilium/ebpf's asm (gen.go and
//	                         the files it calls), which read the Info and
//	                         fail only when a resource runs out; dead code
//	                         dropped and long jumps made to reach (jumps.go)
//
// One table describes every builtin (builtins.go): its arity, where it is
// valid, its checker, its emitter and its help, read by check, emit, the
// hints of error messages, `uscope language`, the man page and completion.
// Aggregations' value layouts are output's (output.AggValueSize,
// output.MergeAgg), written by emit and read by the session from the same
// declaration.
//
// Nothing here talks to the kernel: the session loads and attaches what
// the Plan describes.
package compile
