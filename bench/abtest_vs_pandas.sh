#!/usr/bin/env bash
# `mlctl abtest analyze` vs pandas groupby + scipy ttest_ind on the same generated CSV:
# ROWS rows (default 10 million), 3 arms, 2 metrics (converted: binary, revenue: mean).
# Prints both wall times, the ratio and both peak RSS (/usr/bin/time -v).
# Targets: ≥ 10× faster than pandas, mlctl < 64 MB RSS.
# Usage: bench/abtest_vs_pandas.sh [rows=10000000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROWS=${1:-10000000}
VENV="${MLCTL_BENCH_VENV:-$ROOT/.venv-interop}"
MLCTL="$ROOT/target/dist/mlctl"
WORK="$(mktemp -d /tmp/mlctl-abbench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
need_time
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q -r "$ROOT/interop/requirements.txt"; }
"$VENV/bin/python" -c "import pandas, scipy" 2>/dev/null || "$VENV/bin/pip" install -q "pandas<3" scipy
(cd "$ROOT" && cargo build --profile dist -q)

echo "generating $ROWS rows" >&2
"$VENV/bin/python" "$ROOT/bench/gen_experiment.py" "$WORK/exp.csv" "$ROWS"
ls -la "$WORK/exp.csv" >&2

cat > "$WORK/peer.py" <<'PY'
import sys, pandas as pd
from scipy import stats
df = pd.read_csv(sys.argv[1])
g = df.groupby("variant")
print(g[["converted", "revenue"]].agg(["count", "mean", "var"]))
c = df[df.variant == "control"]
for arm in ["b", "c"]:
    t = df[df.variant == arm]
    for col in ["converted", "revenue"]:
        r = stats.ttest_ind(t[col], c[col], equal_var=False)
        print(arm, col, r.statistic, r.pvalue)
PY

measure() { # label cmd... -> "seconds rss_kb"
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || { cat "$WORK/err.txt" >&2; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    echo "$wall $rss"
}
read -r m_s m_rss < <(measure "$MLCTL" abtest analyze "$WORK/exp.csv" --metric converted:binary --metric revenue:mean -o json)
read -r p_s p_rss < <(measure "$VENV/bin/python" "$WORK/peer.py" "$WORK/exp.csv")
printf '%-34s %9s %11s\n' "$ROWS rows, 3 arms, 2 metrics" "seconds" "peak RSS MB"
printf '%-34s %9.2f %11.1f\n' "mlctl abtest analyze" "$m_s" "$(echo "$m_rss/1024" | bc -l)"
printf '%-34s %9.2f %11.1f\n' "pandas read_csv+groupby+ttest_ind" "$p_s" "$(echo "$p_rss/1024" | bc -l)"
python3 -c "print(f'speed-up mlctl vs pandas: {$p_s/$m_s:.1f}x (target >= 10x); mlctl RSS {$m_rss/1024:.1f} MB (target < 64 MB)')"
