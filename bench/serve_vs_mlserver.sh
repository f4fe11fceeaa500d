#!/usr/bin/env bash
# Same scikit-learn model (StandardScaler + LogisticRegression), one-row requests, same
# load generator (wrk) at the same fixed concurrency on 127.0.0.1:
#   MLServer 1.7 + mlserver-sklearn (scikit-learn in Python)  vs  mlctl serve (ONNX in-process).
# Prints req/s, p50, p99 for both and the throughput ratio. Target: ratio ≥ 20, mlctl p99 < 2 ms.
# Usage: bench/serve_vs_mlserver.sh [connections=16] [seconds=10]
source "$(dirname "$0")/lib.sh"
CONNS=${1:-16}
SECS=${2:-10}
need_tools
start_mlserver
start_mlctl
"$MLCTL" deploy churn --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
one_row_body "$WORK/body.json"
curl -sf -XPOST -H 'content-type: application/json' --data @"$WORK/body.json" "$MLSERVER_URL/v2/models/churn_lr/infer" >/dev/null
curl -sf -XPOST -H 'content-type: application/json' --data @"$WORK/body.json" "$MLCTL_URL/v2/models/churn/infer" >/dev/null
wrk_post "$MLSERVER_URL/v2/models/churn_lr/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null  # warm-up
read -r m_rps m_p50 m_p99 m_st m_err < <(wrk_post "$MLSERVER_URL/v2/models/churn_lr/infer" "$WORK/body.json" "$CONNS" "$SECS")
wrk_post "$MLCTL_URL/v2/models/churn/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null        # warm-up
read -r c_rps c_p50 c_p99 c_st c_err < <(wrk_post "$MLCTL_URL/v2/models/churn/infer" "$WORK/body.json" "$CONNS" "$SECS")
printf '%-28s %10s %9s %9s %8s\n' "server (wrk -c$CONNS, ${SECS}s)" "req/s" "p50 ms" "p99 ms" "errors"
printf '%-28s %10.0f %9.3f %9.3f %8d\n' "MLServer 1.7 (sklearn)" "$m_rps" "$m_p50" "$m_p99" $((m_st + m_err))
printf '%-28s %10.0f %9.3f %9.3f %8d\n' "mlctl serve (onnx/tract)" "$c_rps" "$c_p50" "$c_p99" $((c_st + c_err))
python3 -c "print(f'throughput ratio mlctl/MLServer: {$c_rps/$m_rps:.1f}x (target >= 20x); mlctl p99 {$c_p99:.3f} ms (target < 2 ms)')"
