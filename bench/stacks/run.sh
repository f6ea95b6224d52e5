#!/bin/bash
# Stacks benchmark (issue 18), run by bench/run.sh or on its own (root):
#
#   A. per-hit cost of @[ustack] = count() at a frameless leaf reached
#      through 8 frames, target.c built with frame pointers and without:
#      ns per call with no probe, with uscope's program walking with CFI
#      (the default), with frame pointers only (config unwind = fp) and
#      with bpftrace's (same program, same probe), in thread CPU time;
#      STACKS_N calls, STACKS_RUNS rounds.
#   B. unwind depth on Debian's redis-server (built without frame
#      pointers) at lookupKey during a GET: frames of uscope's stack (CFI
#      and frame pointers) against gdb's backtrace at the same breakpoint.
#
# Writes the section's Markdown on stdout; progress on stderr.
set -u
. "$(dirname "$0")/../lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
n=${STACKS_N:-200000}
runs=${STACKS_RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
uscope=$(bench_uscope) || exit 1
gcc -O2 -fno-omit-frame-pointer -o "$work/fp" "$here/target.c" || exit 1
gcc -O2 -fomit-frame-pointer -o "$work/nofp" "$here/target.c" || exit 1
tools="none uscope-cfi uscope-fp bpftrace"

# perhit TARGET TOOL: one round's ns per call of the target under TOOL.
perhit() {
	local t="$work/$1" prog="uprobe:$work/$1:leaf { @[ustack] = count(); }"
	case $2 in
	none) "$t" loop "$n" ;;
	uscope-cfi) "$uscope" run -c "$t loop $n" -e "$prog" 2>/dev/null | head -1 ;;
	uscope-fp) "$uscope" run -c "$t loop $n" -e "config = { unwind = \"fp\" } $prog" 2>/dev/null | head -1 ;;
	bpftrace) bpftrace -c "$t loop $n" -e "$prog" 2>/dev/null | grep -E '^[0-9.]+$' | head -1 ;;
	esac
}

for target in fp nofp; do
	for tool in $tools; do : >"$work/$target.$tool"; done
done
for i in $(seq "$runs"); do
	echo "stacks: per-hit round $i of $runs" >&2
	for target in fp nofp; do
		for tool in $tools; do
			command -v bpftrace >/dev/null || [ "$tool" != bpftrace ] || continue
			perhit "$target" "$tool" >>"$work/$target.$tool"
		done
	done
done
echo "## stacks"
echo
echo "Stacks benchmark (issue 18), \`bench/stacks/run.sh\`, $(date -u +%F), peer: $(bpftrace --version 2>/dev/null)."
echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine)."
echo
echo "### A. Per-hit cost of \`@[ustack] = count()\`"
echo
echo "target.c calls a frameless leaf through 8 frames $n times, built with frame pointers"
echo "(fp) and without (nofp); ns per call in thread CPU time, min | median | max of $runs rounds;"
echo "the cost is the median less the median with no probe. uscope-cfi is the default: the walk"
echo "in BPF from .eh_frame tables (the process maps libc, which has no frame pointers, so the"
echo "CFI walk is taken for both builds); uscope-fp is config unwind = fp (bpf_get_stackid plus"
echo "the caller at [sp]); bpftrace 0.17 walks frame pointers with bpf_get_stackid."
echo
echo "| target | tool | ns per call min | median | max | per-hit ns (median) | frames |"
echo "|---|---|---|---|---|---|---|"
for target in fp nofp; do
	base=$(bench_median "$work/$target.none")
	for tool in $tools; do
		[ -s "$work/$target.$tool" ] || continue
		m=$(bench_median "$work/$target.$tool")
		frames=
		case $tool in
		uscope-cfi) frames=$("$uscope" run -c "$work/$target loop 1" -e "uprobe:$work/$target:leaf { @[ustack] = count(); }" 2>/dev/null | grep -c '^    ') ;;
		uscope-fp) frames=$("$uscope" run -c "$work/$target loop 1" -e "config = { unwind = \"fp\" } uprobe:$work/$target:leaf { @[ustack] = count(); }" 2>/dev/null | grep -c '^    ') ;;
		bpftrace) frames=$(bpftrace -c "$work/$target loop 1" -e "uprobe:$work/$target:leaf { @[ustack] = count(); }" 2>/dev/null | grep -c '^    ') ;;
		esac
		echo "| $target | $tool | $(bench_stats "$work/$target.$tool") | $(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.1f", a - b }') | $frames |"
	done
done


