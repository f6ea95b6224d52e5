#!/usr/bin/env bash
# Benchmarks of the probe engine (issue 4), each measured side by side with
# bpftrace in the same run, repetitions interleaved (uscope, bpftrace,
# baseline, uscope, ...):
#
#   A. start-up: wall time and peak RSS of a one-liner from start to attached
#      to its first event to exit, on a target calling the function every
#      100 µs; plus where uscope's time and memory go (strace, smaps).
#   B. per-hit cost: a C loop timing N calls of a probed function, with no
#      probe, an empty program and a printf program; the emulated (nop,
#      push), single-stepped (cmp) and 5-byte-nop first instructions.
#   C. attach + detach of a wildcard over 391 functions of redis-server
#      (`s*`, 392 probes with BEGIN, as bpftrace counts them).
#
# Prints its section of bench/RESULTS.md ("## engine") on stdout, progress
# on stderr; see bench/README.md. Needs root, gcc, /usr/bin/time, taskset;
# bpftrace and /usr/bin/redis-server for the peer rows and part C; strace
# for the start-up breakdown.
#
# Knobs (environment): ENGINE_PARTS (startup,perhit,wildcard), ENGINE_RUNS
# (5), ENGINE_LOOP_N (300000 calls; ENGINE_LOOP_N_XOL 20000 for the
# single-stepped site), ENGINE_BT_WILDCARD_RUNS (2, each can take minutes),
# ENGINE_BT_TIMEOUT (150 s).
# Markdown with backquotes and \n is printed on purpose; cleanup runs from a trap.
# shellcheck disable=SC2016,SC2028,SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"

parts=${ENGINE_PARTS:-startup,perhit,wildcard}
runs=${ENGINE_RUNS:-5}
loop_n=${ENGINE_LOOP_N:-300000}
loop_n_xol=${ENGINE_LOOP_N_XOL:-20000}
bt_wild_runs=${ENGINE_BT_WILDCARD_RUNS:-2}
bt_timeout=${ENGINE_BT_TIMEOUT:-150}
redis=/usr/bin/redis-server
wild_glob='s*'

work=$(mktemp -d /tmp/uscope-bench-engine.XXXXXX)
# Background processes are this shell's jobs: `jobs -p` lists only those not
# yet reaped, so no pid here can have been reused by another process.
# stats_restore is the value of kernel.bpf_stats_enabled to put back, while
# part B has it switched on.
stats_restore=""
cleanup() {
	bench_kill_jobs
	[ -n "$stats_restore" ] && echo "$stats_restore" >/proc/sys/kernel/bpf_stats_enabled
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=0
fail() { bench_fail "$@"; }

uscope=$(bench_uscope) || {
	echo "## engine"
	echo
	echo "Could not build uscope."
	exit 1
}
have_bt=0
bench_have bpftrace && have_bt=1
bt_version=$(bench_bpftrace_version)
bt_name=${bt_version:-bpftrace}

gcc -O2 -Wall -o "$work/target" "$here/target.c" || {
	echo "## engine"
	echo
	echo "Could not compile bench/engine/target.c."
	exit 1
}
target=$work/target

want() { [[ ",$parts," == *",$1,"* ]]; }

# ---------------------------------------------------------------------------
# A. Start-up.

# startup_once CASE: run one one-liner to its end; append wall ms and peak
# RSS MiB to $work/A-CASE.{wall,rss}.
startup_once() {
	local c=$1 cmd t0 t1 rc
	case $c in
	uscope) cmd=("$uscope" run -e "uprobe:$target:f_push { printf(\"hit\\n\"); exit(); }") ;;
	bpftrace) cmd=(bpftrace -e "uprobe:$target:f_push { printf(\"hit\\n\"); exit(); }") ;;
	uscope-begin) cmd=("$uscope" run -e 'BEGIN { printf("hit\n"); exit(); }') ;;
	bpftrace-begin) cmd=(bpftrace -e 'BEGIN { printf("hit\n"); exit(); }') ;;
	esac
	t0=$(bench_now_us)
	timeout -k 5 60 /usr/bin/time -f '%e %M' -o "$work/time.out" \
		taskset -c 0 "${cmd[@]}" >"$work/a.out" 2>"$work/a.err"
	rc=$?
	t1=$(bench_now_us)
	if [ "$rc" != 0 ] || ! grep -qx hit "$work/a.out"; then
		fail "start-up $c: exit status $rc: $(tail -3 "$work/a.err" | tr '\n' ' ')"
		return
	fi
	echo "$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))" >>"$work/A-$c.wall"
	tail -1 "$work/time.out" | awk '{ printf "%.1f\n", $2 / 1024 }' >>"$work/A-$c.rss"
}

