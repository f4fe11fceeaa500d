#!/usr/bin/env bash
# `mlctl abtest analyze` vs polars' group-by alone (read_csv of the 3 columns + count,
# mean and variance per arm: no statistical tests) on the same generated CSV: ROWS rows
# (default 10 million), 3 arms, 2 metrics. Median of 3 interleaved rounds; wall time, CPU
# time, MB/s per core and peak RSS, with `wc -l` of the same file as the floor.
# Target (issue 18): mlctl >= 3x polars' group-by, < 64 MB.
# Usage: bench/abtest_vs_polars.sh [rows=10000000]
source "$(dirname "$0")/lib.sh"
ROWS=${1:-10000000}
need_time
polars_venv
build_mlctl

echo "generating $ROWS rows" >&2
"$PVENV/bin/python" "$ROOT/bench/gen_experiment.py" "$WORK/exp.csv" "$ROWS"
MB=$(python3 -c "import os; print(os.path.getsize('$WORK/exp.csv') / 1e6)")
measure() { # cmd... -> "wall cpu rss_kb"
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/t.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || { cat "$WORK/err.txt" >&2; exit 1; }
    awk '{print $1, $2 + $3, $4}' "$WORK/t.txt"
}
cat "$WORK/exp.csv" >/dev/null # page cache warm for all three
for round in 1 2 3; do
    measure wc -l "$WORK/exp.csv" >>"$WORK/wc.txt"
    measure "$PVENV/bin/python" "$ROOT/bench/polars_groupby.py" "$WORK/exp.csv" >>"$WORK/polars.txt"
    measure "$MLCTL" abtest analyze "$WORK/exp.csv" --metric converted:binary --metric revenue:mean -o json >>"$WORK/mlctl.txt"
done
python3 - "$WORK" "$MB" "$(nproc)" <<'PY'
import sys
work, mb, cores = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
def med(name):
    rows = sorted((tuple(map(float, l.split())) for l in open(f"{work}/{name}.txt")), key=lambda r: r[0])
    return rows[len(rows) // 2]
print(f"{mb:.0f} MB CSV, {cores} cores; median of 3 rounds")
print(f"{'tool':<34}{'wall s':>8}{'CPU s':>8}{'MB/s':>9}{'MB/s/core':>11}{'RSS MB':>8}")
res = {}
for name, label in [("wc", "wc -l (the floor)"), ("polars", "polars read_csv + group_by"), ("mlctl", "mlctl abtest analyze (+ tests)")]:
    wall, cpu, rss = med(name)
    res[name] = wall
    print(f"{label:<34}{wall:>8.2f}{cpu:>8.2f}{mb / max(wall, 0.01):>9.0f}{mb / max(cpu, 0.01):>11.0f}{rss / 1024:>8.1f}")
print(f"mlctl vs polars' group-by: {res['polars'] / res['mlctl']:.2f}x faster (target 3x)")
PY
