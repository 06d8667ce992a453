# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# Rubin's rules over the fits of one model to the imputed data sets, from the
# analysis stage's tables: the pooled table (mice::pool + summary for the fixed
# effects, mitml's pooled variance components) and mitml::testEstimates.
import sys

sys.stderr = open(snakemake.log[0], "w")

import warnings  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pandas as pd  # noqa: E402

from mlmice.pooling import pooled_table, test_estimates  # noqa: E402

warnings.simplefilter("always")
warnings.showwarning = lambda msg, cat, *a, **k: print(f"{cat.__name__}: {msg}", file=sys.stderr)


def imputations(path):
    frame = pd.read_parquet(path)
    return frame[frame["dataset"] == "imputation"]


estimates, vcov = imputations(snakemake.input.estimates), imputations(snakemake.input.vcov)
varcorr, info = imputations(snakemake.input.varcorr), imputations(snakemake.input.fits)

# the stored fits, as the objects mlmice.pool reads: fixef, vcov, varcorr, dfcom
fits = []
for i, block in estimates[estimates["effect"] == "fixed"].groupby("imputation", sort=True):
    terms = list(block["term"])
    v = vcov[vcov["imputation"] == i].pivot(index="row", columns="column", values="value")
    vc = varcorr[varcorr["imputation"] == i][["grp", "var1", "var2", "vcov", "sdcor"]]
    fits.append(SimpleNamespace(
        fixef=pd.Series(block["estimate"].to_numpy(), index=terms),
        vcov=v.loc[terms, terms], varcorr=vc.reset_index(drop=True),
        dfcom=float(info.loc[info["imputation"] == i, "df_com"].iloc[0])))
print(f"pooling {len(fits)} fits", file=sys.stderr)

pooled = pooled_table(fits)
print(pooled.to_string(), file=sys.stderr)
pooled.to_parquet(snakemake.output.pooled, index=False)
mitml = test_estimates(fits, extra_pars=True)
print(mitml, file=sys.stderr)
mitml.to_frame().to_parquet(snakemake.output.mitml, index=False)
