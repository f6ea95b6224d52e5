#!/usr/bin/env bash
# Benchmarks of the event pipeline (issue 22), side by side with bpftrace in
# the same run, repetitions interleaved:
#
#   A. events: a C loop calling f_nop (an emulated nop) N times from one
#      thread under `-c`, with no probe, an empty probe, and
#      printf("%d %d\n", arg0, tid) written to a file: the loop's wall and
#      thread CPU time, the lines written and the events lost. Then 10 N
#      events with a raised --ringbuf-size.
#   B. start-up: wall time of `BEGIN { printf("hi\n"); exit(); }` and of
#      `-c ./target 'uprobe:./target:f_nop { printf("hit\n"); }'` on a
#      target that exits at once.
#   C. scale: attach + detach of every function of libjvm.so (uscope only:
#      bpftrace 0.17 takes minutes there), wall time and peak RSS.
#
# Prints its section of bench/RESULTS.md ("## pipeline") on stdout, progress
# on stderr; see bench/README.md. Needs root, gcc, /usr/bin/time; bpftrace
# for the peer rows; a JDK's libjvm.so for part C.
#
# Knobs: PIPELINE_PARTS (events,startup,scale), PIPELINE_N (1000000),
# PIPELINE_RUNS (5), PIPELINE_BT_RUNS (2: bpftrace slows the target ~50x at
# this rate), PIPELINE_BIG (1: also the 10 N runs), PIPELINE_BIG_RINGBUF (256M), PIPELINE_STARTUP_RUNS (11),
# PIPELINE_SCALE_RUNS (3), LIBJVM.
# shellcheck disable=SC2016,SC2028,SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"

parts=${PIPELINE_PARTS:-events,startup,scale}
n=${PIPELINE_N:-1000000}
runs=${PIPELINE_RUNS:-5}
bt_runs=${PIPELINE_BT_RUNS:-2}
big_ring=${PIPELINE_BIG_RINGBUF:-256M}
do_big=${PIPELINE_BIG:-1}
startup_runs=${PIPELINE_STARTUP_RUNS:-11}
scale_runs=${PIPELINE_SCALE_RUNS:-3}
libjvm=${LIBJVM:-/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so}
failed=0

work=$(mktemp -d /tmp/uscope-bench-pipeline.XXXXXX)
trap 'bench_kill_jobs; rm -rf "$work"' EXIT
uscope=$(bench_uscope) || { echo "cannot build uscope" >&2; exit 1; }
bt=$(bench_bpftrace_version)
gcc -O2 -o "$work/target" "$here/target.c" || exit 1
gcc -O2 -o "$work/timeit" "$here/timeit.c" || exit 1
gcc -O2 -o "$work/pagefault" "$here/pagefault.c" || exit 1
# The floor of any Go program here: a static hello world.
mkdir -p "$work/hello" &&
	printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hi\\n") }\n' >"$work/hello/main.go" &&
	printf 'module hello\n\ngo 1.21\n' >"$work/hello/go.mod" &&
	(cd "$work/hello" && CGO_ENABLED=0 go build -o "$work/gohello" .) || exit 1
cd "$work" || exit 1

has() { [[ ",$parts," == *",$1,"* ]]; }

