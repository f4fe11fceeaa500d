"""The A/B benches' input: N rows of variant,converted,revenue (3 arms, seed 1).
Usage: python gen_experiment.py OUT.csv N (needs numpy)."""
import sys

import numpy as np

path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
with open(path, "w") as f:
    f.write("variant,converted,revenue\n")
    names = np.array(["control", "b", "c"])
    for start in range(0, n, 1_000_000):
        m = min(1_000_000, n - start)
        arm = rng.integers(0, 3, m)
        conv = (rng.random(m) < 0.1 + 0.005 * (arm == 1)).astype(int)
        rev = np.round(rng.gamma(2.0, 5.0, m) + 0.2 * (arm == 1), 3)
        lines = np.char.add(np.char.add(np.char.add(np.char.add(names[arm], ","), conv.astype(str)), ","), rev.astype(str))
        f.write("\n".join(lines.tolist()))
        f.write("\n")
