#!/usr/bin/env bash
# scripts/bench_fleet.sh - what forwarding costs in a fleet: one etcd and two nodes (n1, n2) on
# loopback, a volume on n1, the same workloads sent to n1 (the owner) and to n2 (which forwards
# every request to n1), alternating by round, in ONE run; the ratio is through-n2 / through-n1.
#
#   4 KiB PUT new keys, wrk -tT -cC, sync            (req/s)
#   1 GiB GET of one object, curl, one stream         (MiB/s; its cache warm on n1)
#
# Builds nothing. Reports, never asserts. Knobs: BIN, TMPBASE (/tmp), ROUNDS (3), WRK_DUR (5s),
# WRK_THREADS (2), WRK_CONNS (32), BIG_MIB (1024), DEVICE_BYTES (16 GiB, sparse).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release/appliance}
SHARED=${SHARED:-$ROOT/../shared/bench}
TMPBASE=${TMPBASE:-/tmp}
ROUNDS=${ROUNDS:-3}
WRK_DUR=${WRK_DUR:-5s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
BIG_MIB=${BIG_MIB:-1024}
DEVICE_BYTES=${DEVICE_BYTES:-$((16 << 30))}
PUT_LUA="$SHARED/wrk_put.lua"

log() { printf '[bench-fleet %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ -x "$BIN" ]] || { echo "bench_fleet: $BIN is missing (make bench builds it)" >&2; exit 2; }
for tool in etcd wrk curl python3; do command -v "$tool" >/dev/null || { echo "bench_fleet: $tool is missing" >&2; exit 2; }; done

T=$(mktemp -d "$TMPBASE/appliance-bench-fleet.XXXXXX") || exit 1
ETCD_PID=""; N1_PID=""; N2_PID=""
. "$ROOT/scripts/bench_lib.sh"
cleanup() { local rc=$?; stop_pid "$N2_PID" TERM; stop_pid "$N1_PID" TERM; stop_pid "$ETCD_PID" TERM; rm -rf "$T"; exit $rc; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
declare -A R
add() { R[$1]="${R[$1]:+${R[$1]} }${2:--}"; }

EC=$(port); EP=$(port)
etcd --name b --data-dir "$T/etcd" --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
    --listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
    --initial-cluster "b=http://127.0.0.1:$EP" --log-level error >"$T/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$EC/health" | grep -q true && break; sleep 0.1; done

TOKEN=bench-fleet-token-0123456789abcdef
AUTH="Authorization: Bearer $TOKEN"
start_node() {  # start_node NAME PORT: sets the node's pid variable
    # The cluster key by env: one file for both nodes (builds before it had none ignore it).
    APPLIANCE_CLUSTER_KEY_FILE="$T/cluster.key" "$BIN" serve --cluster "http://127.0.0.1:$EC" --node-name "$1" --listen "127.0.0.1:$2" \
        --s3-listen off --data-dir "$T/$1" --device-size "$DEVICE_BYTES" --token "$TOKEN" >>"$T/$1.log" 2>&1 &
    local pid=$!
    for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$2/healthz" && break; sleep 0.1; done
    echo "$pid"
}
P1=$(port); P2=$(port)
N1_PID=$(start_node n1 "$P1"); N2_PID=$(start_node n2 "$P2")
U1=http://127.0.0.1:$P1; U2=http://127.0.0.1:$P2
curl -sf -o /dev/null -X POST -H "$AUTH" "$U1/v1/volumes" -d '{"name":"bench","capacity_bytes":17179869184,"node":"n1"}' \
    || { log "cannot create the volume: $(tail -3 "$T/n1.log")"; exit 1; }
for _ in $(seq 100); do curl -s -H "$AUTH" "$U2/v1/cluster" | grep -q '"name":"bench"' && break; sleep 0.1; done
log "etcd :$EC, n1 $U1 (owner), n2 $U2 (forwards)"

head -c $((BIG_MIB << 20)) /dev/urandom >"$T/big"
curl -sf -o /dev/null -H "$AUTH" -T "$T/big" "$U1/v1/volumes/bench/objects/big" || { log "big PUT failed"; exit 1; }
rm -f "$T/big"
curl -s -o /dev/null -H "$AUTH" "$U1/v1/volumes/bench/objects/big"  # warm n1's cache

for round in $(seq "$ROUNDS"); do
    for via in n1 n2; do
        base=$U1; [[ $via == n2 ]] && base=$U2
        res=$(wrk_json "put-$via-$round" "$WRK_DUR" "$WRK_THREADS" "$WRK_CONNS" "$base" -H "$AUTH" -s "$PUT_LUA" -- \
            "/v1/volumes/bench/objects/r$round-$via-@N@" 4096 0)
        read -r rps p50 p99 n errs <<<"$res"
        if [[ -z "$res" || $errs != 0/0 ]]; then log "put $via: failed ($res)"; add "put_$via" -; else add "put_$via" "$rps"; add "put_${via}_p99" "$p99"; fi
        log "round $round put via $via: ${rps:-?} req/s p99 ${p99:-?} us"
        curl -s -o /dev/null -X POST -H "$AUTH" "$U1/v1/volumes/bench/flush"
        secs=$(curl -s -o /dev/null -w '%{time_total}' -H "$AUTH" "$base/v1/volumes/bench/objects/big")
        mibs=$(python3 -c "print('%.0f' % ($BIG_MIB / $secs))" 2>/dev/null || echo -)
        add "get_$via" "$mibs"
        log "round $round 1 GiB GET via $via: $mibs MiB/s"
    done
done

python3 - "$ROUNDS" "$WRK_THREADS" "$WRK_CONNS" "$BIG_MIB" <<PY
import sys
R = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
rounds, t, c, big = sys.argv[1:5]
sys.path.insert(0, "$ROOT/scripts")
from bench_table import median, parse_values
v = lambda k: parse_values(R, k)
rows, spread = [], []
def row(name, key, unit):
    o, f = median(v(key + "_n1")), median(v(key + "_n2"))
    pairs = [b / a for a, b in zip(v(key + "_n1"), v(key + "_n2")) if a and b is not None]
    q = median(pairs)
    fmt = lambda x: "n/a" if x is None else "%.0f %s" % (x, unit)
    if pairs: spread.append("%s %s" % (name.split(",")[0], " ".join("%.2f" % x for x in pairs)))
    rows.append((name, fmt(o), fmt(f), "n/a" if q is None else "%.2fx" % q))
row("4 KiB PUT new keys, wrk -t%s -c%s, sync" % (t, c), "put", "req/s")
row("%s MiB GET, one stream, cache warm" % big, "get", "MiB/s")
head = ("workload", "through the owner (n1)", "through another node (n2)", "n2/n1")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
line = lambda r: " | ".join(str(x).ljust(w[i]) if i < 3 else str(x).rjust(w[i]) for i, x in enumerate(r))
print()
print("appliance fleet bench - forwarding's cost, medians over %s rounds (n1 and n2 alternating)" % rounds)
print(line(head)); print("-+-".join("-" * x for x in w))
for r in rows: print(line(r))
p = lambda k: median(v(k))
print("info: PUT p99 us: n1 %s, n2 %s" % (p("put_n1_p99"), p("put_n2_p99")))
if spread: print("per-round ratios: " + "; ".join(spread))
PY
