#!/usr/bin/env bash
# scripts/bench_scale.sh - does a PUT, a GET and a list cost the same at 1,000,000 objects in a
# volume as at 10,000? (`make bench-scale`; also run by `make bench`.)
#
#   at SMALL objects (10,000) and at LARGE (1,000,000) in one volume, on devices sized for LARGE:
#     sync 4 KiB PUT rate (wrk -tT -cC, new keys)           target: rate at LARGE >= 0.9x rate at SMALL
#     its p99                                                target: p99 at LARGE <= 2x p99 at SMALL
#     GET of 4 KiB objects, random keys of a fixed set       target: rate at LARGE >= 0.8x, p99 <= 1.5x
#     list one page of 1,000 keys (median of LIST_CALLS)     target: time at LARGE <= 2x time at SMALL
#     take a snapshot of the volume (median of SNAPSHOTS)    target: time at LARGE <= 2x time at SMALL (O(1))
#   restart at LARGE: time from start to /healthz answering, RSS once up (no object data is read)
#
# The volume is filled with async 4 KiB PUTs (then a flush) as fast as the appliance takes them;
# the fill time is reported. Builds nothing; reports, never asserts. Knobs: BIN, TMPBASE, SMALL
# (10000), LARGE (1000000), WRK_DUR (5s), WRK_THREADS (2), WRK_CONNS (32), LIST_CALLS (21), SNAPSHOTS (9), DEVICE_SIZE (sized for LARGE).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/appliance}
SHARED=${SHARED:-$ROOT/../shared/bench}
TMPBASE=${TMPBASE:-/tmp}
SMALL=${SMALL:-10000}
LARGE=${LARGE:-1000000}
WRK_DUR=${WRK_DUR:-5s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
LIST_CALLS=${LIST_CALLS:-21}
SNAPSHOTS=${SNAPSHOTS:-9}
# A device's metadata area has room for ~2.3 % of it in database pages, and an object's row takes ~405 bytes: the default
# 8 GiB devices (192 MiB areas) hold the rows of ~400,000 objects, so the devices are sized for
# LARGE objects (~25 KiB of device per object, at least 8 GiB; at 10M objects, 240 GiB devices with 7.5 GiB
# areas: the 4 GiB bound areas had before stopped any pool at ~8.4M objects).
DEVICE_SIZE=${DEVICE_SIZE:-$(( LARGE * 25 * 1024 > 8 << 30 ? (LARGE * 25 * 1024 + (1 << 30) - 1) / (1 << 30) * (1 << 30) : 8 << 30 ))}
# The volume's quota: 12 GiB, or room for LARGE objects of 4 KiB and a quarter more (a fixed 12 GiB
# stopped a 10M run at 3,145,728 objects, the fill waiting for ever).
VOLUME_BYTES=$(( LARGE * 5120 > 12 << 30 ? LARGE * 5120 : 12 << 30 ))
PUT_LUA="$SHARED/wrk_put.lua"
GET_LUA="$ROOT/scripts/wrk_get_keys.lua"

log() { printf '[bench-scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ -x "$BIN" ]] || { echo "bench_scale: $BIN is missing (make bench-scale builds it)" >&2; exit 2; }
for tool in wrk curl python3; do command -v "$tool" >/dev/null || { echo "bench_scale: $tool is missing" >&2; exit 2; }; done

T=$(mktemp -d "$TMPBASE/appliance-bench-scale.XXXXXX") || exit 1
APP_PID=""
. "$ROOT/scripts/bench_lib.sh"
stop_app() { stop_pid "$APP_PID" TERM; APP_PID=""; }
cleanup() { local rc=$?; stop_app; rm -rf "$T"; exit $rc; }
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A R
start_app() {  # sets APP_PID URL AUTH; R[start_s] = seconds until /healthz answered
    : >"$T/app.log"
    local t0; t0=$(date +%s.%N)
    "$BIN" serve --listen 127.0.0.1:0 --s3-listen off --data-dir "$T/app" --device-size "$DEVICE_SIZE" >>"$T/app.log" 2>&1 &
    APP_PID=$!; URL=""
    for _ in $(seq 6000); do
        URL=$(grep -o 'listening on http://[^ ]*' "$T/app.log" 2>/dev/null | tail -1 | sed 's/^listening on //')
        [[ -n "$URL" ]] && curl -s -o /dev/null --max-time 1 "$URL/healthz" && break
        kill -0 "$APP_PID" 2>/dev/null || break
        sleep 0.05
    done
    R[start_s]=$(python3 -c "import time; print('%.2f' % (time.time() - $t0))")
    [[ -n "$URL" ]] || { log "the appliance did not start: $(tail -5 "$T/app.log")"; return 1; }
    AUTH="Authorization: Bearer $(tr -d '[:space:]' <"$T/app/token")"
}
count() { curl -sS -H "$AUTH" "$URL/v1/volumes/bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["object_count"])'; }
flush() { curl -sS -o /dev/null --max-time 3600 -X POST -H "$AUTH" "$URL/v1/volumes/bench/flush"; }
wrk_scale() { local name=$1 dur=$2 url=$3; shift 3; wrk_json "$name" "$dur" "$WRK_THREADS" "$WRK_CONNS" "$url" "$@"; }
fill_to() {  # fill_to N PREFIX: async PUTs of new keys until the volume holds N objects, then flush
    local target=$1 prefix=$2 have run=0 t0
    t0=$(date +%s.%N)
    have=$(count)
    while (( have < target )); do
        run=$((run + 1))
        local need=$((target - have)) secs
        secs=$(( need / 3000 + 1 )); (( secs > 60 )) && secs=60
        wrk_scale "fill-$prefix-$run" "${secs}s" "$URL" -H "$AUTH" -s "$PUT_LUA" -- "/v1/volumes/bench/objects/$prefix$run-@N@?durability=async" 4096 0 >/dev/null
        flush
        local before=$have
        have=$(count)
        log "fill: $have objects"
        if (( have <= before )); then log "fill: no object taken in a round; stopping at $have (quota or room?)"; break; fi
    done
    python3 -c "import time; print('%.0f' % (time.time() - $t0))"
}
measure() {  # measure TAG: PUT rate, GET p99 over the fixed key set, list page time
    local tag=$1 res rps p99
    res=$(wrk_scale "put-$tag" "$WRK_DUR" "$URL" -H "$AUTH" -s "$PUT_LUA" -- "/v1/volumes/bench/objects/sync-$tag-@N@" 4096 0)
    read -r rps _ p99 _ errs <<<"$res"; R[put_$tag]=$rps; R[put_p99_$tag]=$p99
    log "$tag: sync PUT $rps req/s (p99 $p99 us, errors ${errs:-?})"
    flush
    res=$(wrk_scale "get-$tag" "$WRK_DUR" "$URL" -H "$AUTH" -s "$GET_LUA" -- "/v1/volumes/bench/objects/base-@N@" "$WRK_THREADS" "$BASE_KEYS" 7)
    read -r rps _ p99 _ errs <<<"$res"; R[get_$tag]=$rps; R[get_p99_$tag]=$p99
    log "$tag: GET $rps req/s p99 $p99 us (errors ${errs:-?})"
    R[list_$tag]=$(python3 - "$URL" "$AUTH" "$LIST_CALLS" <<'PY'
import json, random, statistics, sys, time, urllib.request
url, auth, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {auth.split(": ")[0]: auth.split(": ", 1)[1]}
def page(after):
    q = "limit=1000" + ("&start_after=" + urllib.parse.quote(after) if after else "")
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url + "/v1/volumes/bench/objects?" + q, headers=headers)) as r:
        body = json.load(r)
    return time.perf_counter() - t, body
import urllib.parse
random.seed(5)
times = []
for i in range(calls):
    after = "%s%d" % (random.choice("abcdefghijklmnopqrstuvwxyz"), random.randrange(10)) if i else None
    dt, body = page(after)
    times.append(dt)
print("%.2f" % (statistics.median(times) * 1000))
PY
)
    log "$tag: list one page of 1,000 keys ${R[list_$tag]} ms (median of $LIST_CALLS)"
    # Snapshots: take SNAPSHOTS of the whole volume one after another, then delete them (nothing
    # changed meanwhile, so nothing to free): each is O(1) whatever the volume holds.
    read -r R[snap_$tag] R[snapdel_$tag] < <(python3 - "$URL" "$AUTH" "$SNAPSHOTS" "$tag" <<'PY'
import json, statistics, sys, time, urllib.request
url, auth, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
headers = {auth.split(": ")[0]: auth.split(": ", 1)[1], "Content-Type": "application/json"}
def timed(method, path, body=None):
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=body, headers=headers, method=method)) as r:
        r.read()
    return time.perf_counter() - t
took = [timed("POST", "/v1/volumes/bench/snapshots", json.dumps({"name": "%s-%d" % (tag, i)}).encode()) for i in range(count)]
gone = [timed("DELETE", "/v1/volumes/bench/snapshots/%s-%d" % (tag, i)) for i in range(count)]
print("%.2f %.2f" % (statistics.median(took) * 1000, statistics.median(gone) * 1000))
PY
)
    log "$tag: take a snapshot ${R[snap_$tag]} ms, delete it ${R[snapdel_$tag]} ms (medians of $SNAPSHOTS)"
}

