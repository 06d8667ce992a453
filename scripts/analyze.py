# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Stages 4 and 5: one analysis model fitted to the truth (complete data), the complete
# cases and every imputed data set (mlmice.pipeline.fit_tables), pooled by Rubin's
# rules with its truth / CCA / MI comparison (mlmice.pipeline.pooled_tables), and
# tested against the model before it in the sequence on the imputed data
# (mitml::testModels: D1 and D3; mlmice.pipeline.model_tests_table). Pooling and the
# tests are done here, where the fits and the imputations are loaded, rather than in
# jobs of their own: a job's start costs more than either (bench/bench_pipeline.py).
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from mlmice.io import read_parquet  # noqa: E402
from mlmice.pipeline import (  # noqa: E402
    fit_tables,
    mids_from_files,
    model_tests_table,
    no_tests_table,
    pooled_tables,
)

warnings.simplefilter("always")
warnings.showwarning = lambda msg, cat, *a, **k: print(f"{cat.__name__}: {msg}", file=sys.stderr)


def log(line):
    print(line, file=sys.stderr)


model, null = snakemake.params.model, snakemake.params.null_model
datasets = []
if hasattr(snakemake.input, "complete"):
    datasets.append(("truth", 0, read_parquet(snakemake.input.complete)))
datasets.append(("cca", 0, read_parquet(snakemake.input.incomplete)))
imp = mids_from_files(read_parquet(snakemake.input.imputed_data),
                      json.loads(Path(snakemake.input.spec).read_text()), snakemake.input.chains)
datasets += [("imputation", i, imp.complete(i)) for i in range(1, imp.m + 1)]
tables = fit_tables(model["formula"], datasets, reml=model["reml"], log=log)
tables |= pooled_tables(tables, model=snakemake.wildcards.model,
                        varcomp_scale=snakemake.params.varcomp_scale, log=log)
for name, table in tables.items():
    table.to_parquet(getattr(snakemake.output, name), index=False)

if null is None:
    tests = no_tests_table()
else:
    tests = model_tests_table(imp.fit(model["formula"], reml=model["reml"]),
                              imp.fit(null["formula"], reml=null["reml"]), model=model,
                              null_model=null, log=log)
tests.to_parquet(snakemake.output.tests, index=False)
