#!/usr/bin/env bash
# Benchmarks of the classic tools and of maps, against bpftrace in the same
# run. Rewrites the "## tools" section of bench/RESULTS.md (and nothing
# else).
#
#  1. Per-hit cost: bench/tools/hit.c calls the noinline function hit() N
#     times and prints its own ns per call. It runs untraced, then under
#     uscope and bpftrace (-c) with an empty program on hit() and with
#     `@[tid] = count()`, RUNS times each, interleaved. The cost of a hit is
#     the traced ns/call minus the untraced one.
#  2. Attach + detach of every function of /usr/bin/redis-server: the wall
#     time of `uscope count -d 0 '/usr/bin/redis-server:*'` (resolve, load,
#     attach, detach; nothing runs it), and of bpftrace on the functions
#     's*' matches (~390; bpftrace 0.17 attaches one perf event per
#     function), capped at BPFTRACE_CAP seconds ("timed out" past it).
#
# Needs root, gcc, go; bpftrace for the peer; /usr/bin/redis-server.
# Knobs: RUNS (7), CALLS (1000000), ATTACH_RUNS (5), BPFTRACE_ATTACH_RUNS
# (1), BPFTRACE_CAP (120).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

load0=$(cut -d' ' -f1-3 /proc/loadavg)
runs=${RUNS:-7}
calls=${CALLS:-1000000}
attach_runs=${ATTACH_RUNS:-5}
bt_attach_runs=${BPFTRACE_ATTACH_RUNS:-1}
cap=${BPFTRACE_CAP:-120}
redis=/usr/bin/redis-server

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BENCH_WORK=$work
uscope=$(bench_uscope)
gcc -O1 -fno-omit-frame-pointer -o "$work/hit" bench/tools/hit.c
first_insn=$(objdump -d "$work/hit" | awk '/<hit>:/ { getline; sub(/^[^\t]*\t[^\t]*\t/, ""); print; exit }')
have_bt=0
bench_have bpftrace && have_bt=1

# nscall CMD...: run CMD, print the ns/call that hit printed.
nscall() { "$@" 2>/dev/null | awk '/^ns\/call / { print $2; exit }'; }

empty="uprobe:$work/hit:hit { }"
count="uprobe:$work/hit:hit { @[tid] = count(); }"
for ((r = 1; r <= runs; r++)); do
	bench_log "per-hit run $r/$runs"
	nscall "$work/hit" "$calls" >>"$work/base"
	nscall "$uscope" run -c "$work/hit $calls" -e "$empty" >>"$work/us_empty"
	nscall "$uscope" run -c "$work/hit $calls" -e "$count" >>"$work/us_count"
	if [ $have_bt = 1 ]; then
		nscall bpftrace -c "$work/hit $calls" -e "$empty" >>"$work/bt_empty"
		nscall bpftrace -c "$work/hit $calls" -e "$count" >>"$work/bt_count"
	fi
done
base=$(bench_median "$work/base")
# cost FILE: "min | median | max" of ns/call minus the untraced median.
cost() { awk -v b="$base" 'NF { print $1 - b }' "$1" >"$1.cost"; bench_stats "$1.cost"; }

# Attach + detach.
# wall OUT CMD...: append CMD's wall time in ms to OUT, or "timeout".
wall() {
	local out=$1 t0 t1 rc=0
	shift
	t0=$(bench_now_us)
	"$@" >"$work/wall.out" 2>"$work/wall.err" || rc=$?
	t1=$(bench_now_us)
	if [ $rc = 124 ]; then
		echo timeout >>"$out"
	else
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }' >>"$out"
	fi
}
n_all=$("$uscope" list "$redis" 'uprobe:*' | wc -l)
n_s=$("$uscope" list "$redis" 'uprobe:*:s*' | wc -l)
"$uscope" count -d 0 "$redis:*" >/dev/null # warm the page cache
for ((r = 1; r <= attach_runs; r++)); do
	bench_log "attach run $r/$attach_runs"
	wall "$work/us_all" "$uscope" count -d 0 "$redis:*"
	grep -o 'Tracing [0-9]* functions' "$work/wall.out" | awk '{ print $2 }' >"$work/us_all_n"
	wall "$work/us_s" "$uscope" count -d 0 "$redis:s*"
	grep -o 'Tracing [0-9]* functions' "$work/wall.out" | awk '{ print $2 }' >"$work/us_s_n"
