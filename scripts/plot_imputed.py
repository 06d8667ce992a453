# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Imputed against observed values: a strip plot and a density plot per imputed
# (non-passive) variable, in results/{study}/diagnostics/imputed/{kind}_{variable}.png.
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from mlmice.impute.passive import is_passive  # noqa: E402
from mlmice.io import read_parquet  # noqa: E402
from mlmice.pipeline import mids_from_files  # noqa: E402
from mlmice.plots import figure_name, plot_imputed  # noqa: E402
from mlmice.reporting import filled_only_variables  # noqa: E402

data = read_parquet(snakemake.input.data)
spec = json.loads(Path(snakemake.input.spec).read_text())
imp = mids_from_files(data, spec, snakemake.input.chains)

out = Path(snakemake.output.plots)
out.mkdir(parents=True, exist_ok=True)
filled = filled_only_variables(data, spec["method"], spec["cluster"])   # nothing imputed
imputed = [v for v, meth in spec["method"].items()
           if meth and not is_passive(meth) and data[v].isna().any() and v not in filled]
for variable in imputed:
    for kind in ("strip", "density"):
        plot_imputed(imp, variable, kind=kind, path=out / figure_name(kind, variable))
    print(f"{variable}: {int(data[variable].isna().sum())} imputed values per data set",
          file=sys.stderr)
