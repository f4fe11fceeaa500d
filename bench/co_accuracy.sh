#!/usr/bin/env bash
# Coordinated-omission accuracy: a server that stalls for STALL seconds at the start of
# every PERIOD seconds (examples/loadtest_target.rs), loaded at a fixed RATE. Requests
# arrive uniformly, so a share STALL/PERIOD of them waits U(0, STALL) and the true p99 is
#   STALL * (1 - 0.01 * PERIOD / STALL)          (0.98 s for 1 s every 2 s)
# plus the server's own ~0.1 ms. mlctl's open loop is compared with that truth and with
# wrk's p99 (closed loop, the same duration). Target (issue 5): mlctl within 5% of truth.
#
#   bench/co_accuracy.sh [RATE=200] [SECONDS=20] [STALL=1] [PERIOD=2]
source "$(dirname "$0")/lib.sh"
RATE=${1:-200}
SECS=${2:-20}
STALL=${3:-1}
PERIOD=${4:-2}

command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
(cd "$ROOT" && cargo build --release -q && cargo build --release -q --example loadtest_target)
TARGET_BIN="$ROOT/target/release/examples/loadtest_target"

PORT=$(free_port)
"$TARGET_BIN" --listen "127.0.0.1:$PORT" --stall-every "${PERIOD}s" --stall-for "${STALL}s" >"$WORK/target.out" &
PIDS+=($!)
URL="http://127.0.0.1:$PORT/"
wait_http "$URL" 20

"$MLCTL" loadtest "$URL" --rate "$RATE/s" --duration "${SECS}s" -o json >"$WORK/mlctl.json"
wrk -t2 -c16 -d"${SECS}s" --latency "$URL" >"$WORK/wrk.txt"

python3 - "$STALL" "$PERIOD" "$RATE" "$WORK/mlctl.json" "$WORK/wrk.txt" <<'PY'
import json, re, sys
stall, period, rate = map(float, sys.argv[1:4])
truth = stall * (1 - 0.01 * period / stall) * 1000
m = json.load(open(sys.argv[4]))
wrk = open(sys.argv[5]).read()
def wrk_ms(text, pct):
    v, unit = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit]
w99 = wrk_ms(wrk, 99)
p99 = m["latency_ms"]["p99"]
print(f"stall {stall:g}s every {period:g}s, {rate:g} req/s open loop for mlctl, wrk -c16 closed loop")
print(f"analytic p99: {truth:.1f} ms")
print(f"mlctl   p99: {p99:.1f} ms ({(p99 - truth) / truth * 100:+.1f}% vs truth; target within 5%)"
      f"   [p90 {m['latency_ms']['p90']:.1f} ms vs analytic {stall * (1 - 0.10 * period / stall) * 1000:.1f} ms;"
      f" {m['requests']} requests, {m['rps']:.1f} req/s]")
print(f"wrk     p99: {w99:.1f} ms ({(w99 - truth) / truth * 100:+.1f}% vs truth)")
print(f"mlctl service-time p99 (uncorrected, from the actual send): {m['service_ms']['p99']:.1f} ms")
PY
