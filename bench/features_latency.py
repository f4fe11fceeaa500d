"""Helpers for bench/features_latency.sh.

  make  DIR            -> DIR/model.onnx (10-feature logistic regression, input "input"),
                          DIR/stats.csv (10 000 restaurants x 10 features), DIR/view.toml,
                          DIR/direct.json (the model input for r42, given whole),
                          DIR/lookup.json (only the entity id)
  feast DIR sqlite|redis[:PORT] N
                       -> Feast's own online retrieval of the same 10 features for one entity,
                          N calls of get_online_features: prints "p50_ms p99_ms"
"""
import json
import os
import sys
import time

import numpy as np

K = 10
ENTITIES = 10_000


def make(d):
    from sklearn.linear_model import LogisticRegression
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, K)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 3] - x[:, 7] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, K]))],
                          options={id(model): {"zipmap": False}}, target_opset=15)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    vals = rng.normal(size=(ENTITIES, K))
    with open(os.path.join(d, "stats.csv"), "w") as f:
        f.write("restaurant_id,event_ts," + ",".join(f"f{i}" for i in range(K)) + "\n")
        for e in range(ENTITIES):
            f.write(f"r{e},2026-11-27T00:00:00Z," + ",".join(f"{v:.6f}" for v in vals[e]) + "\n")
    with open(os.path.join(d, "view.toml"), "w") as f:
        f.write('input = "input"\n')
        for i in range(K):
            f.write(f'[[feature]]\nname = "f{i}"\nfrom = "restaurant_stats.f{i}"\nkey = "restaurant_id"\ndefault = 0.0\n')
    row = [float(f"{v:.6f}") for v in vals[42]]
    with open(os.path.join(d, "direct.json"), "w") as f:
        json.dump({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, K], "data": row}]}, f)
    with open(os.path.join(d, "lookup.json"), "w") as f:
        json.dump({"parameters": {"restaurant_id": "r42"}, "inputs": []}, f)


def feast(d, kind, n):
    from datetime import datetime, timedelta, timezone

    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    repo = os.path.join(d, f"feast-{kind.split(':')[0]}")
    os.makedirs(os.path.join(repo, "data"), exist_ok=True)
    if kind.startswith("redis"):
        online = f"online_store:\n  type: redis\n  connection_string: 127.0.0.1:{kind.split(':')[1]}\n"
    else:
        online = f"online_store:\n  type: sqlite\n  path: {repo}/data/online.db\n"
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(f"project: bench\nregistry: {repo}/data/registry.db\nprovider: local\n{online}"
                "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
    df = pd.read_csv(os.path.join(d, "stats.csv"))
    df["event_ts"] = pd.to_datetime(df["event_ts"], utc=True)
    df.to_parquet(os.path.join(repo, "data", "stats.parquet"))
    restaurant = Entity(name="restaurant", join_keys=["restaurant_id"], value_type=ValueType.STRING)
    fv = FeatureView(
        name="restaurant_stats", entities=[restaurant], ttl=timedelta(days=3650),
        schema=[Field(name=f"f{i}", dtype=Float64) for i in range(K)],
        source=FileSource(path=os.path.join(repo, "data", "stats.parquet"), timestamp_field="event_ts"),
        online=True,
    )
    store = FeatureStore(repo_path=repo)
    store.apply([restaurant, fv])
    store.write_to_online_store("restaurant_stats", df)
    feats = [f"restaurant_stats:f{i}" for i in range(K)]
    got = store.get_online_features(features=feats, entity_rows=[{"restaurant_id": "r42"}]).to_dict()
    assert got["f0"][0] is not None, got
    for _ in range(200):  # warm-up
        store.get_online_features(features=feats, entity_rows=[{"restaurant_id": "r42"}])
    times = []
    for i in range(n):
        t = time.perf_counter()
        store.get_online_features(features=feats, entity_rows=[{"restaurant_id": f"r{(i * 37) % ENTITIES}"}])
        times.append((time.perf_counter() - t) * 1000)
    print(f"{np.percentile(times, 50):.3f} {np.percentile(times, 99):.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        feast(sys.argv[2], sys.argv[3], int(sys.argv[4]))
