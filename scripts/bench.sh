#!/usr/bin/env bash
# scripts/bench.sh - ours vs fio and ours vs nginx, measured in ONE run, printed as one table.
#
#   1. engine  `appliance bench-engine` on a fresh device file (seq write, seq read, 4 KiB QD32
#              random read through the real object path), then fio (io_uring, direct) on the SAME file
#   2. HTTP    the appliance (serve) and nginx side by side with ../shared/bench/anchors.sh (section B)
#   3. RSS     peak VmRSS of the appliance while a 4 GiB object is uploaded and downloaded
#
# Builds nothing (`make bench` builds the release binary first). Reports, never asserts: the exit
# status is 0 whatever the ratios; PASS/MISS is printed next to each one.
#
# Knobs (environment): BIN (.build/release/appliance), ANCHORS (../shared/bench/anchors.sh beside
#   the repo), TMPBASE (/tmp), ENGINE_MIB (2048: device file; the object is half), RAND_SECONDS (10),
#   SERVE_DEVICE_BYTES (6 GiB per default device), SERVE_CACHE_BYTES (unset: the appliance's default
#   page cache size; set it to pass --cache-size), RSS_GIB (4), WRK_DUR (3s), PUT_COUNT (200),
#   BENCH_KEEP (directory to copy the raw results into; default none).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/appliance}
ANCHORS=${ANCHORS:-$ROOT/../shared/bench/anchors.sh}
TMPBASE=${TMPBASE:-/tmp}
ENGINE_MIB=${ENGINE_MIB:-2048}
RAND_SECONDS=${RAND_SECONDS:-10}
SERVE_DEVICE_BYTES=${SERVE_DEVICE_BYTES:-$((6 << 30))}
SERVE_CACHE_BYTES=${SERVE_CACHE_BYTES:-}
RSS_GIB=${RSS_GIB:-4}
WRK_DUR=${WRK_DUR:-3s}
PUT_COUNT=${PUT_COUNT:-200}
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

T=$(mktemp -d "$TMPBASE/appliance-bench.XXXXXX") || exit 1
APP_PID=""
SAMPLER_PID=""
CHILD_PID=""