start_app || exit 1
curl -sS -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench\",\"capacity_bytes\":$VOLUME_BYTES,\"replicas\":1,\"provisioning\":\"thin\"}" "$URL/v1/volumes"
# The fixed key set every GET reads: base-<t>-<k>, k < BASE_KEYS per wrk thread.
res=$(wrk_scale base 2s "$URL" -H "$AUTH" -s "$PUT_LUA" -- "/v1/volumes/bench/objects/base-@N@?durability=async" 4096 0)
read -r _ _ _ nbase _ <<<"$res"; BASE_KEYS=$(( ${nbase:-0} > WRK_CONNS ? nbase - WRK_CONNS : 1 ))
flush
log "base key set: $((BASE_KEYS * WRK_THREADS)) objects"
R[fill_small]=$(fill_to "$SMALL" "s")
measure small
R[fill_large]=$(fill_to "$LARGE" "l")
R[objects]=$(count)
measure large
stop_app
start_app || exit 1
R[rss_mib]=$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$APP_PID/status")
R[objects_after]=$(count)
log "restart at ${R[objects_after]} objects: /healthz after ${R[start_s]} s, RSS ${R[rss_mib]} MiB"
R[data_mib]=$(( $(du -sk "$T/app" | cut -f1) / 1024 ))

