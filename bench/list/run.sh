#!/usr/bin/env bash
# Listing speed: `uscope list` on libjvm.so (all functions and all USDT probes)
# against readelf -sW (symbols) and readelf -n (notes), all in one run, wall
# time and peak RSS from /usr/bin/time. Also runs the Go benchmarks of the
# same work (internal/resolve BenchmarkListLibjvm, elfx BenchmarkFunctionsLibjvm).
# Rewrites the "## list" section of bench/RESULTS.md (and nothing else).
#
# Needs go, readelf (binutils), /usr/bin/time (package time) and openjdk-17's
# libjvm.so. RUNS sets the repetitions per case (default 11, at least 5);
# TARGET another object to list.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

runs=${RUNS:-11}
[ "$runs" -ge 5 ] || { echo "RUNS must be at least 5" >&2; exit 1; }
target=${TARGET:-/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so}
[ -f "$target" ] || { echo "$target is missing (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
command -v readelf >/dev/null || { echo "readelf is missing (apt-get install binutils)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/uscope" ./cmd/uscope
uscope=$work/uscope

# measure NAME CMD...: run CMD $runs times (after one warm-up run that brings
# the file into the page cache), output to /dev/null, under
# /usr/bin/time -f '%e %M'; append "milliseconds KB" lines to $work/NAME. The
# wall time is taken with bash's microsecond clock around /usr/bin/time, whose
# own %e has a 10 ms resolution (it adds the same fork and exec to every tool).
measure() {
	local name=$1 t0 t1 e m
	shift
	"$@" >/dev/null 2>&1
	: >"$work/$name"
	for ((i = 0; i < runs; i++)); do
		t0=$EPOCHREALTIME
		/usr/bin/time -f '%e %M' -o "$work/one" "$@" >/dev/null 2>/dev/null
		t1=$EPOCHREALTIME
		read -r e m <"$work/one"
		awk -v a="$t0" -v b="$t1" -v m="$m" 'BEGIN { printf "%.2f %d\n", (b - a) * 1000, m }' >>"$work/$name"
	done
}

# stats NAME COLUMN: "min median max" of a column of $work/NAME.
stats() {
	awk -v c="$2" '{ print $c }' "$work/$1" | sort -g | awk '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], m, v[NR] }'
}

lines() { "$@" 2>/dev/null | wc -l; }

# Interleave the tools case by case, so that load from elsewhere on the
# machine falls on both.
measure all_uscope "$uscope" list "$target"
measure funcs_uscope "$uscope" list "$target" 'uprobe:*'
measure funcs_readelf readelf -sW "$target"
measure usdt_uscope "$uscope" list "$target" 'usdt:*'
measure usdtv_uscope "$uscope" list -v "$target" 'usdt:*'
measure usdt_readelf readelf -n "$target"
measure both_readelf sh -c 'readelf -sW "$1"; readelf -n "$1"' sh "$target"

n_funcs=$(lines "$uscope" list "$target" 'uprobe:*')
n_usdt=$(lines "$uscope" list "$target" 'usdt:*')
n_sym=$(lines readelf -sW "$target")
n_notes=$(lines readelf -n "$target")

row() { # row CASE TOOL NAME LINES
	read -r tmin tmed tmax <<<"$(stats "$3" 1)"
	read -r rmin rmed rmax <<<"$(stats "$3" 2)"
	printf '| %s | %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n' \
		"$1" "$2" "$4" "$runs" "$tmin" "$tmed" "$tmax" "$(echo "$rmed" | awk '{ print $1 / 1024 }')" "$(echo "$rmax" | awk '{ print $1 / 1024 }')"
}
ratio() { # ratio OURS PEER COLUMN: min and median of ours/peer
	local a b
	read -r a _ <<<"$(stats "$1" 1)"
	read -r b _ <<<"$(stats "$2" 1)"
	local am bm
	am=$(stats "$1" 1 | cut -d' ' -f2)
	bm=$(stats "$2" 1 | cut -d' ' -f2)
	awk -v a="$a" -v b="$b" -v am="$am" -v bm="$bm" 'BEGIN { printf "%.2f (min) / %.2f (median)", a / b, am / bm }'
}

gobench=$(go test -run '^$' -bench 'ListLibjvm|FunctionsLibjvm' -benchmem -count 5 ./internal/resolve ./elfx 2>/dev/null |
	awk '/^Benchmark/ { n[$1]++; t[$1] = t[$1] (t[$1] ? ", " : "") sprintf("%.1f", $3 / 1e6); m[$1] = $5 }
		END { for (k in n) printf "- `%s`: %s ms/op (5 runs), %.1f MB allocated/op\n", k, t[k], m[k] / 1e6 }' | sort)

section=$work/section
{
	echo "## list"
	echo
	echo "\`bench/list/run.sh\` on $(date -u +%Y-%m-%d), $(uname -sr), $(nproc) CPUs,"
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the run (the machine is shared;"
	echo "the tools were run interleaved, case by case). $(readelf --version | head -1)."
	echo "Object: \`$target\` ($(($(stat -c %s "$target") / 1024 / 1024)) MB,"
	echo "$n_funcs function probe lines, $n_usdt USDT probe lines). Each command ran under"
	echo "\`/usr/bin/time -f '%e %M'\` $runs times after a warm-up run, output to /dev/null. Wall time in ms"
	echo "is taken around \`/usr/bin/time\` with bash's microsecond clock (\`%e\` has 10 ms resolution);"
	echo "peak RSS in MB is \`%M\`."
	echo
	echo "| case | tool | output lines | runs | wall min | median | max | RSS median | RSS max |"
	echo "|---|---|---|---|---|---|---|---|---|"
	row "all functions + USDT" "uscope list" all_uscope "$((n_funcs + n_usdt))"
	row "all functions + USDT" "readelf -sW; readelf -n" both_readelf "$((n_sym + n_notes))"
	row "functions" "uscope list 'uprobe:*'" funcs_uscope "$n_funcs"
	row "functions" "readelf -sW" funcs_readelf "$n_sym"
	row "USDT" "uscope list 'usdt:*'" usdt_uscope "$n_usdt"
	row "USDT, decoded args" "uscope list -v 'usdt:*'" usdtv_uscope "$(lines "$uscope" list -v "$target" 'usdt:*')"
	row "USDT" "readelf -n" usdt_readelf "$n_notes"
	echo
	echo "Wall time, ours / peer: functions + USDT $(ratio all_uscope both_readelf);"
	echo "functions $(ratio funcs_uscope funcs_readelf); USDT $(ratio usdt_uscope usdt_readelf);"
	echo "USDT with decoded arguments $(ratio usdtv_uscope usdt_readelf)."
	echo
	echo "Go benchmarks of the same work in one process (no exec, warm page cache):"
	echo
	echo "$gobench"
	echo
	echo "uscope prints one line per probe name (a name defined at several addresses is one"
	echo "line), sorted, in the pasteable probe syntax; readelf prints one line per symbol"
	echo "table entry, unsorted, and four lines per USDT note."
} >"$section"

# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
bench_write_section list "$section"
cat "$section"