done
bt_s_n=n/a
if [ $have_bt = 1 ]; then
	for ((r = 1; r <= bt_attach_runs; r++)); do
		bench_log "bpftrace attach run $r/$bt_attach_runs (up to ${cap}s)"
		wall "$work/bt_s" timeout "$cap" bpftrace -e "uprobe:$redis:s* { @c = count(); } BEGIN { exit(); }"
		n=$(grep -o 'Attaching [0-9]* probes' "$work/wall.out" | awk '{ print $2 }')
		[ -n "$n" ] && bt_s_n=$((n - 1)) # minus BEGIN
	done
fi
# walls FILE: "min | median | max" in ms, or "timed out (> CAP s)".
walls() {
	if grep -q timeout "$1" 2>/dev/null; then
		echo "timed out (> ${cap} s) | | "
		return
	fi
	bench_stats "$1"
}

kernel=$(uname -r)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
section=$work/section
{
	echo "## tools"
	echo
	echo "Measured by \`bench/tools/run.sh\` on $(date -u +%Y-%m-%d), Linux $kernel, $cpu, $(nproc) CPUs;"
	echo "peer: $(bench_bpftrace_version || echo 'bpftrace not installed'). Load average at the start: $load0"
	echo "(other jobs share the machine, so the spread between min and max is noise)."
	echo
	echo "### Per-hit cost"
	echo
	echo "\`bench/tools/hit.c\` calls the noinline \`hit()\` (first instruction \`$first_insn\`, which the"
	echo "kernel emulates) $calls times and prints its ns per call; each tracer runs it with \`-c\`. Cost"
	echo "per hit = traced ns/call − untraced median ($base ns). $runs runs each, interleaved; ns, min | median | max."
	echo
	echo "| tool | program | cost per hit min | median | max |"
	echo "|---|---|---|---|---|"
	echo "| uscope | \`uprobe:hit { }\` | $(cost "$work/us_empty") |"
	echo "| uscope | \`uprobe:hit { @[tid] = count(); }\` | $(cost "$work/us_count") |"
	if [ $have_bt = 1 ]; then
		echo "| bpftrace | \`uprobe:hit { }\` | $(cost "$work/bt_empty") |"
		echo "| bpftrace | \`uprobe:hit { @[tid] = count(); }\` | $(cost "$work/bt_count") |"
	fi
	echo
	us_e=$(bench_median "$work/us_empty.cost"); us_c=$(bench_median "$work/us_count.cost")
	echo "uscope: \`@[tid] = count()\` costs $(bench_ratio "$us_c" "$us_e" 3)× the empty program per hit (median);"
	if [ $have_bt = 1 ]; then
		bt_e=$(bench_median "$work/bt_empty.cost"); bt_c=$(bench_median "$work/bt_count.cost")
		echo "bpftrace: $(bench_ratio "$bt_c" "$bt_e" 3)×. uscope / bpftrace, count program: $(bench_ratio "$us_c" "$bt_c" 3)×."
	fi
	echo
	echo "### Attach + detach of redis-server's functions"
	echo
	echo "Wall time of a whole run that attaches and detaches at once (nothing runs redis-server): uscope"
	echo "\`count -d 0 PATTERN\` (resolve the pattern, load, attach one uprobe_multi link, detach,"
	echo "print); bpftrace \`-e 'uprobe:$redis:s* { @c = count(); } BEGIN { exit(); }'\` (one perf"
	echo "event per function), capped at ${cap} s. $redis has $n_all function probe names; 's*' matches"
	echo "$n_s. ms, min | median | max."
	echo
	echo "| tool | functions | runs | wall min | median | max |"
	echo "|---|---|---|---|---|---|"
	echo "| uscope count -d 0 | $(cat "$work/us_all_n") (all) | $(bench_count "$work/us_all") | $(walls "$work/us_all") |"
	echo "| uscope count -d 0 | $(cat "$work/us_s_n") (s*) | $(bench_count "$work/us_s") | $(walls "$work/us_s") |"
	if [ -s "$work/bt_s" ]; then
		echo "| bpftrace | $bt_s_n (s*) | $(wc -l <"$work/bt_s") | $(walls "$work/bt_s") |"
	fi
} >"$section"

bench_write_section tools "$section"
cat "$section"
