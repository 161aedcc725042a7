#!/usr/bin/env bash
# scripts/bench_tls.sh - what TLS costs: the appliance over HTTPS beside nginx over HTTPS (the same
# certificate, the same bytes, one run, medians over rounds), and the appliance over HTTPS beside
# itself over plain HTTP.
#
#   BIN=.build/release/appliance bash scripts/bench_tls.sh
#
# Rows: a cache-hit 4 KiB GET (wrk -t2 -c32, keep-alive: the record layer's cost per request) and a
# BIG_MIB GET with curl (a fresh connection: handshake plus bulk encryption). The appliance serves
# from its page cache, nginx from the kernel's. Knobs: ROUNDS (3), WRK_DUR (5s), BIG_MIB (256).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/appliance}
ROUNDS=${ROUNDS:-3}
WRK_DUR=${WRK_DUR:-5s}
BIG_MIB=${BIG_MIB:-256}
log() { printf '[bench-tls %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
for tool in nginx wrk curl openssl python3; do
    command -v $tool >/dev/null || { echo "bench-tls: $tool is missing (make bench-tools)" >&2; exit 2; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/appliance-bench-tls.XXXXXX") || exit 1
NGINX_PID=""
TLS_PID=""
PLAIN_PID=""
. "$ROOT/scripts/bench_lib.sh"
trap 'stop_pid "$NGINX_PID" QUIT; stop_pid "$TLS_PID" TERM; stop_pid "$PLAIN_PID" TERM; rm -rf "$T"' EXIT

# start NAME [flags...] -> prints "PID URL" (the appliance on an ephemeral port, S3 off)
start() {
    local name=$1 url=""; shift
    "$BIN" serve --listen 127.0.0.1:0 --s3-listen off --data-dir "$T/$name" --device-size $((2 << 30)) "$@" >"$T/$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do
        url=$(grep -o 'listening on https\?://[^ ]*' "$T/$name.log" | head -1 | sed 's/^listening on //')
        [[ -n $url ]] && break
        sleep 0.1
    done
    echo "$pid $url"
}
# wrk_rps URL [headers...] -> requests per second (empty on failure or errors)
wrk_rps() {
    local url=$1; shift
    local out
    out=$(timeout 120 wrk -t2 -c32 -d"$WRK_DUR" "$@" "$url" 2>&1)
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && { log "wrk $url: $(grep 'Non-2xx\|Socket errors' <<<"$out")"; return; }
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}
# curl_mibs URL [headers...] -> MiB/s of one GET (a new connection), body checked by size
curl_mibs() {
    local url=$1; shift
    read -r code size secs < <(curl -sS -k -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$@" "$url")
    [[ $code == 200 && $size == $((BIG_MIB << 20)) ]] || { log "GET $url: $code, $size bytes"; return; }
    python3 -c "print('%.0f' % ($size / 1048576 / $secs))"
}

read -r TLS_PID TLS_URL <<<"$(start tls --tls auto)"
read -r PLAIN_PID PLAIN_URL <<<"$(start plain)"
[[ $TLS_URL == https://* && $PLAIN_URL == http://* ]] || { log "the appliances did not start: $(tail -3 "$T"/*.log)"; exit 1; }
CERT=$T/tls/tls/cert.pem
KEY=$T/tls/tls/key.pem
head -c 4096 /dev/urandom >"$T/small.bin"
head -c $((BIG_MIB << 20)) /dev/urandom >"$T/big.bin"
for side in "tls $TLS_URL" "plain $PLAIN_URL"; do
    read -r name url <<<"$side"
    auth="Authorization: Bearer $(cat "$T/$name/token")"
    curl -sS -k -o /dev/null -X POST -H "$auth" -d '{"name":"bench","capacity_bytes":4294967296}' "$url/v1/volumes"
    for obj in small big; do
        curl -sS -k -o /dev/null -f -X PUT -T "$T/$obj.bin" -H "$auth" -H 'Expect:' "$url/v1/volumes/bench/objects/$obj" \
            || log "PUT $obj to $name failed"
        curl -sS -k -o /dev/null -H "$auth" "$url/v1/volumes/bench/objects/$obj"  # into the cache
    done
done
start_nginx_at "$T/nginx" 0 "$CERT" "$KEY" || exit 1
cp "$T/small.bin" "$T/big.bin" "$NGINX_WWW/"
cat "$NGINX_WWW/big.bin" >/dev/null
cipher() { echo | openssl s_client -connect "${1#https://}" 2>/dev/null | awk '/^New, / { print $2, $NF }'; }
log "negotiated: appliance $(cipher "$TLS_URL"), nginx $(cipher "$NGINX_URL")"

declare -A R
add() { R[$1]="${R[$1]:-} ${2:--}"; }
TA="Authorization: Bearer $(cat "$T/tls/token")"
PA="Authorization: Bearer $(cat "$T/plain/token")"
for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS: 4 KiB GET, wrk -t2 -c32 -d$WRK_DUR: nginx https, appliance https, appliance http"
    add small_ngx "$(wrk_rps "$NGINX_URL/small.bin")"
    add small_tls "$(wrk_rps "$TLS_URL/v1/volumes/bench/objects/small" -H "$TA")"
    add small_plain "$(wrk_rps "$PLAIN_URL/v1/volumes/bench/objects/small" -H "$PA")"
    log "round $round/$ROUNDS: $BIG_MIB MiB GET, curl: nginx https, appliance https, appliance http"
    add big_ngx "$(curl_mibs "$NGINX_URL/big.bin")"
    add big_tls "$(curl_mibs "$TLS_URL/v1/volumes/bench/objects/big" -H "$TA")"
    add big_plain "$(curl_mibs "$PLAIN_URL/v1/volumes/bench/objects/big" -H "$PA")"
done

python3 - "$BIG_MIB" <<EOF
import sys
sys.path.insert(0, "$ROOT/scripts")
from bench_table import parse_values, median
R = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
big = sys.argv[1]
rows = [("GET 4 KiB cached, wrk -c32, HTTPS", "small_tls", "small_ngx", "nginx HTTPS", "req/s", 0.8),
        ("GET %s MiB, curl, HTTPS" % big, "big_tls", "big_ngx", "nginx HTTPS", "MiB/s", 0.8),
        ("GET 4 KiB cached: HTTPS / HTTP (the appliance's own)", "small_tls", "small_plain", "appliance HTTP", "req/s", None),
        ("GET %s MiB: HTTPS / HTTP (the appliance's own)" % big, "big_tls", "big_plain", "appliance HTTP", "MiB/s", None)]
print("| workload | ours | reference | ratio (median of rounds) | rounds | target |")
print("|---|---|---|---|---|---|")
for name, ours, ref, what, unit, target in rows:
    a, b = parse_values(R, ours), parse_values(R, ref)
    ratios = [x / y for x, y in zip(a, b) if x and y]
    r = median(ratios)
    verdict = "" if target is None or r is None else ("PASS" if r >= target else "MISS") + " (>= %.1fx)" % target
    print("| %s | %s %s | %s %s (%s) | %s | %s | %s |" % (name, "%.0f" % median(a) if median(a) else "-", unit,
          "%.0f" % median(b) if median(b) else "-", unit, what, "%.2fx" % r if r else "-", " ".join("%.2f" % x for x in ratios), verdict))
EOF
