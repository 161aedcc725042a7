#!/usr/bin/env bash
# scripts/bench_small.sh - small objects: the appliance beside nginx (WebDAV PUT, page cache only,
# no fsync) and fio, in ONE run, alternating by round, printed as one table (medians over rounds).
#
#   4 KiB PUT new keys, wrk -tT -cC       sync and ?durability=async     vs nginx PUT of the same bodies
#   4 KiB PUT overwriting 512 keys/thread sync and async                 vs nginx, same pattern
#   4 KiB PUT one client, sequential      sync                           vs fio 4 KiB write + fdatasync QD1
#                                                                           on a fresh sparse device-sized file
#   4 KiB GET of objects not in the cache wrk -tT -cC, random keys       vs nginx GET after drop_caches
#                                          (the appliance is restarted: its cache is empty; the kernel's
#                                           page cache is dropped for both when we may)
#
# After each async row its writeback is done untimed (`settle`: our flush, nginx's `sync`), so that a
# row never measures the previous one's.
# The info line also gives the server's CPU per request of each row (user + system time of every
# thread over the run, divided by the requests; nginx: master and workers).
# Builds nothing. Reports, never asserts. Knobs: BIN, TMPBASE (/tmp), ROUNDS (3), WRK_DUR (5s),
# FILL_DUR (3s: how long the GET objects are written), WRK_THREADS (2), WRK_CONNS (32),
# DEVICE_BYTES (32 GiB: the size of the appliance's two device files, sparse, and of fio's file), SIZE (4096).
# The rows leave ~500,000 objects in one appliance; the default 8 GiB devices' catalog room holds ~320,000
# 4 KiB objects (471,147 async PUTs: 147,531 refused with 507), so a fast run had the cold row's keys refused.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/appliance}
SHARED=${SHARED:-$ROOT/../shared/bench}
TMPBASE=${TMPBASE:-/tmp}
ROUNDS=${ROUNDS:-3}
WRK_DUR=${WRK_DUR:-5s}
FILL_DUR=${FILL_DUR:-3s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
DEVICE_BYTES=${DEVICE_BYTES:-$((32 << 30))}
SIZE=${SIZE:-4096}
PUT_LUA="$SHARED/wrk_put.lua"
GET_LUA="$ROOT/scripts/wrk_get_keys.lua"

log() { printf '[bench-small %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ -x "$BIN" ]] || { echo "bench_small: $BIN is missing (make bench builds it)" >&2; exit 2; }
[[ -r "$PUT_LUA" ]] || { echo "bench_small: $PUT_LUA is missing" >&2; exit 2; }
for tool in fio nginx wrk curl python3; do command -v "$tool" >/dev/null || { echo "bench_small: $tool is missing" >&2; exit 2; }; done

T=$(mktemp -d "$TMPBASE/appliance-bench-small.XXXXXX") || exit 1
APP_PID=""; NGINX_PID=""
. "$ROOT/scripts/bench_lib.sh"
cleanup() { local rc=$?; stop_pid "$NGINX_PID" QUIT; stop_pid "$APP_PID" TERM; rm -rf "$T"; exit $rc; }
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A R
add() { R[$1]="${R[$1]:+${R[$1]} }${2:--}"; }

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null && return 0; return 1; }

# start_app: serve the data dir $T/app (created with its default devices on the first start)
start_app() {
    "$BIN" serve --listen 127.0.0.1:0 --s3-listen off --data-dir "$T/app" --device-size "$DEVICE_BYTES" >>"$T/app.log" 2>&1 &
    APP_PID=$!
    URL=""
    for _ in $(seq 600); do
        URL=$(grep -o 'listening on http://[^ ]*' "$T/app.log" 2>/dev/null | tail -1 | sed 's/^listening on //')
        [[ -n "$URL" ]] && curl -s -o /dev/null --max-time 1 "$URL/healthz" && break
        kill -0 "$APP_PID" 2>/dev/null || break
        sleep 0.1
    done
    TOKEN=$(tr -d '[:space:]' <"$T/app/token" 2>/dev/null)
    [[ -n "$URL" && -n "$TOKEN" ]] || { log "the appliance did not start: $(tail -5 "$T/app.log")"; return 1; }
    AUTH="Authorization: Bearer $TOKEN"
    curl -sS -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
        -d '{"name":"bench","capacity_bytes":8589934592,"replicas":1,"provisioning":"thin"}' "$URL/v1/volumes"
    return 0
}
restart_app() { stop_pid "$APP_PID" TERM; : >"$T/app.log"; start_app; }

# Server CPU (user + system, every thread; nginx: its master and workers) in clock ticks, and per
# request of a wrk run: cpu_row KEY TARGET WRK-NAME TICKS-BEFORE records KEY_TARGET_cpu in us.
# Work a request leaves behind (an async PUT's writeback after the run) is not counted.
server_pids() { if [[ $1 == app ]]; then echo "$APP_PID"; else echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; fi; }
cpu_ticks() { local total=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$total"; }
cpu_row() {
    local after requests
    after=$(cpu_ticks $(server_pids "$2"))
    requests=$(grep -m1 '^WRKJSON ' "$T/wrk-$3.txt" 2>/dev/null | cut -d' ' -f2- | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])' 2>/dev/null)
    (( ${requests:-0} > 0 )) && add "${1}_$2_cpu" $(( (after - $4) * 1000000 / $(getconf CLK_TCK) / requests ))
}

# put_row KEY TARGET(app|ngx) NAME-TEMPLATE KEYS_PER_THREAD QUERY THREADS CONNS
put_row() {
    local key=$1 tgt=$2 tmpl=$3 keys=$4 query=$5 t=$6 c=$7 base path res rps p50 p99 n
    if [[ $tgt == app ]]; then base=$URL; path="/v1/volumes/bench/objects/$tmpl$query"; else base=$NGINX; path="/$tmpl"; fi
    local ticks; ticks=$(cpu_ticks $(server_pids "$tgt"))
    if [[ $tgt == app ]]; then
        res=$(wrk_json "$key-$tgt-$round" "$WRK_DUR" "$t" "$c" "$base" -H "$AUTH" -s "$PUT_LUA" -- "$path" "$SIZE" "$keys")
    else
        res=$(wrk_json "$key-$tgt-$round" "$WRK_DUR" "$t" "$c" "$base" -s "$PUT_LUA" -- "$path" "$SIZE" "$keys")
    fi
    read -r rps p50 p99 n errs <<<"$res"
    if [[ -z "$res" || $errs != 0/0 ]]; then
        log "$key $tgt: failed ($res) $(tail -2 "$T/wrk-$key-$tgt-$round.txt")"; add "${key}_$tgt" -; return
    fi
    add "${key}_$tgt" "$rps"; add "${key}_${tgt}_p99" "$p99"
    cpu_row "$key" "$tgt" "$key-$tgt-$round" "$ticks"
    log "round $round $key $tgt: $rps req/s p50 ${p50} us p99 ${p99} us"
}

# settle TARGET: untimed, the writeback an async row left (ours: a flush of the volume; nginx: the
# kernel's dirty pages synced), so that it is not measured in the next row.
settle() { if [[ $1 == app ]]; then curl -s -o /dev/null -X POST -H "$AUTH" "$URL/v1/volumes/bench/flush"; else sync; fi; }

start_app || exit 1
start_nginx_at "$T/nginx" 1 || exit 1; NGINX=$NGINX_URL
log "appliance $URL (pid $APP_PID, data $T/app), nginx WebDAV $NGINX"

for round in $(seq "$ROUNDS"); do
    for tgt in $( ((round % 2)) && echo "ngx app" || echo "app ngx"); do
        put_row new "$tgt" "new-r$round-@N@" 0 "" "$WRK_THREADS" "$WRK_CONNS"
        put_row newasync "$tgt" "newa-r$round-@N@" 0 "?durability=async" "$WRK_THREADS" "$WRK_CONNS"
        settle "$tgt"
        put_row ow "$tgt" "ow-@N@" 512 "" "$WRK_THREADS" "$WRK_CONNS"
        put_row owasync "$tgt" "owa-@N@" 512 "?durability=async" "$WRK_THREADS" "$WRK_CONNS"
        settle "$tgt"
    done
    [[ -n "$URL" ]] && curl -s -o /dev/null -X POST -H "$AUTH" "$URL/v1/volumes/bench/flush"
    # One client, one PUT at a time, against fio QD1 with an fdatasync after each 4 KiB write.
    put_row seq app "seq-r$round-@N@" 0 "" 1 1
    rm -f "$T/fio-qd1.img"; truncate -s "$DEVICE_BYTES" "$T/fio-qd1.img"
    v=""
    if timeout 120 fio --name=qd1 --filename="$T/fio-qd1.img" --ioengine=psync --direct=1 --rw=write --bs="$SIZE" \
        --fdatasync=1 --time_based --runtime="${WRK_DUR%s}" --output-format=json --output="$T/fio-qd1-$round.json" >/dev/null 2>"$T/fio.err"; then
        v=$(python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' "$T/fio-qd1-$round.json")
    else
        log "fio failed: $(tail -1 "$T/fio.err")"
    fi
    add seq_fio "$v"; log "round $round seq fio: $v writes/s"
    rm -f "$T/fio-qd1.img"
done

# Objects not in the cache: written once (async, then flushed), then read at random.
log "cold: writing $FILL_DUR of 4 KiB objects into each, then GET at random after a restart / drop_caches"
res=$(wrk_json fill-app "$FILL_DUR" "$WRK_THREADS" "$WRK_CONNS" "$URL" -H "$AUTH" -s "$PUT_LUA" -- "/v1/volumes/bench/objects/cold-@N@?durability=async" "$SIZE" 0)
read -r _ _ _ napp fillerrs <<<"$res"
[[ ${fillerrs:-} == 0/0 ]] || log "the appliance refused some of the objects to GET later ($fillerrs errors): $(tail -1 "$T/app.log")"
curl -s -o /dev/null -X POST -H "$AUTH" "$URL/v1/volumes/bench/flush"
res=$(wrk_json fill-ngx "$FILL_DUR" "$WRK_THREADS" "$WRK_CONNS" "$NGINX" -s "$PUT_LUA" -- "/cold-@N@" "$SIZE" 0)
read -r _ _ _ nngx _ <<<"$res"
# Both read the same set: the keys the appliance took. nginx's WebDAV PUT rate swings 3-6x on this VM,
# so the files its timed fill did not reach are written into its root directly (same bytes, same names).
keys=$(( ${napp:-0} > WRK_CONNS ? ${napp:-0} - WRK_CONNS : 0 ))  # the last requests of each connection may not have completed
if (( ${nngx:-0} < keys )); then
    python3 - "$NGINX_WWW" "$WRK_THREADS" "$keys" "$SIZE" <<'TOPUP'
import os, sys
www, threads, keys, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
body = b"p" * size
for t in range(threads):
    for k in range(keys):
        path = os.path.join(www, "cold-%d-%d" % (t, k))
        if not os.path.exists(path):
            with open(path, "wb") as f: f.write(body)
TOPUP
    log "cold: nginx's fill wrote ${nngx:-0} keys a thread; the rest of $keys written into its root directly"
fi
R[cold_keys]=$((keys * WRK_THREADS))
dropped=yes
if (( keys > 0 )); then
    for round in $(seq "$ROUNDS"); do
        for tgt in $( ((round % 2)) && echo "ngx app" || echo "app ngx"); do
            if [[ $tgt == app ]]; then restart_app || break; fi
            drop_caches || dropped=no
            ticks=$(cpu_ticks $(server_pids "$tgt"))
            if [[ $tgt == app ]]; then
                res=$(wrk_json "cold-app-$round" "$WRK_DUR" "$WRK_THREADS" "$WRK_CONNS" "$URL" -H "$AUTH" -s "$GET_LUA" -- "/v1/volumes/bench/objects/cold-@N@" "$WRK_THREADS" "$keys" "$round")
            else
                res=$(wrk_json "cold-ngx-$round" "$WRK_DUR" "$WRK_THREADS" "$WRK_CONNS" "$NGINX" -s "$GET_LUA" -- "/cold-@N@" "$WRK_THREADS" "$keys" "$round")
            fi
            read -r rps p50 p99 _ errs <<<"$res"
            if [[ -z "$res" || $errs != 0/0 ]]; then
                # What one of those keys answers now, and the appliance's last words.
                if [[ $tgt == app ]]; then probe=$(curl -s -H "$AUTH" "$URL/v1/volumes/bench/objects/cold-0-1" -w ' HTTP %{http_code}' | tail -c 300); else probe=$(curl -s "$NGINX/cold-0-1" -o /dev/null -w 'HTTP %{http_code}'); fi
                log "cold GET $tgt failed ($res): cold-0-1 answers: $probe; $( [[ $tgt == app ]] && tail -3 "$T/app.log")"
                add "cold_$tgt" -; continue
            fi
            add "cold_$tgt" "$rps"; add "cold_${tgt}_p99" "$p99"
            cpu_row cold "$tgt" "cold-$tgt-$round" "$ticks"
            log "round $round cold GET $tgt: $rps req/s p50 $p50 us p99 $p99 us"
        done
    done
fi
R[dropped]=$dropped

python3 - "$WRK_THREADS" "$WRK_CONNS" "$WRK_DUR" "$ROUNDS" "$SIZE" <<PY
import sys
R = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
t, c, d, rounds, size = sys.argv[1:6]
sys.path.insert(0, "$ROOT/scripts")
from bench_table import median, parse_values
def values(k): return parse_values(R, k)  # one value per round (None where a round failed)
rows, spread = [], []
def row(name, ours, ref, refname, target, unit="req/s"):
    o, r = median(values(ours)), median(values(ref))
    pairs = [a / b for a, b in zip(values(ours), values(ref)) if a is not None and b]
    q = median(pairs)
    f = lambda v: "n/a" if v is None else "%.0f %s" % (v, unit)
    if len(pairs) > 1: spread.append("%s %s" % (name.split(",")[0], " ".join("%.2f" % x for x in pairs)))
    rows.append((name, f(o), f(r) + " " + refname, "n/a" if q is None else "%.2fx" % q, ">= %.2fx" % target,
                 "n/a" if q is None else ("PASS" if q >= target else "MISS")))
kib = "%d KiB" % (int(size) // 1024)
row("%s PUT new keys, wrk -t%s -c%s, sync" % (kib, t, c), "new_app", "new_ngx", "(nginx WebDAV PUT)", 0.5)
row("%s PUT new keys, wrk -t%s -c%s, ?durability=async" % (kib, t, c), "newasync_app", "newasync_ngx", "(nginx WebDAV PUT)", 1.0)
row("%s PUT overwriting 512 keys/thread, sync" % kib, "ow_app", "ow_ngx", "(nginx, same pattern)", 0.5)
row("%s PUT overwriting 512 keys/thread, async" % kib, "owasync_app", "owasync_ngx", "(nginx, same pattern)", 1.0)
row("%s PUT one client, sequential, sync" % kib, "seq_app", "seq_fio", "(fio write+fdatasync QD1)", 0.5, "/s")
cold = "%s GET not in the cache, %s keys, wrk -c%s%s" % (kib, R.get("cold_keys", "?"), c, "" if R.get("dropped") == "yes" else " (drop_caches NOT possible)")
row(cold, "cold_app", "cold_ngx", "(nginx GET after drop_caches)", 0.8)
head = ("workload", "ours", "reference", "ratio", "target", "result")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
line = lambda r: " | ".join(str(x).ljust(w[i]) if i < 3 else str(x).rjust(w[i]) for i, x in enumerate(r))
print()
print("appliance small-object bench - medians over %s rounds (ours and the reference alternating, %s each)" % (rounds, d))
print(line(head)); print("-+-".join("-" * x for x in w))
for r in rows: print(line(r))
p99 = lambda k: median(values(k))
info = ["p99 us: " + ", ".join("%s %s/%s" % (k, "%.0f" % p99(k + "_app_p99") if p99(k + "_app_p99") else "?", "%.0f" % p99(k + "_ngx_p99") if p99(k + "_ngx_p99") else "?")
                              for k in ("new", "newasync", "ow", "owasync", "cold")) + " (appliance/nginx)"]
cpu = lambda k: median(values(k))
fmt = lambda v: "?" if v is None else "%.0f" % v
info.append("server CPU us/request: " + ", ".join("%s %s/%s" % (k, fmt(cpu(k + "_app_cpu")), fmt(cpu(k + "_ngx_cpu")))
                                               for k in ("new", "newasync", "ow", "owasync", "cold"))
            + ", seq %s (appliance/nginx; async rows without the writeback after the run)" % fmt(cpu("seq_app_cpu")))
print("info: " + "; ".join(info))
if spread: print("per-round ratios: " + "; ".join(spread))
PY
