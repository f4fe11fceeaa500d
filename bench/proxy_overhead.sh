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
# The floor of one more process in the path: nginx proxy_pass to the same MLServer
# (upstream keep-alive), the same client.
command -v nginx >/dev/null || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null)
NPORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
    upstream mlserver { server ${MLSERVER_URL#http://}; keepalive 8; }
    server {
        listen 127.0.0.1:$NPORT;
        location / { proxy_pass http://mlserver; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
wait_http "http://127.0.0.1:$NPORT/v2/models/churn_lr/ready" 20
wrk_post "http://127.0.0.1:$NPORT/v2/models/churn_lr/infer" "$WORK/body.json" 1 2 >/dev/null
read -r n_rps n_p50 n_p99 _ _ < <(wrk_post "http://127.0.0.1:$NPORT/v2/models/churn_lr/infer" "$WORK/body.json" 1 "$SECS")
# mlctl to MLServer's gRPC port (V2 over gRPC upstream).
"$MLCTL" deploy churn-grpc --version g --upstream "grpc://$MLSERVER_GRPC/v2/models/churn_lr" --timeout 5s >/dev/null
wrk_post "$MLCTL_URL/v2/models/churn-grpc/infer" "$WORK/body.json" 1 2 >/dev/null
read -r g_rps g_p50 g_p99 _ _ < <(wrk_post "$MLCTL_URL/v2/models/churn-grpc/infer" "$WORK/body.json" 1 "$SECS")
printf '%-34s %10s %9s %9s\n' "path (wrk -c1, ${SECS}s)" "req/s" "p50 ms" "p99 ms"
printf '%-34s %10.0f %9.3f %9.3f\n' "MLServer direct" "$d_rps" "$d_p50" "$d_p99"
printf '%-34s %10.0f %9.3f %9.3f\n' "nginx proxy_pass → MLServer" "$n_rps" "$n_p50" "$n_p99"
printf '%-34s %10.0f %9.3f %9.3f\n' "mlctl --upstream → MLServer" "$p_rps" "$p_p50" "$p_p99"
printf '%-34s %10.0f %9.3f %9.3f\n' "mlctl --upstream grpc:// → MLServer" "$g_rps" "$g_p50" "$g_p99"
python3 -c "print(f'added p50: mlctl {$p_p50-$d_p50:.3f} ms (target < 0.3 ms), nginx {$n_p50-$d_p50:.3f} ms; ratio of p50s {$p_p50/$d_p50:.3f}')"
