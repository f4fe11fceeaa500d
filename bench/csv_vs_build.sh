#!/usr/bin/env bash
# The CSV readers against an earlier build of mlctl on the same files, in one run:
# `drift check` on 1M rows × 20 columns (15 numeric, 5 categorical; the drift bench's data)
# and `abtest analyze` on 10M rows × 3 columns (the A/B benches' data). REV defaults to
# bdb80c1, the build issue 18 started from ("drift check 2× faster than today"). Both
# binaries are built with the same profile (release); interleaved rounds, medians; the
# outputs must be identical. Usage: bench/csv_vs_build.sh [rev=bdb80c1] [rounds=5]
# OLD_BIN=path skips building REV.
source "$(dirname "$0")/lib.sh"
REV=${1:-bdb80c1}
ROUNDS=${2:-5}
polars_venv
need_time
NEW="${MLCTL_BIN:-}"
if [ -z "$NEW" ]; then
    (cd "$ROOT" && cargo build --release -q)
    NEW="$WORK/mlctl-new"
    cp "$ROOT/target/release/mlctl" "$NEW"
fi
OLD="${OLD_BIN:-}"
if [ -z "$OLD" ]; then
    echo "building $REV (release, in a worktree; shares target/ for the dependencies)" >&2
    git -C "$ROOT" worktree add -f -q "$WORK/old-src" "$REV"
    (cd "$WORK/old-src" && cargo build --release -q --target-dir "$ROOT/target")
    OLD="$WORK/mlctl-old"
    cp "$ROOT/target/release/mlctl" "$OLD"
    git -C "$ROOT" worktree remove --force "$WORK/old-src"
    # Leave target/release/mlctl as the current tree's build.
    (cd "$ROOT" && cargo build --release -q)
fi

echo "generating 1M × 20 (drift) and 10M × 3 (abtest) rows" >&2
"$PVENV/bin/python" - "$WORK" <<'PY'
import sys, numpy as np
work = sys.argv[1]
cats = np.array(["a", "b", "c", "d", "e"])
for name, shift, seed in [("ref", 0.0, 7), ("cur", 1.0, 8)]:
    rng = np.random.default_rng(seed)
    with open(f"{work}/{name}.csv", "w") as f:
        f.write(",".join([f"n{i}" for i in range(15)] + [f"c{i}" for i in range(5)]) + "\n")
        for _ in range(4):
            m = 250_000
            cols = [np.char.mod("%.4f", rng.normal(0.5 * shift if i < 3 else 0.0, 1.0, m)) for i in range(15)]
            for i in range(5):
                p = [0.1, 0.15, 0.2, 0.25, 0.3] if (shift and i == 0) else [0.3, 0.25, 0.2, 0.15, 0.1]
                cols.append(cats[rng.choice(5, m, p=p)])
            rows = cols[0]
            for c in cols[1:]:
                rows = np.char.add(np.char.add(rows, ","), c)
            f.write("\n".join(rows.tolist()) + "\n")
PY
"$PVENV/bin/python" "$ROOT/bench/gen_experiment.py" "$WORK/exp.csv" 10000000
"$NEW" drift baseline "$WORK/ref.csv" --out "$WORK/p.json" -o json >/dev/null
cat "$WORK/cur.csv" "$WORK/exp.csv" >/dev/null # page cache warm

for _ in $(seq "$ROUNDS"); do
    for side in old new; do
        bin=$OLD; [ "$side" = new ] && bin=$NEW
        timed_run "drift-$side" "$bin" drift check --baseline "$WORK/p.json" "$WORK/cur.csv" -o json
        timed_run "abtest-$side" "$bin" abtest analyze "$WORK/exp.csv" --metric converted:binary --metric revenue:mean -o json
    done
done
for t in drift abtest; do
    cmp -s "$WORK/$t-old.out" "$WORK/$t-new.out" || { echo "$t: outputs differ" >&2; exit 1; }
done
python3 - "$WORK" "$REV" "$ROUNDS" <<'PY'
import sys, statistics as st
work, rev, rounds = sys.argv[1], sys.argv[2], sys.argv[3]
def med(name):
    rows = [tuple(map(float, l.split())) for l in open(f"{work}/{name}.txt")]
    return st.median(r[0] for r in rows), st.median(r[1] for r in rows)
print(f"median of {rounds} interleaved rounds; outputs identical")
print(f"{'command':<44}{rev + ' s':>12}{'now s':>9}{'CPU ' + rev:>14}{'CPU now':>9}{'faster':>8}")
for t, label in [("drift", "drift check, 1M rows x 20 columns"), ("abtest", "abtest analyze, 10M rows x 3 columns")]:
    (ow, oc), (nw, nc) = med(f"{t}-old"), med(f"{t}-new")
    print(f"{label:<44}{ow:>12.2f}{nw:>9.2f}{oc:>14.2f}{nc:>9.2f}{ow / nw:>7.2f}x")
PY
