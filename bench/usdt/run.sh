#!/usr/bin/env bash
# Per-hit cost of a USDT probe (issue 5): bench/usdt/target.c fires
# bench:hit (two register arguments, no semaphore) N times and prints the
# mean ns per hit, untraced and while a tracer runs
#
#   uscope   usdt:TARGET:bench:hit { }
#   uscope   usdt:TARGET:bench:hit { printf("%d %d\n", arg0, arg1); }
#   bpftrace the same two programs
#
# attached by path before TARGET starts, output to /dev/null; repetitions
# interleaved (untraced, uscope empty, uscope printf, bpftrace empty,
# bpftrace printf, untraced, ...). The tracer runs on CPU 0, TARGET on CPU 1.
#
# Prints its section of bench/RESULTS.md ("## usdt") on stdout, progress on
# stderr; see bench/README.md. Needs root, gcc, sys/sdt.h, taskset; bpftrace
# for the peer rows.
#
# Knobs (environment): USDT_RUNS (5 rounds), USDT_LOOP_N (200000 hits).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"

runs=${USDT_RUNS:-5}
loop_n=${USDT_LOOP_N:-200000}

work=$(mktemp -d /tmp/uscope-bench-usdt.XXXXXX)
# Background processes are this shell's jobs: `jobs -p` lists only those not
# yet reaped, so no pid here can have been reused by another process.
cleanup() {
	bench_kill_jobs
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=0
fail() { bench_fail "$@"; }

uscope=$(bench_uscope) || {
	printf '## usdt\n\nCould not build uscope.\n'
	exit 1
}
have_bt=0
bench_have bpftrace && have_bt=1
bt_version=$(bench_bpftrace_version)
bt_name=${bt_version:-bpftrace}

target=$work/target
gcc -O2 -Wall -o "$target" "$here/target.c" || {
	printf '## usdt\n\nCould not compile bench/usdt/target.c (needs sys/sdt.h: systemtap-sdt-dev).\n'
	exit 1
}
probe="usdt:$target:bench:hit"
spec=$(readelf -n "$target" 2>/dev/null | awk '/Arguments:/ { $1 = ""; sub(/^ /, ""); print; exit }')

# once TOOL PROG KEY: run TARGET's loop while TOOL (none, uscope or
# bpftrace) runs PROG; append ns/hit (CPU, wall) to $work/KEY.{cpu,wall}
# and the CPU overhead over this round's untraced run to $work/KEY.ovh.
once() {
	local tool=$1 prog=$2 key=$3 pid="" ready out
	case $tool in
	uscope)
		taskset -c 0 "$uscope" run -e "$probe $prog" >/dev/null 2>"$work/t.err" &
		pid=$!
		ready='^Attached'
		;;
	bpftrace)
		__BPFTRACE_NOTIFY_PROBES_ATTACHED=1 taskset -c 0 bpftrace -e "$probe $prog" >/dev/null 2>"$work/t.err" &
		pid=$!
		ready='__BPFTRACE_NOTIFY_PROBES_ATTACHED'
		;;
	esac
	if [ -n "$pid" ] && ! bench_wait_line "$work/t.err" "$ready" 60 "$pid"; then
		bench_stop "$pid" 10
		fail "$key: $tool did not attach: $(tail -3 "$work/t.err" | tr '\n' ' ')"
		return
	fi
	out=$(timeout -k 5 300 taskset -c 1 "$target" loop "$loop_n")
	local rc=$?
	if [ -n "$pid" ]; then
		bench_stop "$pid" 60
		grep -ohE '(Lost|lost) [0-9]+ events?' "$work/t.err" | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }' >>"$work/$key.lost"
	fi
	if [ "$rc" != 0 ] || [ -z "$out" ]; then
		fail "$key: target exited with status $rc"
		return
	fi
	local cpu=${out% *} wall=${out#* }
	echo "$cpu" >>"$work/$key.cpu"
	echo "$wall" >>"$work/$key.wall"
	if [ "$tool" = none ]; then
		echo "$cpu" >"$work/base"
	elif [ -s "$work/base" ]; then
		awk -v a="$cpu" -v b="$(cat "$work/base")" 'BEGIN { printf "%.1f\n", a - b }' >>"$work/$key.ovh"
	fi
}

