#!/usr/bin/env bash
# Per-request overhead of `uscope tls` on loopback HTTPS loads (issue 11),
# untraced and traced in the same run, repetitions interleaved:
#
#   A. curl (OpenSSL): one curl fetching TLS_CURL_N URLs from openssl
#      s_server -WWW (a new connection and handshake per request, as
#      s_server speaks HTTP/1.0); traced system-wide by `uscope tls`.
#   B. Go crypto/tls: a Go HTTPS server and client in one process, TLS_GO_N
#      requests on one kept-alive connection; traced with --lib.
#
# Prints its section of bench/RESULTS.md ("## tls") on stdout, progress on
# stderr; see bench/README.md. Needs root, openssl, curl, go.
# Knobs: TLS_RUNS (5), TLS_CURL_N (200), TLS_GO_N (5000).
# shellcheck disable=SC2016
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"

runs=${TLS_RUNS:-5}
curl_n=${TLS_CURL_N:-200}
go_n=${TLS_GO_N:-5000}
work=$(mktemp -d /tmp/uscope-bench-tls.XXXXXX)
cleanup() {
	bench_kill_jobs
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

uscope=$(bench_uscope) || { bench_log "cannot build uscope"; exit 1; }
for t in openssl curl go; do
	bench_have "$t" || { bench_log "$t is missing"; exit 1; }
done
(cd "$here" && CGO_ENABLED=0 GOFLAGS= GOWORK=off go build -o "$work/load" load.go) || exit 1

cd "$work" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=127.0.0.1 2>/dev/null || exit 1
for ((i = 1; i <= curl_n; i++)); do printf 'page %d from bench/tls\n' "$i" >"p$i"; done
port=$(( (RANDOM % 20000) + 30000 ))
openssl s_server -accept "127.0.0.1:$port" -cert cert.pem -key key.pem -WWW -quiet >/dev/null 2>&1 &
srv=$!
for ((i = 0; i < 200; i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done

# curl_load: µs per request of one curl fetching curl_n URLs.
curl_load() {
	local t0 t1
	t0=$(bench_now_us)
	curl -sSk -o /dev/null "https://127.0.0.1:$port/p[1-$curl_n]" || return 1
	t1=$(bench_now_us)
	awk -v a="$t0" -v b="$t1" -v n="$curl_n" 'BEGIN { printf "%.1f\n", (b - a) / n }'
}

# traced ARGS -- CMD...: runs CMD while `uscope ARGS` is attached.
traced() {
	local args=() pid out=$work/tls.out
	while [ "$1" != "--" ]; do args+=("$1"); shift; done
	shift
	# Emptied here, not by the redirection below: that runs in the child,
	# and the wait could see the last run's "Attached" line first.
	: >"$work/tls.err"
	"$uscope" "${args[@]}" >"$out" 2>"$work/tls.err" &
	pid=$!
	bench_wait_line "$work/tls.err" '^Attached' 30 "$pid" || { bench_log "uscope tls did not attach: $(cat "$work/tls.err")"; return 1; }
	"$@" || { bench_log "failed: $*"; bench_stop "$pid"; return 1; }
	bench_stop "$pid"
	[ "${args[0]}" = tls ] || return 0
	printf '%s writes, %s reads, %s lost; ' "$(grep -cE '^[0-9.]+ +[A-Za-z_.]*(write|Write|send)' "$out")" \
		"$(grep -cE '^[0-9.]+ +[A-Za-z_.]*(read|Read|recv)' "$out")" \
		"$(awk '/^Lost [0-9]+ events/ { n += $2 } END { print n + 0 }' "$out")" >>"$work/events"
	grep -v '^Attached' "$work/tls.err" >&2 || true
}

# The same probes as `uscope tls --lib load`, doing nothing: the cost of
# the traps alone.
empty="uprobe:$work/load:\"crypto/tls.(*Conn).Write\" { }
uprobe:$work/load:\"crypto/tls.(*Conn).Read\" { }
uretprobe:$work/load:\"crypto/tls.(*Conn).Read\" { }"

failed=0
for ((r = 1; r <= runs; r++)); do
	bench_log "run $r/$runs"
	curl_load >>"$work/curl.base" || { bench_log "untraced curl load failed"; failed=1; }
	traced tls -- curl_load >>"$work/curl.traced" || failed=1
	"$work/load" "$go_n" >>"$work/go.base" || { bench_log "untraced Go load failed"; failed=1; }
	traced tls --lib "$work/load" -- "$work/load" "$go_n" >>"$work/go.traced" || failed=1
	traced run -e "$empty" -- "$work/load" "$go_n" >>"$work/go.empty" || failed=1
done
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null

cb=$(bench_median "$work/curl.base") ct=$(bench_median "$work/curl.traced")
gb=$(bench_median "$work/go.base") gt=$(bench_median "$work/go.traced") ge=$(bench_median "$work/go.empty")
cat <<MD
## tls

\`uscope tls\` on loopback HTTPS loads, untraced vs traced, $runs runs interleaved, $(date -u +%Y-%m-%d).
Time per request in µs, min | median | max over the runs; overhead = traced − untraced (medians).
Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).

| load | untraced min | median | max | traced min | median | max | overhead µs/request | ratio |
|---|---|---|---|---|---|---|---|---|
| curl → openssl s_server, $curl_n requests, a handshake each (\`uscope tls\`, system-wide: SSL_* and the other libraries' probes) | $(bench_stats "$work/curl.base") | $(bench_stats "$work/curl.traced") | $(awk -v a="$ct" -v b="$cb" 'BEGIN { printf "%.1f", a - b }') | $(bench_ratio "$ct" "$cb") |
| Go client → Go server in one process, $go_n requests on one connection (Conn.Write/Read: entry + RET probes, both ends) | $(bench_stats "$work/go.base") | $(bench_stats "$work/go.traced") | $(awk -v a="$gt" -v b="$gb" 'BEGIN { printf "%.1f", a - b }') | $(bench_ratio "$gt" "$gb") |
| the same Go load under an empty program on the same three probes (the traps alone) | $(bench_stats "$work/go.base") | $(bench_stats "$work/go.empty") | $(awk -v a="$ge" -v b="$gb" 'BEGIN { printf "%.1f", a - b }') | $(bench_ratio "$ge" "$gb") |

Per Go request the probes fire 6 times (client and server each: Write entry, Read entry and RET) and print 4 entries.

Entries printed per traced run (each a read or a write with its plaintext; expected: curl $curl_n writes and $curl_n reads; Go $((2 * go_n + 2)) writes and at least as many reads, as a reader may take a message in pieces):
$(cat "$work/events")
MD
exit "$failed"
