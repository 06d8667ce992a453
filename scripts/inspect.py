# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Missing-data summaries and figures of the incomplete data; the predictor matrix.
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.diagnostics import flux, md_pattern  # noqa: E402
from mlmice.io import read_parquet  # noqa: E402
from mlmice.plots import (  # noqa: E402
    plot_corr,
    plot_flux,
    plot_observed,
    plot_pattern,
    plot_pred,
)

data = read_parquet(snakemake.input.data)
variables = [v for v in data.columns if v not in snakemake.params.variables["exclude"]]
df = data[variables]

missing = pd.DataFrame({"variable": variables,
                        "n": len(df),
                        "n_missing": df.isna().sum().to_numpy(),
                        "prop_missing": df.isna().mean().to_numpy()})
print(missing.to_string(index=False), file=sys.stderr)
missing.to_parquet(snakemake.output.missing, index=False)
# md_pattern's index mixes pattern counts and "total": store it as a string column
md_pattern(df).reset_index().astype({"count": str}).to_parquet(snakemake.output.md_pattern,
                                                                index=False)
flux(df).reset_index().to_parquet(snakemake.output.flux, index=False)

plot_observed(df, path=snakemake.output.observed_plot)
plot_pattern(df, path=snakemake.output.pattern_plot)
plot_corr(df, path=snakemake.output.corr_plot)
plot_flux(df, path=snakemake.output.flux_plot)

spec = json.loads(Path(snakemake.input.spec).read_text())
imputed = [v for v, meth in spec["method"].items() if meth]
predictor_matrix = pd.DataFrame(spec["predictor_matrix"]).T.loc[imputed, spec["variables"]]
plot_pred(predictor_matrix, method=spec["method"], path=snakemake.output.predictor_matrix)
