# Shared helpers for bench/*.sh (sourced). Everything runs on 127.0.0.1 and stops itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MLCTL_BENCH_VENV:-$ROOT/.venv-interop}"
# MLCTL_BIN: measure this binary instead of building target/dist/mlctl.
MLCTL="${MLCTL_BIN:-$ROOT/target/dist/mlctl}"
WORK="$(mktemp -d /tmp/mlctl-bench.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need_tools() {
    if ! command -v wrk >/dev/null; then
        echo "installing wrk (apt)" >&2
        (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
    fi
    if [ ! -x "$VENV/bin/mlserver" ]; then
        echo "installing MLServer into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q -r "$ROOT/interop/requirements.txt"
    fi
    build_mlctl
}

need_time() { # GNU time (/usr/bin/time), for wall/CPU/RSS of one command
    command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
}

timed_run() { # label cmd... -> appends "wall cpu rss_kb" to $WORK/label.txt, output to $WORK/label.out
    # (exit 1 is an answer, e.g. drift found, not a failure)
    local label=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/t.txt" "$@" >"$WORK/$label.out" 2>"$WORK/err.txt" || [ $? -eq 1 ] || { cat "$WORK/err.txt" >&2; exit 1; }
    awk '{print $1, $2 + $3, $4}' "$WORK/t.txt" >>"$WORK/$label.txt"
}

polars_venv() { # -> sets PVENV: a venv with polars and numpy ($MLCTL_POLARS_VENV or .venv-polars)
    PVENV="${MLCTL_POLARS_VENV:-$ROOT/.venv-polars}"
    [ -x "$PVENV/bin/python" ] || python3 -m venv "$PVENV"
    "$PVENV/bin/python" -c "import polars, numpy" 2>/dev/null || "$PVENV/bin/pip" install -q polars numpy
}

build_mlctl() { # the shipped build (LTO, one codegen unit); a no-op when up to date
    if [ -z "${MLCTL_BIN:-}" ]; then
        echo "building mlctl --profile dist" >&2
        (cd "$ROOT" && cargo build --profile dist -q)
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url [seconds]
    local url=$1 t=${2:-60} i=0
    until curl -sf "$url" >/dev/null 2>&1; do
        i=$((i + 1)); [ "$i" -gt $((t * 10)) ] && { echo "timeout waiting for $url" >&2; exit 1; }
        sleep 0.1
    done
}

start_mlserver() { # -> sets MLSERVER_URL, MLSERVER_GRPC; serves churn_lr (scikit-learn pipeline)
    local dir="$WORK/mlserver" port grpc metrics
    mkdir -p "$dir"
    "$VENV/bin/python" "$ROOT/fixtures/make_models.py" --sklearn-dir "$dir" --no-write
    port=$(free_port); grpc=$(free_port); metrics=$(free_port)
    printf '{"http_port": %s, "grpc_port": %s, "metrics_port": %s, "parallel_workers": 1}\n' "$port" "$grpc" "$metrics" > "$dir/settings.json"
    (cd "$dir" && PATH="$VENV/bin:$PATH" exec "$VENV/bin/mlserver" start "$dir" >"$WORK/mlserver.log" 2>&1) &
    PIDS+=($!)
    MLSERVER_URL="http://127.0.0.1:$port"
    MLSERVER_GRPC="127.0.0.1:$grpc"
    wait_http "$MLSERVER_URL/v2/models/churn_lr/ready" 180
}

start_mlctl() { # [extra serve flags] -> sets MLCTL_URL, MLCTL_DATA, MLCTL_PID (and MLCTL_GRPC with --grpc-listen)
    MLCTL_DATA="$WORK/mlctl-data"
    "$MLCTL" serve --listen 127.0.0.1:0 --data-dir "$MLCTL_DATA" "$@" >"$WORK/mlctl.out" 2>"$WORK/mlctl.err" &
    PIDS+=($!)
    MLCTL_PID=$!
    local i=0
    until grep -q "listening on" "$WORK/mlctl.out" 2>/dev/null; do
        i=$((i + 1)); [ "$i" -gt 200 ] && { cat "$WORK/mlctl.err" >&2; exit 1; }
        sleep 0.05
    done
    MLCTL_URL=$(sed -n 's/^mlctl: listening on //p' "$WORK/mlctl.out")
    MLCTL_GRPC=$(sed -n 's/^mlctl: gRPC listening on //p' "$WORK/mlctl.out")
    export MLCTL_ENDPOINT="$MLCTL_URL" MLCTL_DATA_DIR="$MLCTL_DATA"
}

# wrk_post URL BODYFILE CONNECTIONS SECONDS -> prints "rps p50_ms p99_ms status_errors socket_errors"
# (BODYFILE "-": a GET without a body)
wrk_post() {
    local url=$1 body=$2 conns=$3 secs=$4 threads=1
    [ "$conns" -gt 1 ] && threads=2
    if [ "$body" = "-" ]; then
        : >"$WORK/post.lua"
    else
        cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$body", "rb"); wrk.body = f:read("*a"); f:close()
LUA
    fi
    cat >>"$WORK/post.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
    local out
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$WORK/post.lua" "$url")
    echo "$out" | awk '/^RESULT/ {print $2, $3, $4, $5, $6}'
}

# wrk_get URL CONNECTIONS SECONDS -> as wrk_post, for a GET
wrk_get() { wrk_post "$1" - "$2" "$3"; }

start_nginx() { # WORKERS "LOCATIONS" [HTTP-LEVEL LINES] -> sets NGINX_PORT, NGINX_PID (master); stopped on exit
    local workers=$1 locations=$2 extra=${3:-}
    command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null)
    NGINX_PORT=$(free_port)
    local dir="$WORK/nginx-$NGINX_PORT"   # one directory per instance: several can run
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
    uwsgi_temp_path $dir; scgi_temp_path $dir;
    $extra
    server {
        listen 127.0.0.1:$NGINX_PORT;
        $locations
    }
}
CONF
    nginx -c "$dir/nginx.conf" -p "$dir" &
    PIDS+=($!)
    NGINX_PID=$!
}

cpu_ticks() { # pid... -> utime+stime of the processes, in clock ticks
    local t=0 p
    for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}

start_static_nginx() { # -> sets NGINX_URL: every path answers a 2-byte 200
    start_nginx auto 'location / { default_type text/plain; return 200 "ok"; }'
    NGINX_URL="http://127.0.0.1:$NGINX_PORT/"
    wait_http "$NGINX_URL" 20
}

one_row_body() { # file
    printf '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1.2,55.0,-0.9,530.0]}]}' > "$1"
}
