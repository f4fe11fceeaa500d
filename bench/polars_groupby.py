"""The polars peer of `mlctl abtest analyze` in the benches: read the A/B file's three
columns (read_csv, or read_parquet for a .parquet file) and group by arm: count, mean and
variance of both metrics, no statistical tests. Usage: polars_groupby.py FILE"""
import sys

import polars as pl

path = sys.argv[1]
read = pl.read_parquet if path.endswith(".parquet") else pl.read_csv
df = read(path, columns=["variant", "converted", "revenue"])
print(df.group_by("variant").agg(
    pl.len().alias("n"),
    pl.col("converted").mean().alias("conv_mean"), pl.col("converted").var().alias("conv_var"),
    pl.col("revenue").mean().alias("rev_mean"), pl.col("revenue").var().alias("rev_var"),
))
