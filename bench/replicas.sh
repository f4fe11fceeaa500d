#!/usr/bin/env bash
# Replicas sharing PostgreSQL behind nginx, on this machine:
#  1. throughput of 1, 2 and 3 replicas behind nginx (wrk, one-row requests), beside one
#     replica without nginx, with the CPU seconds each process group used during the run
#     (where the time goes: all of it shares this machine's cores);
#  2. route propagation: 20 route flips (`mlctl rollback --to`), alternately through each
#     replica, under 900 req/s through nginx; per flip and replica, how long after the
#     commit that replica still answered with the old version (from its prediction log);
#  3. controller fail-over: kill -9 the leader, time until another replica holds a new
#     leader epoch (3 rounds; the killed replica is restarted between rounds).
# Usage: bench/replicas.sh [seconds=10] [connections=16]
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}
CONNS=${2:-16}
TICK=200ms
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
build_mlctl
export MLCTL_TOKEN=bench-replicas-token-0123456789abcdef NO_COLOR=1

# ---- PostgreSQL (initdb refuses root: run it as postgres) ----
PG="$WORK/pg"; mkdir -p "$PG"; PGPORT=$(free_port)
AS=(); if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$PG"; chmod 755 "$WORK"; AS=(runuser -u postgres --); fi
"${AS[@]}" "$PGBIN/initdb" -D "$PG/data" -U mlctl --auth=trust --no-instructions -E UTF8 >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w \
    -o "-p $PGPORT -k $PG -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
