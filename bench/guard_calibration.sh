#!/usr/bin/env bash
# Error-rate guard calibration: A/A false-trip rate and median requests-to-detect at 2×, 5×
# and 100× the threshold, for the sequential test and the raw-ratio rule it replaced; then
# the same for the comparative guard error_rate<=control+0.005.
# Pure simulation (no server). Usage: bench/guard_calibration.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo run --profile dist -q --example guard_calibration
