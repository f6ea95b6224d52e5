#!/usr/bin/env bash
# Benchmark of entry probe placement (internal/placement), against bpftrace
# in the same run. Prints the "## placement" section of bench/RESULTS.md.
#
#  1. Floors: bench/placement/floor.c calls a function beginning with a
#     given instruction CALLS times and prints its ns per call; under
#     `uscope run --exact-entry` with `@ = count()` the added ns/call is the
#     cost of one hit on that instruction class: push (emulated), nop5
#     (emulated, optimized into a call on 6.18), cmp (single-stepped); and
#     cmp; ja with placement (the probe moves to the ja) and without.
#  2. redis: redis-server on loopback, driven by `redis-benchmark -t set,get
#     -n REQUESTS -P 16 -c 1`, untraced and with
#     `uprobe:/usr/bin/redis-server:createStringObject { @ = count(); }`
#     under uscope (placement: the probe sits on the ja after `cmp
#     $0x2c,%rsi`), uscope --exact-entry and bpftrace (-p), RUNS times each,
#     interleaved. Added cost per hit = (traced − untraced median wall
#     time) / hits, hits being the count the tracer printed.
#
# Needs root, gcc, redis-server and redis-benchmark (Debian: redis-tools);
# bpftrace for the peer. Knobs: RUNS (5), CALLS (300000), REQUESTS (200000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

load0=$(cut -d' ' -f1-3 /proc/loadavg)
runs=${RUNS:-5}
calls=${CALLS:-300000}
requests=${REQUESTS:-200000}
redis=/usr/bin/redis-server
for tool in gcc redis-server redis-benchmark redis-cli; do
	bench_have "$tool" || { echo "bench/placement: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && bench_stop "$server_pid" 5 || true
	rm -rf "$work"
}
trap cleanup EXIT
export BENCH_WORK=$work
uscope=$(bench_uscope)
gcc -O1 -o "$work/floor" bench/placement/floor.c
have_bt=0
bench_have bpftrace && have_bt=1

# 1. Floors.
nscall() { "$@" 2>/dev/null | awk '/^ns\/call / { print $2; exit }'; }
for ((r = 1; r <= runs; r++)); do
	bench_log "floor run $r/$runs"
	for c in push nop5 cmp cmpjcc; do
		nscall "$work/floor" "$c" "$calls" >>"$work/base_$c"
		nscall "$uscope" run --exact-entry -c "$work/floor $c $calls" -e "uprobe:$work/floor:class_$c { @ = count(); }" >>"$work/exact_$c"
	done
	nscall "$uscope" run -c "$work/floor cmpjcc $calls" -e "uprobe:$work/floor:class_cmpjcc { @ = count(); }" >>"$work/placed_cmpjcc"
done
# cost FILE BASEFILE: "min | median | max" of ns/call minus the untraced median.
cost() {
	local b
	b=$(bench_median "$2")
	awk -v b="$b" 'NF { print $1 - b }' "$1" >"$1.cost"
	bench_stats "$1.cost"
}

