#!/usr/bin/env bash
# Per-hit cost of probes on a Go function, uscope against bpftrace in the
# same run. Prints the "## go" section of bench/RESULTS.md (bench/run.sh go
# puts it there).
#
# bench/go/hit.go calls the noinline main.hit CALLS times and prints its own
# ns per call. main.hit starts with the stack check `cmp 0x10(%r14),%rsp;
# jbe`, then `push %rbp`. Each case runs it with -c, RUNS times, interleaved:
#
#   - uscope `uprobe:BIN:main.hit`: after the stack check (push %rbp, which
#     the kernel emulates);
#   - uscope `uprobe:BIN:0xENTRY`: the first instruction (cmp, which the
#     kernel single-steps) — the same tool, to separate placement from tool;
#   - bpftrace `uprobe:BIN:main.hit`: the first instruction (bpftrace 0.17
#     refuses other offsets in a function without its BCC support);
#   - uscope `uretprobe:BIN:main.hit`: uprobes on the RET instructions;
#   - bpftrace `uretprobe:BIN:main.hit`: a kernel uretprobe, which breaks Go
#     programs (reported as such when the program does not finish).
#
# The cost of a hit is the traced ns/call minus the untraced median.
# Needs root, go; bpftrace for the peer. Knobs: RUNS (5), CALLS (200000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

runs=${RUNS:-5}
calls=${CALLS:-200000}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BENCH_WORK=$work
uscope=$(bench_uscope)
mkdir "$work/src"
cp bench/go/hit.go "$work/src/main.go"
printf 'module hit\n\ngo 1.21\n' >"$work/src/go.mod"
(cd "$work/src" && GOFLAGS= GOWORK=off go build -o "$work/hit" .)
bin=$work/hit
entry=$(go tool nm "$bin" | awk '$3 == "main.hit" { print $1 }')
dis() { objdump -d --no-show-raw-insn --start-address=0x$entry --stop-address=$((0x$entry + 8)) "$bin" | awk -F'\t' '/^ +[0-9a-f]+:/ { print $2 }' | head -"$1" | tail -1 | sed 's/ \+/ /g'; }
first_insn=$(dis 1)
after_insn=$(dis 3)
have_bt=0
bench_have bpftrace && have_bt=1

# nscall OUT CMD...: run CMD (at most 120 s), append the ns/call that hit
# printed to OUT, or "failed" when it printed none.
nscall() {
	local out=$1 v
	shift
	v=$(timeout 120 "$@" 2>"$work/err" | awk '/^ns\/call / { print $2; exit }') || true
	if [ -n "$v" ]; then
		echo "$v" >>"$out"
	else
		echo failed >>"$out.failed"
		cp "$work/err" "$out.err"
	fi
}

for ((r = 1; r <= runs; r++)); do
	bench_log "run $r/$runs"
	nscall "$work/base" "$bin" "$calls"
	nscall "$work/us_entry" "$uscope" run -c "$bin $calls" -e "uprobe:$bin:main.hit { }"
	nscall "$work/us_first" "$uscope" run -c "$bin $calls" -e "uprobe:$bin:0x$entry { }"
	nscall "$work/us_ret" "$uscope" run -c "$bin $calls" -e "uretprobe:$bin:main.hit { }"
	if [ $have_bt = 1 ]; then
		nscall "$work/bt_first" bpftrace -c "$bin $calls" -e "uprobe:$bin:main.hit { }"
		nscall "$work/bt_ret" bpftrace -c "$bin $calls" -e "uretprobe:$bin:main.hit { }"
	fi
done
base=$(bench_median "$work/base")
# cost NAME: "min | median | max" of ns/call minus the untraced median, or
# why there is none.
cost() {
	local f=$work/$1
	if [ ! -s "$f" ]; then
		local why="no result"
		grep -qa SIGILL "$f.err" 2>/dev/null && why="target killed by SIGILL"
		grep -qa 'unexpected return pc' "$f.err" 2>/dev/null && why="target crashed: unexpected return pc"
		echo "$why ($(bench_count "$f.failed" 2>/dev/null || echo 0)/$runs runs) | | "
		return
	fi
	awk -v b="$base" 'NF { print $1 - b }' "$f" >"$f.cost"
	bench_stats "$f.cost"
}
med() { [ -s "$work/$1.cost" ] && bench_median "$work/$1.cost"; }

kernel=$(uname -r)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
section=$work/section
{
	echo "## go"
	echo
	echo "Measured by \`bench/go/run.sh\` on $(date -u +%Y-%m-%d), Linux $kernel, $cpu, $(nproc) CPUs,"
	echo "$(go version | awk '{ print $3 }'); peer: $(bench_bpftrace_version || echo 'bpftrace not installed'). Load average at the end:"
	echo "$(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared)."
	echo
	echo "\`bench/go/hit.go\` calls the noinline Go function \`main.hit\` $calls times and prints its ns per"
	echo "call; each tracer runs it with \`-c\` and an empty program. \`main.hit\` begins with the stack check"
	echo "(\`$first_insn\`, which the kernel single-steps), then \`$after_insn\` (which it emulates)."
	echo "Cost per hit = traced ns/call − untraced median ($base ns). $runs runs each, interleaved; ns, min | median | max."
	echo
	echo "| tool | probe | where it fires | cost per hit min | median | max |"
	echo "|---|---|---|---|---|---|"
	echo "| uscope | \`uprobe:hit:main.hit\` | after the stack check (\`$after_insn\`) | $(cost us_entry) |"
	echo "| uscope | \`uprobe:hit:0x$entry\` | first instruction (\`$first_insn\`) | $(cost us_first) |"
	if [ $have_bt = 1 ]; then
		echo "| bpftrace | \`uprobe:hit:main.hit\` | first instruction (\`$first_insn\`) | $(cost bt_first) |"
	fi
	echo "| uscope | \`uretprobe:hit:main.hit\` | uprobes on its RET instructions | $(cost us_ret) |"
	if [ $have_bt = 1 ]; then
		echo "| bpftrace | \`uretprobe:hit:main.hit\` | kernel uretprobe | $(cost bt_ret) |"
	fi
	echo
	us=$(med us_entry || true); usf=$(med us_first || true); bt=$(med bt_first || true)
	echo "Entry probe, medians: uscope after the stack check / bpftrace at the first instruction:"
	echo "$(bench_ratio "$us" "$bt" 3)×; uscope after the check / uscope at the first instruction: $(bench_ratio "$us" "$usf" 3)×."
	echo "The placement is what counts: the kernel emulates \`push %rbp\` in the trap, and single-steps"
	echo "\`cmp\` out of line (a second trap). A RET is single-stepped too, so a uscope return probe costs"
	echo "about what a first-instruction entry probe does. bpftrace 0.17 cannot probe after the"
	echo "prologue (\"Can't check if uprobe is in proper place\"), and its uretprobe replaces the return"
	echo "address on the goroutine's stack, which Go programs do not survive."
	echo
} >"$section"

cat "$section"
