#!/usr/bin/env bash
# `mlctl drift baseline` + `drift check` vs Evidently 0.7 DataDriftPreset on the same
# generated reference/current CSVs: ROWS rows × 20 columns (15 numeric, 5 categorical),
# the current data shifted in 4 columns. Both start from the CSV files. Prints both wall
# times, the ratio and both peak RSS; then mlctl alone at BIG rows to show flat memory.
# Targets: ≥ 50× faster than Evidently; mlctl memory flat as rows grow.
# Usage: bench/drift_vs_evidently.sh [rows=1000000] [big=10000000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROWS=${1:-1000000}
BIG=${2:-10000000}
VENV="${MLCTL_EVIDENTLY_VENV:-$ROOT/.venv-evidently}"
MLCTL="$ROOT/target/dist/mlctl"
WORK="$(mktemp -d /tmp/mlctl-driftbench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
need_time
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q "evidently==0.7.*" "pandas<3"; }
(cd "$ROOT" && cargo build --profile dist -q)

gen() { # rows shift out
    "$VENV/bin/python" - "$1" "$2" "$3" <<'PY'
import sys, numpy as np
n, shift, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(7 if shift == 0 else 8)
cats = np.array(["a", "b", "c", "d", "e"])
with open(path, "w") as f:
    f.write(",".join([f"n{i}" for i in range(15)] + [f"c{i}" for i in range(5)]) + "\n")
    chunk = 250_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        cols = []
        for i in range(15):
            x = rng.normal(0.5 * shift if i < 3 else 0.0, 1.0, m)
            cols.append(np.char.mod("%.4f", x))
        for i in range(5):
            p = [0.3, 0.25, 0.2, 0.15, 0.1] if not (shift and i == 0) else [0.1, 0.15, 0.2, 0.25, 0.3]
            cols.append(cats[rng.choice(5, m, p=p)])
        rows = cols[0]
        for c in cols[1:]:
            rows = np.char.add(np.char.add(rows, ","), c)
        f.write("\n".join(rows.tolist()) + "\n")
PY
}
measure() { # cmd... -> "seconds rss_kb"
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || { tail -5 "$WORK/err.txt" >&2; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    echo "$wall $rss"
}
echo "generating $ROWS reference + $ROWS current rows × 20 columns" >&2
gen "$ROWS" 0 "$WORK/ref.csv"
gen "$ROWS" 1 "$WORK/cur.csv"
cat > "$WORK/mlctl.sh" <<SH
#!/bin/sh
set -e
"$MLCTL" drift baseline "$WORK/ref.csv" --out "$WORK/p.json" -o json >/dev/null
"$MLCTL" drift check --baseline "$WORK/p.json" "$WORK/cur.csv" -o json > "$WORK/mlctl.json" || [ \$? -eq 1 ]
SH
chmod +x "$WORK/mlctl.sh"
cat > "$WORK/peer_evidently.py" <<'PY'
import sys, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_csv(sys.argv[1]); cur = pd.read_csv(sys.argv[2])
snap = Report([DataDriftPreset()]).run(cur, ref)
print(str(snap.dict())[:200])
PY
read -r m_s m_rss < <(measure "$WORK/mlctl.sh")
read -r e_s e_rss < <(measure "$VENV/bin/python" "$WORK/peer_evidently.py" "$WORK/ref.csv" "$WORK/cur.csv")
drifted=$(python3 -c "import json; r=json.load(open('$WORK/mlctl.json')); print(r['drifted'], 'of', len(r['columns']))")
printf '%-40s %9s %12s\n' "$ROWS rows × 20 columns, baseline + check" "seconds" "peak RSS MB"
printf '%-40s %9.2f %12.1f\n' "mlctl (drifted: $drifted)" "$m_s" "$(echo "$m_rss/1024" | bc -l)"
printf '%-40s %9.2f %12.1f\n' "Evidently 0.7 DataDriftPreset" "$e_s" "$(echo "$e_rss/1024" | bc -l)"
python3 -c "print(f'speed-up mlctl vs Evidently: {$e_s/$m_s:.1f}x (target >= 50x)')"
if [ "$BIG" -gt 0 ]; then
    echo "generating $BIG current rows for the memory check" >&2
    rm -f "$WORK/cur.csv"
    gen "$BIG" 1 "$WORK/big.csv"
    cat > "$WORK/big.sh" <<SH
#!/bin/sh
"$MLCTL" drift check --baseline "$WORK/p.json" "$WORK/big.csv" -o json >/dev/null || [ \$? -eq 1 ]
SH
    chmod +x "$WORK/big.sh"
    read -r b_s b_rss < <(measure "$WORK/big.sh")
    printf '%-40s %9.2f %12.1f\n' "mlctl drift check, $BIG rows" "$b_s" "$(echo "$b_rss/1024" | bc -l)"
fi
