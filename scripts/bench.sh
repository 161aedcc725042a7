#!/usr/bin/env bash
# scripts/bench.sh - ours vs fio and ours vs nginx, measured in ONE run, printed as one table.
#
#   1. engine  `appliance bench-engine` on a fresh device file (seq write, seq read, 4 KiB QD32
#              random read through the real object path: one thread keeping 32 reads in flight, as
#              fio does, then 32 threads with one read each), and fio (io_uring, direct) on the SAME
#              file, each on its half; which goes first alternates by round
#   2. HTTP    the appliance (serve) and nginx side by side with ../shared/bench/anchors.sh (section B)
#   3. buffered on the same appliance: a cache-hit 4 KiB GET (wrk) beside a throw-away nginx serving
#              the same 4 KiB file (same wrk -t/-c/-d), and a 1 GiB ?durability=async PUT + POST flush
#              beside fio buffered write + end_fsync on a file in the same filesystem
#   4. RSS     peak VmRSS of a second appliance (--cache-size RSS_CACHE_BYTES) while a 4 GiB object
#              is uploaded and downloaded
#
# Builds nothing (`make bench` builds the release binary first). Reports, never asserts: the exit
# status is 0 whatever the ratios; PASS/MISS is printed next to each one.
#
# Knobs (environment): BIN (.build/release/appliance), ANCHORS (../shared/bench/anchors.sh beside
#   the repo), TMPBASE (/tmp), ENGINE_MIB (4096: device file; each side writes half: 2 GiB runs, in which a stall of the shared VM disk weighs less than in 1 GiB ones), RAND_SECONDS (10),
#   SERVE_DEVICE_BYTES (6 GiB per default device), SERVE_CACHE_BYTES (unset: the appliance's default
#   page cache size, raised to 4 GiB when that is smaller and MemAvailable >= 12 GiB, so that the
#   1 GiB async PUT is not bypassed (a buffered PUT over a quarter of the cache goes straight to disk);
#   set it to pass --cache-size), RSS_GIB (4), RSS_CACHE_BYTES (64 MiB: cache of the RSS instance),
#   WRK_DUR (3s), HIT_WRK_DUR (5s), WRK_THREADS (2), WRK_CONNS (32), BUF_MIB (1024: async PUT and
#   fio size), PUT_COUNT (200), ROUNDS (4: the engine, cache-hit and buffered pairs are measured this
#   many times, ours and the reference alternating; the table shows medians and the median of the
#   per-round ratios, the info line every round's ratio), BENCH_KEEP (directory to copy the raw
#   results into; default none).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/appliance}
ANCHORS=${ANCHORS:-$ROOT/../shared/bench/anchors.sh}
TMPBASE=${TMPBASE:-/tmp}
ENGINE_MIB=${ENGINE_MIB:-4096}
RAND_SECONDS=${RAND_SECONDS:-10}
SERVE_DEVICE_BYTES=${SERVE_DEVICE_BYTES:-$((6 << 30))}
SERVE_CACHE_BYTES=${SERVE_CACHE_BYTES:-}
RSS_GIB=${RSS_GIB:-4}
RSS_CACHE_BYTES=${RSS_CACHE_BYTES:-$((64 << 20))}
WRK_DUR=${WRK_DUR:-3s}
HIT_WRK_DUR=${HIT_WRK_DUR:-5s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
BUF_MIB=${BUF_MIB:-1024}
PUT_COUNT=${PUT_COUNT:-200}
ROUNDS=${ROUNDS:-4}
BENCH_KEEP=${BENCH_KEEP:-}

ENGINE_TARGET=0.9
HTTP_TARGET=0.8
RSS_LIMIT_MIB=256

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[[ -x "$BIN" ]] || { echo "bench: $BIN is missing; run 'make bench' (it builds it)" >&2; exit 2; }
[[ -r "$ANCHORS" ]] || { echo "bench: $ANCHORS is missing (shared/bench beside the repo)" >&2; exit 2; }
for tool in fio nginx wrk curl python3 openssl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run 'make bench' (it installs it)" >&2; exit 2; }
done

WRK_LUA="$(dirname "$ANCHORS")/wrk_report.lua"
[[ -r "$WRK_LUA" ]] || { echo "bench: $WRK_LUA is missing (shared/bench beside the repo)" >&2; exit 2; }

# The 1 GiB async PUT must fit under a quarter of the cache, or it goes straight to disk (and the row
# says so). The default cache is a quarter of RAM, at most 4 GiB: raise it when that is too small and
# the machine has room.
mem_total=$(awk '/^MemTotal:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
mem_avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
default_cache=$(( mem_total / 4 < (4 << 30) ? mem_total / 4 : (4 << 30) ))
if [[ -z "$SERVE_CACHE_BYTES" ]]; then
    need_cache=$(( (BUF_MIB << 20) * 4 ))
    if (( default_cache < need_cache && mem_avail >= 3 * need_cache )); then
        SERVE_CACHE_BYTES=$need_cache
        log "default cache $((default_cache >> 20)) MiB < $((need_cache >> 20)) MiB: starting the appliance with --cache-size $need_cache"
    fi
fi

T=$(mktemp -d "$TMPBASE/appliance-bench.XXXXXX") || exit 1
APP_PID=""
NGINX_PID=""
SAMPLER_PID=""
CHILD_PID=""

. "$ROOT/scripts/bench_lib.sh"
cleanup() {
    local rc=$?
    stop_pid "$SAMPLER_PID" TERM
    stop_pid "$CHILD_PID" TERM
    stop_pid "$NGINX_PID" QUIT
    stop_pid "$APP_PID" TERM
    if [[ -n "$BENCH_KEEP" ]]; then
        mkdir -p "$BENCH_KEEP" && find "$T" -maxdepth 1 -type f \( -name '*.txt' -o -name '*.json' -o -name '*.tsv' -o -name '*.log' \) \
            -exec cp {} "$BENCH_KEEP"/ \; && log "raw results copied to $BENCH_KEEP"
    fi
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Results, filled as we go: R[name]=value ("" = not measured); measurements repeated over rounds
# hold one value per round, space-separated ("-" for a round that failed).
declare -A R
add() { R[$1]="${R[$1]:+${R[$1]} }${2:--}"; }  # add NAME VALUE: append one round's value

# ------------------------------------------------------------------ 1. engine, then fio on the same file
# fio_val FILE DIR iops|mibs: MiB/s over the job's whole runtime (incl. end_fsync), or IOPS.
fio_val() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]; s = j[sys.argv[2]]
if sys.argv[3] == "iops":
    print("%.0f" % s["iops"])
else:
    print("%.0f" % (s["io_bytes"] / 2**20 / (j["job_runtime"] / 1e3)))
PY
}
# Which side goes first alternates by round: on this VM the first sequential writer into a fresh
# file runs 5-30% slower than a second one (fio against itself, 10 of 10 pairs), so a fixed order
# would bias the write row. Each side writes its own half of the same file (the engine from the
# head, fio the tail: allocating writes into a sparse file, not overwrites), then reads it back and
# reads 4 KiB blocks of it at random.
DEV_BYTES=$((ENGINE_MIB << 20)); OBJ=$(((ENGINE_MIB / 2) << 20)); WOFF=$((DEV_BYTES - OBJ)); DEV="$T/engine/dev.img"
run_fio() {  # run_fio NAME fio-args... -> $T/fio-NAME-ROUND.json
    local name=$1; shift
    log "fio: $name"
    timeout 600 fio --name="$name" --filename="$DEV" --ioengine=io_uring --direct=1 \
        --output-format=json --output="$T/fio-$name-$round.json" "$@" >/dev/null 2>"$T/fio-$name.err" \
        || { log "fio $name failed: $(tail -1 "$T/fio-$name.err")"; return 1; }
}
fio_side() {
    local v
    v=""; run_fio write --offset="$WOFF" --size="$OBJ" --rw=write --bs=1M --iodepth=8 --end_fsync=1 \
        && v=$(fio_val "$T/fio-write-$round.json" write mibs); add fio_write "$v"
    v=""; run_fio read --offset="$WOFF" --size="$OBJ" --rw=read --bs=1M --iodepth=8 \
        && v=$(fio_val "$T/fio-read-$round.json" read mibs); add fio_read "$v"
    v=""; run_fio randread --offset="$WOFF" --size="$OBJ" --rw=randread --bs=4k --iodepth=32 \
        --time_based --runtime="$RAND_SECONDS" --norandommap --randrepeat=0 \
        && v=$(fio_val "$T/fio-randread-$round.json" read iops); add fio_rr "$v"
}
engine_side() {  # engine_side [--existing-device]
    local erc
    "$BIN" bench-engine --dir "$T/engine" --size-mib "$ENGINE_MIB" --seconds "$RAND_SECONDS" "$@" >"$T/engine.txt" 2>"$T/engine.log" &
    CHILD_PID=$!
    wait "$CHILD_PID"; erc=$?; CHILD_PID=""
    cat "$T/engine.txt" >&2
    cp "$T/engine.txt" "$T/engine-$round.txt"
    ev() { awk -v k="$1" '$1 == "engine" && $2 == k { print $3 }' "$T/engine.txt"; }
    if [[ $erc != 0 || "$(ev device)" != "$DEV" || "$(ev object_bytes)" != "$OBJ" ]]; then
        log "bench-engine failed (rc $erc): $(tail -3 "$T/engine.log")"
        for k in eng_write eng_read eng_rr eng_rr_threads; do add $k -; done
        return 1
    fi
    add eng_write "$(ev seqwrite_mibs)"; add eng_read "$(ev seqread_mibs)"; add eng_rr "$(ev randread4k_iops)"
    add eng_rr_threads "$(ev randread4k_threads_iops)"
}
for round in $(seq "$ROUNDS"); do
    rm -rf "$T/engine"
    if (( round % 2 == 1 )); then
        log "engine round $round/$ROUNDS, engine first: bench-engine on a ${ENGINE_MIB} MiB device file (object $((ENGINE_MIB / 2)) MiB, random reads ${RAND_SECONDS}s), then fio"
        if engine_side; then fio_side; else for k in fio_write fio_read fio_rr; do add $k -; done; fi
    else
        log "engine round $round/$ROUNDS, fio first: fio on the tail of a fresh ${ENGINE_MIB} MiB file, then bench-engine on it"
        mkdir -p "$T/engine" && truncate -s "$DEV_BYTES" "$DEV"
        fio_side
        engine_side --existing-device
    fi
    log "round $round: engine write/read/randread ${R[eng_write]##* } MiB/s ${R[eng_read]##* } MiB/s ${R[eng_rr]##* } IOPS; fio ${R[fio_write]##* } MiB/s ${R[fio_read]##* } MiB/s ${R[fio_rr]##* } IOPS"
    rm -rf "$T/engine"   # the device file: the next round (and the HTTP part) needs the disk space
done

# ------------------------------------------------------------------ helpers for the appliance and nginx
# start_app NAME CACHE_BYTES (empty: the appliance's default): serve on an ephemeral loopback port
# with its data in $T/NAME, create volume "bench"; sets APP_PID URL TOKEN AUTH; 1 if it did not start.
start_app() {
    local name=$1 cache=$2 code
    log "$name: starting the appliance (2 device files of $((SERVE_DEVICE_BYTES >> 20)) MiB, cache ${cache:-default})"
    "$BIN" serve --listen 127.0.0.1:0 --s3-listen off --data-dir "$T/$name" --device-size "$SERVE_DEVICE_BYTES" \
        ${cache:+--cache-size "$cache"} >"$T/$name.log" 2>&1 &
    APP_PID=$!
    URL=""
    for _ in $(seq 300); do
        URL=$(grep -o 'listening on http://[^ ]*' "$T/$name.log" 2>/dev/null | head -1 | sed 's/^listening on //')
        [[ -n "$URL" ]] && break
        kill -0 "$APP_PID" 2>/dev/null || break
        sleep 0.1
    done
    TOKEN=$(tr -d '[:space:]' <"$T/$name/token" 2>/dev/null)
    if [[ -z "$URL" || -z "$TOKEN" ]]; then
        log "the appliance ($name) did not start: $(tail -5 "$T/$name.log")"
        stop_pid "$APP_PID" TERM; APP_PID=""
        return 1
    fi
    AUTH="Authorization: Bearer $TOKEN"
    log "$name: appliance pid $APP_PID at $URL"
    code=$(curl -sS -o "$T/volume.json" -w '%{http_code}' -X POST -H "$AUTH" -H 'Content-Type: application/json' \
        -d "{\"name\":\"bench\",\"capacity_bytes\":$((64 << 30)),\"replicas\":1,\"provisioning\":\"thin\"}" "$URL/v1/volumes")
    [[ "$code" == 201 ]] || log "creating volume bench: HTTP $code $(cat "$T/volume.json")"
    return 0
}
# vol FIELD... -> the bench volume's fields, space-separated ("-" when missing)
vol() {
    curl -sS --max-time 30 -H "$AUTH" "$URL/v1/volumes/bench" 2>/dev/null | python3 -c '
import json, sys
try: d = json.load(sys.stdin)
except ValueError: d = {}
print(" ".join(str(d.get(k, "-")) for k in sys.argv[1:]))' "$@"
}
# start_nginx: a throw-away static nginx (no WebDAV), root $T/nginx/www; sets NGINX_PID NGINX_URL NGINX_WWW.
start_nginx() { start_nginx_at "$T/nginx" 0; }
# wrk_run NAME URL [wrk options...] -> "rps p50_us p99_us errors non2xx" (empty on failure)
wrk_run() {
    local name=$1 url=$2; shift 2
    timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$HIT_WRK_DUR" -s "$WRK_LUA" "$@" "$url" >"$T/wrk-$name.txt" 2>&1
    grep -m1 '^WRKJSON ' "$T/wrk-$name.txt" | cut -d' ' -f2- | python3 -c '
import json, sys
try: d = json.loads(sys.stdin.read())
except ValueError: sys.exit(0)
print("%.0f %d %d %d %d" % (d["rps"], d["p50_us"], d["p99_us"], d["errors"], d["status_errors"]))'
}

# ------------------------------------------------------------------ 2. HTTP: appliance and nginx, one anchors run
if start_app app "$SERVE_CACHE_BYTES"; then
    log "http: anchors.sh section B (nginx, then the appliance)"
    SECTIONS=B TMPBASE="$T" BASE_URL="$URL" TARGET_NAME=appliance \
        PATH_TEMPLATE='v1/volumes/bench/objects/{key}' HTTP_HEADERS="$AUTH" RESULTS="$T/anchors.tsv" \
        BIG_MIB=1024 WRK_DUR="$WRK_DUR" WRK_PUT_DUR=0 PUT_COUNT="$PUT_COUNT" PUT_CONC=8 CURL_MAX=300 \
        WRK_THREADS="$WRK_THREADS" WRK_CONNS="$WRK_CONNS" \
        bash "$ANCHORS" >"$T/anchors.txt" 2>"$T/anchors.log" &
    CHILD_PID=$!
    wait "$CHILD_PID"; CHILD_PID=""
    grep -v '^#' "$T/anchors.txt" >&2
    # tsv TEST TARGET -> MiB/s column ("" when missing or FAIL)
    tsv() { awk -F'\t' -v t="$1" -v g="$2" '$2 == t && $3 == g && $4 != "FAIL" && $5 != "-" { print $5; exit }' "$T/anchors.tsv" 2>/dev/null; }
    R[ngx_put]=$(tsv "PUT 1024MiB curl + fsync(file)" nginx)
    R[ngx_put_nofsync]=$(tsv "PUT 1024MiB curl" nginx)
    R[app_put]=$(tsv "PUT 1024MiB curl" appliance)
    R[ngx_get]=$(tsv "GET 1024MiB curl warm" nginx)
    R[app_get]=$(tsv "GET 1024MiB curl warm" appliance)
    R[ngx_getc]=$(tsv "GET 1024MiB curl cold" nginx)
    R[app_getc]=$(tsv "GET 1024MiB curl cold" appliance)

    # -------------------------------------------------------------- 3a. cache-hit 4 KiB GET: appliance vs nginx
    log "hit: 4 KiB object PUT (buffered) + one warming GET; the same 4 KiB file in a throw-away nginx's root"
    head -c 4096 /dev/urandom >"$T/hit-4k.bin"
    hobj="$URL/v1/volumes/bench/objects/hit-4k"
    code=$(curl -sS -o "$T/hit-put.body" -w '%{http_code}' -X PUT -T "$T/hit-4k.bin" -H "$AUTH" -H 'Expect:' \
        -H 'Content-Type: application/octet-stream' "$hobj?io=buffered" 2>&1)
    if [[ "$code" != 2* ]]; then
        log "hit: PUT 4 KiB: HTTP $code $(head -c 300 "$T/hit-put.body")"
    elif ! curl -sS -H "$AUTH" -o "$T/hit-4k.got" "$hobj" || ! cmp -s "$T/hit-4k.bin" "$T/hit-4k.got"; then
        log "hit: the warming GET did not return the 4 KiB that were PUT"
    elif start_nginx; then
        cp "$T/hit-4k.bin" "$NGINX_WWW/hit-4k.bin"
        curl -sS -o "$T/hit-4k.ngx" "$NGINX_URL/hit-4k.bin" && cmp -s "$T/hit-4k.bin" "$T/hit-4k.ngx" \
            || log "hit: nginx did not serve the 4 KiB file"
        read -r h0 m0 <<<"$(vol cache_hits cache_misses)"
        for round in $(seq "$ROUNDS"); do
            for tgt in ngx app; do
                if [[ $tgt == ngx ]]; then
                    log "hit round $round/$ROUNDS: wrk -t$WRK_THREADS -c$WRK_CONNS -d$HIT_WRK_DUR nginx GET 4 KiB"
                    res=$(wrk_run ngx-4k-$round "$NGINX_URL/hit-4k.bin")
                else
                    log "hit round $round/$ROUNDS: wrk -t$WRK_THREADS -c$WRK_CONNS -d$HIT_WRK_DUR appliance GET 4 KiB (cache hit)"
                    res=$(wrk_run app-4k-$round "$hobj" -H "$AUTH")
                fi
                rps=""; p50=""; p99=""
                read -r rps p50 p99 er se <<<"$res"
                if [[ -z "$res" ]]; then
                    log "hit: wrk $tgt failed: $(tail -2 "$T/wrk-$tgt-4k-$round.txt")"; rps=""
                elif [[ "$er" != 0 || "$se" != 0 ]]; then
                    log "hit: wrk $tgt: $er socket errors, $se non-2xx answers: not counted"; rps=""
                fi
                add hit_$tgt "$rps"; add hit_${tgt}_p99 "$p99"; add hit_${tgt}_p50 "$p50"
                log "hit: $tgt ${rps:-?} req/s, p50 ${p50:-?} us, p99 ${p99:-?} us"
            done
        done
        read -r h1 m1 <<<"$(vol cache_hits cache_misses)"
        [[ "$h0$h1$m0$m1" =~ ^[0-9]+$ ]] && { R[hit_hits]=$((h1 - h0)); R[hit_misses]=$((m1 - m0)); }
        log "hit: appliance cache_hits +${R[hit_hits]:-?}, cache_misses +${R[hit_misses]:-?} during the wrk runs"
        stop_pid "$NGINX_PID" QUIT; NGINX_PID=""
    fi
    curl -s -o /dev/null -X DELETE -H "$AUTH" "$hobj"

    # -------------------------------------------------------------- 3b. 1 GiB async PUT + flush vs fio buffered + fsync
    bbytes=$((BUF_MIB << 20))
    bsrc="$T/buf-src.bin"
    bobj="$URL/v1/volumes/bench/objects/buf-async"
    log "buffered: generating a $BUF_MIB MiB random source file (kept in the page cache: we time the transfer)"
    openssl enc -aes-128-ctr -pass pass:bench -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c "$bbytes" >"$bsrc"
    sync; cat "$bsrc" >/dev/null
    for round in $(seq "$ROUNDS"); do
        log "buffered round $round/$ROUNDS: PUT $BUF_MIB MiB ?durability=async, then POST flush"
        out=$(curl -sS --max-time 600 -X PUT -T "$bsrc" -H "$AUTH" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
            -o "$T/buf-put.body" -w '%{http_code} %{time_total} %{size_upload}' "$bobj?durability=async" 2>&1)
        read -r code tput sz <<<"$out"
        read -r dirty <<<"$(vol dirty_bytes)"
        fout=$(curl -sS --max-time 600 -X POST -H "$AUTH" -o "$T/buf-flush.body" -w '%{http_code} %{time_total}' \
            "$URL/v1/volumes/bench/flush" 2>&1)
        read -r fcode tflush <<<"$fout"
        if [[ "$code" == 2* && "$sz" == "$bbytes" && "$fcode" == 204 ]]; then
            add buf_app "$(python3 -c "print('%.0f' % ($bbytes / 2**20 / ($tput + $tflush)))")"
            add buf_put_s "$tput"; add buf_flush_s "$tflush"
            if [[ "$dirty" =~ ^[0-9]+$ ]] && (( dirty > 0 )); then R[buf_path]=cache; R[buf_dirty]=$dirty; else R[buf_path]=bypass; fi
            log "buffered: PUT ${tput}s (dirty_bytes right after: $dirty -> ${R[buf_path]}), flush ${tflush}s: ${R[buf_app]##* } MiB/s"
        else
            add buf_app -; add buf_put_s -; add buf_flush_s -
            log "buffered: PUT: $out $(head -c 300 "$T/buf-put.body" 2>/dev/null); flush: $fout $(head -c 300 "$T/buf-flush.body" 2>/dev/null)"
        fi
        curl -s -o /dev/null -X DELETE -H "$AUTH" "$bobj"
        sync
        log "buffered round $round/$ROUNDS: fio --ioengine=psync --direct=0 --rw=write --bs=1M --size=${BUF_MIB}m --end_fsync=1 in $T"
        v=""
        if timeout 600 fio --name=bufwrite --filename="$T/fio-buf.dat" --ioengine=psync --direct=0 --rw=write --bs=1M \
            --size="${BUF_MIB}m" --end_fsync=1 --output-format=json --output="$T/fio-buf-$round.json" >/dev/null 2>"$T/fio-buf.err"; then
            v=$(fio_val "$T/fio-buf-$round.json" write mibs)
            log "buffered: fio $v MiB/s (runtime incl. end_fsync)"
        else
            log "fio buffered write failed: $(tail -1 "$T/fio-buf.err")"
        fi
        add buf_fio "$v"
        rm -f "$T/fio-buf.dat"
        sync
    done
    rm -f "$bsrc"
fi
stop_pid "$APP_PID" TERM; APP_PID=""
rm -rf "$T/app"

# ------------------------------------------------------------------ 4. RSS while streaming a big object (bounded cache)
if start_app rss "$RSS_CACHE_BYTES"; then
    big=$((RSS_GIB << 30))
    rss_kib() { local k v _; while read -r k v _; do [[ $k == VmRSS: ]] && { echo "$v"; return; }; done <"/proc/$1/status"; }
    R[rss_base]=$(( $(rss_kib "$APP_PID" 2>/dev/null || echo 0) >> 10 ))
    (   peak=0
        while :; do
            v=$(rss_kib "$APP_PID" 2>/dev/null) || exit 0
            (( v > peak )) && { peak=$v; echo "$peak" >"$T/rss.peak"; }
            sleep 0.2
        done ) &
    SAMPLER_PID=$!
    obj="$URL/v1/volumes/bench/objects/rss-${RSS_GIB}g"
    log "rss: PUT ${RSS_GIB} GiB (streamed from /dev/zero, Content-Length set), sampling VmRSS every 0.2 s"
    # From a pipe curl would send chunked (and keep a Content-Length beside it): drop that header.
    out=$(head -c "$big" /dev/zero | curl -sS --max-time 900 -X PUT -T - -H "$AUTH" -H 'Expect:' \
        -H "Content-Length: $big" -H 'Transfer-Encoding:' -H 'Content-Type: application/octet-stream' \
        -o "$T/rss-put.body" -w '%{http_code} %{time_total} %{size_upload}' "$obj" 2>&1)
    read -r code tt sz <<<"$out"
    if [[ "$code" == 2* && "$sz" == "$big" ]]; then
        R[rss_put]=$(python3 -c "print('%.0f' % ($big / 2**20 / $tt))")
    else
        log "rss: PUT failed: $out $(head -c 300 "$T/rss-put.body" 2>/dev/null)"
    fi
    log "rss: GET ${RSS_GIB} GiB to /dev/null"
    out=$(curl -sS --max-time 900 -H "$AUTH" -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "$obj" 2>&1)
    read -r code tt sz <<<"$out"
    if [[ "$code" == 200 && "$sz" == "$big" ]]; then
        R[rss_get]=$(python3 -c "print('%.0f' % ($big / 2**20 / $tt))")
    else
        log "rss: GET failed: $out"
    fi
    stop_pid "$SAMPLER_PID" TERM; SAMPLER_PID=""
    [[ -s "$T/rss.peak" ]] && R[rss_peak]=$(( $(cat "$T/rss.peak") >> 10 ))
    R[rss_hwm]=$(awk '/^VmHWM/{ printf "%d", $2 / 1024 }' "/proc/$APP_PID/status" 2>/dev/null)
    curl -s -o /dev/null -X DELETE -H "$AUTH" "$obj"
    log "rss: baseline ${R[rss_base]} MiB, peak ${R[rss_peak]:-?} MiB while streaming, VmHWM ${R[rss_hwm]:-?} MiB"
fi
stop_pid "$APP_PID" TERM; APP_PID=""

# ------------------------------------------------------------------ the table
python3 - "$ENGINE_TARGET" "$HTTP_TARGET" "$RSS_LIMIT_MIB" "$(nproc)" "$(uname -r)" \
    "$(fio --version) | $(nginx -v 2>&1 | sed 's/.*: //')" "$ENGINE_MIB" "$RAND_SECONDS" "$RSS_GIB" \
    "$RSS_CACHE_BYTES" "${SERVE_CACHE_BYTES:-$default_cache}" "$BUF_MIB" "$WRK_THREADS" "$WRK_CONNS" "$HIT_WRK_DUR" "$ROUNDS" <<PY
import sys
R = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
et, ht, rss_limit = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
ncpu, kernel, tools, eng_mib, secs, rss_gib = sys.argv[4:10]
rss_cache, app_cache, buf_mib, wrk_t, wrk_c, wrk_d, rounds = sys.argv[10:17]
sys.path.insert(0, "$ROOT/scripts")
from bench_table import median, parse_values
def values(k): return parse_values(R, k)  # one value per round (None where a round failed)
def num(k): return median(values(k))
rows = []
spread = []  # "name: r1 r2 r3" for rows measured over several rounds
def ratio_row(name, ours, ref, refname, target, unit):
    o, r = num(ours), num(ref)
    # Paired: each round's ours / that round's reference; the table shows their median.
    pairs = [a / b for a, b in zip(values(ours), values(ref)) if a is not None and b]
    if not pairs:
        rows.append((name, fmt(o, unit), fmt(r, unit) + " " + refname, "n/a", ">= %.2fx" % target, "n/a")); return
    q = median(pairs)
    if len(pairs) > 1: spread.append("%s %s" % (name.split(" (")[0], " ".join("%.2f" % x for x in pairs)))
    rows.append((name, fmt(o, unit), fmt(r, unit) + " " + refname, "%.2fx" % q, ">= %.2fx" % target, "PASS" if q >= target else "MISS"))
def fmt(v, unit): return "n/a" if v is None else "%.0f %s" % (v, unit)
half = int(eng_mib) // 2
ratio_row("engine seq write %d MiB (1 MiB appends, commit+fdatasync)" % half, "eng_write", "fio_write", "(fio write 1M QD8 +end_fsync)", et, "MiB/s")
ratio_row("engine seq read %d MiB (1 MiB reads)" % half, "eng_read", "fio_read", "(fio read 1M QD8)", et, "MiB/s")
ratio_row("engine 4 KiB random read QD32 (1 thread, 32 in flight), %ss" % secs, "eng_rr", "fio_rr", "(fio randread 4k QD32)", et, "IOPS")
ratio_row("HTTP PUT 1 GiB (curl)", "app_put", "ngx_put", "(nginx PUT + fsync)", ht, "MiB/s")
ratio_row("HTTP GET 1 GiB warm (curl)", "app_get", "ngx_get", "(nginx GET warm)", ht, "MiB/s")
if num("app_getc") is not None or num("ngx_getc") is not None:
    ratio_row("HTTP GET 1 GiB cold (after drop_caches: the kernel's cache only, not the appliance's)", "app_getc", "ngx_getc", "(nginx GET cold)", ht, "MiB/s")
ratio_row("HTTP GET 4 KiB cache hit (wrk -t%s -c%s -d%s)" % (wrk_t, wrk_c, wrk_d), "hit_app", "hit_ngx",
          "(nginx GET same 4 KiB file)", ht, "req/s")
bpath = R.get("buf_path", "")
bsize = "1 GiB" if buf_mib == "1024" else "%s MiB" % buf_mib
bname = "buffered PUT %s ?durability=async + flush" % bsize
if bpath == "cache":
    bname += " (via cache %d MiB: dirty %d MiB after PUT)" % (int(app_cache) >> 20, int(R["buf_dirty"]) >> 20)
elif bpath:
    bname += " (BYPASSED the cache %d MiB: dirty 0 after PUT)" % (int(app_cache) >> 20)
ratio_row(bname, "buf_app", "buf_fio", "(fio psync buffered 1M + end_fsync)", ht, "MiB/s")
p = num("rss_peak")
rows.append(("RSS peak streaming %s GiB (cache %d MiB)" % (rss_gib, int(rss_cache) >> 20), fmt(p, "MiB"), "limit %.0f MiB" % rss_limit,
             "n/a" if p is None else "%.2fx" % (p / rss_limit), "< %.0f MiB" % rss_limit,
             "n/a" if p is None else ("PASS" if p < rss_limit else "MISS")))
head = ("workload", "ours", "reference", "ratio", "target", "result")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
line = lambda r: " | ".join(str(c).ljust(w[i]) if i < 3 else str(c).rjust(w[i]) for i, c in enumerate(r))
print()
print("appliance bench - %s CPUs, kernel %s, %s; ratio = ours / reference (higher is better; RSS: lower)" % (ncpu, kernel, tools))
print(line(head)); print("-+-".join("-" * x for x in w))
for r in rows: print(line(r))
info = []
if num("eng_rr_threads") is not None: info.append("engine 4 KiB random read with 32 threads x 1 read: %.0f IOPS" % num("eng_rr_threads"))
if num("ngx_put_nofsync") is not None: info.append("nginx PUT 1 GiB without fsync %s MiB/s" % R["ngx_put_nofsync"])
if num("hit_app") is not None and num("hit_ngx") is not None:
    info.append("4 KiB GET p50/p99 appliance %.0f/%.0f us, nginx %.0f/%.0f us" % (num("hit_app_p50") or 0, num("hit_app_p99") or 0, num("hit_ngx_p50") or 0, num("hit_ngx_p99") or 0))
if R.get("hit_hits", "") != "": info.append("cache_hits +%s, cache_misses +%s during the 4 KiB wrk" % (R["hit_hits"], R.get("hit_misses", "?")))
if num("buf_put_s") is not None: info.append("async PUT %s s + flush %s s" % ("/".join(R["buf_put_s"].split()), "/".join(R.get("buf_flush_s", "").split())))
if num("rss_put") is not None: info.append("%s GiB PUT %s MiB/s" % (rss_gib, R["rss_put"]))
if num("rss_get") is not None: info.append("%s GiB GET %s MiB/s" % (rss_gib, R["rss_get"]))
if num("rss_base") is not None: info.append("RSS before the stream %s MiB" % R["rss_base"])
if num("rss_hwm") is not None: info.append("VmHWM of the RSS instance %s MiB" % R["rss_hwm"])
if info: print("info: " + "; ".join(info))
if spread: print("per-round ratios (%s rounds, ours and the reference alternating; the table shows medians): %s" % (rounds, "; ".join(spread)))
print("(benchmarks report, they never fail the build: PASS/MISS is against the issue's targets)")
PY
exit 0
