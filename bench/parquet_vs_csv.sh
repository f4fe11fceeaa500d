#!/usr/bin/env bash
# Parquet input against CSV input of the same data, in one run: `abtest analyze` on 10M
# rows × 3 columns (the A/B benches' data) and `drift check` on 1M rows × 20 columns (15
# numeric, 5 categorical; the drift benches' data), each as CSV and as Parquet written by
# polars (zstd, its default row groups). Polars' own read_parquet + group_by of the A/B
# file is the peer. Interleaved rounds, medians; the A/B results must agree to 1e-9
# (only the summation order differs), the drift verdicts must be the same columns.
# OLD_BIN=path also times an earlier mlctl on the Parquet files (e.g. one that read them
# through the record API). Usage: bench/parquet_vs_csv.sh [rounds=3]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
need_time
polars_venv
build_mlctl

echo "generating 10M × 3 (abtest) and 1M × 20 (drift) rows, as CSV and Parquet" >&2
"$PVENV/bin/python" "$ROOT/bench/gen_experiment.py" "$WORK/exp.csv" 10000000
"$PVENV/bin/python" - "$WORK" <<'PY'
import sys, numpy as np, polars as pl
work = sys.argv[1]
pl.read_csv(f"{work}/exp.csv").write_parquet(f"{work}/exp.parquet")
cats = np.array(["a", "b", "c", "d", "e"])
for name, shift, seed in [("ref", 0.0, 7), ("cur", 1.0, 8)]:
    rng = np.random.default_rng(seed)
    m = 1_000_000
    data = {f"n{i}": np.round(rng.normal(0.5 * shift if i < 3 else 0.0, 1.0, m), 4) for i in range(15)}
    for i in range(5):
        p = [0.1, 0.15, 0.2, 0.25, 0.3] if (shift and i == 0) else [0.3, 0.25, 0.2, 0.15, 0.1]
        data[f"c{i}"] = cats[rng.choice(5, m, p=p)]
    df = pl.DataFrame(data)
    df.write_csv(f"{work}/{name}.csv", float_precision=4)
    df.write_parquet(f"{work}/{name}.parquet")
PY
"$MLCTL" drift baseline "$WORK/ref.csv" --out "$WORK/p.json" -o json >/dev/null
cat "$WORK"/exp.* "$WORK"/cur.* >/dev/null # page cache warm for all

AB=(abtest analyze --metric converted:binary --metric revenue:mean -o json)
DR=(drift check --baseline "$WORK/p.json" -o json)
for _ in $(seq "$ROUNDS"); do
    timed_run ab-csv "$MLCTL" "${AB[@]}" "$WORK/exp.csv"
    timed_run ab-parquet "$MLCTL" "${AB[@]}" "$WORK/exp.parquet"
    timed_run ab-polars "$PVENV/bin/python" "$ROOT/bench/polars_groupby.py" "$WORK/exp.parquet"
    timed_run dr-csv "$MLCTL" "${DR[@]}" "$WORK/cur.csv"
    timed_run dr-parquet "$MLCTL" "${DR[@]}" "$WORK/cur.parquet"
    if [ -n "${OLD_BIN:-}" ]; then
        timed_run ab-old "$OLD_BIN" "${AB[@]}" "$WORK/exp.parquet"
        timed_run dr-old "$OLD_BIN" "${DR[@]}" "$WORK/cur.parquet"
    fi
done
python3 - "$WORK" "$ROUNDS" "${OLD_BIN:+old}" <<'PY'
import json, math, statistics as st, sys
work, rounds, old = sys.argv[1], sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "old"

def numbers(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            if k != "input":
                yield from numbers(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, float(x)

a, b = (dict(numbers(json.load(open(f"{work}/ab-{s}.out")))) for s in ("csv", "parquet"))
assert a.keys() == b.keys(), "abtest: CSV and Parquet reports differ in shape"
for k in a:
    assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-300), f"abtest {k}: CSV {a[k]} Parquet {b[k]}"
drifted = [sorted(c["column"] for c in json.load(open(f"{work}/dr-{s}.out"))["columns"] if c["drift"]) for s in ("csv", "parquet")]
assert drifted[0] == drifted[1], f"drift: CSV flags {drifted[0]}, Parquet {drifted[1]}"

def med(name):
    rows = [tuple(map(float, l.split())) for l in open(f"{work}/{name}.txt")]
    return [st.median(r[i] for r in rows) for i in range(3)]

print(f"median of {rounds} interleaved rounds; A/B results agree to 1e-9, drift flags the same {len(drifted[0])} columns")
print(f"{'run':<48}{'wall s':>8}{'CPU s':>8}{'RSS MB':>8}")
rows = [("ab-csv", "abtest analyze, 10M rows, CSV (123 MB)"), ("ab-parquet", "abtest analyze, 10M rows, Parquet"),
        ("ab-polars", "polars read_parquet + group_by, same file")]
rows += [("ab-old", "abtest analyze, Parquet, OLD_BIN")] if old else []
rows += [("dr-csv", "drift check, 1M x 20, CSV"), ("dr-parquet", "drift check, 1M x 20, Parquet")]
rows += [("dr-old", "drift check, Parquet, OLD_BIN")] if old else []
m = {n: med(n) for n, _ in rows}
for n, label in rows:
    w, c, r = m[n]
    print(f"{label:<48}{w:>8.2f}{c:>8.2f}{r / 1024:>8.0f}")
print(f"abtest: Parquet / CSV wall = {m['ab-parquet'][0] / m['ab-csv'][0]:.2f}x; polars / mlctl on Parquet = {m['ab-polars'][0] / m['ab-parquet'][0]:.2f}x")
print(f"drift:  Parquet / CSV wall = {m['dr-parquet'][0] / m['dr-csv'][0]:.2f}x")
if old:
    print(f"Parquet, OLD_BIN / now: abtest {m['ab-old'][0] / m['ab-parquet'][0]:.2f}x, drift {m['dr-old'][0] / m['dr-parquet'][0]:.2f}x")
PY