python3 - "$SMALL" "$LARGE" "$WRK_THREADS" "$WRK_CONNS" <<PY
import sys
R = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
small, large, t, c = sys.argv[1:5]
f = lambda k: float(R[k]) if R.get(k, "") not in ("", "-") else None
rows = []
def row(name, a, b, unit, target, higher):
    x, y = f(a), f(b)
    q = None if x is None or y is None or x == 0 else y / x
    ok = None if q is None else (q >= target if higher else q <= target)
    rows.append((name, "n/a" if y is None else "%.1f %s" % (y, unit), "n/a" if x is None else "%.1f %s at %s" % (x, unit, small),
                 "n/a" if q is None else "%.2fx" % q, (">= %.1fx" if higher else "<= %.1fx") % target, "n/a" if ok is None else ("PASS" if ok else "MISS")))
row("sync 4 KiB PUT at %s objects, wrk -t%s -c%s" % (R.get("objects", large), t, c), "put_small", "put_large", "req/s", 0.9, True)
row("sync 4 KiB PUT p99 at %s objects" % R.get("objects", large), "put_p99_small", "put_p99_large", "us", 2.0, False)
row("GET 4 KiB at %s objects" % R.get("objects", large), "get_small", "get_large", "req/s", 0.8, True)
row("GET 4 KiB p99 at %s objects" % R.get("objects", large), "get_p99_small", "get_p99_large", "us", 1.5, False)
row("list one page of 1,000 keys at %s objects" % R.get("objects", large), "list_small", "list_large", "ms", 2.0, False)
row("take a snapshot at %s objects" % R.get("objects", large), "snap_small", "snap_large", "ms", 2.0, False)
row("delete a snapshot (nothing to free) at %s objects" % R.get("objects", large), "snapdel_small", "snapdel_large", "ms", 2.0, False)
head = ("workload", "at large", "at small", "ratio", "target", "result")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
line = lambda r: " | ".join(str(x).ljust(w[i]) if i < 3 else str(x).rjust(w[i]) for i, x in enumerate(r))
print()
print("appliance scale bench - the same figures at %s and at %s objects in one volume" % (small, large))
print(line(head)); print("-+-".join("-" * x for x in w))
for r in rows: print(line(r))
print("info: fill to %s objects %s s, to %s objects %s s more (async 4 KiB PUTs + flush); restart with %s objects: /healthz after %s s, RSS %s MiB; data dir %s MiB; GET rate %s / %s req/s; PUT p99 %s / %s us (small / large)" % (
    small, R.get("fill_small"), R.get("objects"), R.get("fill_large"), R.get("objects_after"), R.get("start_s"), R.get("rss_mib"),
    R.get("data_mib"), R.get("get_small"), R.get("get_large"), R.get("put_p99_small"), R.get("put_p99_large")))
PY
