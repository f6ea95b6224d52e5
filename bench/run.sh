#!/usr/bin/env bash
# Builds uscope, runs the benchmark scripts bench/*/run.sh, and rewrites
# bench/RESULTS.md: a header describing the machine, then one section per
# script. See bench/README.md for the convention the scripts follow.
#
#   bench/run.sh            run every bench/*/run.sh
#   bench/run.sh engine     run only these (the other sections are kept)
#
# BENCH_TIMEOUT (seconds, default 1200) bounds each script; BENCH_LOGS names
# a directory to keep each script's stderr in (default: a temporary one,
# removed at the end unless a script failed).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

results=$root/bench/RESULTS.md
limit=${BENCH_TIMEOUT:-1200}
work=$(mktemp -d /tmp/uscope-bench.XXXXXX)
logs=${BENCH_LOGS:-$work/logs}
mkdir -p "$logs"
keep_logs=0
cleanup() {
	if [ "$keep_logs" = 1 ] && [ -z "${BENCH_LOGS:-}" ]; then
		mkdir -p /tmp/uscope-bench-logs
		cp "$logs"/* /tmp/uscope-bench-logs/ 2>/dev/null
		bench_log "logs of the failed scripts: /tmp/uscope-bench-logs"
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The benchmarks, in the order of their sections.
all=()
for f in bench/*/run.sh; do
	[ -f "$f" ] && all+=("$(basename "$(dirname "$f")")")
done
if [ "$#" -gt 0 ]; then
	selected=("$@")
	for n in "${selected[@]}"; do
		[ -f "bench/$n/run.sh" ] || {
			echo "bench/run.sh: no bench/$n/run.sh (have: ${all[*]})" >&2
			exit 1
		}
	done
else
	selected=("${all[@]}")
fi

if ! [ -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && bench_have apt-get; then
	bench_log "installing /usr/bin/time (Debian package time)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2 || true
fi

bench_log "building uscope"
export USCOPE=$work/uscope
if ! (CGO_ENABLED=0 go build -o "$USCOPE" ./cmd/uscope); then
	echo "bench/run.sh: go build failed; $results is unchanged" >&2
	exit 1
fi
export BENCH_WORK=$work

# The sections of the current RESULTS.md, one file each: $work/old/NAME.md
# holds "## NAME" and its body, up to the next "## " heading; $work/old/order
# lists the names in order.
mkdir -p "$work/old"
: >"$work/old/order"
if [ -f "$results" ]; then
	awk -v dir="$work/old" '
		/^## / {
			name = substr($0, 4); gsub(/[^A-Za-z0-9_.-]/, "_", name)
			out = dir "/" name ".md"; print name >> (dir "/order"); printf "" > out
		}
		out { print >> out }
	' "$results"
fi

in_list() {
	local x=$1
	shift
	local y
	for y in "$@"; do [ "$x" = "$y" ] && return 0; done
	return 1
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
status_rows=()

# previous_body NAME: the body of the last successful section NAME (without
# its heading and without a failure note added by this script).
previous_body() {
	local f=$work/old/$1.md
	[ -f "$f" ] || return 0
	if grep -q '^<!-- bench:previous -->$' "$f"; then
		sed -n '/^<!-- bench:previous -->$/,$p' "$f" | sed '1d'
	elif ! grep -q '^<!-- bench:failed -->$' "$f"; then
		sed '1d' "$f"
	fi
}

for name in "${selected[@]}"; do
	bench_log "running bench/$name/run.sh (limit ${limit} s)"
	t0=$(bench_now_us)
	timeout -k 30 "$limit" bash "bench/$name/run.sh" >"$work/$name.out" 2>"$logs/$name.log"
	rc=$?
	t1=$(bench_now_us)
	secs=$(((t1 - t0) / 1000000))
	out=$work/$name.out
	new=$work/$name.new
	# The section starts with "## NAME"; further "## " lines would split it
	# when RESULTS.md is read back, so they become "### ".
	{
		echo "## $name"
		awk -v h="## $name" '
			!started && NF == 0 { next }
			!started { started = 1; if ($0 == h) next }
			/^## / { $0 = "#" $0 }
			{ print }
		' "$out"
	} >"$new"
	if [ "$rc" = 0 ] && [ -s "$out" ]; then
		status_rows+=("| $name | ok | $secs s |")
	else
		keep_logs=1
		why="exited with status $rc"
		[ "$rc" = 124 ] || [ "$rc" = 137 ] && why="was stopped after ${limit} s"
		[ -s "$out" ] || why="$why and printed nothing"
		status_rows+=("| $name | **failed** ($why) | $secs s |")
		{
			echo "## $name"
			echo
			echo "<!-- bench:failed -->"
			echo "**Failed** on $started: \`bench/$name/run.sh\` $why. Last lines of its log:"
			echo
			echo '```'
			tail -n 15 "$logs/$name.log"
			echo '```'
			echo
			if [ -s "$out" ]; then
				echo "What it printed:"
				echo
				sed '1d' "$new"
			fi
			prev=$(previous_body "$name")
			if [ -n "$prev" ]; then
				echo "Results of the previous successful run:"
				echo
				echo "<!-- bench:previous -->"
				printf '%s\n' "$prev"
			fi
		} >"$work/$name.failed"
		mv "$work/$name.failed" "$new"
	fi
	# Ensure exactly one blank line at the end.
	sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$new" >"$new.t" && mv "$new.t" "$new"
	echo >>"$new"
done

# Assemble: the header, the sections of bench/*/run.sh in order (new, or
# kept from the old file when not run), then any other old sections.
{
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	clock=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)
	uprobe_sys=no
	grep -q ' __x64_sys_uprobe$' /proc/kallsyms 2>/dev/null && uprobe_sys=yes
	commit=$(git rev-parse --short HEAD 2>/dev/null)
	[ -n "$(git status --porcelain 2>/dev/null | head -1)" ] && commit="$commit + uncommitted changes"
	echo "# Benchmark results"
	echo
	echo "Written by \`bench/run.sh\` (see bench/README.md). Sections not run this time are kept from earlier runs"
	echo "and carry their own dates."
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| date | $started |"
	echo "| machine | $cpu, $(nproc) CPUs, $mem |"
	echo "| kernel | $(uname -r) (clocksource $clock; uprobe syscall: $uprobe_sys) |"
	echo "| Go | $(go env GOVERSION) |"
	echo "| peer | $(bench_bpftrace_version || echo 'bpftrace not installed') |"
	echo "| uscope | $commit |"
	echo "| load average (1, 5, 15 min) | at start $load_start; at end $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "| benchmark run | status | time |"
	echo "|---|---|---|"
	for r in "${status_rows[@]}"; do echo "$r"; done
	echo
	for name in "${all[@]}"; do
		if in_list "$name" "${selected[@]}"; then
			cat "$work/$name.new"
		elif [ -f "$work/old/$name.md" ]; then
			cat "$work/old/$name.md"
		fi
	done
	while read -r name; do
		in_list "$name" "${all[@]}" || cat "$work/old/$name.md"
	done <"$work/old/order"
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" "$results"
bench_log "wrote $results"
