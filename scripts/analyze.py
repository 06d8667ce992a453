# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Stage 4: one analysis model fitted to the truth (complete data), the complete
# cases and every imputed data set (mlmice.pipeline.fit_tables).
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from mlmice.io import read_parquet  # noqa: E402
from mlmice.pipeline import fit_tables, mids_from_files  # noqa: E402

datasets = []
if hasattr(snakemake.input, "complete"):
    datasets.append(("truth", 0, read_parquet(snakemake.input.complete)))
datasets.append(("cca", 0, read_parquet(snakemake.input.incomplete)))
imp = mids_from_files(read_parquet(snakemake.input.imputed_data),
                      json.loads(Path(snakemake.input.spec).read_text()), snakemake.input.chains)
datasets += [("imputation", i, imp.complete(i)) for i in range(1, imp.m + 1)]
tables = fit_tables(snakemake.params.model["formula"], datasets,
                    reml=snakemake.params.model["reml"],
                    log=lambda line: print(line, file=sys.stderr))
for name, table in tables.items():
    table.to_parquet(getattr(snakemake.output, name), index=False)
