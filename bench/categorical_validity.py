"""Validity of 2l.polr and 2lonly.polyreg: bias and coverage of the analysis model, per parameter.

Design: :func:`mlmice.simulate_categorical.simulate_tracks` (100 schools of 15 pupils; an
ordinal pupil variable ``track``, a nominal school type ``school``, the outcome ``y``).
Missing at random: ``track`` in about 30 % of the pupils, more often where ``y`` is high
(logit -1 + 0.8 z(y)); ``school`` in about 25 % of the schools, more often where the
school's mean of ``y`` is low (logit -1.2 - 0.8 z(mean y)). Imputation: ``track`` by
``2l.polr`` (or, ``--track-method 2l.polyreg``, as a nominal variable; predictors x, y
and the school dummies), ``school`` by ``2lonly.polyreg``
(predictors: the school means of x, y and the track dummies), m = 20, maxit = 10.
Analysis: ``y ~ track + x + school + (1 | cluster_id)`` by ML.

Per parameter, over the replicates, with Monte Carlo SEs (Morris, White and Crowther
2019): the mean estimate of the complete data, of MI and of complete cases (CCA), the
bias of MI against the truth, the paired relative bias of MI against the complete-data
fit of the same replicate, and the coverage of MI's 95 % intervals. Variance components
are averaged over the imputations (mitml's testEstimates) and have no interval.

    python bench/categorical_validity.py [--replicates 200] [--jobs 2] [--out FILE]
        [--track-method 2l.polr|2l.polyreg]

Writes the per-replicate estimates (Parquet, ``--out``) and prints the table of
docs/validity.md, "Categorical variables".
"""

from __future__ import annotations

import argparse
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import mlmice as mm
from mlmice.simulate_categorical import TRACKS_MODEL, simulate_tracks, tracks_truth

VARIANCES = ("Intercept~~Intercept|cluster_id", "Residual~~Residual")


def ampute(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    z = (df["y"] - df["y"].mean()) / df["y"].std()
    out.loc[rng.random(len(df)) < 1 / (1 + np.exp(1.0 - 0.8 * z)), "track"] = np.nan
    means = df.groupby("cluster_id")["y"].mean()
    zm = (means - means.mean()) / means.std()
    gone = means.index[rng.random(means.size) < 1 / (1 + np.exp(1.2 + 0.8 * zm))]
    out.loc[out["cluster_id"].isin(gone), "school"] = np.nan
    return out


def _fit(data: pd.DataFrame) -> dict:
    fit = mm.lmer(TRACKS_MODEL, data=data, reml=False)
    tidy = fit.tidy(conf_int=True)
    fixed = tidy[tidy["effect"] == "fixed"].set_index("term")
    vc = fit.varcorr
    out = {t: fixed.loc[t, "estimate"] for t in fixed.index}
    out.update({f"{t}:lo": fixed.loc[t, "conf_low"] for t in fixed.index})
    out.update({f"{t}:hi": fixed.loc[t, "conf_high"] for t in fixed.index})
    out[VARIANCES[0]] = float(vc.loc[vc["var1"] == "(Intercept)", "vcov"].iloc[0])
    out[VARIANCES[1]] = float(vc.loc[vc["grp"] == "Residual", "vcov"].iloc[0])
    return out


def replicate(r: int, m: int = 20, maxit: int = 10, track_method: str = "2l.polr"
              ) -> list[dict]:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng([2026, r])
    full = simulate_tracks(100, 15, seed=rng)
    data = ampute(full, rng)
    pred = pd.DataFrame(0, index=data.columns, columns=data.columns)
    pred.loc["track", ["cluster_id", "x", "y", "school"]] = [-2, 1, 1, 1]
    pred.loc["school", ["cluster_id", "x", "y", "track"]] = [-2, 1, 1, 1]
    imp = mm.mice(data, m=m, maxit=maxit, seed=r, predictor_matrix=pred,
                  method={"track": track_method, "school": "2lonly.polyreg"})
    fits = imp.fit(TRACKS_MODEL, reml=False)
    pooled = mm.pool(fits).summary(conf_int=True).set_index("term")
    extra = mm.test_estimates(fits, extra_pars=True).extra_pars["Estimate"]
    mi = {t: pooled.loc[t, "estimate"] for t in pooled.index}
    mi.update({f"{t}:lo": pooled.loc[t, "conf_low"] for t in pooled.index})
    mi.update({f"{t}:hi": pooled.loc[t, "conf_high"] for t in pooled.index})
    for v in VARIANCES:
        mi[v] = float(extra[v])
    rows = [{"replicate": r, "arm": "complete", **_fit(full)},
            {"replicate": r, "arm": "cca", **_fit(data.dropna())},
            {"replicate": r, "arm": "mi", **mi}]
    return rows


def summarise(est: pd.DataFrame) -> pd.DataFrame:
    truth = tracks_truth()
    wide = {arm: g.set_index("replicate").sort_index() for arm, g in est.groupby("arm")}
    R = len(wide["mi"])
    rows = []
    for term, value in truth.items():
        comp, mi, cca = wide["complete"][term], wide["mi"][term], wide["cca"][term]
        diff = mi - comp
        row = {"parameter": term, "truth": value, "complete": comp.mean(), "MI": mi.mean(),
               "CCA": cca.mean(),
               "MI bias": mi.mean() - value, "MI bias MC SE": mi.std(ddof=1) / np.sqrt(R),
               "MI vs complete %": 100 * diff.mean() / comp.mean(),
               "MC SE %": 100 * diff.std(ddof=1) / np.sqrt(R) / abs(comp.mean()),
               "CCA vs complete %": 100 * (cca - comp).mean() / comp.mean()}
        if f"{term}:lo" in wide["mi"]:
            cover = ((wide["mi"][f"{term}:lo"] <= value)
                     & (value <= wide["mi"][f"{term}:hi"])).mean()
            row["MI coverage"] = cover
            row["coverage MC SE"] = np.sqrt(cover * (1 - cover) / R)
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("results/categorical_validity.parquet"))
    ap.add_argument("--track-method", default="2l.polr", choices=["2l.polr", "2l.polyreg"],
                    help="the method of track (2l.polyreg treats it as nominal)")
    args = ap.parse_args(argv)
    reps = range(args.replicates)
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = [row for rep in pool.map(replicate, reps, [20] * len(reps), [10] * len(reps),
                                        [args.track_method] * len(reps)) for row in rep]
    est = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    est.to_parquet(args.out, index=False)
    table = summarise(est)
    pd.set_option("display.width", 200)
    print(f"{args.replicates} replicates, m = 20, maxit = 10, track by {args.track_method}")
    print(table.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    main()