# strace_breakdown: runs of uscope's one-liner under strace; prints a table
# of its phases, delimited by system calls, min | median | max over the runs.
strace_breakdown() {
	bench_have strace || {
		echo "(strace is not installed: no breakdown)"
		return
	}
	local i n=$runs
	: >"$work/A-phases"
	for ((i = 1; i <= n; i++)); do
		taskset -c 0 strace -f --seccomp-bpf -ttt -T -e trace=execve,bpf,close,exit_group \
			-o "$work/strace.txt" "$uscope" run \
			-e "uprobe:$target:f_push { printf(\"hit\\n\"); exit(); }" >/dev/null 2>&1 || continue
		# One line per run: the seven phase durations in ms.
		awk '
			function ms(a, b) { return sprintf("%.2f", (b - a) * 1000) }
			# Join "<unfinished ...>" with its "<... resumed>" line.
			/<unfinished \.\.\.>$/ { pend[$1] = $0; sub(/ <unfinished \.\.\.>$/, "", pend[$1]); next }
			/<\.\.\. [a-z_0-9]+ resumed>/ {
				if (!($1 in pend)) next
				rest = $0; sub(/^.*resumed>/, "", rest)
				$0 = pend[$1] rest; delete pend[$1]
			}
			{
				t = $2 + 0; last = t
				dur = 0; if (match($0, /<[0-9.]+>$/)) dur = substr($0, RSTART + 1, RLENGTH - 2) + 0
				ret = $0; sub(/^.*\) += /, "", ret); ret = ret + 0
			}
			$3 ~ /^execve\(/ && !t0 { t0 = t }
			$3 ~ /^bpf\(/ && !fb { fb = t }
			$3 ~ /^bpf\(BPF_LINK_CREATE/ && / = [0-9]+ </ { l0 = t; l1 = t + dur; lfd = ret; c0 = 0 }
			lfd && $3 ~ ("^close\\(" lfd "\\)") && !c0 && t >= l1 { c0 = t; c1 = t + dur }
			END {
				if (t0 && fb && l0 && c0)
					print ms(t0, fb), ms(fb, l0), ms(l0, l1), ms(l1, c0), ms(c0, c1), ms(c1, last), ms(t0, last)
			}' "$work/strace.txt" >>"$work/A-phases"
	done
	if [ ! -s "$work/A-phases" ]; then
		echo "(no usable strace run)"
		return
	fi
	local names=(
		"exec to first bpf(): Go runtime, CLI, parse, resolve, codegen"
		"first bpf() to BPF_LINK_CREATE: feature probes, maps, program load"
		"BPF_LINK_CREATE (uprobe_multi attach)"
		"attached to the exit() record read: wait for a hit (≤ 0.1 ms), ring buffer drain timer (≤ 50 ms)"
		"close(link): detach"
		"after detach to process exit"
		"total (under strace)"
	)
	echo "| phase ($(bench_count "$work/A-phases") runs under \`strace -f -T\`) | ms min | median | max |"
	echo "|---|---|---|---|"
	for ((i = 0; i < 7; i++)); do
		awk -v c=$((i + 1)) '{ print $c }' "$work/A-phases" >"$work/A-phase"
		echo "| ${names[i]} | $(bench_stats "$work/A-phase" 2) |"
	done
}

# rss_breakdown NAME READY-REGEX CMD...: start CMD (a probe printing on every
# hit, never exiting), wait for READY-REGEX on its stderr, and print a table
# row splitting its resident memory by mapping kind.
rss_breakdown() {
	local name=$1 ready=$2 pid
	shift 2
	: >"$work/rss.err"
	"$@" >/dev/null 2>"$work/rss.err" &
	pid=$!
	if ! bench_wait_line "$work/rss.err" "$ready" 60 "$pid"; then
		bench_stop "$pid" 10
		echo "| $name | (did not start) | | | | |"
		return
	fi
	sleep 0.3
	awk -v name="$name" '
		$1 ~ /^[0-9a-f]+-[0-9a-f]+$/ {
			path = $6
			if (path ~ /bpf-map|bpf_ringbuf/) kind = "bpf"
			else if (path ~ /^\// ) kind = "file"
			else kind = "anon"
			next
		}
		$1 == "Rss:" { r[kind] += $2; tot += $2 }
		END {
			printf "| %s | %.1f | %.1f | %.1f | %.1f |\n", name, tot / 1024, r["bpf"] / 1024, r["file"] / 1024, r["anon"] / 1024
		}' "/proc/$pid/smaps"
	bench_stop "$pid" 30
}

part_startup() {
	bench_log "start-up: $runs rounds"
	taskset -c 1 "$target" tick f_push &
	local tick=$!
	sleep 0.2
	local cases=(uscope uscope-begin)
	[ "$have_bt" = 1 ] && cases=(uscope bpftrace uscope-begin bpftrace-begin)
	local i c
	for ((i = 1; i <= runs; i++)); do
		for c in "${cases[@]}"; do startup_once "$c"; done
	done
	local us_wall bt_wall us_rss bt_rss
	us_wall=$(bench_median "$work/A-uscope.wall")
	bt_wall=$(bench_median "$work/A-bpftrace.wall")
	us_rss=$(bench_median "$work/A-uscope.rss")
	bt_rss=$(bench_median "$work/A-bpftrace.rss")
	echo "### A. One-liner start-up: start to attached to first event to exit"
	echo
	echo "\`uprobe:TARGET:f_push { printf(\"hit\\n\"); exit(); }\` while TARGET (bench/engine/target.c)"
	echo "calls f_push every 100 µs on CPU 1; the tool runs on CPU 0. Wall time measured around"
	echo "\`/usr/bin/time -f '%e %M'\` (whose %e has only 10 ms resolution), peak RSS from its %M."
	echo "The BEGIN rows run \`BEGIN { printf(\"hit\\n\"); exit(); }\`: the cost without any uprobe."
	echo "$runs rounds, interleaved. Aim (issue 4): uscope under 50 ms and 20 MiB."
	echo
	echo "| tool | program | runs | wall ms min | median | max | peak RSS MiB min | median | max |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for c in "${cases[@]}"; do
		local tool=${c%-begin} prog='uprobe one-liner'
		[ "$c" != "$tool" ] && prog='BEGIN only'
		[ "$tool" = bpftrace ] && tool=$bt_name
		echo "| $tool | $prog | $(bench_count "$work/A-$c.wall") | $(bench_stats "$work/A-$c.wall") | $(bench_stats "$work/A-$c.rss") |"
	done
	echo
	if [ "$have_bt" = 1 ]; then
		echo "Ratio uscope / bpftrace (medians): wall $(bench_ratio "$us_wall" "$bt_wall"), peak RSS $(bench_ratio "$us_rss" "$bt_rss");"
		echo "(minima): wall $(bench_ratio "$(sort -g "$work/A-uscope.wall" | head -1)" "$(sort -g "$work/A-bpftrace.wall" | head -1)")."
		echo
	fi
	echo "Each uprobe row ends by detaching one uprobe; bpftrace 0.17 uses a perf event, whose close"
	echo "waits for RCU grace periods under global locks (Linux 6.13+), so other jobs attaching or"
	echo "detaching uprobes at the same time stretch it (its max). uscope's BEGIN row also attaches"
	echo "and detaches a uprobe: on uscope's own trigger function, which BEGIN and END fire."
	echo
	bench_log "start-up: breakdown"
	echo "Where uscope's time goes:"
	echo
	strace_breakdown
	echo
	echo "Where the memory goes (steady state, attached, program \`{ printf(\"hit\\n\"); }\`; MiB of RSS):"
	echo
	echo "| tool | RSS | BPF map mappings (ring/perf buffers) | binary + libraries | anonymous (heap, stacks) |"
	echo "|---|---|---|---|---|"
	rss_breakdown uscope '^Attached' taskset -c 0 "$uscope" run -e "uprobe:$target:f_push { printf(\"hit\\n\"); }"
	if [ "$have_bt" = 1 ]; then
		rss_breakdown "$bt_name" '__BPFTRACE_NOTIFY_PROBES_ATTACHED' \
			env __BPFTRACE_NOTIFY_PROBES_ATTACHED=1 taskset -c 0 bpftrace -e "uprobe:$target:f_push { printf(\"hit\\n\"); }"
	fi
	echo
	bench_stop "$tick" 5
}

# ---------------------------------------------------------------------------
# B. Per-hit cost.

# start_tool TOOL PROG SITE LOG: start TOOL (uscope or bpftrace) with
# PROG on SITE of the target, output to /dev/null, stderr to LOG, and wait
# until it is attached. Sets tool_pid; fails if it did not attach.
start_tool() {
	local tool=$1 prog=$2 site=$3 log=$4 ready
	# Empty the log first: the child truncates it only once it runs, and the
	# wait below must not see the previous run's ready line.
	: >"$log"
	case $tool in
	uscope)
		taskset -c 0 "$uscope" run -e "uprobe:$target:$site $prog" >/dev/null 2>"$log" &
		ready='^Attached'
		;;
	bpftrace)
		__BPFTRACE_NOTIFY_PROBES_ATTACHED=1 taskset -c 0 bpftrace \
			-e "uprobe:$target:$site $prog" >/dev/null 2>"$log" &
		ready='__BPFTRACE_NOTIFY_PROBES_ATTACHED'
		;;
	esac
	tool_pid=$!
	bench_wait_line "$log" "$ready" 60 "$tool_pid" && return 0
	bench_stop "$tool_pid" 10
	return 1
}

# loop_once TOOL SITE PROG KEY: time the target's loop on SITE with TOOL
# (none, uscope or bpftrace) running PROG. Appends CPU and wall ns/call to
# $work/B-KEY.{cpu,wall}, the CPU-time overhead over this round's untraced
# run to $work/B-KEY.ovh, and the events the tool reported lost.
loop_once() {
	local tool=$1 site=$2 prog=$3 key=$4 n=$loop_n out rc
	[ "$site" = f_cmp ] && n=$loop_n_xol
	if [ "$tool" != none ] && ! start_tool "$tool" "$prog" "$site" "$work/b.err"; then
		fail "per-hit $key: $tool did not attach: $(tail -3 "$work/b.err" | tr '\n' ' ')"
		return
	fi
	out=$(timeout -k 5 300 taskset -c 1 "$target" loop "$site" "$n")
	rc=$?
	if [ "$tool" != none ]; then
		bench_stop "$tool_pid" 60
		grep -ohE 'Lost [0-9]+ events?' "$work/b.err" | awk '{ s += $2 } END { print s + 0 }' >>"$work/B-$key.lost"
	fi
	if [ "$rc" != 0 ] || [ -z "$out" ]; then
		fail "per-hit $key: target exited with status $rc"
		return
	fi
	local cpu=${out% *} wall=${out#* }
	echo "$cpu" >>"$work/B-$key.cpu"
	echo "$wall" >>"$work/B-$key.wall"
	if [ "$tool" = none ]; then
		echo "$cpu" >"$work/B-base-$site"
	elif [ -s "$work/B-base-$site" ]; then
		awk -v a="$cpu" -v b="$(cat "$work/B-base-$site")" 'BEGIN { printf "%.1f\n", a - b }' >>"$work/B-$key.ovh"
	fi
}

# bpf_stats_once TOOL PROG KEY: with kernel.bpf_stats_enabled on, run the
# loop on f_push under TOOL and append the mean run time of the tool's BPF
# programs (ns per run, as the kernel accounts it) to $work/S-KEY.
bpf_stats_once() {
	local tool=$1 prog=$2 key=$3
	if ! start_tool "$tool" "$prog" f_push "$work/s.err"; then
		fail "BPF run time $key: $tool did not attach"
		return
	fi
	taskset -c 1 "$target" loop f_push "$loop_n" >/dev/null
	# A BPF program's fdinfo carries the kernel's run_time_ns and run_cnt.
	cat /proc/"$tool_pid"/fdinfo/* 2>/dev/null | awk '
		/^prog_jited:/ { prog = 1 }
		/^pos:/ { prog = 0 }
		prog && $1 == "run_time_ns:" { t += $2 }
		prog && $1 == "run_cnt:" { n += $2 }
		END { if (n > 0) printf "%.1f\n", t / n }' >>"$work/S-$key"
	bench_stop "$tool_pid" 60
}

part_perhit() {
	local sites=(f_push f_nop f_nop5 f_cmp) i s
	for ((i = 1; i <= runs; i++)); do
		bench_log "per-hit: round $i of $runs"
		taskset -c 1 "$target" getpgid 1000000 >"$work/getpgid" &&
			cut -d' ' -f1 "$work/getpgid" >>"$work/B-getpgid.cpu"
		for s in "${sites[@]}"; do
			rm -f "$work/B-base-$s"
			loop_once none "$s" "" "none-$s"
			loop_once uscope "$s" '{ }' "uscope-empty-$s"
			[ "$have_bt" = 1 ] && loop_once bpftrace "$s" '{ }' "bpftrace-empty-$s"
			if [ "$s" = f_push ]; then
				loop_once uscope "$s" '{ printf("%d\n", arg0); }' "uscope-printf-$s"
				[ "$have_bt" = 1 ] && loop_once bpftrace "$s" '{ printf("%d\n", arg0); }' "bpftrace-printf-$s"
			fi
		done
	done
	# The kernel's own accounting of time inside the BPF programs: the
	# sysctl is global, so it is on only for these runs and restored after.
	local stats_old="" stats_rounds=$(((runs + 1) / 2))
	if [ -w /proc/sys/kernel/bpf_stats_enabled ]; then
		stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null)
		[ "$stats_old" = 1 ] || stats_old=0
		stats_restore=$stats_old
		echo 1 >/proc/sys/kernel/bpf_stats_enabled
		for ((i = 1; i <= stats_rounds; i++)); do
			bench_log "per-hit: BPF run time, round $i of $stats_rounds"
			bpf_stats_once uscope '{ }' uscope-empty
			bpf_stats_once uscope '{ printf("%d\n", arg0); }' uscope-printf
			if [ "$have_bt" = 1 ]; then
				bpf_stats_once bpftrace '{ }' bpftrace-empty
				bpf_stats_once bpftrace '{ printf("%d\n", arg0); }' bpftrace-printf
			fi
		done
		echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
		stats_restore=""
	fi
	local sys
	sys=$(bench_median "$work/B-getpgid.cpu")
	echo "### B. Per-hit cost"
	echo
	echo "TARGET (bench/engine/target.c, on CPU 1) calls a function $loop_n times ($loop_n_xol for f_cmp)"
	echo "after a tenth as many warm-up calls and prints the mean ns per call, in thread CPU time"
	echo "(\`CLOCK_THREAD_CPUTIME_ID\`: it includes the kernel's probe work, done in the thread, and"
	echo "leaves out time spent waiting for the CPU) and in wall time. The tool runs on CPU 0,"
	echo "attached before TARGET starts; printf output goes to /dev/null. Overhead = traced − untraced"
	echo "CPU ns/call of the same round. \"× syscall\" divides the median overhead by this machine's"
	echo "syscall floor, getpgid(0): $(bench_stats "$work/B-getpgid.cpu") ns (min | median | max)."
	echo "First instructions: f_push \`push %rbp\` and f_nop \`nop\` are emulated by the kernel (one trap),"
	echo "f_cmp \`cmp \$0,%rdi\` is single-stepped out of line (a second trap), f_nop5 is a 5-byte nop."
	echo "$runs rounds, interleaved. Aim (issue 4): uscope's printf within 10% of its empty program."
	echo
	echo "| function | tool | program | runs | CPU ns/call min | median | max | overhead ns/hit min | median | max | × syscall | wall ns/call median | lost events |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	local row key tool prog med lost
	for s in "${sites[@]}"; do
		for row in none uscope-empty bpftrace-empty uscope-printf bpftrace-printf; do
			key=$row-$s
			[ -f "$work/B-$key.cpu" ] || continue
			tool=${row%%-*} prog=${row#*-}
			[ "$row" = none ] && tool='—' prog='no probe'
			[ "$prog" = empty ] && prog='`{ }`'
			[ "$prog" = printf ] && prog='`{ printf("%d\n", arg0); }`'
			[ "$tool" = bpftrace ] && tool=$bt_name
			med=$(bench_median "$work/B-$key.ovh")
			lost='—'
			[ -f "$work/B-$key.lost" ] && lost=$(awk '{ s += $1 } END { print s + 0 }' "$work/B-$key.lost")
			if [ "$row" = none ]; then
				echo "| $s | $tool | $prog | $(bench_count "$work/B-$key.cpu") | $(bench_stats "$work/B-$key.cpu") | | | | | $(bench_median "$work/B-$key.wall") | |"
			else
				echo "| $s | $tool | $prog | $(bench_count "$work/B-$key.cpu") | $(bench_stats "$work/B-$key.cpu") | $(bench_stats "$work/B-$key.ovh") | $(bench_ratio "$med" "$sys" 1) | $(bench_median "$work/B-$key.wall") | $lost |"
			fi
		done
	done
	echo
	local us_e us_p bt_e bt_p
	us_e=$(bench_median "$work/B-uscope-empty-f_push.ovh")
	us_p=$(bench_median "$work/B-uscope-printf-f_push.ovh")
	bt_e=$(bench_median "$work/B-bpftrace-empty-f_push.ovh")
	bt_p=$(bench_median "$work/B-bpftrace-printf-f_push.ovh")
	echo "Ratios of median overheads on f_push: uscope printf / uscope empty = **$(bench_ratio "$us_p" "$us_e")** (aim ≤ 1.10);"
	echo "uscope printf / bpftrace printf = **$(bench_ratio "$us_p" "$bt_p")**; uscope empty / bpftrace empty = $(bench_ratio "$us_e" "$bt_e")."
	for s in f_nop f_nop5 f_cmp; do
		echo "Empty program on $s, uscope / bpftrace = $(bench_ratio "$(bench_median "$work/B-uscope-empty-$s.ovh")" "$(bench_median "$work/B-bpftrace-empty-$s.ovh")")."
	done
	echo
	if [ -n "$stats_old" ]; then
		echo "Time inside the BPF program per hit on f_push, as the kernel accounts it"
		echo "(\`kernel.bpf_stats_enabled\`, run_time_ns / run_cnt from the programs' fdinfo; $stats_rounds rounds"
		echo "after the others; the accounting itself adds a little to every figure):"
		echo
		echo "| tool | program | runs | ns/run min | median | max |"
		echo "|---|---|---|---|---|---|"
		for row in uscope-empty uscope-printf bpftrace-empty bpftrace-printf; do
			[ -s "$work/S-$row" ] || continue
			tool=${row%%-*} prog=${row#*-}
			[ "$prog" = empty ] && prog='`{ }`'
			[ "$prog" = printf ] && prog='`{ printf("%d\n", arg0); }`'
			[ "$tool" = bpftrace ] && tool=$bt_name
			echo "| $tool | $prog | $(bench_count "$work/S-$row") | $(bench_stats "$work/S-$row") |"
		done
		echo
	fi
}

# ---------------------------------------------------------------------------
# C. Wildcard attach + detach.

# wild_once TOOL: run the attach-everything-then-exit program; append total,
# start→attached and attached→end (ms) to $work/C-TOOL.{total,attach,detach}.
wild_once() {
	local tool=$1 prog cmd marker limit=60 t0 t1 rc
	prog="uprobe:$redis:$wild_glob { @c = count(); } BEGIN { exit(); }"
	case $tool in
	uscope)
		cmd=("$uscope" run -e "$prog")
		marker='Attached [0-9]+ probes'
		;;
	bpftrace)
		cmd=(env BPFTRACE_MAX_PROBES=1000 __BPFTRACE_NOTIFY_PROBES_ATTACHED=1 bpftrace -e "$prog")
		marker='__BPFTRACE_NOTIFY_PROBES_ATTACHED'
		limit=$bt_timeout
		;;
	esac
	bench_log "wildcard: $tool"
	# stderr lines are stamped as they arrive, to split attach from detach.
	rm -f "$work/c.fifo"
	mkfifo "$work/c.fifo"
	while IFS= read -r l; do
		t=$EPOCHREALTIME
		printf '%s %s\n' "${t/[.,]/}" "$l"
	done <"$work/c.fifo" >"$work/c.err" &
	local stamper=$!
	t0=$(bench_now_us)
	timeout -k 10 "$limit" "${cmd[@]}" >"$work/c.out" 2>"$work/c.fifo"
	rc=$?
	t1=$(bench_now_us)
	wait "$stamper"
	local ta
	ta=$(grep -E "^[0-9]+ $marker" "$work/c.err" | head -1 | cut -d' ' -f1)
	grep -ohE '(Attached|Attaching) [0-9]+ probes' "$work/c.err" "$work/c.out" | head -1 | awk '{ print $2 }' >"$work/C-$tool.probes"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo 1 >>"$work/C-$tool.timeouts"
		[ -n "$ta" ] && awk -v a="$t0" -v b="$ta" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }' >>"$work/C-$tool.attach-timedout"
		return
	fi
	if [ "$rc" != 0 ] || [ -z "$ta" ]; then
		fail "wildcard $tool: exit status $rc: $(tail -3 "$work/c.err" | cut -d' ' -f2- | tr '\n' ' ')"
		return
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }' >>"$work/C-$tool.total"
	awk -v a="$t0" -v b="$ta" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }' >>"$work/C-$tool.attach"
	awk -v a="$ta" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }' >>"$work/C-$tool.detach"
}

part_wildcard() {
	echo "### C. Attach + detach of a 392-probe wildcard on redis-server"
	echo
	if [ ! -x "$redis" ]; then
		echo "$redis is not installed: skipped."
		echo
		return
	fi
	local nfuncs
	nfuncs=$("$uscope" list "$redis" "$wild_glob" 2>/dev/null | grep -c '^uprobe:')
	local i max=$runs
	[ "$have_bt" = 1 ] && [ "$bt_wild_runs" -gt "$max" ] && max=$bt_wild_runs
	for ((i = 1; i <= max; i++)); do
		[ "$i" -le "$runs" ] && wild_once uscope
		# A run that timed out would time out again: one is enough.
		[ "$have_bt" = 1 ] && [ "$i" -le "$bt_wild_runs" ] && [ ! -s "$work/C-bpftrace.timeouts" ] &&
			wild_once bpftrace
	done
	echo "\`uprobe:$redis:$wild_glob { @c = count(); } BEGIN { exit(); }\`: $nfuncs functions match \`$wild_glob\`"
	echo "(\`uscope list\`), 392 probes with BEGIN as bpftrace counts them. Both tools attach every"
	echo "probe, then see exit() and detach. Split at the line each prints once attached (uscope"
	echo "\"Attached N probes\", bpftrace \`__BPFTRACE_NOTIFY_PROBES_ATTACHED\`). bpftrace is capped at"
	echo "${bt_timeout} s per run. Aim (issue 4): uscope under 500 ms."
	echo
	echo "| tool | probes | runs | total ms min | median | max | start → attached min | median | max | attached → exit min | median | max |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	local tool name cnt to
	for tool in uscope bpftrace; do
		[ "$tool" = bpftrace ] && { [ "$have_bt" = 0 ] || [ "$bt_wild_runs" = 0 ]; } && continue
		name=$tool
		[ "$tool" = bpftrace ] && name="$bt_name (perf events)"
		cnt=$(bench_count "$work/C-$tool.total")
		to=$(bench_count "$work/C-$tool.timeouts")
		if [ "$cnt" = 0 ] && [ "$to" -gt 0 ]; then
			local att="did not finish attaching"
			[ -s "$work/C-$tool.attach-timedout" ] && att=$(bench_stats "$work/C-$tool.attach-timedout")
			[ -s "$work/C-$tool.attach-timedout" ] || att="$att | |"
			echo "| $name | $(cat "$work/C-$tool.probes" 2>/dev/null) | $to | timed out (${bt_timeout} s) | | | $att | | | |"
			continue
		fi
		local extra=""
		[ "$to" -gt 0 ] && extra=" (+$to timed out)"
		echo "| $name | $(cat "$work/C-$tool.probes" 2>/dev/null) | $cnt$extra | $(bench_stats "$work/C-$tool.total") | $(bench_stats "$work/C-$tool.attach") | $(bench_stats "$work/C-$tool.detach") |"
	done
	echo
	if [ "$have_bt" = 1 ] && [ "$bt_wild_runs" -gt 0 ]; then
		local bt_med
		bt_med=$(bench_median "$work/C-bpftrace.total")
		if [ -z "$bt_med" ] && [ "$(bench_count "$work/C-bpftrace.timeouts")" -gt 0 ]; then
			echo "Ratio uscope / bpftrace (total, medians): < $(bench_ratio "$(bench_median "$work/C-uscope.total")" "$((bt_timeout * 1000))" 4) (bpftrace timed out)."
		else
			echo "Ratio uscope / bpftrace (total, medians): $(bench_ratio "$(bench_median "$work/C-uscope.total")" "$bt_med" 4)."
		fi
		echo
	fi
}

# ---------------------------------------------------------------------------

{
	echo "## engine"
	echo
	echo "Probe engine benchmarks (issue 4), \`bench/engine/run.sh\`, $(date -u +%Y-%m-%d), peer: ${bt_version:-bpftrace not installed}."
	echo "Each figure is min | median | max over the runs; ratios compare medians. Load average at the"
	echo "start: $(cut -d' ' -f1-3 /proc/loadavg) (on a shared machine, max and median carry other jobs' noise)."
	echo
} >"$work/section.md"
want startup && part_startup >>"$work/section.md"
want perhit && part_perhit >>"$work/section.md"
want wildcard && part_wildcard >>"$work/section.md"
if [ -s "$work/failures" ]; then
	{
		echo "Failures in this run:"
		echo
		sed 's/^/- /' "$work/failures"
		echo
	} >>"$work/section.md"
fi
cat "$work/section.md"
exit "$failed"