empty='{ }'
printf2='{ printf("%d %d\n", arg0, arg1); }'
for ((i = 1; i <= runs; i++)); do
	bench_log "round $i of $runs"
	rm -f "$work/base"
	once none '' none
	once uscope "$empty" uscope-empty
	once uscope "$printf2" uscope-printf
	if [ "$have_bt" = 1 ]; then
		once bpftrace "$empty" bpftrace-empty
		once bpftrace "$printf2" bpftrace-printf
	fi
done

{
	echo "## usdt"
	echo
	echo "Per-hit cost of a USDT probe (issue 5), \`bench/usdt/run.sh\`, $(date -u +%Y-%m-%d), peer: ${bt_version:-bpftrace not installed}."
	echo "TARGET (bench/usdt/target.c, on CPU 1) fires \`bench:hit\` (sys/sdt.h, arguments \`${spec:-?}\`,"
	echo "no semaphore) $loop_n times after a tenth as many warm-up hits,"
	echo "and prints the mean ns per hit in thread CPU time (it includes the kernel's trap and BPF"
	echo "program, run in the thread) and wall time. The tracer runs on CPU 0, attached to the probe by"
	echo "path before TARGET starts, output to /dev/null. Overhead = traced − untraced CPU ns/hit of the"
	echo "same round. $runs rounds, interleaved; min | median | max."
	echo
	echo "| tool | program | runs | CPU ns/hit min | median | max | wall ns/hit min | median | max | overhead ns/hit min | median | max | lost events |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for key in none uscope-empty uscope-printf bpftrace-empty bpftrace-printf; do
		[ -f "$work/$key.cpu" ] || continue
		tool=${key%%-*} prog=${key#*-}
		case $prog in
		none) tool='—' prog='untraced' ;;
		empty) prog="\`$empty\`" ;;
		printf) prog="\`$printf2\`" ;;
		esac
		[ "$tool" = bpftrace ] && tool=$bt_name
		lost='—'
		[ -f "$work/$key.lost" ] && lost=$(awk '{ s += $1 } END { print s + 0 }' "$work/$key.lost")
		if [ "$key" = none ]; then
			echo "| $tool | $prog | $(bench_count "$work/$key.cpu") | $(bench_stats "$work/$key.cpu") | $(bench_stats "$work/$key.wall") | | | | |"
		else
			echo "| $tool | $prog | $(bench_count "$work/$key.cpu") | $(bench_stats "$work/$key.cpu") | $(bench_stats "$work/$key.wall") | $(bench_stats "$work/$key.ovh") | $lost |"
		fi
	done
	echo
	us_e=$(bench_median "$work/uscope-empty.ovh")
	us_p=$(bench_median "$work/uscope-printf.ovh")
	bt_e=$(bench_median "$work/bpftrace-empty.ovh")
	bt_p=$(bench_median "$work/bpftrace-printf.ovh")
	echo "Ratios of median overheads: uscope printf / uscope empty = $(bench_ratio "$us_p" "$us_e");"
	echo "uscope printf / bpftrace printf = $(bench_ratio "$us_p" "$bt_p"); uscope empty / bpftrace empty = $(bench_ratio "$us_e" "$bt_e")."
	echo "Wall time, uscope printf / bpftrace printf (medians): $(bench_ratio "$(bench_median "$work/uscope-printf.wall")" "$(bench_median "$work/bpftrace-printf.wall")")."
	echo
	if [ -s "$work/failures" ]; then
		echo "Failures in this run:"
		echo
		sed 's/^/- /' "$work/failures"
		echo
	fi
}
exit "$failed"
