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
cd "$(dirname "$0")/.." || exit 1
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

# split_sections DIR: cut RESULTS.md into its sections, one file each:
# DIR/NAME.md holds "## NAME" and its body up to the next "## " heading;
# DIR/order lists the names in order.
split_sections() {
	local dir=$1
	rm -rf "$dir"
	mkdir -p "$dir"
	: >"$dir/order"
	[ -f "$results" ] || return 0
	awk -v dir="$dir" '
		/^## / {
			name = substr($0, 4); gsub(/[^A-Za-z0-9_.-]/, "_", name)
			out = dir "/" name ".md"; print name >> (dir "/order"); printf "" > out
		}
		out { print >> out }
	' "$results"
}
# The sections as they are before this run, for the previous results of a
# benchmark that fails now.
split_sections "$work/old"

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

# previous_body NAME: the body of the last successful section NAME before
# this run (without its heading and without a failure note of this script).
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
	body=$work/$name.body
	new=$work/$name.new
	# The body: what the script printed, without its "## NAME" heading and
	# leading blank lines; further "## " lines would split the section when
	# RESULTS.md is read back, so they become "### ".
	awk -v h="## $name" '
		!started && NF == 0 { next }
		!started { started = 1; if ($0 == h) next }
		/^## / { $0 = "#" $0 }
		{ print }
	' "$out" | sed '/./,$!d' >"$body"
	if [ "$rc" = 0 ] && [ -s "$body" ]; then
		status_rows+=("| $name | ok | $secs s |")
		{
			echo "## $name"
			echo
			cat "$body"
		} >"$new"
	else
		keep_logs=1
		why="exited with status $rc"
		[ "$rc" = 124 ] || [ "$rc" = 137 ] && why="was stopped after ${limit} s"
		[ -s "$body" ] || why="$why and printed nothing"
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
			if [ -s "$body" ]; then
				echo "What it printed:"
				echo
				cat "$body"
				echo
			fi
			prev=$(previous_body "$name" | sed '/./,$!d')
			if [ -n "$prev" ]; then
				echo "Results of the previous successful run:"
				echo
				echo "<!-- bench:previous -->"
				printf '%s\n' "$prev"
			fi
		} >"$new"
	fi
	# Ensure exactly one blank line at the end.
	sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$new" >"$new.t" && mv "$new.t" "$new"
	echo >>"$new"
done

# Assemble: the header, the sections of bench/*/run.sh in order (new, or
# kept as they are now when not run), then any other sections. RESULTS.md is
# read again here: a script run on its own meanwhile may have updated it.
split_sections "$work/cur"
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
		elif [ -f "$work/cur/$name.md" ]; then
			cat "$work/cur/$name.md"
		fi
	done
	while read -r name; do
		in_list "$name" "${all[@]}" || cat "$work/cur/$name.md"
	done <"$work/cur/order"
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" "$results"
bench_log "wrote $results"
