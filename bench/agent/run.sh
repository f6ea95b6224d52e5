#!/usr/bin/env bash
# Soak of `uscope agent`: memory over SOAK seconds (default 600) while a
# target restarts all the time and /metrics is scraped every 5 s. Rewrites
# the "## agent" section of bench/RESULTS.md (and nothing else).
#
# The agent runs two programs on cmd/uscope/testdata/fleetwork.c's work():
# a count per function and a hist(arg0) per pid (a key that grows with
# every restart of the target, so the map fills to --map-size and the
# agent must stay bounded: map-full updates are counted, not stored). The
# target is started again and again (each run calls work() CALLS times).
# RSS of the agent is sampled every 10 s; the time of one scrape (curl) is
# recorded each time. At the end the counter must equal runs × CALLS.
#
# Needs root, gcc, go, curl. Knobs: SOAK (600), CALLS (1000), MAP_SIZE (512).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

soak=${SOAK:-600}
calls=${CALLS:-1000}
mapsize=${MAP_SIZE:-512}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	bench_kill_jobs
	rm -rf "$work"
}
trap cleanup EXIT
uscope=$(bench_uscope)
gcc -O1 -o "$work/fleetwork" cmd/uscope/testdata/fleetwork.c
port=$((20000 + RANDOM % 20000))
cat >"$work/agent.yaml" <<CFG
listen: 127.0.0.1:$port
map_size: $mapsize
programs:
  - name: calls
    program: 'uprobe:$work/fleetwork:work { @calls[func] = count(); }'
  - name: perpid
    program: 'uprobe:$work/fleetwork:work { @lat[pid] = hist(arg0); }'
CFG
"$uscope" agent --config "$work/agent.yaml" 2>"$work/agent.log" &
agent_pid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
	kill -0 "$agent_pid" || { cat "$work/agent.log"; exit 1; }
	sleep 0.2
done
bench_log "agent $agent_pid attached; soak ${soak}s"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$agent_pid/status"; }
: >"$work/rss"
: >"$work/scrape"
runs=0
start=$(date +%s)
next_sample=$start
next_scrape=$start
while [ $(($(date +%s) - start)) -lt "$soak" ]; do
	"$work/fleetwork" "$calls" >/dev/null
	runs=$((runs + 1))
	now=$(date +%s)
	if [ "$now" -ge "$next_scrape" ]; then
		t0=$(bench_now_us)
		curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics"
		echo $((($(bench_now_us) - t0) / 1000)) >>"$work/scrape"
		next_scrape=$((now + 5))
	fi
	if [ "$now" -ge "$next_sample" ]; then
		echo "$((now - start)) $(rss)" >>"$work/rss"
		next_sample=$((now + 10))
	fi
done
echo "$soak $(rss)" >>"$work/rss"
curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics"
got=$(awk '/^uscope_calls_total\{/ { printf "%d", $2 }' "$work/metrics")
series=$(grep -c '^uscope_lat_bucket' "$work/metrics" || true)
full=$(awk '/^uscope_map_full_updates_total\{map="lat"/ { printf "%d", $2 }' "$work/metrics")
first=$(awk 'NR == 2 { print $2 }' "$work/rss")   # after the first 10 s
last=$(tail -1 "$work/rss" | cut -d' ' -f2)
peak=$(cut -d' ' -f2 "$work/rss" | sort -n | tail -1)
at() { awk -v t="$1" '$1 >= t { print $2; exit }' "$work/rss"; } # first sample at or after t s
# RSS over the second half only: flat means this range is narrow.
awk -v h=$((soak / 2)) '$1 >= h { print $2 }' "$work/rss" >"$work/rss.half"
cut -d' ' -f2 "$work/rss" >"$work/rss.kb"
sec=$(mktemp)
{
	echo "## agent"
	echo
	echo "\`bench/agent/run.sh\`, $(date -u +%Y-%m-%d), shared 2-core machine (load at start: $load0)."
	echo "Soak of \`uscope agent\` for ${soak} s: the target restarted $runs times (each calling work() $calls times),"
	echo "/metrics scraped every 5 s; map_size $mapsize, one program keyed by pid (fills its map)."
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| agent RSS at 10 s / 60 s / $((soak / 2)) s / end; peak (KiB) | $first / $(at 60) / $(at $((soak / 2))) / $last; $peak |"
	echo "| RSS over the second half (KiB): min / median / max | $(bench_stats "$work/rss.half" 0) |"
	echo "| RSS samples (every 10 s, KiB): min / median / max | $(bench_stats "$work/rss.kb" 0) |"
	echo "| one scrape, curl wall time (ms): min / median / max | $(bench_stats "$work/scrape" 0) |"
	echo "| uscope_calls_total at end / runs × calls | $got / $((runs * calls)) |"
	echo "| uscope_lat_bucket series at end; map-full updates counted | $series; $full |"
	echo
} >"$sec"
cat "$sec"
bench_write_section agent "$sec"
rm -f "$sec"
[ "$got" = "$((runs * calls))" ] || { echo "count mismatch: $got != $((runs * calls))" >&2; exit 1; }
