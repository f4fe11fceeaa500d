#!/usr/bin/env bash
# Latency mlctl adds in upstream mode: MLServer direct vs mlctl serve --upstream in front
# of the same MLServer, one connection (no queueing), same one-row requests, wrk.
# Prints both p50/p99 and the added p50. Target: added p50 < 0.3 ms.
# Usage: bench/proxy_overhead.sh [seconds=10]
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}
need_tools
start_mlserver
start_mlctl
"$MLCTL" deploy churn --version mlserver --upstream "$MLSERVER_URL/v2/models/churn_lr" --timeout 5s >/dev/null
one_row_body "$WORK/body.json"
wrk_post "$MLSERVER_URL/v2/models/churn_lr/infer" "$WORK/body.json" 1 2 >/dev/null   # warm-up
read -r d_rps d_p50 d_p99 _ _ < <(wrk_post "$MLSERVER_URL/v2/models/churn_lr/infer" "$WORK/body.json" 1 "$SECS")
wrk_post "$MLCTL_URL/v2/models/churn/infer" "$WORK/body.json" 1 2 >/dev/null         # warm-up
read -r p_rps p_p50 p_p99 _ _ < <(wrk_post "$MLCTL_URL/v2/models/churn/infer" "$WORK/body.json" 1 "$SECS")
printf '%-30s %10s %9s %9s\n' "path (wrk -c1, ${SECS}s)" "req/s" "p50 ms" "p99 ms"
printf '%-30s %10.0f %9.3f %9.3f\n' "MLServer direct" "$d_rps" "$d_p50" "$d_p99"
printf '%-30s %10.0f %9.3f %9.3f\n' "mlctl --upstream → MLServer" "$p_rps" "$p_p50" "$p_p99"
python3 -c "print(f'added p50: {$p_p50-$d_p50:.3f} ms (target < 0.3 ms); ratio of p50s {$p_p50/$d_p50:.3f}')"