# 2. redis-server under redis-benchmark.
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
"$redis" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
server_pid=$!
for ((i = 0; i < 200; i++)); do
	[ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
	sleep 0.05
done
# drive: one bounded redis-benchmark run (it can hang waiting for replies:
# a stuck run fails after 60 s and is not counted).
drive() { timeout -k 5 60 redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -n "$requests" -P 16 -c 1 -q >/dev/null 2>&1; }
# traced NAME READY-REGEX CMD...: start CMD, wait for READY on its output,
# drive redis, stop it; append the wall time (µs) and the count it printed.
traced() {
	local name=$1 ready=$2 pid t0 t1
	shift 2
	"$@" >"$work/$name.out" 2>&1 &
	pid=$!
	if ! bench_wait_line "$work/$name.out" "$ready" 60 "$pid"; then
		bench_log "$name did not attach: $(tail -3 "$work/$name.out")"
		bench_stop "$pid" || true
		return
	fi
	t0=$(bench_now_us)
	if ! drive; then
		bench_log "$name: redis-benchmark failed or hung; run not counted"
		bench_stop "$pid" || true
		return
	fi
	t1=$(bench_now_us)
	bench_stop "$pid" || true
	local hits
	hits=$(awk '/^@: [0-9]+$/ { print $2 }' "$work/$name.out" | tail -1)
	[ -n "$hits" ] || { bench_log "$name printed no count"; return; }
	echo "$((t1 - t0)) $hits" >>"$work/$name.runs"
}
prog="uprobe:$redis:createStringObject { @ = count(); }"
drive || true # warm up
for ((r = 1; r <= runs; r++)); do
	bench_log "redis run $r/$runs"
	t0=$(bench_now_us)
	if drive; then
		t1=$(bench_now_us)
		echo $((t1 - t0)) >>"$work/redis_base"
	fi
	traced us_placed 'Attached' "$uscope" run -p "$server_pid" -e "$prog"
	traced us_exact 'Attached' "$uscope" run --exact-entry -p "$server_pid" -e "$prog"
	if [ $have_bt = 1 ]; then traced bt 'Attaching' bpftrace -p "$server_pid" -e "$prog"; fi
done
rbase=$(bench_median "$work/redis_base")
# perhit NAME: per-hit added ns of each run, then "min | median | max".
perhit() {
	[ -s "$work/$1.runs" ] || { echo "n/a | n/a | n/a"; return; }
	awk -v b="$rbase" '{ printf "%.0f\n", ($1 - b) * 1000 / $2 }' "$work/$1.runs" >"$work/$1.ns"
	bench_stats "$work/$1.ns" 0
}
hits_of() { [ -s "$work/$1.runs" ] && awk '{ print $2 }' "$work/$1.runs" | sort -n | uniq | tr '\n' ' '; }
placed=$("$uscope" list -v "$redis" createStringObject | grep -o 'entry probe .*' || true)

cat <<EOF2
## placement

Measured by \`bench/placement/run.sh\` on $(date -u '+%Y-%m-%d'), Linux $(uname -r), $(nproc) CPUs;
peer: $(bench_bpftrace_version || echo 'bpftrace not installed'). Load average at the start: $load0
(other jobs share the machine, so the spread between min and max is noise).

### Floors: cost of one hit by instruction class

\`bench/placement/floor.c\` calls \`class_NAME\` $calls times; \`uscope run -c\` with \`@ = count()\`
on it. Cost per hit = traced ns/call − untraced median; $runs runs each, ns, min | median | max.

| probed instruction | kernel path | ns per hit: min | median | max |
|---|---|---|---|---|
| \`push %rbx\` (--exact-entry) | emulated | $(cost "$work/exact_push" "$work/base_push") |
| \`nop5\` (--exact-entry) | emulated; optimized to a call on 6.18 | $(cost "$work/exact_nop5" "$work/base_nop5") |
| \`cmp \$0x2c,%rsi; xor\` (--exact-entry) | single-stepped | $(cost "$work/exact_cmp" "$work/base_cmp") |
| \`cmp \$0x2c,%rsi; ja\` (--exact-entry) | single-stepped | $(cost "$work/exact_cmpjcc" "$work/base_cmpjcc") |
| \`cmp \$0x2c,%rsi; ja\` (placement: probe on the ja) | emulated | $(cost "$work/placed_cmpjcc" "$work/base_cmpjcc") |

### redis-server createStringObject under redis-benchmark

\`redis-benchmark -t set,get -n $requests -P 16 -c 1\` against a redis-server on loopback; untraced median
$((rbase / 1000)) ms per benchmark. The probe: \`$prog\`, attached with -p; uscope places it at
\`$placed\`. Added ns per hit = (traced wall − untraced median) / hits; $runs runs each, interleaved.

| tracer | hits per run | added ns per hit: min | median | max |
|---|---|---|---|---|
| uscope (placement) | $(hits_of us_placed) | $(perhit us_placed) |
| uscope --exact-entry | $(hits_of us_exact) | $(perhit us_exact) |
| $(bench_bpftrace_version || echo bpftrace) | $(hits_of bt) | $(perhit bt) |

The aim is uscope ≤ 0.3× bpftrace. uscope (placement) / bpftrace, median added cost per hit: $(bench_ratio "$(bench_median "$work/us_placed.ns" 2>/dev/null)" "$(bench_median "$work/bt.ns" 2>/dev/null)");
uscope --exact-entry / bpftrace: $(bench_ratio "$(bench_median "$work/us_exact.ns" 2>/dev/null)" "$(bench_median "$work/bt.ns" 2>/dev/null)").
EOF2
