#!/usr/bin/env bash
# Benchmark of C++ return probes (issue 19): the added cost per hit of a
# uretprobe placed on a C++ function's exits (uscope's default: uprobes on
# its RET and landing pads) against the kernel's uretprobe (uscope
# --kernel-uretprobe, and bpftrace, which uses it), in the same run.
# bench/cxxret/retcost.cc calls work() CALLS times and prints ns per call;
# each tracer counts `uretprobe:BIN:_Z4workl { @ = count(); }`. Added cost
# per hit = traced − untraced median ns/call. RUNS rounds, interleaved.
# Prints the "## cxxret" section of bench/RESULTS.md.
#
# Needs root and g++; bpftrace for the peer. Knobs: RUNS (5), CALLS (1000000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

load0=$(cut -d' ' -f1-3 /proc/loadavg)
runs=${RUNS:-5}
calls=${CALLS:-1000000}
bench_have g++ || { echo "bench/cxxret: g++ is missing" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BENCH_WORK=$work
uscope=$(bench_uscope)
g++ -O2 -o "$work/retcost" bench/cxxret/retcost.cc
bin=$work/retcost
prog="uretprobe:$bin:_Z4workl { @ = count(); }"
have_bt=0
bench_have bpftrace && have_bt=1

nscall() { "$@" 2>/dev/null | awk '/^ns\/call / { print $2; exit }'; }
for ((r = 1; r <= runs; r++)); do
	bench_log "cxxret run $r/$runs"
	nscall "$bin" "$calls" >>"$work/base"
	nscall "$uscope" run -c "$bin $calls" -e "$prog" >>"$work/exits"
	nscall "$uscope" run --kernel-uretprobe -c "$bin $calls" -e "$prog" >>"$work/kernel"
	if [ "$have_bt" = 1 ]; then
		nscall bpftrace -c "$bin $calls" -e "$prog" >>"$work/bpftrace"
	fi
done
cost() {
	local b
	b=$(bench_median "$work/base")
	awk -v b="$b" 'NF { print $1 - b }' "$1" >"$1.cost"
	bench_stats "$1.cost"
}
out=$work/section.md
{
	echo "## cxxret"
	echo
	echo "C++ return probes (issue 19), \`bench/cxxret/run.sh\`, $(date -u +%Y-%m-%d), on a shared 2-CPU machine"
	echo "(other jobs running: medians carry their noise). Load average at the start: $load0."
	echo "\`retcost $calls\` calls a C++ function with a landing pad; each tool counts"
	echo "\`uretprobe:BIN:_Z4workl { @ = count(); }\`. Added ns per hit = traced − untraced median"
	echo "ns/call (untraced median: $(bench_median "$work/base") ns). $runs rounds, interleaved."
	echo
	echo "| tool | how the return is probed | added ns/hit min | median | max |"
	echo "|---|---|---|---|---|"
	echo "| uscope | uprobes on the RET and landing pads (default) | $(cost "$work/exits") |"
	echo "| uscope --kernel-uretprobe | kernel uretprobe (entry uprobe + return trampoline) | $(cost "$work/kernel") |"
	if [ "$have_bt" = 1 ]; then
		echo "| $(bench_bpftrace_version) | kernel uretprobe | $(cost "$work/bpftrace") |"
	fi
} >"$out"
cat "$out"
bench_write_section cxxret "$out"
