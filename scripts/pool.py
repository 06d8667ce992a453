# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Rubin's rules over the fits of one model to the imputed data sets, from the
# analysis stage's tables: the pooled table (mice::pool + summary for the fixed
# effects, mitml's pooled variance components) and mitml::testEstimates; then the
# model's truth / CCA / MI comparison.
import sys

sys.stderr = open(snakemake.log[0], "w")

import warnings  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.compare import closer_sentences, compare_estimates  # noqa: E402
from mlmice.pipeline import fits_from_tables  # noqa: E402
from mlmice.pooling import pooled_table, test_estimates  # noqa: E402

warnings.simplefilter("always")
warnings.showwarning = lambda msg, cat, *a, **k: print(f"{cat.__name__}: {msg}", file=sys.stderr)


all_estimates = pd.read_parquet(snakemake.input.estimates)
all_varcorr = pd.read_parquet(snakemake.input.varcorr)
fits = fits_from_tables(all_estimates, pd.read_parquet(snakemake.input.vcov), all_varcorr,
                        pd.read_parquet(snakemake.input.fits))
print(f"pooling {len(fits)} fits", file=sys.stderr)

scale = snakemake.params.varcomp_scale
pooled = pooled_table(fits, varcomp_scale=scale)
print(pooled.to_string(), file=sys.stderr)
pooled.to_parquet(snakemake.output.pooled, index=False)
mitml = test_estimates(fits, extra_pars=True, varcomp_scale=scale)
print(mitml, file=sys.stderr)
mitml.to_frame().to_parquet(snakemake.output.mitml, index=False)

table = compare_estimates(all_estimates, all_varcorr, pooled, mitml.to_frame(),
                          model=snakemake.wildcards.model)
print("\n".join(closer_sentences(table)), file=sys.stderr)
table.to_parquet(snakemake.output.compare, index=False)
