#!/usr/bin/env bash
# bpftrace's own runtime test suite (tests/runtime of a bpftrace checkout)
# against uscope, with Debian's bpftrace 0.17 as the control, on two
# checkouts: bpftrace's main branch (the language reference) and the tag
# v0.17.0 (the suite of the bpftrace Debian 12 ships). bench/compat (Go)
# parses the tests as tests/runtime/engine/parser.py does, builds
# tests/testprogs and tests/testlibs with gcc as bpftrace's CMake files do
# (one build directory per tool and suite: uprobes attach by inode), runs
# every test that is not kernel-only with the semantics of runner.py, and
# writes summary.txt (per-file counts, failure taxonomy) and failures.tsv.
# Rewrites the "## compat" section of bench/RESULTS.md (and nothing else).
#
# Needs root, go, gcc/g++, objcopy, bpftrace (Debian package), and the two
# checkouts: BPFTRACE_MAIN (default /work/peers/bpftrace-main) and
# BPFTRACE_017 (default /work/peers/bpftrace-0.17, tag v0.17.0); nothing of
# bpftrace's is committed here. Knobs: COMPAT_JOBS (tests at once per run,
# default 1, as bpftrace's runner), COMPAT_RETRIES (runs again a test that
# timed out, up to N times, default 2: bpftrace 0.17 can take longer than
# its runner's 5 s attach timeout to start on a loaded machine), COMPAT_RUN (a -run regex, default all),
# COMPAT_OUT (where the four runs keep their logs, default
# /tmp/uscope-compat-results), COMPAT_REUSE=1 (write the section from the
# runs already in COMPAT_OUT, named main-uscope, main-bpftrace,
# v017-uscope, v017-bpftrace, without running anything). The four runs take 30-60 minutes on 2 CPUs:
# run it on its own (bench/compat/run.sh) or with BENCH_TIMEOUT=4000.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. bench/lib.sh

main_src=${BPFTRACE_MAIN:-/work/peers/bpftrace-main}
v017_src=${BPFTRACE_017:-/work/peers/bpftrace-0.17}
jobs=${COMPAT_JOBS:-1}
retries=${COMPAT_RETRIES:-2}
sel=${COMPAT_RUN:-}
out=${COMPAT_OUT:-/tmp/uscope-compat-results}
for d in "$main_src" "$v017_src"; do
	[ -f "$d/tests/runtime/engine/parser.py" ] || {
		echo "$d is not a bpftrace checkout (git clone https://github.com/bpftrace/bpftrace)" >&2
		exit 1
	}
done
bench_have bpftrace || { echo "bpftrace is missing (apt-get install bpftrace)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (uprobes)" >&2; exit 1; }

work=$(mktemp -d)
trap 'bench_kill_jobs; rm -rf "$work"' EXIT
export BENCH_WORK=$work
uscope=""
[ "${COMPAT_REUSE:-0}" = 1 ] || uscope=$(bench_uscope)
go build -o "$work/compat" ./bench/compat
load0=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

# One suite: uscope and bpftrace side by side (their build directories
# differ, so their probes never see each other's test programs).
failed=0
runs=()
suite() {
	local name=$1 src=$2 args=(-j "$jobs" -retries "$retries")
	[ -n "$sel" ] && args+=(-run "$sel")
	runs+=("compat -bpftrace-src $src -tool uscope -uscope USCOPE -out OUT ${args[*]}"
		"compat -bpftrace-src $src -tool bpftrace -out OUT ${args[*]}")
	if [ "${COMPAT_REUSE:-0}" = 1 ]; then
		[ -f "$out/$name-uscope/results.tsv" ] && [ -f "$out/$name-bpftrace/results.tsv" ] && return 0
		echo "COMPAT_REUSE=1 but $out/$name-uscope or $out/$name-bpftrace has no results" >&2
		exit 1
	fi
	rm -rf "$out/$name-uscope" "$out/$name-bpftrace"
	mkdir -p "$out"
	bench_log "suite $name: uscope and bpftrace 0.17 (logs in $out/$name-*.log)"
	local sup=()
	# v0.17's summary.txt counts the failures superseded by main's run.
	[ "$name" = v017 ] && [ -f "$out/main-uscope/results.tsv" ] &&
		sup=(-superseded-by "$main_src" -superseded-results "$out/main-uscope/results.tsv")
	"$work/compat" -bpftrace-src "$src" -tool uscope -uscope "$uscope" -out "$out/$name-uscope" "${args[@]}" "${sup[@]}" \
		2>"$out/$name-uscope.log" &
	local p1=$!
	"$work/compat" -bpftrace-src "$src" -tool bpftrace -out "$out/$name-bpftrace" "${args[@]}" \
		2>"$out/$name-bpftrace.log" &
	local p2=$!
	wait "$p1" || { failed=1; bench_log "uscope run of $name failed"; }
	wait "$p2" || { failed=1; bench_log "bpftrace run of $name failed"; }
}
# rewrite_run: main's suite again with lowercase begin/end written as
# BEGIN/END by the shim, to show what blocks next (not a result).
rewrite_run() {
	local args=(-j "$jobs" -retries "$retries")
	[ -n "$sel" ] && args+=(-run "$sel")
	runs+=("compat -bpftrace-src $main_src -tool uscope -uscope USCOPE -rewrite-begin -out OUT ${args[*]}")
	[ "${COMPAT_REUSE:-0}" = 1 ] && return 0
	rm -rf "$out/main-uscope-rewrite"
	bench_log "suite main again, begin/end rewritten"
	"$work/compat" -bpftrace-src "$main_src" -tool uscope -uscope "$uscope" -rewrite-begin \
		-build "$out/main-uscope/build" -out "$out/main-uscope-rewrite" "${args[@]}" \
		2>"$out/main-uscope-rewrite.log" || { failed=1; bench_log "rewritten run failed"; }
}
suite main "$main_src"
suite v017 "$v017_src"
rewrite_run
# v0.17 failures superseded by main: the same-named test of main's suite
# differs and uscope passes it (bench/compat/supersede.go).
"$work/compat" -supersede "$v017_src" "$out/v017-uscope" "$main_src" "$out/main-uscope"
runs+=("compat -supersede $v017_src OUT/v017-uscope $main_src OUT/main-uscope")