stop_pid() {  # stop_pid PID SIGNAL: signal, wait up to 10 s, then KILL
    local pid=$1 sig=$2
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
cleanup() {
    local rc=$?
    stop_pid "$SAMPLER_PID" TERM
    stop_pid "$CHILD_PID" TERM
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

# Results, filled as we go: R[name]=value ("" = not measured).
declare -A R

# ------------------------------------------------------------------ 1. engine, then fio on the same file
log "engine: bench-engine on a ${ENGINE_MIB} MiB device file (object $((ENGINE_MIB / 2)) MiB, random reads ${RAND_SECONDS}s)"
"$BIN" bench-engine --dir "$T/engine" --size-mib "$ENGINE_MIB" --seconds "$RAND_SECONDS" >"$T/engine.txt" 2>"$T/engine.log" &
CHILD_PID=$!
wait "$CHILD_PID"; erc=$?; CHILD_PID=""
cat "$T/engine.txt" >&2
ev() { awk -v k="$1" '$1 == "engine" && $2 == k { print $3 }' "$T/engine.txt"; }
if [[ $erc != 0 ]]; then
    log "bench-engine failed (rc $erc): $(tail -3 "$T/engine.log")"
else
    R[eng_write]=$(ev seqwrite_mibs); R[eng_read]=$(ev seqread_mibs); R[eng_rr]=$(ev randread4k_iops)
    DEV=$(ev device); DEV_BYTES=$(ev device_bytes); DOFF=$(ev device_data_offset); OBJ=$(ev object_bytes)
    # fio's write goes to the file's unwritten tail, like the engine's did (allocating writes into
    # a sparse file, not overwrites); its read then reads what it wrote. The random reads cover the
    # engine's object.
    WOFF=$((DEV_BYTES - OBJ))
    run_fio() {  # run_fio NAME fio-args... -> $T/fio-NAME.json
        local name=$1; shift
        log "fio: $name"
        timeout 600 fio --name="$name" --filename="$DEV" --ioengine=io_uring --direct=1 \
            --output-format=json --output="$T/fio-$name.json" "$@" >/dev/null 2>"$T/fio-$name.err" \
            || { log "fio $name failed: $(tail -1 "$T/fio-$name.err")"; return 1; }
    }
    # fio_val NAME DIR iops|mibs: MiB/s over the job's whole runtime (incl. end_fsync).
    fio_val() {
        python3 - "$T/fio-$1.json" "$2" "$3" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]; s = j[sys.argv[2]]
if sys.argv[3] == "iops":
    print("%.0f" % s["iops"])
else:
    print("%.0f" % (s["io_bytes"] / 2**20 / (j["job_runtime"] / 1e3)))
PY
    }
    run_fio randread --offset="$DOFF" --size="$OBJ" --rw=randread --bs=4k --iodepth=32 \
        --time_based --runtime="$RAND_SECONDS" --norandommap --randrepeat=0 \
        && R[fio_rr]=$(fio_val randread read iops)
    run_fio write --offset="$WOFF" --size="$OBJ" --rw=write --bs=1M --iodepth=8 --end_fsync=1 \
        && R[fio_write]=$(fio_val write write mibs)
    run_fio read --offset="$WOFF" --size="$OBJ" --rw=read --bs=1M --iodepth=8 \
        && R[fio_read]=$(fio_val read read mibs)
    log "fio: randread ${R[fio_rr]:-?} IOPS, write ${R[fio_write]:-?} MiB/s, read ${R[fio_read]:-?} MiB/s"
fi
rm -rf "$T/engine"   # the device file: the HTTP part needs the disk space

# ------------------------------------------------------------------ 2. HTTP: appliance and nginx, one anchors run
log "http: starting the appliance (2 device files of $((SERVE_DEVICE_BYTES >> 20)) MiB, cache ${SERVE_CACHE_BYTES:-default})"
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/app" --device-size "$SERVE_DEVICE_BYTES" \
    ${SERVE_CACHE_BYTES:+--cache-size "$SERVE_CACHE_BYTES"} >"$T/app.log" 2>&1 &
APP_PID=$!
URL=""
for _ in $(seq 300); do
    URL=$(grep -o 'listening on http://[^ ]*' "$T/app.log" 2>/dev/null | head -1 | sed 's/^listening on //')
    [[ -n "$URL" ]] && break
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.1
done
TOKEN=$(tr -d '[:space:]' <"$T/app/token" 2>/dev/null)
if [[ -z "$URL" || -z "$TOKEN" ]]; then
    log "the appliance did not start: $(tail -5 "$T/app.log")"
else
    AUTH="Authorization: Bearer $TOKEN"
    log "http: appliance pid $APP_PID at $URL"
    code=$(curl -sS -o "$T/volume.json" -w '%{http_code}' -X POST -H "$AUTH" -H 'Content-Type: application/json' \
        -d "{\"name\":\"bench\",\"capacity_bytes\":$((64 << 30)),\"replicas\":1,\"provisioning\":\"thin\"}" "$URL/v1/volumes")
    [[ "$code" == 201 ]] || log "creating volume bench: HTTP $code $(cat "$T/volume.json")"

    log "http: anchors.sh section B (nginx, then the appliance)"
    SECTIONS=B TMPBASE="$T" BASE_URL="$URL" TARGET_NAME=appliance \
        PATH_TEMPLATE='v1/volumes/bench/objects/{key}' HTTP_HEADERS="$AUTH" RESULTS="$T/anchors.tsv" \
        BIG_MIB=1024 WRK_DUR="$WRK_DUR" WRK_PUT_DUR=0 PUT_COUNT="$PUT_COUNT" PUT_CONC=8 CURL_MAX=300 \
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

    # -------------------------------------------------------------- 3. RSS while streaming a big object
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
    "$(fio --version) | $(nginx -v 2>&1 | sed 's/.*: //')" "$ENGINE_MIB" "$RAND_SECONDS" "$RSS_GIB" <<PY
import sys
R = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
et, ht, rss_limit = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
ncpu, kernel, tools, eng_mib, secs, rss_gib = sys.argv[4:10]
def num(k):
    try: return float(R.get(k, ""))
    except ValueError: return None
rows = []
def ratio_row(name, ours, ref, refname, target, unit):
    o, r = num(ours), num(ref)
    if o is None or r is None or r == 0:
        rows.append((name, fmt(o, unit), fmt(r, unit) + " " + refname, "n/a", ">= %.2fx" % target, "n/a")); return
    q = o / r
    rows.append((name, fmt(o, unit), fmt(r, unit) + " " + refname, "%.2fx" % q, ">= %.2fx" % target, "PASS" if q >= target else "MISS"))
def fmt(v, unit): return "n/a" if v is None else "%.0f %s" % (v, unit)
half = int(eng_mib) // 2
ratio_row("engine seq write %d MiB (1 MiB appends, commit+fdatasync)" % half, "eng_write", "fio_write", "(fio write 1M QD8 +end_fsync)", et, "MiB/s")
ratio_row("engine seq read %d MiB (1 MiB reads)" % half, "eng_read", "fio_read", "(fio read 1M QD8)", et, "MiB/s")
ratio_row("engine 4 KiB random read QD32, %ss" % secs, "eng_rr", "fio_rr", "(fio randread 4k QD32)", et, "IOPS")
ratio_row("HTTP PUT 1 GiB (curl)", "app_put", "ngx_put", "(nginx PUT + fsync)", ht, "MiB/s")
ratio_row("HTTP GET 1 GiB warm (curl)", "app_get", "ngx_get", "(nginx GET warm)", ht, "MiB/s")
if num("app_getc") is not None or num("ngx_getc") is not None:
    ratio_row("HTTP GET 1 GiB cold (after drop_caches)", "app_getc", "ngx_getc", "(nginx GET cold)", ht, "MiB/s")
p = num("rss_peak")
rows.append(("RSS peak while streaming %s GiB PUT+GET" % rss_gib, fmt(p, "MiB"), "limit %.0f MiB" % rss_limit,
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
if num("ngx_put_nofsync") is not None: info.append("nginx PUT 1 GiB without fsync %s MiB/s" % R["ngx_put_nofsync"])
if num("rss_put") is not None: info.append("%s GiB PUT %s MiB/s" % (rss_gib, R["rss_put"]))
if num("rss_get") is not None: info.append("%s GiB GET %s MiB/s" % (rss_gib, R["rss_get"]))
if num("rss_base") is not None: info.append("RSS before the stream %s MiB" % R["rss_base"])
if num("rss_hwm") is not None: info.append("VmHWM over the whole run %s MiB" % R["rss_hwm"])
if info: print("info: " + "; ".join(info))
print("(benchmarks report, they never fail the build: PASS/MISS is against the issue's targets)")
PY
exit 0
