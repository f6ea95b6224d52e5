#!/usr/bin/env bash
# Attach + detach time of uprobes: uscope through uprobe_multi and through one
# perf event per probe (internal/attach BenchmarkAttachDetach), against
# bpftrace on the same binaries, all in one run. Rewrites the "## attach"
# section of bench/RESULTS.md (and nothing else).
#
# Needs root, gcc, go; bpftrace for the peer; /usr/bin/redis-server.
# Runs per case can be set: MULTI_RUNS (10), PERF_RUNS (5), PERF_RUNS_400 (3),
# PERF_RUNS_3000 (1), BPFTRACE_RUNS (3), BPFTRACE_RUNS_400 (3).
# A perf-event uprobe costs ~0.2 s to detach on Linux 6.13+, so the whole run
# takes about 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

multi_runs=${MULTI_RUNS:-10}
perf_runs=${PERF_RUNS:-5}
perf_runs_400=${PERF_RUNS_400:-3}
perf_runs_3000=${PERF_RUNS_3000:-1}
bt_runs=${BPFTRACE_RUNS:-3}
bt_runs_400=${BPFTRACE_RUNS_400:-3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The same program as benchSource in internal/attach/bench_test.go.
for n in 10 100 400 3000; do
	awk -v n="$n" 'BEGIN {
		print "volatile unsigned long sink;"
		for (i = 0; i < n; i++)
			printf "__attribute__((noinline)) void fn%d(unsigned long x) { sink += x * %d + %d; }\n", i, i + 3, i
		print "int main(void) { return 0; }"
	}' >"$work/fn$n.c"
	gcc -O1 -o "$work/fn$n" "$work/fn$n.c"
done
export USCOPE_BENCH_ATTACH_DIR=$work
go test -c -o "$work/attach.test" ./internal/attach

# stats FILE: min/median/max of the numbers in FILE (one per line), in ms.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a | n/a | n/a"; exit }
		med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f | %.1f | %.1f", v[1], med, v[NR]
	}'
}

# Samples go to $work/s.<case>.{total,attach,detach}; rows are made at the end.
# sample_uscope MODE CASE RUNS
sample_uscope() {
	local mode=$1 case=$2 runs=$3 out="$work/out.txt" key="$work/s.uscope-$1-$2"
	[ "$runs" -gt 0 ] || return 0
	echo "uscope $mode $case x$runs" >&2
	"$work/attach.test" -test.run '^$' -test.bench "^BenchmarkAttachDetach\$/^$mode\$/^$case\$" \
		-test.benchtime 1x -test.count "$runs" >"$out"
	grep -q '^Benchmark' "$out" || { cat "$out" >&2; exit 1; }
	# Columns: name 1 NS ns/op A attach-ms D detach-ms P probes
	awk '/^Benchmark/ { print $3 / 1e6 }' "$out" >>"$key.total"
	awk '/^Benchmark/ { print $5 }' "$out" >>"$key.attach"
	awk '/^Benchmark/ { print $7 }' "$out" >>"$key.detach"
	awk '/^Benchmark/ { printf "%d\n", $9; exit }' "$out" >"$key.probes"
}

# sample_bpftrace N: the wall time of one attach-all-then-exit, 120 s timeout.
sample_bpftrace() {
	local n=$1 key="$work/s.bpftrace-$1" rc=0 t0 t1
	command -v bpftrace >/dev/null || return 0
	echo "bpftrace N=$n" >&2
	touch "$key.total" "$key.timeouts"
	t0=$(date +%s%N)
	BPFTRACE_MAX_PROBES=5000 timeout 120 bpftrace \
		-e "uprobe:$work/fn$n:fn* { @c = count(); } BEGIN { exit(); }" >"$work/bt.log" 2>&1 || rc=$?
	t1=$(date +%s%N)
	if [ "$rc" = 124 ]; then
		echo timeout >>"$key.timeouts"
		return 0
	fi
	# A complete run attached all probes and went on to detach each (0.17
	# warns per probe when tracefs is missing); anything else is not timed.
	if [ "$rc" != 0 ] || ! grep -q "Attaching $((n + 1)) probes" "$work/bt.log"; then
		echo "bpftrace N=$n failed (exit $rc):" >&2
		cat "$work/bt.log" >&2
		echo failed >>"$key.timeouts"
		return 0
	fi
	awk -v us=$(( (t1 - t0) / 1000 )) 'BEGIN { print us / 1000 }' >>"$key.total"
}

