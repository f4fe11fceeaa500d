#!/usr/bin/env bash
# Coordinated-omission accuracy: a server that stalls for STALL seconds at the start of
# every PERIOD seconds (examples/loadtest_target.rs), loaded at a fixed RATE. Requests
# arrive uniformly, so a share STALL/PERIOD of them waits U(0, STALL) and the true p99 is
#   STALL * (1 - 0.01 * PERIOD / STALL)          (0.98 s for 1 s every 2 s)
# plus the server's own ~0.1 ms (p90: STALL * (1 - 0.10 * PERIOD / STALL)). Compared: mlctl's
# open loop; wrk (closed loop, which back-fills synthetic samples for slow answers); oha at
# the same rate without and with --latency-correction. Target (issue 5): mlctl p99 within 5%.
#
#   bench/co_accuracy.sh [RATE=200] [SECONDS=20] [STALL=1] [PERIOD=2]
source "$(dirname "$0")/lib.sh"
RATE=${1:-200}
SECS=${2:-20}
STALL=${3:-1}
PERIOD=${4:-2}

command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
(cd "$ROOT" && cargo build --profile dist -q && cargo build --profile dist -q --example loadtest_target)
TARGET_BIN="$ROOT/target/dist/examples/loadtest_target"

PORT=$(free_port)
"$TARGET_BIN" --listen "127.0.0.1:$PORT" --stall-every "${PERIOD}s" --stall-for "${STALL}s" >"$WORK/target.out" &
PIDS+=($!)
URL="http://127.0.0.1:$PORT/"
wait_http "$URL" 20

OHA=$(command -v oha || echo "$HOME/.cargo/bin/oha")
[ -x "$OHA" ] || { echo "installing oha (cargo install oha --locked)" >&2; cargo install oha --locked -q; }

"$MLCTL" loadtest "$URL" --rate "$RATE/s" --duration "${SECS}s" -o json >"$WORK/mlctl.json"
wrk -t2 -c16 -d"${SECS}s" --latency "$URL" >"$WORK/wrk.txt"
"$OHA" -z "${SECS}s" -q "$RATE" -c 16 --no-tui --output-format json "$URL" >"$WORK/oha.json"
"$OHA" -z "${SECS}s" -q "$RATE" -c 16 --latency-correction --no-tui --output-format json "$URL" >"$WORK/oha-corr.json"

python3 - "$STALL" "$PERIOD" "$RATE" "$WORK" <<'PY'
import json, re, sys
stall, period, rate = map(float, sys.argv[1:4])
work = sys.argv[4]
f = stall / period
def truth(q):  # ms; a share f of arrivals waits U(0, stall)
    return 0.0 if q <= 1 - f else stall * (1 - (1 - q) / f) * 1000
m = json.load(open(f"{work}/mlctl.json"))
wrk = open(f"{work}/wrk.txt").read()
def wrk_ms(pct):
    v, unit = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", wrk, re.M).groups()
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit]
def oha(path):
    p = json.load(open(path))["latencyPercentiles"]
    return {q: p[k] * 1000 for q, k in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))}
rows = {
    "mlctl --rate (open loop)": {q: m["latency_ms"][k] for q, k in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))},
    "wrk -c16 (closed, back-filled)": {0.5: wrk_ms(50), 0.9: wrk_ms(90), 0.99: wrk_ms(99)},
    "oha -q (no correction)": oha(f"{work}/oha.json"),
    "oha -q --latency-correction": oha(f"{work}/oha-corr.json"),
}
print(f"stall {stall:g}s at the start of every {period:g}s; {rate:g} req/s for the rate-driven tools")
print(f"{'':34} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9}   p99 vs truth")
print(f"{'analytic truth':34} {truth(0.5):9.1f} {truth(0.9):9.1f} {truth(0.99):9.1f}")
for name, r in rows.items():
    d = (r[0.99] - truth(0.99)) / truth(0.99) * 100
    print(f"{name:34} {r[0.5]:9.1f} {r[0.9]:9.1f} {r[0.99]:9.1f}   {d:+.1f}%")
print(f"mlctl: {m['requests']} requests at {m['rps']:.1f} req/s; p99 within 5% of truth: "
      f"{'yes' if abs(rows['mlctl --rate (open loop)'][0.99] - truth(0.99)) <= 0.05 * truth(0.99) else 'NO'}")
PY
