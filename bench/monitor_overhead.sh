#!/usr/bin/env bash
# Cost of drift monitoring on the data plane: the same model served twice by one gateway,
# one without monitors and one watched by 5 monitors on 20 columns in all (outputs and the
# --log-inputs sample), same wrk load, 3 interleaved rounds (medians). Targets: throughput
# >= 0.95x and p99 within 10%. Also prints the monitors' memory (window state) after the run.
# Usage: bench/monitor_overhead.sh [connections=16] [seconds=10]
source "$(dirname "$0")/lib.sh"
CONNS=${1:-16}
SECS=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
build_mlctl
MLCTL_DATA="$WORK/mlctl-data"
"$MLCTL" serve --listen 127.0.0.1:0 --data-dir "$MLCTL_DATA" --log-inputs 0.1 >"$WORK/mlctl.out" 2>"$WORK/mlctl.err" &
PIDS+=($!)
until grep -q "listening on" "$WORK/mlctl.out" 2>/dev/null; do sleep 0.05; done
MLCTL_URL=$(sed -n 's/^mlctl: listening on //p' "$WORK/mlctl.out")
export MLCTL_ENDPOINT="$MLCTL_URL" MLCTL_DATA_DIR="$MLCTL_DATA"
"$MLCTL" deploy plain --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
"$MLCTL" deploy watched --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
python3 - "$WORK/base.csv" <<'PY'
import random, sys
random.seed(1)
cols = ["label", "probabilities[0]", "probabilities[1]"] + [f"input:input[{j}]" for j in range(4)]
with open(sys.argv[1], "w") as f:
    f.write(",".join(cols) + "\n")
    for _ in range(5000):
        p = random.random()
        f.write(",".join([str(int(p > 0.5)), f"{1 - p:.5f}", f"{p:.5f}"] + [f"{random.gauss(0, 50):.4f}" for _ in range(4)]) + "\n")
PY
"$MLCTL" drift baseline "$WORK/base.csv" --out "$WORK/base.json" --categorical label >/dev/null
SETS=("label,probabilities[1],input:input[0],input:input[1]"
      "probabilities[0],probabilities[1],input:input[2],input:input[3]"
      "label,input:input[0],input:input[1],input:input[2]"
      "probabilities[1],input:input[1],input:input[2],input:input[3]"
      "label,probabilities[0],probabilities[1],input:input[0]")
for cols in "${SETS[@]}"; do
    "$MLCTL" monitor add watched --baseline "$WORK/base.json" --columns "$cols" --window 5s >/dev/null
done
one_row_body "$WORK/body.json"
wrk_post "$MLCTL_URL/v2/models/plain/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null
wrk_post "$MLCTL_URL/v2/models/watched/infer" "$WORK/body.json" "$CONNS" 2 >/dev/null
: >"$WORK/plain.txt"; : >"$WORK/watched.txt"
for _ in 1 2 3; do
    wrk_post "$MLCTL_URL/v2/models/plain/infer" "$WORK/body.json" "$CONNS" "$SECS" >>"$WORK/plain.txt"
    wrk_post "$MLCTL_URL/v2/models/watched/infer" "$WORK/body.json" "$CONNS" "$SECS" >>"$WORK/watched.txt"
done
"$MLCTL" monitor ls -o json >"$WORK/ls.json"
python3 - "$WORK/plain.txt" "$WORK/watched.txt" "$WORK/ls.json" "$CONNS" "$SECS" <<'PY'
import json, statistics, sys
def med(path):
    rows = [list(map(float, l.split()[:3])) for l in open(path) if l.strip()]
    return [statistics.median(r[i] for r in rows) for i in range(3)]
p, w = med(sys.argv[1]), med(sys.argv[2])
print(f"{'model (wrk -c' + sys.argv[4] + ', ' + sys.argv[5] + 's x3, medians)':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
print(f"{'no monitors':<44} {p[0]:>9.0f} {p[1]:>8.3f} {p[2]:>8.3f}")
print(f"{'5 monitors, 20 columns (--log-inputs 0.1)':<44} {w[0]:>9.0f} {w[1]:>8.3f} {w[2]:>8.3f}")
print(f"throughput ratio {w[0]/p[0]:.3f} (target >= 0.95); p99 ratio {w[2]/p[2]:.3f} (target <= 1.10)")
mons = json.load(open(sys.argv[3]))["monitors"]
print("window state per monitor (bytes): " + ", ".join(str(m["window_bytes"]) for m in mons))
PY
