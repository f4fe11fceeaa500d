#!/usr/bin/env bash
# V2 over gRPC vs HTTP for the same model on the same gateway: `mlctl serve --grpc-listen`
# with churn_lr (one-row requests), driven by the same client (`mlctl loadtest`, closed
# loop) over HTTP/1.1, HTTP/2 (h2c) and gRPC ModelInfer (raw contents, over h2c). Each
# protocol runs ROUNDS times, interleaved; medians are compared (issue 18).
#
#   bench/grpc_vs_http.sh [CONNECTIONS=16] [SECONDS=10] [ROUNDS=3]
source "$(dirname "$0")/lib.sh"
CONNS=${1:-16}
SECS=${2:-10}
ROUNDS=${3:-3}
build_mlctl
start_mlctl --grpc-listen 127.0.0.1:0
"$MLCTL" deploy churn --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null

run() { # protocol flags... -> "rps p50 p99 errors"
    "$MLCTL" loadtest --model churn -c "$CONNS" -d "${SECS}s" --warmup 1s -o json "$@" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_ms"]; print("%.0f %.3f %.3f %d" % (r["rps"], l["p50"], l["p99"], r["errors"]))'
}
echo "mlctl serve (churn_lr, one row per request), mlctl loadtest -c $CONNS, ${SECS}s x $ROUNDS rounds; $MLCTL"
: >"$WORK/http1"; : >"$WORK/h2c"; : >"$WORK/grpc"
for r in $(seq "$ROUNDS"); do
    a=$(run); b=$(run --http2); c=$(run --grpc "$MLCTL_GRPC")
    echo "$a" >>"$WORK/http1"; echo "$b" >>"$WORK/h2c"; echo "$c" >>"$WORK/grpc"
    echo "round $r: HTTP/1.1 $a · h2c $b · gRPC $c   (req/s p50 p99 errors)"
done
python3 - "$WORK" <<'PY'
import statistics, sys
rows = {}
for p in ["http1", "h2c", "grpc"]:
    runs = [list(map(float, l.split())) for l in open(f"{sys.argv[1]}/{p}") if l.strip()]
    rows[p] = [statistics.median(c) for c in zip(*runs)]
print(f"{'protocol':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
for p, (rps, p50, p99, err) in rows.items():
    print(f"{p:10} {rps:9.0f} {p50:8.3f} {p99:8.3f} {err:7.0f}")
h = rows["http1"][0]
print(f"gRPC / HTTP/1.1 = {rows['grpc'][0] / h:.2f}x   h2c / HTTP/1.1 = {rows['h2c'][0] / h:.2f}x (median req/s)")
PY
