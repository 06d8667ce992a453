# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Check the imputation model against the data before any chain starts; write the
# data the chains impute (with the passive variables added) and the specification.
# (No figure here: this job is on the path to every chain, so it stays light.)
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.impute.passive import add_passive_columns  # noqa: E402
from mlmice.impute.spec import validate_spec  # noqa: E402
from mlmice.io import read_parquet, write_parquet  # noqa: E402

cfg = snakemake.params.spec
data = read_parquet(snakemake.input.data)
data = add_passive_columns(data, cfg["method"])   # recomputed by the sampler
predictor_matrix = pd.DataFrame.from_dict(cfg["predictor_matrix"], orient="index")
predictor_matrix = predictor_matrix.fillna(0).astype(int)
spec = validate_spec(data, method=cfg["method"], predictor_matrix=predictor_matrix,
                     cluster=cfg["cluster"], method_options=cfg["method_options"] or None,
                     visit_sequence=cfg["visit_sequence"])
print(f"specification valid; visit sequence: {', '.join(spec.visit_sequence)}",
      file=sys.stderr)

write_parquet(data, snakemake.output.data)
with open(snakemake.output.spec, "w") as fh:
    json.dump(spec.to_dict(), fh, indent=1)
methods = pd.DataFrame({"variable": list(spec.method.index),
                        "method": [str(m) for m in spec.method],
                        "n_missing": data.isna().sum().reindex(spec.method.index).to_numpy()})
methods.to_parquet(snakemake.output.methods, index=False)
