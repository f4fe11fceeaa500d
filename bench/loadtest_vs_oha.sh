#!/usr/bin/env bash
# Closed-loop maximum throughput of `mlctl loadtest` vs oha and wrk against the same static
# nginx on 127.0.0.1 (one location returning a 2-byte 200). Each tool runs ROUNDS times,
# interleaved; the medians are compared. Target (issue 5): mlctl >= 1.0x oha.
#
#   bench/loadtest_vs_oha.sh [CONNECTIONS=50] [SECONDS=10] [ROUNDS=3]
#
# Installs what is missing: wrk and nginx (apt), oha (cargo install oha --locked).
source "$(dirname "$0")/lib.sh"
CONNS=${1:-50}
SECS=${2:-10}
ROUNDS=${3:-3}

command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null)
OHA=$(command -v oha || echo "$HOME/.cargo/bin/oha")
[ -x "$OHA" ] || { echo "installing oha (cargo install oha --locked)" >&2; cargo install oha --locked -q; }
[ -x "$MLCTL" ] || (cd "$ROOT" && cargo build --release -q)

PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$PORT;
        location / { default_type text/plain; return 200 "ok"; }
    }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
URL="http://127.0.0.1:$PORT/"
wait_http "$URL" 20

run_oha() {
    "$OHA" -z "${SECS}s" -c "$CONNS" --no-tui --output-format json "$URL" 2>/dev/null |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["summary"]["requestsPerSec"]))'
}
run_wrk() {
    wrk -t2 -c"$CONNS" -d"${SECS}s" "$URL" | awk '/Requests\/sec/ {printf "%d\n", $2}'
}
run_mlctl() {
    "$MLCTL" loadtest "$URL" -c "$CONNS" -d "${SECS}s" -o json |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rps"]))'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "nginx static 200 at $URL; $CONNS connections, ${SECS}s per run, $ROUNDS rounds ($("$OHA" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2))"
: >"$WORK/oha"; : >"$WORK/wrk"; : >"$WORK/mlctl"
for r in $(seq "$ROUNDS"); do
    o=$(run_oha); w=$(run_wrk); m=$(run_mlctl)
    echo "$o" >>"$WORK/oha"; echo "$w" >>"$WORK/wrk"; echo "$m" >>"$WORK/mlctl"
    printf 'round %d: oha %s req/s · wrk %s req/s · mlctl %s req/s\n' "$r" "$o" "$w" "$m"
done
O=$(median <"$WORK/oha"); W=$(median <"$WORK/wrk"); M=$(median <"$WORK/mlctl")
python3 - "$O" "$W" "$M" <<'PY'
import sys
o, w, m = map(float, sys.argv[1:])
print(f"median req/s: oha {o:.0f} · wrk {w:.0f} · mlctl {m:.0f}")
print(f"mlctl / oha = {m / o:.2f}x (target >= 1.0x)   mlctl / wrk = {m / w:.2f}x")
PY
