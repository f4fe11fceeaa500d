#!/usr/bin/env bash
# Latency mlctl adds in upstream mode: MLServer direct vs mlctl serve --upstream in front
# of the same MLServer, one connection (no queueing), same one-row requests, wrk.
# Prints p50/p99 (medians of ROUNDS interleaved rounds: MLServer drifts over a run) and the
# added p50. Target: added p50 < 0.3 ms.
# Then the same against a static V2 upstream (nginx answering a fixed V2 response): no
# model and no Python sharing the cores, so the proxy's own cost shows — its added p50 and
# its CPU per request (from /proc), nginx proxy_pass beside it.
# Usage: bench/proxy_overhead.sh [seconds=10] [rounds=3]
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}
ROUNDS=${2:-3}
need_tools
start_mlserver
start_mlctl
"$MLCTL" deploy churn --version mlserver --upstream "$MLSERVER_URL/v2/models/churn_lr" --timeout 5s >/dev/null
one_row_body "$WORK/body.json"
# The floor of one more process in the path: nginx proxy_pass to the same MLServer
# (upstream keep-alive), the same client.
start_nginx 1 'location / { proxy_pass http://mlserver; proxy_http_version 1.1; proxy_set_header Connection ""; }' \
    "upstream mlserver { server ${MLSERVER_URL#http://}; keepalive 8; }"
NPORT=$NGINX_PORT
wait_http "http://127.0.0.1:$NPORT/v2/models/churn_lr/ready" 20
# mlctl to MLServer's gRPC port (V2 over gRPC upstream).
"$MLCTL" deploy churn-grpc --version g --upstream "grpc://$MLSERVER_GRPC/v2/models/churn_lr" --timeout 5s >/dev/null
declare -A URLS=([d]="$MLSERVER_URL/v2/models/churn_lr/infer" [n]="http://127.0.0.1:$NPORT/v2/models/churn_lr/infer"
                 [p]="$MLCTL_URL/v2/models/churn/infer" [g]="$MLCTL_URL/v2/models/churn-grpc/infer")
# ROUNDS interleaved rounds of wrk -c1 over the keys of URLS (after a warm-up), one line
# "req/s p50 p99 proxy-CPU-µs-per-request" per round in $WORK/<key>; the CPU is that of the
# process PIDS names for the key (0 where none is named).
rounds() { # URLS-name PIDS-name key...
    local -n urls=$1 pids=$2
    shift 2
    local k r t0 rps p50 p99 us hz
    hz=$(getconf CLK_TCK)
    for k in "$@"; do wrk_post "${urls[$k]}" "$WORK/body.json" 1 2 >/dev/null; : >"$WORK/$k"; done   # warm-up
    for r in $(seq "$ROUNDS"); do
        for k in "$@"; do
            t0=0; [ -n "${pids[$k]:-}" ] && t0=$(cpu_ticks "${pids[$k]}")
            read -r rps p50 p99 _ < <(wrk_post "${urls[$k]}" "$WORK/body.json" 1 "$SECS")
            us=0; [ -n "${pids[$k]:-}" ] && us=$(python3 -c "print(($(cpu_ticks "${pids[$k]}") - $t0) / $hz / ($rps * $SECS) * 1e6)")
            echo "$rps $p50 $p99 $us" >>"$WORK/$k"
        done
    done
}
med() { python3 -c 'import statistics,sys; rows=[list(map(float,l.split())) for l in open(sys.argv[1]) if l.strip()]; print(" ".join(str(statistics.median(c)) for c in zip(*rows)))' "$WORK/$1"; }
declare -A NO_PIDS=()
rounds URLS NO_PIDS d n p g
read -r d_rps d_p50 d_p99 _ < <(med d)
read -r n_rps n_p50 n_p99 _ < <(med n)
read -r p_rps p_p50 p_p99 _ < <(med p)
read -r g_rps g_p50 g_p99 _ < <(med g)
printf '%-34s %10s %9s %9s\n' "path (wrk -c1, ${SECS}s x $ROUNDS)" "req/s" "p50 ms" "p99 ms"
printf '%-34s %10.0f %9.3f %9.3f\n' "MLServer direct" "$d_rps" "$d_p50" "$d_p99"
printf '%-34s %10.0f %9.3f %9.3f\n' "nginx proxy_pass → MLServer" "$n_rps" "$n_p50" "$n_p99"
printf '%-34s %10.0f %9.3f %9.3f\n' "mlctl --upstream → MLServer" "$p_rps" "$p_p50" "$p_p99"
printf '%-34s %10.0f %9.3f %9.3f\n' "mlctl --upstream grpc:// → MLServer" "$g_rps" "$g_p50" "$g_p99"
python3 -c "print(f'added p50: mlctl {$p_p50-$d_p50:.3f} ms (target < 0.3 ms), nginx {$n_p50-$d_p50:.3f} ms; ratio of p50s {$p_p50/$d_p50:.3f}')"

# --- A static V2 upstream: the proxy's own cost -------------------------------------------
ANSWER='{"model_name":"churn_lr","model_version":"1","id":"x","outputs":[{"name":"predict_proba","shape":[1,2],"datatype":"FP64","data":[0.3,0.7]}]}'
start_nginx 1 "location = /v2/models/churn_lr/ready { return 200 ''; }
        location /v2/models/churn_lr { default_type application/json; return 200 '$ANSWER'; }"
SPORT=$NGINX_PORT
wait_http "http://127.0.0.1:$SPORT/v2/models/churn_lr/ready" 20
start_nginx 1 'location / { proxy_pass http://static; proxy_http_version 1.1; proxy_set_header Connection ""; }' \
    "upstream static { server 127.0.0.1:$SPORT; keepalive 8; }"
PPORT=$NGINX_PORT
wait_http "http://127.0.0.1:$PPORT/v2/models/churn_lr/ready" 20
PROXY_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
"$MLCTL" deploy churn-static --version s --upstream "http://127.0.0.1:$SPORT/v2/models/churn_lr" --timeout 5s >/dev/null
declare -A SURLS=([sd]="http://127.0.0.1:$SPORT/v2/models/churn_lr/infer" [sn]="http://127.0.0.1:$PPORT/v2/models/churn_lr/infer"
                  [sm]="$MLCTL_URL/v2/models/churn-static/infer")
declare -A SPIDS=([sn]="$PROXY_WORKER" [sm]="$MLCTL_PID")
rounds SURLS SPIDS sd sn sm
read -r sd_rps sd_p50 sd_p99 _ < <(med sd)
read -r sn_rps sn_p50 sn_p99 sn_us < <(med sn)
read -r sm_rps sm_p50 sm_p99 sm_us < <(med sm)
echo
printf '%-34s %10s %9s %9s %12s\n' "static V2 upstream (wrk -c1)" "req/s" "p50 ms" "p99 ms" "proxy CPU/req"
printf '%-34s %10.0f %9.3f %9.3f %12s\n' "static upstream direct" "$sd_rps" "$sd_p50" "$sd_p99" "-"
printf '%-34s %10.0f %9.3f %9.3f %10.0f µs\n' "nginx proxy_pass → static" "$sn_rps" "$sn_p50" "$sn_p99" "$sn_us"
printf '%-34s %10.0f %9.3f %9.3f %10.0f µs\n' "mlctl --upstream → static" "$sm_rps" "$sm_p50" "$sm_p99" "$sm_us"
python3 -c "print(f'added p50: mlctl {$sm_p50-$sd_p50:.3f} ms, nginx {$sn_p50-$sd_p50:.3f} ms; proxy CPU per request mlctl/nginx {$sm_us/$sn_us:.2f}x')"
