# shellcheck shell=bash
# Shared helpers of the benchmark scripts; source it from bench/NAME/run.sh:
#
#	. "$(dirname "$0")/../lib.sh"
#
# Every function is prefixed bench_. Nothing here runs at source time except
# variable defaults.

# bench_uscope: print the path of a uscope binary built from this tree. The
# master script (bench/run.sh) builds one and exports USCOPE; a script run on
# its own builds it into BENCH_WORK, or else into /tmp/uscope-bench-bin
# (replaced atomically, so scripts running at once do not see a torn file).
bench_uscope() {
	if [ -n "${USCOPE:-}" ] && [ -x "$USCOPE" ]; then
		echo "$USCOPE"
		return
	fi
	local root dir tmp
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	dir=${BENCH_WORK:-/tmp/uscope-bench-bin}
	mkdir -p "$dir" || return 1
	tmp=$(mktemp "$dir/uscope.XXXXXX") || return 1
	if ! (cd "$root" && CGO_ENABLED=0 go build -o "$tmp" ./cmd/uscope) >&2; then
		rm -f "$tmp"
		return 1
	fi
	mv -f "$tmp" "$dir/uscope" || return 1
	USCOPE=$dir/uscope
	export USCOPE
	echo "$USCOPE"
}

# bench_now_us: the current time in µs since the epoch, without forking.
bench_now_us() {
	# EPOCHREALTIME always has six decimals. (Substituting in it directly
	# confuses bash 5.2: copy it first.)
	local t=$EPOCHREALTIME
	echo "${t/[.,]/}"
}

# bench_stats FILE [DECIMALS]: "min | median | max" of the numbers in FILE
# (one per line), or "n/a | n/a | n/a" when it has none.
bench_stats() {
	local d=${2:-1}
	sort -g "$1" 2>/dev/null | awk -v d="$d" '
		NF { v[++n] = $1 }
		END {
			if (n == 0) { print "n/a | n/a | n/a"; exit }
			med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			f = "%." d "f | %." d "f | %." d "f\n"
			printf f, v[1], med, v[n]
		}'
}

# bench_median FILE: the median of the numbers in FILE, or nothing.
bench_median() {
	sort -g "$1" 2>/dev/null | awk '
		NF { v[++n] = $1 }
		END {
			if (n == 0) exit
			print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}'
}

# bench_count FILE: how many numbers FILE holds.
bench_count() {
	awk 'NF { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0
}

# bench_ratio A B [DECIMALS]: A/B, or "n/a" when either is missing or B is 0.
bench_ratio() {
	awk -v a="${1:-}" -v b="${2:-}" -v d="${3:-2}" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) { print "n/a"; exit }
		printf "%." d "f\n", a / b
	}'
}

# bench_wait_line FILE REGEX SECONDS [PID]: wait until a line of FILE matches
# REGEX (grep -E). Fails after SECONDS, or as soon as PID (if given) exits.
bench_wait_line() {
	local file=$1 re=$2 secs=$3 pid=${4:-} i
	for ((i = 0; i < secs * 100; i++)); do
		grep -qE "$re" "$file" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			grep -qE "$re" "$file" 2>/dev/null
			return
		fi
		sleep 0.01
	done
	return 1
}

# bench_stop PID [SECONDS]: end a process this script started: SIGINT, then
# SIGKILL if it is still there after SECONDS (default 30); reap it.
bench_stop() {
	local pid=$1 secs=${2:-30} i
	kill -INT "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for ((i = 0; i < secs * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# bench_have CMD: whether CMD is on PATH.
bench_have() { command -v "$1" >/dev/null 2>&1; }

# bench_bpftrace_version: "bpftrace v0.17.0", or nothing when absent.
bench_bpftrace_version() {
	bench_have bpftrace && bpftrace --version 2>/dev/null | head -1
}

# bench_log MSG...: progress on stderr (stdout carries the section).
bench_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# bench_write_section NAME FILE: put FILE, a section that starts with the
# heading "## NAME", into bench/RESULTS.md in place of the section of that
# name (up to the next "## " heading), or at the end; other sections stay.
bench_write_section() {
	local name=$1 file=$2 results tmp
	results=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/RESULTS.md
	[ -f "$results" ] || printf '# Benchmark results\n\n' >"$results"
	tmp=$(mktemp)
	awk -v sec="$file" -v head="## $name" '
		BEGIN { while ((getline l < sec) > 0) body = body l "\n" }
		/^## / { if (skip) skip = 0; if ($0 == head) { printf "%s\n", body; skip = 1; done = 1; next } }
		!skip { print }
		END { if (!done) printf "\n%s", body }
	' "$results" >"$tmp" && cp "$tmp" "$results"
	rm -f "$tmp"
}

# bench_kill_jobs kills and reaps the calling shell's background jobs (for a
# script's EXIT trap). `jobs -p` lists only jobs not yet reaped, so no pid
# can have been reused by another process.
bench_kill_jobs() {
	local p
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# bench_fail records a failed measurement: the script exits non-zero at the
# end (failed=1), and the message goes to the log and to $work/failures.
bench_fail() {
	failed=1
	bench_log "FAILED: $*"
	echo "$*" >>"$work/failures"
}
