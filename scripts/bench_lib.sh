# scripts/bench_lib.sh - helpers the benchmark scripts share (sourced; needs $T, a temp dir, and log()).

stop_pid() {  # stop_pid PID SIGNAL: signal, wait up to 30 s, then KILL
    local pid=$1 sig=$2
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# start_nginx_at DIR DAV(0|1) [CERT KEY]: a throw-away nginx on a free loopback port, root DIR/www, with
# WebDAV PUT/DELETE when DAV is 1 (as in ../shared/bench/anchors.sh), over TLS (1.2 and 1.3) with
# CERT and KEY; sets NGINX_PID NGINX_URL NGINX_WWW.
start_nginx_at() {
    local nd=$1 dav=$2 cert=${3:-} key=${4:-} port location="" tls="" scheme=http
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    mkdir -p "$nd"/{www,body,logs,tmp}
    [[ $dav == 1 ]] && location='location / { dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw group:r all:r; client_max_body_size 0; }'
    [[ -n $cert ]] && { tls="ssl; ssl_certificate $cert; ssl_certificate_key $key; ssl_protocols TLSv1.2 TLSv1.3"; scheme=https; }
    cat >"$nd/nginx.conf" <<EOF
# temporary config written by the benchmark scripts
$([[ $EUID == 0 ]] && echo "user root;")
worker_processes auto;
daemon off;
pid $nd/nginx.pid;
error_log $nd/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $nd/body;
    proxy_temp_path $nd/tmp/proxy;
    fastcgi_temp_path $nd/tmp/fastcgi;
    uwsgi_temp_path $nd/tmp/uwsgi;
    scgi_temp_path $nd/tmp/scgi;
    server {
        listen 127.0.0.1:$port $tls;
        root $nd/www;
        $location
    }
}
EOF
    nginx -t -q -p "$nd" -c "$nd/nginx.conf" -e "$nd/logs/error.log" 2>"$nd/logs/t.err" \
        || { log "nginx -t failed: $(cat "$nd/logs/t.err")"; return 1; }
    nginx -p "$nd" -c "$nd/nginx.conf" -e "$nd/logs/error.log" &
    NGINX_PID=$!
    for _ in $(seq 100); do
        curl -s -k -o /dev/null --max-time 1 "$scheme://127.0.0.1:$port/" && break
        kill -0 "$NGINX_PID" 2>/dev/null || { log "nginx exited: $(tail -3 "$nd/logs/error.log")"; NGINX_PID=""; return 1; }
        sleep 0.1
    done
    NGINX_URL="$scheme://127.0.0.1:$port"
    NGINX_WWW="$nd/www"
    log "nginx pid $NGINX_PID on $NGINX_URL (root $NGINX_WWW)"
}

# wrk_json NAME DURATION THREADS CONNS URL [wrk options...] [-- script args...]
#   -> "rps p50_us p99_us min_requests_per_thread socket_errors/non2xx" (empty when wrk printed no WRKJSON line)
wrk_json() {
    local name=$1 dur=$2 t=$3 c=$4 url=$5 opts=(); shift 5
    while (( $# )) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
    timeout 900 wrk -t"$t" -c"$c" -d"$dur" "${opts[@]}" "$url" "$@" >"$T/wrk-$name.txt" 2>&1
    grep -m1 '^WRKJSON ' "$T/wrk-$name.txt" | cut -d' ' -f2- | python3 -c '
import json, sys
try: d = json.loads(sys.stdin.read())
except ValueError: sys.exit(0)
print("%.0f %d %d %d %d/%d" % (d["rps"], d["p50_us"], d["p99_us"], min(d.get("n_thr") or [0]), d["errors"], d["status_errors"]))'
}
