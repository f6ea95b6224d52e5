#!/usr/bin/env bash
# Benchmark of C arguments by name from DWARF (issue 17):
#  1. the added cost per hit of a probe reading args.b against the same
#     probe reading arg1 by hand (the location is resolved when compiling,
#     so both should cost the same), and bpftrace's args.b when it has DWARF
#     support; bench/cargs/cost.c calls work() CALLS times and prints ns per
#     call; added cost = traced − untraced median ns/call; RUNS rounds,
#     interleaved.
#  2. the time and peak memory of `uscope list -v libc malloc` (signature
#     from libc6-dbg's DWARF, 4 MB of compressed DWARF) against the same
#     listing without -v, and of compiling+attaching a malloc probe that
#     reads args.bytes against one reading arg0.
# Prints the "## cargs" section of bench/RESULTS.md. Needs root and gcc;
# libc6-dbg for part 2. Knobs: RUNS (5), CALLS (1000000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

load0=$(cut -d' ' -f1-3 /proc/loadavg)
runs=${RUNS:-5}
calls=${CALLS:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BENCH_WORK=$work
uscope=$(bench_uscope)
gcc -O2 -g -o "$work/cost" bench/cargs/cost.c
bin=$work/cost
have_bt=0
if bench_have bpftrace && bpftrace -e "uprobe:$bin:work { @ = sum(args.b); exit(); }" -c "$bin 1" >/dev/null 2>&1; then
	have_bt=1
fi
nscall() { "$@" 2>/dev/null | awk '/^ns\/call / { print $2; exit }'; }
for ((r = 1; r <= runs; r++)); do
	bench_log "cargs run $r/$runs"
	nscall "$bin" "$calls" >>"$work/base"
	nscall "$uscope" run -c "$bin $calls" -e "uprobe:$bin:work { @ = sum(args.b); }" >>"$work/args"
	nscall "$uscope" run -c "$bin $calls" -e "uprobe:$bin:work { @ = sum(arg1); }" >>"$work/arg1"
	if [ "$have_bt" = 1 ]; then
		nscall bpftrace -c "$bin $calls" -e "uprobe:$bin:work { @ = sum(args.b); }" >>"$work/bt"
	fi
done
cost() {
	local b
	b=$(bench_median "$work/base")
	awk -v b="$b" 'NF { print $1 - b }' "$1" >"$1.cost"
	bench_stats "$1.cost"
}
# Part 2: seconds and peak KB of one command, RUNS times; prints medians.
timed() {
	local f=$1
	shift
	for ((r = 1; r <= runs; r++)); do
		/usr/bin/time -f "%e %M" -o "$f.one" "$@" >/dev/null 2>&1 || true
		cut -d' ' -f1 "$f.one" >>"$f.s"
		cut -d' ' -f2 "$f.one" >>"$f.kb"
	done
	echo "$(bench_median "$f.s") s | $(bench_median "$f.kb") KB"
}
out=$work/section.md
{
	echo "## cargs"
	echo
	echo "C arguments by name from DWARF (issue 17), \`bench/cargs/run.sh\`, $(date -u +%Y-%m-%d), on a shared"
	echo "2-CPU machine (other jobs running: medians carry their noise). Load average at the start: $load0."
	echo "\`cost $calls\` calls \`long work(long a, long b)\` (gcc -O2 -g); each probe sums its second"
	echo "argument. Added ns per hit = traced − untraced median ns/call (untraced median:"
	echo "$(bench_median "$work/base") ns). $runs rounds, interleaved."
	echo
	echo "| tool | probe | added ns/hit min | median | max |"
	echo "|---|---|---|---|---|"
	echo "| uscope | \`uprobe:BIN:work { @ = sum(args.b); }\` | $(cost "$work/args") |"
	echo "| uscope | \`uprobe:BIN:work { @ = sum(arg1); }\` | $(cost "$work/arg1") |"
	if [ "$have_bt" = 1 ]; then
		echo "| bpftrace $(bpftrace --version | awk '{print $2}') | \`uprobe:BIN:work { @ = sum(args.b); }\` | $(cost "$work/bt") |"
	else
		echo "| bpftrace $(bpftrace --version 2>/dev/null | awk '{print $2}') | args.b | not available (built without DWARF support) |"
	fi
	if [ -d /usr/lib/debug/.build-id ]; then
		echo
		echo "Resolving DWARF in a large object: libc.so.6 with libc6-dbg's debug file (found by build-id),"
		echo "median of $runs runs (wall seconds, peak RSS):"
		echo
		echo "| command | time | memory |"
		echo "|---|---|---|"
		echo "| \`uscope list libc malloc\` (no DWARF read) | $(timed "$work/l0" "$uscope" list libc malloc) |"
		echo "| \`uscope list -v libc malloc\` (signature \`size_t bytes\` from DWARF) | $(timed "$work/l1" "$uscope" list -v libc malloc) |"
		echo "| \`uscope run -c true\` \`uprobe:libc:malloc { @ = sum(arg0); }\` | $(timed "$work/r0" "$uscope" run -c true -e 'uprobe:libc:malloc { @ = sum(arg0); }') |"
		echo "| \`uscope run -c true\` \`uprobe:libc:malloc { @ = sum(args.bytes); }\` | $(timed "$work/r1" "$uscope" run -c true -e 'uprobe:libc:malloc { @ = sum(args.bytes); }') |"
	fi
	echo
	echo "The per-hit cost is the uprobe's (this machine's uprobes cost tens of µs, see cxxret): both programs read one register, args.b's location being resolved when compiling, so the difference between the two rows is noise. \\`list -v\\` also walks every DIE a second time to count inlined instances, hence its extra seconds."
} >"$out"
cat "$out"
