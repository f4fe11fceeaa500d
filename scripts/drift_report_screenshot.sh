#!/usr/bin/env bash
# Render a drift report in headless Chromium (Debian's package) and save a screenshot, to
# look at what a person sees. Usage: scripts/drift_report_screenshot.sh [out.png]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT=${1:-drift-report.png}
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
MLCTL="$ROOT/target/debug/mlctl"
[ -x "$MLCTL" ] || (cd "$ROOT" && cargo build -q)
python3 - "$WORK" <<'PY'
import random, sys, datetime
random.seed(2)
w = sys.argv[1]
with open(f"{w}/train.csv", "w") as f:
    f.write("score,age,segment\n")
    for _ in range(5000):
        f.write(f"{random.gauss(0, 1):.4f},{random.randint(18, 80)},{random.choice('abc')}\n")
t0 = datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)
with open(f"{w}/live.csv", "w") as f:
    f.write("ts,score,age,segment\n")
    for i in range(6000):
        shift = 0 if i < 3000 else (i - 3000) / 3000
        ts = (t0 + datetime.timedelta(seconds=3 * i)).isoformat().replace("+00:00", "Z")
        f.write(f"{ts},{random.gauss(shift, 1):.4f},{random.randint(18, 80)},{random.choice('abc')}\n")
PY
"$MLCTL" drift baseline "$WORK/train.csv" --out "$WORK/base.json" >/dev/null
"$MLCTL" drift check --baseline "$WORK/base.json" "$WORK/live.csv" --columns score,age,segment \
    --window 1h --time-col ts --report "$WORK/report.html" >/dev/null || true
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$WORK/chrome" --window-size=1000,1400 \
    --screenshot="$OUT" "file://$WORK/report.html" 2>/dev/null
echo "screenshot: $OUT"
