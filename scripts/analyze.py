# ruff: noqa: F821  (Snakemake injects the `snakemake` object)
# One analysis model fitted to the truth (complete data), the complete cases and
# every imputed data set; tidy tables in long form, one row block per data set.
import sys

sys.stderr = open(snakemake.log[0], "w")

import json  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mlmice.impute.sampler import Mids  # noqa: E402
from mlmice.impute.state import ChainState  # noqa: E402
from mlmice.io import read_parquet  # noqa: E402
from mlmice.linear_model import lm  # noqa: E402
from mlmice.mixed import lmer  # noqa: E402

formula, reml = snakemake.params.model["formula"], snakemake.params.model["reml"]


def fit_model(data):
    """lmer with a (... | group) term, lm without: as Mids.fit dispatches."""
    if "|" in formula:
        return lmer(formula, data=data, reml=reml)
    return lm(formula, data=data)


datasets = []
if hasattr(snakemake.input, "complete"):
    datasets.append(("truth", 0, read_parquet(snakemake.input.complete)))
datasets.append(("cca", 0, read_parquet(snakemake.input.incomplete)))
imputed_data = read_parquet(snakemake.input.imputed_data)
spec = json.loads(Path(snakemake.input.spec).read_text())
chains = [ChainState.from_files(Path(p).parent, imputed_data) for p in snakemake.input.chains]
imp = Mids.from_chains(imputed_data, spec, chains)
datasets += [("imputation", i, imp.complete(i)) for i in range(1, imp.m + 1)]

estimates, vcovs, varcorrs, infos = [], [], [], []
for name, i, data in datasets:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_model(data)
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    key = {"dataset": name, "imputation": i}
    tidy = fit.tidy(conf_int=True).assign(**key, nobs=fit.nobs, df_com=float(fit.dfcom))
    estimates.append(tidy)
    v = fit.vcov
    vcovs.append(pd.DataFrame({**key, "row": np.repeat(v.index.to_numpy(dtype=str), v.shape[1]),
                               "column": np.tile(v.columns.to_numpy(dtype=str), v.shape[0]),
                               "value": v.to_numpy(dtype=float).ravel()}))
    varcorrs.append(fit.varcorr.assign(**key))
    ngroups = fit.ngroups
    infos.append({**key, "nobs": int(fit.nobs), "n_dropped": int(fit.n_dropped),
                  "ngroups": int(next(iter(ngroups.values()))) if ngroups else 0,
                  "df_com": float(fit.dfcom), "loglik": float(fit.loglik),
                  "aic": float(fit.aic), "bic": float(fit.bic),
                  "converged": bool(fit.converged), "singular": bool(fit.singular),
                  "warnings": "; ".join(messages)})
    print(f"{name} {i}: nobs {fit.nobs}, loglik {fit.loglik:.3f}"
          + (f"; {'; '.join(messages)}" if messages else ""), file=sys.stderr)

first = ["dataset", "imputation"]


def ordered(frames):
    out = pd.concat(frames, ignore_index=True)
    out = out[first + [c for c in out.columns if c not in first]]
    return out.astype({"dataset": str, "imputation": "int64"})


est = ordered(estimates)
est["group"] = est["group"].astype("string")
est.astype({"nobs": "int64", "df_com": "float64"}).to_parquet(snakemake.output.estimates,
                                                              index=False)
ordered(vcovs).to_parquet(snakemake.output.vcov, index=False)
vc = ordered(varcorrs)
vc[["grp", "var1", "var2"]] = vc[["grp", "var1", "var2"]].astype("string")
vc.to_parquet(snakemake.output.varcorr, index=False)
ordered([pd.DataFrame(infos)]).to_parquet(snakemake.output.fits, index=False)
