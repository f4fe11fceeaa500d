#!/usr/bin/env bash
# Rollback under load: wrk drives a 50% canary; mid-run `mlctl rollback` is invoked.
# From the prediction log: time from the rollback invocation to the start of the last
# request the candidate served (and to its end). Target < 100 ms. Runs REPEAT times.
# Usage: bench/rollback_latency.sh [repeat=5]
source "$(dirname "$0")/lib.sh"
REPEAT=${1:-5}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
(cd "$ROOT" && cargo build --profile dist -q)
start_mlctl
"$MLCTL" deploy churn --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
one_row_body "$WORK/body.json"
cat >"$WORK/keys.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/body.json", "rb"); wrk.body = f:read("*a"); f:close()
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["x-mlctl-key"] = "user-" .. counter
  return wrk.format(nil, nil, nil, nil)
end
LUA
printf '%-6s %22s %22s\n' run "invoke→last start (ms)" "invoke→last end (ms)"
for i in $(seq 1 "$REPEAT"); do
    v=$((i + 1))
    "$MLCTL" deploy churn --version "$v" --onnx "$ROOT/fixtures/models/churn_lr_bad.onnx" --strategy canary --steps 50,100 --interval 1h >/dev/null
    wrk -t2 -c16 -d3s -s "$WORK/keys.lua" "$MLCTL_URL/v2/models/churn/infer" >/dev/null &
    WRK=$!
    sleep 1.5
    t0=$(date +%s.%N)
    "$MLCTL" rollback churn --reason "bench run $i" >/dev/null
    wait $WRK
    sleep 0.3  # let the log writer flush (100 ms)
    python3 - "$MLCTL_DATA/logs" "$v" "$t0" <<'PY'
import json, os, sys, datetime
logs, version, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
last_start = last_end = None
for name in sorted(os.listdir(logs)):
    if not name.startswith("predictions-"):
        continue
    for line in open(os.path.join(logs, name)):
        r = json.loads(line)
        if r["version"] != version or r["role"] == "explicit":
            continue
        ts = datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
        end = ts + r["latency_us"] / 1e6
        last_start = ts if last_start is None else max(last_start, ts)
        last_end = end if last_end is None else max(last_end, end)
print(f"{version:<6} {(last_start - t0) * 1e3:22.2f} {(last_end - t0) * 1e3:22.2f}")
PY
done
echo "target: < 100 ms from invocation to the candidate's last request (includes CLI start, HTTP, SQLite fsync, route swap)"