# run_events NAME TOOL PROGRAM [FLAGS...]: one run of the loop under TOOL
# (none, uscope, bpftrace) with PROGRAM; appends the loop's wall and CPU ms,
# the lines and the lost events to NAME.{wall,cpu,lines,lost}.
run_events() {
	local name=$1 tool=$2 prog=$3 count=$4
	shift 4
	rm -f out.txt err.txt
	case $tool in
	none) ./target "$count" 2>err.txt >out.txt ;;
	uscope) timeout 900 "$uscope" run "$@" -c "./target $count" -e "$prog" >out.txt 2>err.txt ;;
	bpftrace) timeout 900 bpftrace "$@" -c "./target $count" -e "$prog" -o out.txt >>err.txt 2>&1 ;;
	esac
	local rc=$?
	local line
	line=$(grep -o 'loop_ns=[0-9]* cpu_ns=[0-9]*' err.txt out.txt 2>/dev/null | head -1)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		bench_fail "$name: exit $rc: $(tail -3 err.txt | tr '\n' ' ')"
		return
	fi
	local wall cpu
	wall=${line#*loop_ns=}
	wall=${wall%% *}
	cpu=${line##*cpu_ns=}
	echo "$((wall / 1000000))" >>"$name.wall"
	echo "$((cpu / 1000000))" >>"$name.cpu"
	grep -c '^[0-9]* [0-9]*$' out.txt >>"$name.lines"
	{ grep -ho 'Lost [0-9]* events' out.txt err.txt | grep -o '[0-9]*' || echo 0; } | head -1 >>"$name.lost"
}

row() { # NAME LABEL
	printf '| %s | %s | %s | %s | %s | %s |\n' "$2" "$(bench_count "$1.wall")" "$(bench_stats "$1.wall" 0)" \
		"$(bench_stats "$1.cpu" 0)" "$(bench_median "$1.lines")" "$(bench_median "$1.lost")"
}

echo "## pipeline"
echo
echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs, **shared with other jobs** (load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg) at the start): wall times are inflated; thread CPU time less so." \
	"Peer: ${bt:-bpftrace absent}. Produced by \`bench/pipeline/run.sh\`."
echo

if has events; then
	bench_log "A. events: $n calls"
	empty='uprobe:./target:f_nop { }'
	pf='uprobe:./target:f_nop { printf("%d %d\n", arg0, tid); }'
	for ((i = 1; i <= runs; i++)); do
		run_events base none '' "$n"
		run_events us_empty uscope "$empty" "$n"
		run_events us_printf uscope "$pf" "$n"
		if [ -n "$bt" ] && ((i <= bt_runs)); then
			run_events bt_empty bpftrace "$empty" "$n"
			run_events bt_printf bpftrace "$pf" "$n"
		fi
	done
	big=$((n * 10))
	if [ "$do_big" = 1 ]; then
		bench_log "A. events: $big calls, --ringbuf-size $big_ring and default"
		run_events us_big uscope "$pf" "$big" --ringbuf-size "$big_ring"
		run_events us_big_default uscope "$pf" "$big"
		run_events us_big_empty uscope "$empty" "$big"
	fi
	echo "### A. Every event at full speed"
	echo
	echo "\`target N\` calls \`f_nop\` (first instruction \`nop\`, emulated: one trap per hit) N times from one"
	echo "thread; the probe prints \`printf(\"%d %d\\n\", arg0, tid)\` to a file (uscope: stdout redirected; bpftrace: \`-o\`)."
	echo "Loop times are the target's own (wall, and its thread's CPU time, which includes the probe's kernel work)."
	echo
	echo "| case | runs | loop wall ms min | median | max | loop CPU ms min | median | max | lines | lost |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	row base "$n calls, no probe"
	row us_empty "$n, uscope \`{ }\`"
	row us_printf "$n, uscope printf"
	row bt_empty "$n, ${bt:-bpftrace} \`{ }\`"
	row bt_printf "$n, ${bt:-bpftrace} printf"
	if [ "$do_big" = 1 ]; then
		row us_big_empty "$big, uscope \`{ }\`"
		row us_big_default "$big, uscope printf, default ring (4M)"
		row us_big "$big, uscope printf, --ringbuf-size $big_ring"
	fi
	echo
	echo "uscope printf / empty probe, loop wall: $(bench_ratio "$(bench_median us_printf.wall)" "$(bench_median us_empty.wall)");" \
		"CPU: $(bench_ratio "$(bench_median us_printf.cpu)" "$(bench_median us_empty.cpu)")." \
		"bpftrace printf / empty probe, wall: $(bench_ratio "$(bench_median bt_printf.wall)" "$(bench_median bt_empty.wall)")."
	echo "uscope printf / bpftrace printf, loop wall: $(bench_ratio "$(bench_median us_printf.wall)" "$(bench_median bt_printf.wall)")."
	echo
fi

# time_ms NAME CMD...: one run of CMD, output discarded; appends its wall ms
# to NAME.ms, its CPU ms (user + system) to NAME.cpu and its peak RSS in MB
# to NAME.mb (timeit.c: 0.1 ms resolution).
time_ms() {
	local name=$1
	shift
	"$work/timeit" time.out "$@" || { bench_fail "$*: exit $?"; return; }
	awk '{ print $1 }' time.out >>"$name.ms"
	awk '{ print $2 }' time.out >>"$name.cpu"
	awk '{ printf "%.1f\n", $3 / 1024 }' time.out >>"$name.mb"
	awk '{ print $4 }' time.out >>"$name.flt"
}

if has startup; then
	bench_log "B. start-up"
	begin='BEGIN { printf("hi\n"); exit(); }'
	hit='uprobe:./target:f_nop { printf("hit\n"); }'
	for ((i = 1; i <= startup_runs; i++)); do
		time_ms floor ./target 0
		time_ms gofloor ./gohello
		time_ms us_begin "$uscope" run -e "$begin"
		time_ms us_c "$uscope" run -c ./target -e "$hit"
		if [ -n "$bt" ]; then
			time_ms bt_begin bpftrace -e "$begin"
			time_ms bt_c bpftrace -c ./target -e "$hit"
		fi
	done
	echo "### B. Start-up: answers before cleanup"
	echo
	echo "| one-liner | tool | runs | wall ms min | median | max | CPU ms min | median | max | minor faults min | median | max |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	echo "| floor: \`./target 0\` (a C program that exits) | — | $(bench_count floor.ms) | $(bench_stats floor.ms 1) | $(bench_stats floor.cpu 1) | $(bench_stats floor.flt 0) |"
	echo "| floor: a static Go hello world | — | $(bench_count gofloor.ms) | $(bench_stats gofloor.ms 1) | $(bench_stats gofloor.cpu 1) | $(bench_stats gofloor.flt 0) |"
	echo "| \`$begin\` | uscope | $(bench_count us_begin.ms) | $(bench_stats us_begin.ms 1) | $(bench_stats us_begin.cpu 1) | $(bench_stats us_begin.flt 0) |"
	echo "| \`$begin\` | ${bt:-bpftrace} | $(bench_count bt_begin.ms) | $(bench_stats bt_begin.ms 1) | $(bench_stats bt_begin.cpu 1) | $(bench_stats bt_begin.flt 0) |"
	echo "| \`-c ./target '$hit'\` | uscope | $(bench_count us_c.ms) | $(bench_stats us_c.ms 1) | $(bench_stats us_c.cpu 1) | $(bench_stats us_c.flt 0) |"
	echo "| \`-c ./target '$hit'\` | ${bt:-bpftrace} | $(bench_count bt_c.ms) | $(bench_stats bt_c.ms 1) | $(bench_stats bt_c.cpu 1) | $(bench_stats bt_c.flt 0) |"
	echo
	echo "A minor page fault costs $(./pagefault) µs on this machine (bench/pipeline/pagefault.c: first touches of fresh anonymous pages, median of 5 rounds)."
	echo
	echo "uscope / bpftrace, BEGIN: $(bench_ratio "$(bench_median us_begin.ms)" "$(bench_median bt_begin.ms)");" \
		"\`-c\`: $(bench_ratio "$(bench_median us_c.ms)" "$(bench_median bt_c.ms)")."
	echo
fi

if has scale; then
	echo "### C. Attach + detach of every function of libjvm.so"
	echo
	if [ ! -f "$libjvm" ]; then
		echo "Skipped: no $libjvm."
	else
		bench_log "C. scale: $libjvm"
		# A subset both tools attach (bpftrace 0.17 caps a wildcard at 512
		# probes and attaches each as a perf event), then all of it.
		some='JVM_*'
		for ((i = 1; i <= scale_runs; i++)); do
			time_ms us_all "$uscope" run -e "uprobe:$libjvm:* { } BEGIN { exit(); }"
			time_ms us_some "$uscope" run -e "uprobe:$libjvm:$some { } BEGIN { exit(); }"
			if [ -n "$bt" ]; then
				time_ms bt_some bpftrace -e "uprobe:$libjvm:$some { } BEGIN { exit(); }"
			fi
		done
		"$uscope" run -e "uprobe:$libjvm:* { } BEGIN { exit(); }" 2>&1 >/dev/null | grep -o 'Attached [0-9]* probes' | grep -o '[0-9]*' >all.probes
		"$uscope" run -e "uprobe:$libjvm:$some { } BEGIN { exit(); }" 2>&1 >/dev/null | grep -o 'Attached [0-9]* probes' | grep -o '[0-9]*' >some.probes
		echo "\`run -e 'uprobe:$libjvm:PATTERN { } BEGIN { exit(); }'\`: resolve, attach, BEGIN, detach, exit."
		echo "\`*\` attaches $(cat all.probes) probes (every function of the file, less aliases and the ones the kernel refuses), \`$some\` $(cat some.probes)" \
			"(uscope counts BEGIN as a probe, as bpftrace does)."
		echo
		echo "| pattern | tool | runs | wall ms min | median | max | CPU ms min | median | max | peak RSS MB min | median | max |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
		echo "| \`*\` | uscope | $(bench_count us_all.ms) | $(bench_stats us_all.ms 0) | $(bench_stats us_all.cpu 0) | $(bench_stats us_all.mb 1) |"
		echo "| \`*\` | ${bt:-bpftrace} | — | not run: 0.17 caps a wildcard at 512 probes (BPFTRACE_MAX_PROBES) and attaches and detaches each as a perf event | | | | | | | | |"
		echo "| \`$some\` | uscope | $(bench_count us_some.ms) | $(bench_stats us_some.ms 0) | $(bench_stats us_some.cpu 0) | $(bench_stats us_some.mb 1) |"
		echo "| \`$some\` | ${bt:-bpftrace} | $(bench_count bt_some.ms) | $(bench_stats bt_some.ms 0) | $(bench_stats bt_some.cpu 0) | $(bench_stats bt_some.mb 1) |"
		echo
		echo "uscope / bpftrace on \`$some\`, wall: $(bench_ratio "$(bench_median us_some.ms)" "$(bench_median bt_some.ms)")."
	fi
	echo
fi

if [ -s "$work/failures" ]; then
	echo "Failures:"
	sed 's/^/- /' "$work/failures"
fi
exit $failed
