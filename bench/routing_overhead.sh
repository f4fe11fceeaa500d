#!/usr/bin/env bash
# Cost of weighted routing: the same model served as one version vs as a two-arm 50/50
# canary (two versions, same ONNX file), same wrk load. Target: throughput within 5%.
# Usage: bench/routing_overhead.sh [connections=16] [seconds=10]
source "$(dirname "$0")/lib.sh"
CONNS=${1:-16}
SECS=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
build_mlctl
start_mlctl
"$MLCTL" deploy single --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
"$MLCTL" deploy twoarm --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
"$MLCTL" deploy twoarm --version 2 --onnx "$ROOT/fixtures/models/churn_lr.onnx" --strategy canary --steps 50,100 --interval 1h >/dev/null
one_row_body "$WORK/body.json"
wrk_post "$MLCTL_URL/v2/models/single/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null
read -r s_rps s_p50 s_p99 _ _ < <(wrk_post "$MLCTL_URL/v2/models/single/infer" "$WORK/body.json" "$CONNS" "$SECS")
wrk_post "$MLCTL_URL/v2/models/twoarm/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null
read -r c_rps c_p50 c_p99 _ _ < <(wrk_post "$MLCTL_URL/v2/models/twoarm/infer" "$WORK/body.json" "$CONNS" "$SECS")
printf '%-30s %10s %9s %9s\n' "route (wrk -c$CONNS, ${SECS}s)" "req/s" "p50 ms" "p99 ms"
printf '%-30s %10.0f %9.3f %9.3f\n' "single version" "$s_rps" "$s_p50" "$s_p99"
printf '%-30s %10.0f %9.3f %9.3f\n' "two-arm canary 50/50" "$c_rps" "$c_p50" "$c_p99"
python3 -c "print(f'throughput ratio canary/single: {$c_rps/$s_rps:.3f} (target within 5%: >= 0.95)')"
