#!/usr/bin/env bash
# What a 10-feature lookup adds to an inference, and Feast's own online retrieval of the same
# 10 features, on this machine. mlctl: one-row requests to a 10-feature logistic regression,
# wrk, one connection — (a) the input given whole (no lookup), (b) only the entity id, the 10
# features from the embedded store, (c) the same from Redis (a second gateway with
# --feature-store). Feast: get_online_features for one entity, in process (no HTTP), SQLite
# and Redis online stores; and the lookup + assembly alone, in process (examples/feature_assembly.rs). Targets: embedded adds < 20 µs p50, Redis < 0.3 ms p50, mlctl's
# lookup + inference p50 below Feast's retrieval alone.
# Usage: bench/features_latency.sh [seconds=10] [feast calls=3000]
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}
CALLS=${2:-3000}
need_tools
FEAST_VENV="${MLCTL_FEAST_VENV:-$ROOT/.venv-feast}"
if [ ! -x "$FEAST_VENV/bin/feast" ]; then
    echo "installing Feast into $FEAST_VENV" >&2
    python3 -m venv "$FEAST_VENV"
    "$FEAST_VENV/bin/pip" install -q "feast[redis]" scikit-learn skl2onnx
fi
command -v redis-server >/dev/null || { echo "installing redis-server (apt)" >&2; apt-get install -y -qq redis-server >/dev/null; }
"$VENV/bin/python" "$ROOT/bench/features_latency.py" make "$WORK"

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
PIDS+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done

start_mlctl
"$MLCTL" features load restaurant_stats --from "$WORK/stats.csv" --key restaurant_id --ts-col event_ts \
    --feature-store "redis://127.0.0.1:$REDIS_PORT" >/dev/null
"$MLCTL" deploy eta --version 1 --onnx "$WORK/model.onnx" --features "$WORK/view.toml" >/dev/null
EMBEDDED_URL=$MLCTL_URL
# The Redis-backed gateway: its own data dir (no local values), the same model and view.
R_DATA="$WORK/mlctl-redis"
"$MLCTL" serve --listen 127.0.0.1:0 --data-dir "$R_DATA" --feature-store "redis://127.0.0.1:$REDIS_PORT" \
    >"$WORK/mlctl-r.out" 2>"$WORK/mlctl-r.err" &
PIDS+=($!)
until grep -q "listening on" "$WORK/mlctl-r.out" 2>/dev/null; do sleep 0.05; done
REDIS_URL=$(sed -n 's/^mlctl: listening on //p' "$WORK/mlctl-r.out")
MLCTL_ENDPOINT="$REDIS_URL" MLCTL_DATA_DIR="$R_DATA" "$MLCTL" deploy eta --version 1 --onnx "$WORK/model.onnx" \
    --features "$WORK/view.toml" >/dev/null

# Three interleaved rounds of each, medians (this machine's noise is tens of µs).
: >"$WORK/a.txt"; : >"$WORK/b.txt"; : >"$WORK/c.txt"
for u in "$EMBEDDED_URL/v2/models/eta/infer $WORK/direct.json" "$EMBEDDED_URL/v2/models/eta/infer $WORK/lookup.json" "$REDIS_URL/v2/models/eta/infer $WORK/lookup.json"; do
    wrk_post ${u% *} ${u#* } 1 2 >/dev/null
done
for _ in 1 2 3; do
    wrk_post "$EMBEDDED_URL/v2/models/eta/infer" "$WORK/direct.json" 1 "$SECS" >>"$WORK/a.txt"
    wrk_post "$EMBEDDED_URL/v2/models/eta/infer" "$WORK/lookup.json" 1 "$SECS" >>"$WORK/b.txt"
    wrk_post "$REDIS_URL/v2/models/eta/infer" "$WORK/lookup.json" 1 "$SECS" >>"$WORK/c.txt"
done
med() { python3 -c 'import statistics,sys; r=[l.split() for l in open(sys.argv[1]) if l.strip()]; print(*[statistics.median(float(x[i]) for x in r) for i in range(3)], sum(int(x[3]) for x in r))' "$1"; }
read -r a_rps a_p50 a_p99 _ < <(med "$WORK/a.txt")
read -r b_rps b_p50 b_p99 b_err < <(med "$WORK/b.txt")
read -r c_rps c_p50 c_p99 c_err < <(med "$WORK/c.txt")
[ "$b_err" = 0 ] && [ "$c_err" = 0 ] || { echo "lookup requests failed ($b_err, $c_err)" >&2; exit 1; }
# The same lookup without HTTP: fields read, rows fetched, tensor and logged vector built.
(cd "$ROOT" && cargo build -q --release --example feature_assembly)
read -r x_p50 x_p99 < <("$ROOT/target/release/examples/feature_assembly" 100000)
read -r fs_p50 fs_p99 < <("$FEAST_VENV/bin/python" "$ROOT/bench/features_latency.py" feast "$WORK" sqlite "$CALLS" 2>/dev/null | tail -1)
read -r fr_p50 fr_p99 < <("$FEAST_VENV/bin/python" "$ROOT/bench/features_latency.py" feast "$WORK" "redis:$REDIS_PORT" "$CALLS" 2>/dev/null | tail -1)

printf '%-52s %9s %9s %9s\n' "one row, 10 features (wrk -c1 ${SECS}s x3 medians; Feast ${CALLS} calls)" "req/s" "p50 ms" "p99 ms"
printf '%-52s %9.0f %9.3f %9.3f\n' "mlctl inference, input given (no lookup)" "$a_rps" "$a_p50" "$a_p99"
printf '%-52s %9.0f %9.3f %9.3f\n' "mlctl lookup (embedded) + inference" "$b_rps" "$b_p50" "$b_p99"
printf '%-52s %9.0f %9.3f %9.3f\n' "mlctl lookup (Redis) + inference" "$c_rps" "$c_p50" "$c_p99"
printf '%-52s %9s %9.4f %9.4f\n' "mlctl lookup + assembly alone, in process (10^5)" "-" "$(python3 -c "print($x_p50/1000)")" "$(python3 -c "print($x_p99/1000)")"
printf '%-52s %9s %9.3f %9.3f\n' "Feast get_online_features (SQLite), retrieval only" "-" "$fs_p50" "$fs_p99"
printf '%-52s %9s %9.3f %9.3f\n' "Feast get_online_features (Redis), retrieval only" "-" "$fr_p50" "$fr_p99"
python3 - <<PY
a, b, c = $a_p50, $b_p50, $c_p50
fs, fr = $fs_p50, $fr_p50
print(f"embedded lookup adds {1000 * (b - a):.1f} µs p50 over HTTP (noise: tens of µs), {$x_p50:.1f} µs p50 / {$x_p99:.1f} µs p99 measured in process (target < 20 µs)")
print(f"Redis lookup adds {b and (c - a):.3f} ms p50 (target < 0.3 ms)")
print(f"mlctl lookup+inference vs Feast retrieval alone, p50: embedded {fs / b:.1f}x faster than Feast/SQLite; Redis {fr / c:.1f}x faster than Feast/Redis")
PY