commit() { git -C "$1" describe --always --tags --long 2>/dev/null || echo unknown; }
counts() { sed -n '/^tests parsed/,/in scope (userspace/p' "$1/summary.txt"; }
section="$work/section.md"
{
	echo "## compat"
	echo
	echo "### bpftrace runtime suite"
	echo
	when=$started
	[ "${COMPAT_REUSE:-0}" = 1 ] && when=$(date -u -r "$out/main-uscope/summary.txt" '+%Y-%m-%d %H:%M UTC')
	echo "bpftrace's own runtime tests run by \`bench/compat/run.sh\` on $when, Linux $(uname -r),"
	if [ "${COMPAT_REUSE:-0}" = 1 ]; then
		echo "$(nproc) CPUs (a shared machine; the section was written afterwards from the runs' own summaries)."
	else
		echo "$(nproc) CPUs (a shared machine; load average at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg))."
	fi
	echo "uscope $(git rev-parse --short HEAD) against $(bench_bpftrace_version) (Debian) on the same tests,"
	echo "each tool with its own build of the suite's test programs. A test is in scope when it has"
	echo "userspace probes (uprobe, uretprobe, usdt) or only BEGIN/END/interval probes or none (command-line"
	echo "tests); kernel-only tests (kprobe, tracepoint, fentry, rawtracepoint, watchpoint, hardware/software,"
	echo "iter, kernel BTF, kstack, curtask...) and profile: tests are not run. bpftrace 0.17 passing a test"
	echo "of main's suite shows which tests need no newer bpftrace."
	for s in main v017; do
		src=$main_src
		title="main ($(commit "$main_src"))"
		if [ "$s" = v017 ]; then
			src=$v017_src
			title="v0.17.0 ($(commit "$v017_src"))"
		fi
		echo
		echo "#### Suite of bpftrace $title"
		echo
		echo '```'
		counts "$out/$s-uscope"
		echo '```'
		echo
		"$work/compat" -table "$out/$s-uscope" "$out/$s-bpftrace"
		echo
		echo "Most frequent first causes of uscope's failures (of $(grep -c . "$out/$s-uscope/failures.tsv" | awk '{ print $1 - 1 }') failures; all in \`$out/$s-uscope/summary.txt\`):"
		echo
		echo '```'
		sed -n '/^failure taxonomy/,/^$/p' "$out/$s-uscope/summary.txt" | sed '1d;/^$/d' | head -15
		echo '```'
		if [ "$s" = main ] && [ -f "$out/main-uscope-rewrite/summary.txt" ]; then
			echo
			echo "The same run with the shim writing lowercase \`begin\`/\`end\` as \`BEGIN\`/\`END\` (\`-rewrite-begin\`, a"
			echo "measurement aid, not a result): $(grep '^in-scope pass rate' "$out/main-uscope-rewrite/summary.txt" | sed 's/^in-scope pass rate: //')."
			echo "What blocks next:"
			echo
			echo '```'
			sed -n '/^failure taxonomy/,/^$/p' "$out/main-uscope-rewrite/summary.txt" | sed '1d;/^$/d' | head -15
			echo '```'
		fi
	done
	echo
	echo "Notes: in-scope counts are per test block (a file may name two tests alike). bpftrace 0.17's"
	echo "failures on its own suite are the environment: no tracefs here (debugf tests write"
	echo "/sys/kernel/debug/tracing/trace), dwarf tests whose BEFORE calls the function once 1 s after"
	echo "start (bpftrace 0.17 takes longer than that to attach on a loaded machine), and start-up past"
	echo "the runner's 5 s attach timeout under load (hence -retries). uscope runs through a link named"
	echo "bpftrace, since tests expect that \`comm\`. Every failure's first reason: \`summary.txt\` and"
	echo "\`failures.tsv\` of each run."
	echo
	echo "Commands (\`go run ./bench/compat\`, -out a directory per run):"
	echo
	echo '```'
	for r in "${runs[@]}"; do echo "$r"; done
	echo '```'
	echo
} >"$section"
bench_write_section compat "$section"
cat "$section"
exit "$failed"