# C: the time inside the BPF program per hit as the kernel accounts it
# (kernel.bpf_stats_enabled: run_time_ns / run_cnt of the tool's programs,
# read from its fdinfo while the target runs; the sysctl is global, so it
# is on only for these runs and restored after).
# runtime TARGET TOOL: one round's ns per run.
runtime() {
	local t="$work/$1" prog="uprobe:$work/$1:leaf { @[ustack] = count(); }" pid last=""
	case $2 in
	uscope-cfi) "$uscope" run -c "$t loop $n" -e "$prog" >/dev/null 2>&1 & ;;
	uscope-fp) "$uscope" run -c "$t loop $n" -e "config = { unwind = \"fp\" } $prog" >/dev/null 2>&1 & ;;
	bpftrace) bpftrace -c "$t loop $n" -e "$prog" >/dev/null 2>&1 & ;;
	esac
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		v=$(cat /proc/$pid/fdinfo/* 2>/dev/null | awk '
			/^prog_jited:/ { prog = 1 }
			/^pos:/ { prog = 0 }
			prog && $1 == "run_time_ns:" { t += $2 }
			prog && $1 == "run_cnt:" { n += $2 }
			END { if (n > 1000) printf "%.1f\n", t / n }')
		[ -n "$v" ] && last=$v
		sleep 0.2
	done
	wait $pid 2>/dev/null
	[ -n "$last" ] && echo "$last"
}
if [ -w /proc/sys/kernel/bpf_stats_enabled ]; then
	stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled)
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	for target in fp nofp; do
		for tool in uscope-cfi uscope-fp bpftrace; do : >"$work/rt.$target.$tool"; done
	done
	for i in $(seq "$runs"); do
		echo "stacks: BPF run time round $i of $runs" >&2
		for target in fp nofp; do
			for tool in uscope-cfi uscope-fp bpftrace; do
				command -v bpftrace >/dev/null || [ "$tool" != bpftrace ] || continue
				runtime "$target" "$tool" >>"$work/rt.$target.$tool"
			done
		done
	done
	echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
	echo
	echo "Time inside the BPF program per hit, as the kernel accounts it (kernel.bpf_stats_enabled,"
	echo "run_time_ns / run_cnt of the tool's programs; $runs rounds; ns per run min | median | max):"
	echo
	echo "| target | tool | ns per run min | median | max |"
	echo "|---|---|---|---|---|"
	for target in fp nofp; do
		for tool in uscope-cfi uscope-fp bpftrace; do
			[ -s "$work/rt.$target.$tool" ] || continue
			echo "| $target | $tool | $(bench_stats "$work/rt.$target.$tool") |"
		done
	done
fi

echo
echo "### B. Unwind depth on redis-server at lookupKey"
echo
redis=/usr/bin/redis-server
if [ ! -x $redis ] || ! command -v gdb >/dev/null; then
	echo "redis-server or gdb missing: not run."
	exit 0
fi
port=6479
$redis --port $port --save '' --appendonly no >/dev/null 2>&1 &
rpid=$!
sleep 0.5
redis-cli -p $port set k v >/dev/null
# usdepth UNWIND: frames of the stack of one GET, walked as config unwind says.
usdepth() {
	"$uscope" run -p $rpid -e "config = { unwind = \"$1\" } uprobe:$redis:lookupKey { @[ustack] = count(); } interval:s:4 { exit(); }" >"$work/us.$1" 2>"$work/us.$1.err" &
	local upid=$! i
	for i in $(seq 100); do grep -q Attached "$work/us.$1.err" && break; sleep 0.1; done
	redis-cli -p $port get k >/dev/null
	wait $upid
	grep -c '^    ' "$work/us.$1"
}
ucfi=$(usdepth cfi)
ufp=$(usdepth fp)
gdb -q -p $rpid -batch -ex 'set backtrace past-main on' -ex 'break lookupKey' -ex 'continue' -ex 'bt' -ex 'detach' >"$work/gdb.out" 2>&1 &
gpid=$!
sleep 2
redis-cli -p $port get k >/dev/null
wait $gpid
gfr=$(grep -c '^#[0-9]' "$work/gdb.out")
kill $rpid
wait $rpid 2>/dev/null
echo "One GET on Debian's redis-server $(redis-server --version | awk '{print $3}') (no frame pointers; libc neither)."
echo
echo "| unwinder | frames |"
echo "|---|---|"
echo "| uscope, CFI walk in BPF (the default) | $ucfi |"
echo "| uscope, config unwind = fp (frame pointers + caller from [sp]) | $ufp |"
echo "| gdb backtrace, past main (DWARF CFI) | $gfr |"
echo
echo "uscope's frames (CFI):"
echo
echo '```'
grep '^    ' "$work/us.cfi"
echo '```'
echo
echo "gdb's:"
echo
echo '```'
grep '^#[0-9]' "$work/gdb.out" | sed 's/ (.*) at / at /' | cut -c1-100
echo '```'
