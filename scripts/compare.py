# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# All models' comparisons in one table and one figure.
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd  # noqa: E402

from mlmice.plots import plot_compare  # noqa: E402

table = pd.concat([pd.read_parquet(p) for p in snakemake.input.tables], ignore_index=True)
table.to_parquet(snakemake.output.table, index=False)
plot_compare(table, path=snakemake.output.plot)
print(f"{len(table)} rows from {len(snakemake.input.tables)} model(s)", file=sys.stderr)
