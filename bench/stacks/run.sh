#!/bin/bash
# Stacks benchmark (issue 18), run by bench/run.sh or on its own (root):
#
#   A. per-hit cost of @[ustack] = count() at a frameless leaf reached
#      through 8 frame-pointer frames: target.c's ns per call with no probe,
#      with uscope's program and with bpftrace's (same program, same
#      probe), in thread CPU time; STACKS_N calls, STACKS_RUNS rounds.
#   B. unwind depth on Debian's redis-server (built without frame
#      pointers) at lookupKey during a GET: frames of uscope stack's stack
#      against gdb's backtrace at the same breakpoint.
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
gcc -O2 -fno-omit-frame-pointer -o "$work/target" "$here/target.c" || exit 1
prog="uprobe:$work/target:leaf { @[ustack] = count(); }"

# perhit TOOL: one round's ns per call of the target under TOOL.
perhit() {
	case $1 in
	none) "$work/target" loop "$n" ;;
	uscope) "$uscope" run -c "$work/target loop $n" -e "$prog" 2>/dev/null | head -1 ;;
	bpftrace) bpftrace -c "$work/target loop $n" -e "$prog" 2>/dev/null | grep -E '^[0-9.]+$' | head -1 ;;
	esac
}

for tool in none uscope bpftrace; do : >"$work/$tool"; done
for i in $(seq "$runs"); do
	echo "stacks: per-hit round $i of $runs" >&2
	for tool in none uscope bpftrace; do
		command -v bpftrace >/dev/null || [ "$tool" != bpftrace ] || continue
		perhit "$tool" >>"$work/$tool"
	done
done
base=$(bench_median "$work/none")
echo "## stacks"
echo
echo "Stacks benchmark (issue 18), \`bench/stacks/run.sh\`, $(date -u +%F), peer: $(bpftrace --version 2>/dev/null)."
echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine)."
echo
echo "### A. Per-hit cost of \`@[ustack] = count()\`"
echo
echo "target.c calls a frameless leaf through 8 frame-pointer frames $n times; ns per call in"
echo "thread CPU time, min | median | max of $runs rounds; the cost is the median less the"
echo "median with no probe. Both walk frame pointers with bpf_get_stackid; uscope also reads"
echo "the return address at [sp] (the leaf has no frame) and stores it in the key."
echo
echo "| tool | ns per call min | median | max | per-hit ns (median) |"
echo "|---|---|---|---|---|"
for tool in none uscope bpftrace; do
	[ -s "$work/$tool" ] || continue
	m=$(bench_median "$work/$tool")
	echo "| $tool | $(bench_stats "$work/$tool") | $(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.1f", a - b }') |"
done

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
"$uscope" stack -p $rpid -d 2 "$redis:lookupKey" >"$work/us.out" 2>/dev/null &
upid=$!
sleep 1
redis-cli -p $port get k >/dev/null
wait $upid
# The stack of the GET: the one through processCommand (or the deepest).
ufr=$(awk '/^  / { f++ } /^ +[0-9]+$/ { if (f > max) max = f; f = 0 } END { print max + 0 }' "$work/us.out")
gdb -q -p $rpid -batch -ex 'break lookupKey' -ex 'continue' -ex 'bt' -ex 'detach' >"$work/gdb.out" 2>&1 &
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
echo "| uscope stack (frame pointers + caller from [sp]) | $ufr |"
echo "| gdb backtrace (DWARF CFI, debug info) | $gfr |"
echo
echo "uscope's frames:"
echo
echo '```'
grep '^  ' "$work/us.out" | head -12
echo '```'
echo
echo "gdb's:"
echo
echo '```'
grep '^#[0-9]' "$work/gdb.out" | sed 's/ (.*) at / at /' | cut -c1-100
echo '```'
