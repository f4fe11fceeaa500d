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
(cd "$ROOT" && cargo build --profile dist -q)

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

# Each runner prints "REQ_PER_S CPU_US_PER_REQUEST" (user + sys of the generator process).
timed() { /usr/bin/time -f '%U %S' -o "$WORK/time" "$@"; }
cpu_per_req() { # rps -> µs of generator CPU per request
    python3 -c 'import sys; u, s = map(float, open(sys.argv[1]).read().split()[-2:]); r = float(sys.argv[2]); print(f"{r:.0f} {(u + s) * 1e6 / (r * float(sys.argv[3])):.2f}")' "$WORK/time" "$1" "$SECS"
}
run_oha() {
    local r
    r=$(timed "$OHA" -z "${SECS}s" -c "$CONNS" --no-tui --output-format json "$URL" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["requestsPerSec"])')
    cpu_per_req "$r"
}
run_wrk() {
    local r
    r=$(timed wrk -t2 -c"$CONNS" -d"${SECS}s" "$URL" | awk '/Requests\/sec/ {print $2}')
    cpu_per_req "$r"
}
run_mlctl() {
    local r
    r=$(timed "$MLCTL" loadtest "$URL" -c "$CONNS" -d "${SECS}s" -o json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])')
    cpu_per_req "$r"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "nginx static 200 at $URL; $CONNS connections, ${SECS}s per run, $ROUNDS rounds ($("$OHA" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2))"
: >"$WORK/oha"; : >"$WORK/wrk"; : >"$WORK/mlctl"
for r in $(seq "$ROUNDS"); do
    o=$(run_oha); w=$(run_wrk); m=$(run_mlctl)
    echo "$o" >>"$WORK/oha"; echo "$w" >>"$WORK/wrk"; echo "$m" >>"$WORK/mlctl"
    printf 'round %d: oha %s · wrk %s · mlctl %s   (req/s, generator CPU µs/request)\n' "$r" "$o" "$w" "$m"
done
O=$(cut -d' ' -f1 "$WORK/oha" | median); W=$(cut -d' ' -f1 "$WORK/wrk" | median); M=$(cut -d' ' -f1 "$WORK/mlctl" | median)
OC=$(cut -d' ' -f2 "$WORK/oha" | median); WC=$(cut -d' ' -f2 "$WORK/wrk" | median); MC=$(cut -d' ' -f2 "$WORK/mlctl" | median)
python3 - "$O" "$W" "$M" "$OC" "$WC" "$MC" <<'PY'
import sys
o, w, m, oc, wc, mc = map(float, sys.argv[1:])
print(f"median req/s: oha {o:.0f} · wrk {w:.0f} · mlctl {m:.0f}")
print(f"mlctl / oha = {m / o:.2f}x (target >= 1.0x)   mlctl / wrk = {m / w:.2f}x")
print(f"generator CPU per request (median µs): oha {oc:.2f} · wrk {wc:.2f} · mlctl {mc:.2f}"
      f"  → mlctl costs {mc / oc:.2f}x oha's CPU per request")
PY
