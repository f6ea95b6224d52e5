#!/usr/bin/env bash
# Benchmarks for package stapsdt (pure-Go dynamic USDT), run as root:
#
#   bench/stapsdt/run.sh [ROUNDS]
#
# 1. Go benchmarks: Fire on a disabled probe, Enabled(), and Fire's own
#    cost on an enabled probe without a uprobe (go test -bench).
# 2. Per-hit cost when traced by bpftrace '@c = count()', stapsdt's firer
#    (CGO_ENABLED=0, memfd provider, nop5 site) against a C program using
#    <sys/sdt.h> (1-byte nop site), in the same run, interleaved ROUNDS
#    times (default 5). Each program waits until the tracer has set its
#    semaphore, fires bench:hit(string, i) N times in a tight loop and
#    reports ns/op; the script checks that bpftrace counted exactly N hits.
#    per-hit = traced ns/op - untraced ns/op; the median over rounds is
#    reported.
#
# Needs: go, gcc, systemtap-sdt-dev (sys/sdt.h), bpftrace, root.
set -euo pipefail

ROUNDS=${1:-5}
N_TRACED=${N_TRACED:-2000000}
N_UNTRACED=${N_UNTRACED:-50000000}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

if [[ $(id -u) != 0 ]]; then
	echo "run.sh: needs root (uprobes, BPF)" >&2
	exit 1
fi

echo "## build"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/firer" ./stapsdt/internal/firer)
gcc -O2 -o "$work/usdt_bench" "$here/usdt_bench.c"
uname -r
bpftrace --version
grep -m1 'model name' /proc/cpuinfo || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "## go test -bench (stapsdt)"
(cd "$repo" && go test -run '^$' -bench . -benchmem -count "$ROUNDS" ./stapsdt/ | grep -E '^Benchmark')

# wait_for FILE PATTERN: poll until a line of FILE matches PATTERN.
wait_for() {
	local i
	for ((i = 0; i < 60000; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	echo "timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	return 1
}

# cmd_for KIND N [untraced]: the benchmark command line.
cmd_for() {
	case $1 in
	go) echo "$work/firer -bench $2 ${3:+-untraced}" ;;
	c) echo "$work/usdt_bench $2 ${3:+untraced}" ;;
	esac
}

# untraced KIND: prints ns/op with the probe disabled.
untraced() {
	local out="$work/untraced.$1"
	echo | $(cmd_for "$1" "$N_UNTRACED" untraced) >"$out"
	sed -n 's/^ns\/op //p' "$out"
}

# traced KIND: prints "ns/op count" with bpftrace counting every hit.
traced() {
	local out="$work/traced.$1" bt="$work/bt.$1" fifo="$work/stdin.$1"
	rm -f "$out" "$bt" "$fifo"
	mkfifo "$fifo"
	$(cmd_for "$1" "$N_TRACED") <"$fifo" >"$out" &
	local prog=$!
	pids+=("$prog")
	exec 3>"$fifo"
	wait_for "$out" '^ready'
	local path
	path=$(sed -n 's/^ready pid=[0-9]* path=//p' "$out")
	bpftrace -p "$prog" -e "usdt:$path:bench:hit { @c = count(); }" >"$bt" 2>&1 &
	local btp=$!
	pids+=("$btp")
	wait_for "$out" '^ns/op'
	kill -INT "$btp"
	wait "$btp" || true
	echo >&3
	exec 3>&-
	wait "$prog"
	local ns count
	ns=$(sed -n 's/^ns\/op //p' "$out")
	count=$(sed -n 's/^@c: //p' "$bt")
	if [[ $count != "$N_TRACED" ]]; then
		echo "$1: bpftrace counted '${count}' hits, want $N_TRACED" >&2
		cat "$bt" >&2
	fi
	echo "$ns $count"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo
echo "## traced by bpftrace @c = count(): N=$N_TRACED hits per run, $ROUNDS rounds"
printf '%-6s %-5s %14s %14s %14s %10s\n' round kind untraced_ns traced_ns per_hit_ns count
declare -A per
ratios=""
for ((r = 1; r <= ROUNDS; r++)); do
	declare -A this
	for kind in go c; do
		u=$(untraced "$kind")
		read -r t c < <(traced "$kind")
		p=$(awk -v t="$t" -v u="$u" 'BEGIN {printf "%.1f", t - u}')
		per[$kind]+="$p "
		this[$kind]=$p
		printf '%-6s %-5s %14s %14s %14s %10s\n' "$r" "$kind" "$u" "$t" "$p" "$c"
	done
	ratios+="$(awk -v g="${this[go]}" -v c="${this[c]}" 'BEGIN {printf "%.2f", c / g}') "
done
echo
for kind in go c; do
	echo "median per-hit $kind: $(tr ' ' '\n' <<<"${per[$kind]}" | grep . | median) ns"
done
echo "per-round ratio c/go: $ratios(median $(tr ' ' '\n' <<<"$ratios" | grep . | median))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