# row_uscope MODE CASE / row_bpftrace N: one table row from the samples.
rows=()
row_uscope() {
	local key="$work/s.uscope-$1-$2"
	[ -f "$key.total" ] || return 0
	rows+=("| uscope $1 | $2 ($(cat "$key.probes") probes) | $(wc -l <"$key.total") | $(stats "$key.total") | $(stats "$key.attach") | $(stats "$key.detach") |")
}
row_bpftrace() {
	local n=$1 key="$work/s.bpftrace-$1" ok timedout cell
	if ! command -v bpftrace >/dev/null; then
		rows+=("| bpftrace | N=$n | 0 | not installed | | | | | | | | |")
		return 0
	fi
	[ -f "$key.total" ] || return 0
	ok=$(wc -l <"$key.total")
	timedout=$(wc -l <"$key.timeouts")
	if [ "$ok" = 0 ]; then
		cell="timed out (120 s) or failed | | "
	else
		cell=$(stats "$key.total")
		[ "$timedout" = 0 ] || cell="$cell ($timedout more timed out at 120 s or failed)"
	fi
	rows+=("| bpftrace $(bpftrace --version | awk '{ print $2 }') (perf events) | N=$n ($n probes) | $((ok + timedout)) | $cell | | | | | | |")
}

for n in 10 100 400 3000; do sample_uscope multi "N=$n" "$multi_runs"; done
sample_uscope multi redis-server "$multi_runs"
sample_uscope perf N=10 "$perf_runs"
# uscope's perf events and bpftrace pay the same kernel detach cost, which
# drifts with machine load: interleave their runs.
for i in $(seq "$(( perf_runs > bt_runs ? perf_runs : bt_runs ))"); do
	[ "$i" -gt "$perf_runs" ] || sample_uscope perf N=100 1
	[ "$i" -gt "$bt_runs" ] || sample_bpftrace 100
done
for i in $(seq "$(( perf_runs_400 > bt_runs_400 ? perf_runs_400 : bt_runs_400 ))"); do
	[ "$i" -gt "$perf_runs_400" ] || sample_uscope perf N=400 1
	[ "$i" -gt "$bt_runs_400" ] || sample_bpftrace 400
done
sample_uscope perf N=3000 "$perf_runs_3000"

for n in 10 100 400 3000; do row_uscope multi "N=$n"; done
row_uscope multi redis-server
for n in 10 100 400; do row_uscope perf "N=$n"; done
row_bpftrace 100
row_bpftrace 400
row_uscope perf N=3000

kernel=$(uname -r)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
section="$work/section.md"
{
	echo "## attach"
	echo
	echo "Attach + detach of uprobes on N noinline functions of a C binary (no process running it)"
	echo "and on every function of /usr/bin/redis-server, measured by \`bench/attach/run.sh\` on"
	echo "$(date -u +%Y-%m-%d), Linux $kernel, $cpu, $(nproc) CPUs. Times in ms: min | median | max."
	echo "uscope times exclude loading the BPF program; bpftrace's are the wall time of"
	echo "\`BPFTRACE_MAX_PROBES=5000 bpftrace -e 'uprobe:BIN:fn* { @c = count(); } BEGIN { exit(); }'\`"
	echo "(start, attach N+1 probes, exit, detach)."
	echo
	echo "| tool | case | runs | total min | median | max | attach min | median | max | detach min | median | max |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${rows[@]}"; do echo "$r"; done
	echo
	echo "Notes: detaching a perf-event uprobe waits for RCU grace periods under global mutexes"
	echo "(Linux 6.13+), so it is paid per probe and mostly serially: closing them from 64 goroutines"
	echo "saves about 20% over one at a time (and over bpftrace's close-at-exit); uprobe_multi pays the"
	echo "wait once per link. The wait drifts with machine load (this machine is shared), hence the"
	echo "spread; uscope perf and bpftrace runs are interleaved. bpftrace 0.17 predates uprobe_multi and"
	echo "attaches one perf event per probe (tracefs is not mounted here, so it also prints"
	echo "failed-detach warnings)."
	echo
} >"$section"

# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
bench_write_section attach "$section"
cat "$section"
