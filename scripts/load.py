# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
import sys

sys.stderr = open(snakemake.log[0], "w")

from mlmice.io import read_data, select_variables, write_parquet  # noqa: E402
from mlmice.simulate import simulate_popularity  # noqa: E402

source = snakemake.params.source
if "simulate" in source:
    df = select_variables(simulate_popularity(**source["simulate"]).data, **source["select"],
                          source="simulated data")
else:
    df = read_data(snakemake.input.file, **source["read"])
print(f"{df.shape[0]} rows, {df.shape[1]} columns; missing values per column:\n"
      f"{df.isna().sum().to_string()}", file=sys.stderr)
write_parquet(df, snakemake.output.data)
