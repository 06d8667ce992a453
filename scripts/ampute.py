# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
import sys

sys.stderr = open(snakemake.log[0], "w")

from mlmice.amputation import ampute  # noqa: E402
from mlmice.io import read_parquet, write_parquet  # noqa: E402

complete = read_parquet(snakemake.input.complete)
result = ampute(complete, **snakemake.params.amputation)
print(f"amputed {int(result.amputed.sum())} of {len(complete)} rows; missing values per "
      f"column:\n{result.amp.isna().sum().to_string()}", file=sys.stderr)
write_parquet(result.amp, snakemake.output.incomplete)