stop_pg() { "${AS[@]}" "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop_pg; cleanup' EXIT
pg_url() { echo "postgres://mlctl@127.0.0.1:$PGPORT/$1"; }
createdb() { "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U mlctl -d postgres -c "CREATE DATABASE $1" >/dev/null; }

# ---- replicas and nginx ----
declare -A RPID RURL
start_replica() { # db index
    local db=$1 i=$2 dir="$WORK/$1-r$2"
    mkdir -p "$dir"
    "$MLCTL" serve --listen 127.0.0.1:0 --data-dir "$dir" --state "$(pg_url "$db")" --replica-id "r$i" \
        --controller-tick "$TICK" >"$dir.out" 2>"$dir.err" &
    RPID[$i]=$!; PIDS+=($!)
    local n=0
    until grep -q "listening on" "$dir.out" 2>/dev/null; do
        n=$((n + 1)); [ "$n" -gt 400 ] && { cat "$dir.err" >&2; exit 1; }
        sleep 0.05
    done
    RURL[$i]=$(sed -n 's/^mlctl: listening on //p' "$dir.out")
}
NGINX_PID=""
start_nginx() { # urls...
    local port; port=$(free_port); mkdir -p "$WORK/nginx"
    { echo "daemon off; worker_processes 1; pid $WORK/nginx/pid; error_log $WORK/nginx/error.log warn;"
      echo "events { worker_connections 4096; }"
      echo "http { access_log off; client_body_temp_path $WORK/nginx/b; proxy_temp_path $WORK/nginx/p;"
      echo "fastcgi_temp_path $WORK/nginx/f; uwsgi_temp_path $WORK/nginx/u; scgi_temp_path $WORK/nginx/s;"
      echo "upstream gw {"; for u in "$@"; do echo "server ${u#http://} max_fails=0;"; done; echo "keepalive 64; }"
      echo "server { listen 127.0.0.1:$port; location / { proxy_pass http://gw; proxy_http_version 1.1;"
      echo "proxy_set_header Connection \"\"; proxy_next_upstream error timeout non_idempotent; } } }"
    } >"$WORK/nginx/nginx.conf"
    nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
    NGINX_PID=$!; PIDS+=($!)
    LB="http://127.0.0.1:$port"
    wait_http "$LB/v2/health/live" 20
}
stop_all() {
    for p in "${RPID[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    RPID=(); RURL=(); NGINX_PID=""
}
cpu_of() { # pids... -> total utime+stime seconds (children included)
    local t=0 p
    for p in "$@"; do
        for q in $p $(pgrep -P "$p" 2>/dev/null); do
            [ -r "/proc/$q/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$q/stat")))
        done
    done
    echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
pg_pids() { pgrep -u "$( [ "$(id -u)" -eq 0 ] && echo postgres || id -un)" -f "postgres" | tr '\n' ' '; }

one_row_body "$WORK/body.json"

# ---- 1. throughput ----
if [ -z "${SKIP_THROUGHPUT:-}" ]; then
echo "== throughput (wrk -c$CONNS, ${SECS}s, one-row requests to churn_lr)"
printf '%-26s %10s %9s %9s   %s\n' "setup" "req/s" "p50 ms" "p99 ms" "CPU s during the run: replicas / nginx / postgres"
for n in 1 2 3; do
    db="tp$n"; createdb "$db"
    for i in $(seq 1 "$n"); do start_replica "$db" "$i"; done
    "$MLCTL" deploy churn --endpoint "${RURL[1]}" --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
    for i in $(seq 1 "$n"); do wait_http "${RURL[$i]}/v2/models/churn/ready" 20; done
    if [ "$n" -eq 1 ]; then
        wrk_post "${RURL[1]}/v2/models/churn/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null
        c0=$(cpu_of "${RPID[@]}")
        read -r rps p50 p99 _ _ < <(wrk_post "${RURL[1]}/v2/models/churn/infer" "$WORK/body.json" "$CONNS" "$SECS")
        c1=$(cpu_of "${RPID[@]}")
        printf '%-26s %10.0f %9.3f %9.3f   %s / - / -\n' "1 replica, no nginx" "$rps" "$p50" "$p99" "$(echo "$c1 - $c0" | bc)"
        BASE=$rps
    fi
    start_nginx "${RURL[@]}"
    wrk_post "$LB/v2/models/churn/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null
    r0=$(cpu_of "${RPID[@]}"); n0=$(cpu_of "$NGINX_PID"); g0=$(cpu_of $(pg_pids))
    read -r rps p50 p99 _ _ < <(wrk_post "$LB/v2/models/churn/infer" "$WORK/body.json" "$CONNS" "$SECS")
    r1=$(cpu_of "${RPID[@]}"); n1=$(cpu_of "$NGINX_PID"); g1=$(cpu_of $(pg_pids))
    printf '%-26s %10.0f %9.3f %9.3f   %s / %s / %s\n' "$n replica(s) behind nginx" "$rps" "$p50" "$p99" \
        "$(echo "$r1 - $r0" | bc)" "$(echo "$n1 - $n0" | bc)" "$(echo "$g1 - $g0" | bc)"
    eval "RPS$n=$rps"
    stop_all
done
python3 -c "print(f'ratios: 2 vs 1 replica behind nginx {$RPS2/$RPS1:.2f}, 3 vs 1 {$RPS3/$RPS1:.2f}; nginx in front of 1: {$RPS1/$BASE:.2f} of direct')"
echo "(all on $(nproc) cores shared with wrk and nginx: replicas add capacity only on more machines)"
fi

# ---- 2. route propagation ----
echo "== route propagation: 20 flips under 900 req/s through nginx, 3 replicas"
createdb prop
for i in 1 2 3; do start_replica prop "$i"; done
"$MLCTL" deploy churn --endpoint "${RURL[1]}" --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
"$MLCTL" deploy churn --endpoint "${RURL[1]}" --version 2 --onnx "$ROOT/fixtures/models/churn_lr_bad.onnx" >/dev/null
for i in 1 2 3; do wait_http "${RURL[$i]}/v2/models/churn/ready" 20; done
start_nginx "${RURL[@]}"
"$MLCTL" loadtest --endpoint "$LB" --model churn --rate 900/s --duration 16s --routing-keys 1000 -o json >"$WORK/prop-load.json" &
LOAD=$!
sleep 2
for k in $(seq 1 20); do
    to=$(( (k % 2) + 1 )); via=$(( (k % 3) + 1 ))
    "$MLCTL" rollback churn --endpoint "${RURL[$via]}" --to "$to" --reason "flip $k" >/dev/null
    sleep 0.6
done
wait "$LOAD"
sleep 0.5
"$MLCTL" history churn --endpoint "${RURL[1]}" -o json >"$WORK/history.json"
python3 - "$WORK" <<'PY'
import json, sys, glob, datetime as dt
work = sys.argv[1]
def t(s): return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
hist = json.load(open(f"{work}/history.json"))
events = hist["events"] if isinstance(hist, dict) else hist
flips = [(t(e["ts"]), e["detail"].get("to") or (e["to_state"] or "").split(":")[-1]) for e in events
         if e["kind"] in ("route", "rollback") and "flip" in json.dumps(e["detail"])]
if not flips:
    sys.exit(f"no flips in the history: {[e['kind'] for e in events]}")
lags = []
for d in sorted(glob.glob(f"{work}/prop-r*")):
    if d.endswith((".out", ".err")): continue
    recs = []
    for f in glob.glob(f"{d}/logs/predictions-*.jsonl"):
        for line in open(f):
            try: r = json.loads(line)
            except ValueError: continue
            recs.append((t(r["ts"]), r["version"]))
    recs.sort()
    for i, (c, new) in enumerate(flips):
        end = flips[i + 1][0] if i + 1 < len(flips) else c + 0.6
        old = [ts for ts, v in recs if c < ts < end and v != new]
        lags.append(max(0.0, (max(old) - c)) * 1000 if old else 0.0)
lags.sort()
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]
load = json.load(open(f"{work}/prop-load.json"))
print(f"{len(flips)} flips x 3 replicas: last old-route answer after the commit p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {lags[-1]:.1f} ms (target p99 < 100 ms)")
print(f"load during the flips: {load['requests']} requests, {load['errors']} errors")
PY
stop_all

# ---- 3. fail-over ----
echo "== controller fail-over: kill -9 the leader (tick $TICK), 3 rounds"
createdb fo
for i in 1 2 3; do start_replica fo "$i"; done
sleep 1
for round in 1 2 3; do
    read -r epoch leader < <(curl -s -H "Authorization: Bearer $MLCTL_TOKEN" "${RURL[1]}/admin/v1/replicas" |
        python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["leader_epoch"], next(r["id"] for r in v["replicas"] if r["leader"]))')
    k=${leader#r}; other=$(( (k % 3) + 1 ))
    t0=$(date +%s.%N); kill -9 "${RPID[$k]}"; { wait "${RPID[$k]}"; } 2>/dev/null || true
    until [ "$(curl -s -H "Authorization: Bearer $MLCTL_TOKEN" "${RURL[$other]}/admin/v1/replicas" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["leader_epoch"])')" -gt "$epoch" ]; do sleep 0.01; done
    t1=$(date +%s.%N)
    printf 'round %d: leader %s killed, new leader epoch after %.0f ms\n' "$round" "$leader" "$(echo "($t1 - $t0) * 1000" | bc)"
    start_replica fo "$k"
    sleep 1
done
