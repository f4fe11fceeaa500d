#!/usr/bin/env bash
# The gateway against the machine's ceiling: `mlctl serve` answering one-row requests to
# churn_lr (in-process ONNX) vs nginx returning a static 200 on the same machine, the same
# driver (wrk -t2, and `mlctl loadtest` closed loop), 16 connections, the driver sharing the
# cores. ROUNDS interleaved rounds; medians. Targets (issue 18): mlctl >= 50% of nginx's rate,
# p99 < 2 ms. A third pair measures the HTTP stack's floor: wrk GETs of nginx's static 200
# against mlctl's `/v2/health/live` (hyper + axum + the gateway's middleware, no body, no
# model, no log): what an inference could reach if everything it does cost nothing.
#
#   bench/serve_vs_nginx.sh [CONNECTIONS=16] [SECONDS=10] [ROUNDS=3]
source "$(dirname "$0")/lib.sh"
CONNS=${1:-16}
SECS=${2:-10}
ROUNDS=${3:-3}
command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
build_mlctl
start_mlctl
"$MLCTL" deploy churn --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
one_row_body "$WORK/body.json"
start_static_nginx
INFER="$MLCTL_URL/v2/models/churn/infer"
lt() { # url [flags] -> "rps p50 p99"
    "$MLCTL" loadtest "$@" -c "$CONNS" -d "${SECS}s" --warmup 1s -o json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_ms"]; print("%.0f %.3f %.3f" % (r["rps"], l["p50"], l["p99"]))'
}
wrk_post "$INFER" "$WORK/body.json" "$CONNS" 2 >/dev/null   # warm-up
for f in wrk_nginx wrk_mlctl lt_nginx lt_mlctl get_nginx get_mlctl; do : >"$WORK/$f"; done
for r in $(seq "$ROUNDS"); do
    a=$(wrk_post "$NGINX_URL" "$WORK/body.json" "$CONNS" "$SECS" | cut -d' ' -f1-3)
    b=$(wrk_post "$INFER" "$WORK/body.json" "$CONNS" "$SECS" | cut -d' ' -f1-3)
    c=$(lt "$NGINX_URL" --body @"$WORK/body.json")
    d=$(lt --model churn --body @"$WORK/body.json")
    e=$(wrk_get "$NGINX_URL" "$CONNS" "$SECS" | cut -d' ' -f1-3)
    f=$(wrk_get "$MLCTL_URL/v2/health/live" "$CONNS" "$SECS" | cut -d' ' -f1-3)
    echo "$a" >>"$WORK/wrk_nginx"; echo "$b" >>"$WORK/wrk_mlctl"; echo "$c" >>"$WORK/lt_nginx"; echo "$d" >>"$WORK/lt_mlctl"
    echo "$e" >>"$WORK/get_nginx"; echo "$f" >>"$WORK/get_mlctl"
    echo "round $r: wrk: nginx $a · mlctl $b   mlctl loadtest: nginx $c · mlctl $d   GET: nginx $e · mlctl live $f   (req/s p50 p99)"
done
python3 - "$WORK" <<'PY'
import statistics, sys
def med(name):
    runs = [list(map(float, l.split())) for l in open(f"{sys.argv[1]}/{name}") if l.strip()]
    return [statistics.median(c) for c in zip(*runs)]
print(f"{'driver':14} {'server':7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
for drv in ["wrk", "lt"]:
    n, m = med(f"{drv}_nginx"), med(f"{drv}_mlctl")
    label = "wrk -t2" if drv == "wrk" else "mlctl loadtest"
    print(f"{label:14} {'nginx':7} {n[0]:9.0f} {n[1]:8.3f} {n[2]:8.3f}")
    print(f"{label:14} {'mlctl':7} {m[0]:9.0f} {m[1]:8.3f} {m[2]:8.3f}   mlctl / nginx = {m[0] / n[0]:.2f}x (target >= 0.50x), p99 {m[2]:.2f} ms (target < 2 ms)")
n, m = med("get_nginx"), med("get_mlctl")
print(f"{'wrk -t2 GET':14} {'nginx':7} {n[0]:9.0f} {n[1]:8.3f} {n[2]:8.3f}")
print(f"{'wrk -t2 GET':14} {'live':7} {m[0]:9.0f} {m[1]:8.3f} {m[2]:8.3f}   the HTTP stack's floor: /v2/health/live / nginx = {m[0] / n[0]:.2f}x")
PY
