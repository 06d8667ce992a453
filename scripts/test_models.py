# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Stage 5: pooled tests of a model against the model before it in the sequence
# (mitml::testModels: D1 and D3; mlmice.pipeline.model_tests_table).
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from mlmice.io import read_parquet  # noqa: E402
from mlmice.pipeline import mids_from_files, model_tests_table  # noqa: E402

warnings.simplefilter("always")
warnings.showwarning = lambda msg, cat, *a, **k: print(f"{cat.__name__}: {msg}", file=sys.stderr)

imp = mids_from_files(read_parquet(snakemake.input.data),
                      json.loads(Path(snakemake.input.spec).read_text()), snakemake.input.chains)
model, null = snakemake.params.models["model"], snakemake.params.models["null_model"]
table = model_tests_table(imp.fit(model["formula"], reml=model["reml"]),
                          imp.fit(null["formula"], reml=null["reml"]), model=model,
                          null_model=null, log=lambda line: print(line, file=sys.stderr))
table.to_parquet(snakemake.output.tests, index=False)
